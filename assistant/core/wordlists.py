"""Word lists kept in data files (assistant/data/*.txt), read once, and the regular expressions built
from them.

Two kinds of file, both of ``kind: entry`` lines (``#`` lines are comments; the order of a kind's lines
is the order an alternation tries them, so a longer word comes before its prefix):
- ``<name>.txt``: each entry is a literal word, escaped when a pattern is built;
- ``<name>_patterns.txt``: each entry is a regular-expression alternative (``哪一?年``), taken as it is.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=None)
def cue_words(name: str) -> dict[str, tuple[str, ...]]:
    """The entries of data/<name>, by kind, in file order."""
    out: dict[str, list[str]] = {}
    for line in (resources.files("assistant") / "data" / name).read_text(encoding="utf-8").splitlines():
        kind, sep, word = line.partition(": ")
        if sep and not line.startswith("#"):
            out.setdefault(kind, []).append(word.strip())
    return {k: tuple(v) for k, v in out.items()}


def words(name: str, kind: str) -> tuple[str, ...]:
    """The ``kind`` entries of data/<name>; a kind the file lacks is an error, not an empty list."""
    found = cue_words(name)
    if kind not in found:
        raise KeyError(f"data/{name} has no '{kind}:' lines")
    return found[kind]


def alternation(name: str, kind: str) -> str:
    """``a|b|c`` of the ``kind`` entries of data/<name>, to put inside a larger pattern: words escaped,
    the alternatives of a ``*_patterns.txt`` file as written."""
    entries = words(name, kind)
    return "|".join(entries if name.endswith("_patterns.txt") else map(re.escape, entries))


def chars(name: str, kind: str) -> str:
    """The ``kind`` entries of data/<name> run together, for a character class: ``[{chars(...)}]``."""
    return "".join(words(name, kind))


def any_of(name: str, kind: str) -> re.Pattern:
    """A pattern matching any ``kind`` entry of data/<name>, tried in file order."""
    return re.compile(alternation(name, kind))
