"""How well a sentence supports a question: the IDF-weighted share of the question's content words
found in it (or a paraphrase of them, or most of their character bigrams), with part credit for words
found only in its neighbouring sentences, in its report's title, organisation and headings, or
elsewhere in its report; and a bonus when it holds the kind of thing asked for (a name for 谁, a date
for 何时, a byline for a question about the report).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..core.chinese import (
    CN_DIGITS,
    fold,
    has_person_name,
    sentence_spans,
    synonyms,
)
from ..core.schema import Hit
from ..core.wordlists import alternation
from ..storage.library import Index
from .needs import NUMBER
from .question import UNITS, Question

_CUES = "answering_cues.txt"
_CUE_PATTERNS = "answering_cues_patterns.txt"
# Set by hand against the dev, near-miss and own sets (bench/eval_answers.py; bench/thresholds.py gives what
# changing each does). Part credit for a question word found only in the sentences either side, in the report's
# title, organisation and headings, or elsewhere in the report:
# bench/thresholds.py (qa): 0.5 → 7; 0.7 → 21
NEIGHBOUR_CREDIT = 0.6
# bench/thresholds.py (qa): 0.5 → 5; 0.7 → 8
CONTEXT_CREDIT = 0.6
# bench/thresholds.py (qa): 0.2 → 12; 0.4 → 6
DOC_CREDIT = 0.3
# The answer-type bonus is worked out for the sentences with at least this share of the best one's support …
# bench/thresholds.py (qa): 0.4 → 1 (1 unanswerable answered); 0.6 → 1
BONUS_AMONG = 0.5
# … and added to a sentence's support when it holds what the question asks for (answer_type_bonus):
# bench/thresholds.py (qa): 0.2 → none; 0.4 → none
BYLINE_BONUS = 0.3  # a byline, for 谁写的 / 哪天发布
# bench/thresholds.py (qa): 0.1 → 1; 0.2 → none
TYPE_BONUS = 0.15  # a person's name for 谁, a date for 何时, the noun 「哪…」 asks instances of
# Sentences are split in the text reaching this many characters either side of a chunk: room for the sentence
# before and after it (the cleaned seeds' 352 sentences: median 39 characters, longest 339).
AROUND = 400
DATE_IN = re.compile(
    r"(19|20)\d{2}\s*[-年./]|[0-9一二三四五六七八九十]{1,2}\s*月|[0-9一二三四五六七八九十]{1,3}\s*[日号]|"
    + alternation(_CUE_PATTERNS, "date_word")
)
BYLINE = re.compile(rf"^[（(]?\s*({alternation(_CUES, 'byline_label')})\s*[:：]", re.IGNORECASE)


def answer_type_bonus(q: "Question", sentence: str) -> float:
    """Prefer sentences that hold the kind of thing asked for: a byline for 谁写的/哪天发布,
    a name for 谁, a date for 何时, the noun 「哪两个重大节点」 asks instances of."""
    if q.about_report and BYLINE.search(sentence):
        return BYLINE_BONUS
    if q.asks_who and has_person_name(sentence):
        return TYPE_BONUS
    if q.asks_when and DATE_IN.search(fold(sentence)):
        return TYPE_BONUS
    if q.needs.asked and q.needs.asked in sentence:  # 「哪两个重大节点」: 「…两个重大节点展开」
        return TYPE_BONUS
    return 0.0


@dataclass
class Scored:
    hit: Hit
    start: int
    end: int
    text: str
    support: float
    has_quantity: bool
    bonus: float = 0.0
    lacks: str | None = None  # what it lacks to answer (see lack), once worked out


# Credit for a question word a sentence does not hold as it is (set by hand, bench/thresholds.py): a paraphrase
# of it (data/synonyms.txt) …
# bench/thresholds.py (qa): 0.7 → none; 0.9 → none
SYNONYM_CREDIT = 0.8
# … or, for a word of three characters or more, this share of its character bigrams found (党员示范岗 → 示范岗)
# bench/thresholds.py (qa): 0.6 → 4; 0.8 → 4
BIGRAM_CREDIT = 0.7


def _match(word: str, text: str) -> float:
    if word in text:
        return 1.0
    if any(s in text for s in synonyms(word)):
        return SYNONYM_CREDIT
    if len(word) >= 3:
        grams = [word[i : i + 2] for i in range(len(word) - 1)]
        return BIGRAM_CREDIT * sum(g in text for g in grams) / len(grams)
    return 0.0


def _has_quantity(sentence: str, kind: str) -> bool:
    if kind == "ordinal":
        return bool(re.search(rf"第(?:{NUMBER})", sentence))
    if kind == "percent":
        return bool(re.search(rf"(?:{NUMBER})\s*(?:%|％|成)|百分之", sentence))
    if kind == "any":
        # Digits, or a Chinese numeral with a unit — but not the 「一个」「一名」 of ordinary prose.
        return bool(re.search(rf"[0-9０-９]|(?:[{CN_DIGITS}]{{2,}}|[{CN_DIGITS.replace('一', '')}])\s*(?:余|多)?\s*"
                              rf"[{''.join(UNITS.values())}]", sentence))
    units = UNITS[kind]
    return bool(re.search(rf"(?<![每])(?:{NUMBER})\s*(?:余|多)?\s*个?\s*[{units}]", sentence))


def score_sentences(index: Index, q: Question, hits: list[Hit]) -> list[Scored]:
    """Each sentence of the hits, scored by the share of the question's (IDF-weighted) words it has;
    a word only beside it (the sentences either side), in its report's title/headings or elsewhere in
    its report earns part credit. Only the text around each hit is split, and a report's matches are
    worked out once: the cost follows the hits, not the size of their reports."""
    weights = {w: index.keyword.idf(w) for w in q.words}
    total = sum(weights.values()) or 1.0
    out: list[Scored] = []
    docs: dict[str, tuple[str, dict[str, float]]] = {}
    for hit in hits:
        doc_id = hit.chunk.doc_id
        if doc_id not in docs:
            try:
                text, folded_doc = index.store.text(doc_id), index.store.folded(doc_id)
            except KeyError:  # removed (by another user or process) since it was retrieved
                continue
            docs[doc_id] = (text, {w: DOC_CREDIT * _match(w, folded_doc) for w in weights})
        doc_text, doc_match = docs[doc_id]
        window = sentence_spans(doc_text, *_around(doc_text, hit.chunk.start, hit.chunk.end))
        pos = {x.start: i for i, x in enumerate(window)}
        context = fold(" ".join((hit.meta.title, hit.meta.org, *hit.meta.aliases, *hit.chunk.headings))).lower()
        for s in sentence_spans(doc_text, hit.chunk.start, hit.chunk.end):
            i = pos.get(s.start)
            own = fold(s.text).lower()
            near = fold(" ".join(x.text for x in window[max(0, i - 1) : i + 2])).lower() if i is not None else ""
            got = 0.0
            for w, wt in weights.items():
                m = _match(w, own)
                if m < 1:
                    m = max(m, NEIGHBOUR_CREDIT * _match(w, near), CONTEXT_CREDIT * _match(w, context), doc_match[w])
                got += wt * m
            out.append(Scored(hit, s.start, s.end, s.text, got / total, bool(q.kind) and _has_quantity(own, q.kind)))
    # The answer-type bonus (a name for 谁, a date for 何时) only matters among the better sentences;
    # bylines score low on support by nature, so for questions about a report every one is looked at.
    best = max((x.support for x in out), default=0.0)
    for x in out:
        if x.support >= BONUS_AMONG * best or q.about_report:
            x.bonus = answer_type_bonus(q, fold(x.text).lower())
    return out


def _around(text: str, start: int, end: int) -> tuple[int, int]:
    """A span reaching AROUND characters either side of [start, end): room for the sentence before and
    after (splitting is local, so the sentences inside come out as in the whole text)."""
    return max(0, start - AROUND), min(len(text), end + AROUND)
