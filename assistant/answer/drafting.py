"""Talking points (起草发言要点), extractive: 3–7 distinct ideas or practices from the reports, each
with a short heading, one or two quoted sentences and their citations; spread across reports and
ordered so that related points stand together."""

from __future__ import annotations

import re

from ..core.chinese import bigrams, sentence_spans
from ..core.schema import Answer, Point
from ..core.wordlists import alternation
from ..ingest.chunking import heading_of
from ..storage.library import Index
from .answering import SUPPORT_THRESHOLD, prepare
from .citing import cite_all
from .retrieval import Filters
from .support import Scored

MIN_POINTS, MAX_POINTS = 3, 7
BREADTH = 12  # chunks retrieved for talking points
PER_DOC = 3  # chunks per report among them
# A sentence a talking point may draw on reaches this share of the best sentence's support (set by hand with the
# talking-point items of the dev set, bench/eval_modes.py, gold share 1.0; not swept).
# bench/thresholds.py (points): 0.35 → 47; 0.55 → 53
POINT_SHARE = 0.45
# Set by hand when talking points were built (bench/thresholds.py --job points gives what changing each does):
# bench/thresholds.py (points): 0.4 → 7; 0.6 → 9
SIMILAR_SHARE = 0.5  # two sentences are alike when this share of the shorter one's character bigrams is in the other
# bench/thresholds.py (points): 6 → 5; 10 → 1
MIN_POINT_CHARS = 8  # a shorter sentence (「一是全面系统学。」 has 9) is no point of its own …
# bench/thresholds.py (points): 12 → 20; 20 → 18
BARE_LABEL_MAX = 16  # … and one up to this long is a bare label, quoted with the sentence after it
NEXT_SENTENCE_REACH = 400  # characters after a bare label in which its next sentence is looked for
# bench/thresholds.py (points): 40 → 28; 80 → 24
NEAR_CHARS = 60  # two sentences of one report closer than this are neighbours: one point, not two
LABEL_MAX = 20  # a heading longer than this is cut to LABEL_MAX - 2 characters and "…"
_MARKER = re.compile(r"^(?:[一二三四五六七八九十]{1,3}\s*、|[（(][一二三四五六七八九十\d]{1,3}[）)]|\d{1,2}\s*[、.．]|"
                     r"[一二三四五六七八九十][是要]|第[一二三四五六七八九十]{1,3}[，,、]?)\s*")
# A report's own head: title, dateline, byline — never a talking point.
_HEAD_LINE = re.compile(rf"^(?:{alternation('answer_reading.txt', 'head_field')}|[（(]作者)\s*[:：]", re.IGNORECASE)
_LEAD = re.compile(rf"^(?:{alternation('answer_reading.txt', 'lead_word')})")



def similar(a: str, b: str) -> bool:
    """Do two sentences say the same thing (SIMILAR_SHARE of the shorter one's bigrams shared)?"""
    x, y = bigrams(a), bigrams(b)
    return bool(x and y) and len(x & y) / min(len(x), len(y)) >= SIMILAR_SHARE


def _clean_label(label: str) -> str:
    label = _LEAD.sub("", _MARKER.sub("", label)).strip(" “”\"。，,")
    return label if len(label) <= LABEL_MAX else label[: LABEL_MAX - 2] + "…"


def _first_clause(text: str) -> str:
    for clause in re.split(r"[，,：:；;。！？]", text):
        if _clean_label(clause):
            return _clean_label(clause)
    return text[: LABEL_MAX - 2]


def heading_for(index: Index, s: Scored, used: set[str] = frozenset()) -> str:
    """A short heading: the section label the report puts over the sentence (三是强化先锋意识 →
    强化先锋意识), or else — also when another point has that label already — its first clause."""
    text = index.store.text(s.hit.chunk.doc_id)
    own = heading_of(s.text)
    if own and _clean_label(own[1]) not in used:
        return _clean_label(own[1])
    section = ""
    for x in sentence_spans(text, s.hit.chunk.start, s.start):
        h = heading_of(x.text)
        if h:
            section = h[1]
    section = section or (s.hit.chunk.headings[-1] if s.hit.chunk.headings else "")
    if section and _clean_label(section) and _clean_label(section) not in used:
        return _clean_label(section)
    return _first_clause(s.text)


def _with_next(index: Index, s: Scored) -> list[Scored]:
    """A bare label sentence (一是全面系统学。) is quoted with the sentence that follows it."""
    if len(s.text) > BARE_LABEL_MAX:
        return [s]
    text = index.store.text(s.hit.chunk.doc_id)
    nxt = next((x for x in sentence_spans(text, s.end, min(len(text), s.end + NEXT_SENTENCE_REACH)) if x.start >= s.end), None)
    if nxt is None or "\n" in text[s.end : nxt.start] and not heading_of(s.text):
        return [s]
    return [s, Scored(s.hit, nxt.start, nxt.end, nxt.text, s.support, False)]


def _theme_order(points: list[list[Scored]]) -> list[list[Scored]]:
    """Greedy chaining: after each point comes the remaining one most alike to it."""
    if not points:
        return points
    left = points[1:]
    out = [points[0]]
    while left:
        last = bigrams(" ".join(x.text for x in out[-1]))
        nxt = max(left, key=lambda p: len(last & bigrams(" ".join(x.text for x in p))))
        left.remove(nxt)
        out.append(nxt)
    return out


def draft_points(index: Index, question: str, k: int = BREADTH, filters: Filters = Filters()) -> Answer:
    q, scored, result = prepare(index, question, k, filters, "points", max_per_doc=PER_DOC)
    if result.reason:
        return result
    best = max(s.support for s in scored)
    pool = sorted((s for s in scored if s.support >= max(SUPPORT_THRESHOLD, POINT_SHARE * best) and len(s.text) >= MIN_POINT_CHARS
                   and not _HEAD_LINE.match(s.text) and s.start > 0),
                  key=lambda s: (-s.support, -s.hit.score))
    chosen: list[Scored] = []

    def near(a: Scored, b: Scored) -> bool:  # the same or a neighbouring sentence of one report
        return a.hit.chunk.doc_id == b.hit.chunk.doc_id and (abs(a.start - b.end) < NEAR_CHARS or abs(b.start - a.end) < NEAR_CHARS
                                                             or a.start == b.start)

    def take(s: Scored) -> None:
        if not any(similar(s.text, c.text) or near(s, c) for c in chosen):
            chosen.append(s)

    # First the best sentence of each report, then the next best, never two alike.
    for doc_id in dict.fromkeys(s.hit.chunk.doc_id for s in pool):
        take(next(s for s in pool if s.hit.chunk.doc_id == doc_id))
    for s in pool:
        if len(chosen) >= MAX_POINTS:
            break
        take(s)
    chosen = chosen[:MAX_POINTS]
    groups = _theme_order([_with_next(index, s) for s in chosen])
    flat = [s for g in groups for s in g]
    result.citations = cite_all(flat)
    number = {(s.hit.chunk.doc_id, s.start): c.n for s, c in zip(flat, result.citations)}
    used: set[str] = set()
    for g in groups:
        nums = tuple(number[(s.hit.chunk.doc_id, s.start)] for s in g)
        text = "".join(f"{s.text}[{n}]" for s, n in zip(g, nums))
        heading = heading_for(index, g[0], used)
        used.add(heading)
        result.points.append(Point(heading=heading, text=text, citations=nums))
    result.answer = "\n".join(f"{i}. {p.heading}：{p.text}" for i, p in enumerate(result.points, 1))
    result.refused = False
    return result
