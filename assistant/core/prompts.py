"""Prompt files from ``prompts/``, shipped inside the package as ``assistant.prompt_texts`` (a wheel
carries them) and read with importlib.resources; rendered with strict variable checking.
``ASSISTANT_PROMPTS_DIR`` points at another folder of prompt files instead."""

from __future__ import annotations

import os
import string
from functools import lru_cache
from importlib import resources
from pathlib import Path

from .errors import AssistantError

PACKAGE = "assistant.prompt_texts"


@lru_cache(maxsize=None)
def load(name: str, directory: str | None = None) -> str:
    directory = directory or os.environ.get("ASSISTANT_PROMPTS_DIR") or None
    try:
        if directory:
            return (Path(directory) / f"{name}.txt").read_text(encoding="utf-8")
        return (resources.files(PACKAGE) / f"{name}.txt").read_text(encoding="utf-8")
    except (OSError, ModuleNotFoundError) as exc:
        where = directory or f"the installed package ({PACKAGE})"
        raise AssistantError(f"prompt {name}.txt cannot be read from {where} ({exc}); reinstall the assistant "
                             "or restore prompts/")


def variables(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


def render(name: str, directory: str | None = None, **values: str) -> str:
    """Fill ``prompts/NAME.txt``. Every placeholder must be given, and every value used."""
    template = load(name, directory)
    wanted = variables(template)
    missing, unused = wanted - set(values), set(values) - wanted
    if missing or unused:
        raise AssistantError(
            f"prompt {name}.txt: missing {sorted(missing) or 'nothing'}, unused {sorted(unused) or 'nothing'}"
        )
    return template.format(**values)
