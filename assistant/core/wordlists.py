"""Word lists kept in data files (assistant/data/*.txt): ``kind: word`` lines, read once, and the
regular expression that matches any word of a kind."""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=None)
def cue_words(name: str) -> dict[str, tuple[str, ...]]:
    """``kind: word`` lines of data/<name>, by kind, in file order (``#`` lines are comments)."""
    out: dict[str, list[str]] = {}
    for line in (resources.files("assistant") / "data" / name).read_text(encoding="utf-8").splitlines():
        kind, sep, word = line.partition(": ")
        if sep and not line.startswith("#"):
            out.setdefault(kind, []).append(word.strip())
    return {k: tuple(v) for k, v in out.items()}


def any_of(name: str, kind: str) -> re.Pattern:
    """A pattern matching any ``kind`` word of data/<name>, tried in file order."""
    return re.compile("|".join(map(re.escape, cue_words(name)[kind])))
