"""The prompt files, installed as the package ``assistant.prompt_texts`` (see pyproject.toml) and read
with importlib.resources by ``assistant/core/prompts.py``. No code lives here."""
