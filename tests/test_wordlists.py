"""The word-list files: every data file parses, its kinds are found by name, words are escaped and
pattern files are taken as written."""

import re
from importlib import resources

import pytest

from assistant.core.wordlists import alternation, any_of, chars, cue_words, words


def _data_files():
    return sorted(p.name for p in (resources.files("assistant") / "data").iterdir() if p.name.endswith(".txt"))


def test_every_word_list_file_is_kind_colon_entry_lines():
    for name in _data_files():
        text = (resources.files("assistant") / "data" / name).read_text(encoding="utf-8")
        entries = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
        if not re.match(r"[a-z_]+: ", entries[0]):
            continue  # not a kind-file: a jieba dictionary, a character list, tab-separated examples
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip() and not line.startswith("#"):
                kind, sep, entry = line.partition(": ")
                assert sep and kind and entry.strip(), f"{name}:{n} is not 'kind: entry': {line!r}"
        for kind in cue_words(name):
            if name.endswith("_patterns.txt"):
                re.compile(alternation(name, kind))  # every alternative is a valid pattern


def test_words_are_escaped_and_tried_in_file_order():
    who = words("question_words.txt", "who")
    assert who[0] == "谁"
    pattern = any_of("question_words.txt", "who")
    assert pattern.pattern == "|".join(map(re.escape, who))
    assert pattern.search("他是什么人") and not pattern.search("他是什么")


def test_a_missing_kind_is_an_error_not_an_empty_list():
    with pytest.raises(KeyError, match="no 'nonesuch:' lines"):
        words("question_words.txt", "nonesuch")


def test_chars_run_entries_together_for_a_character_class():
    assert chars("question_words.txt", "who") == "".join(words("question_words.txt", "who"))
