"""Prompt files from ``prompts/``, rendered with strict variable checking."""

from __future__ import annotations

import os
import string
from functools import lru_cache
from pathlib import Path

from .errors import AssistantError

# prompts/ beside the package (the repository layout, editable install); ASSISTANT_PROMPTS_DIR overrides.
PROMPTS_DIR = Path(os.environ.get("ASSISTANT_PROMPTS_DIR") or Path(__file__).resolve().parents[1] / "prompts")


@lru_cache(maxsize=None)
def load(name: str, directory: str = str(PROMPTS_DIR)) -> str:
    path = Path(directory) / f"{name}.txt"
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AssistantError(f"prompt file {path} cannot be read ({exc.strerror}); reinstall or restore prompts/")


def variables(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


def render(name: str, directory: str = str(PROMPTS_DIR), **values: str) -> str:
    """Fill ``prompts/NAME.txt``. Every placeholder must be given, and every value used."""
    template = load(name, directory)
    wanted = variables(template)
    missing, unused = wanted - set(values), set(values) - wanted
    if missing or unused:
        raise AssistantError(
            f"prompt {name}.txt: missing {sorted(missing) or 'nothing'}, unused {sorted(unused) or 'nothing'}"
        )
    return template.format(**values)
