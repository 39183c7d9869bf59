"""What a question asks, worked out once before anything is retrieved: the question checked and
stripped of control characters, its content words (question words and request fillers removed), the
kind of quantity it asks for, the thing it is about, the names that single out one report, whether it
asks about a report itself (who wrote it, when), and the parts of a request of several questions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..core.chinese import (
    STOPWORDS,
    TASK_WORDS,
    cut,
    entity_words,
    fold,
    lexical,
    nouns,
)
from ..core.errors import AssistantError
from ..core.wordlists import alternation, any_of, chars
from ..core.wordlists import words as listed_words
from ..storage.library import Index
from .needs import Needs, needs
from .retrieval import metadata_intent, multi_report, singles_out

_CUES = "answering_cues.txt"
_CUE_PATTERNS = "answering_cues_patterns.txt"
_QUESTION_WORDS = re.compile(rf"({alternation(_CUES, 'question_word')})")
UNITS = {
    kind: chars(_CUES, f"unit_{kind}") for kind in ("person", "count", "length", "time", "money", "percent")
}
_QUANTITY_ASK = re.compile(
    rf"(多少|几)([{chars(_CUES, 'asked_unit')}]?)|第几|多长时间|多久|多(深|长|大|高|远|重)|比例|百分之几|率是多少"
)
_FOCUS_AFTER = re.compile(rf"(?:多少|几)[{UNITS['person']}{UNITS['count']}]?([\u4e00-\u9fffA-Za-z0-9]{{2,12}})")
_FOCUS_BEFORE = re.compile(rf"([\u4e00-\u9fffA-Za-z0-9]{{2,12}})(?:{alternation(_CUES, 'focus_before')})")
_WHO = any_of("question_words.txt", "who")
_WHEN = any_of(_CUE_PATTERNS, "when")


_QUESTION_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200d\u2060\ufeff]+")


def strip_controls(question: str) -> str:
    return _QUESTION_CONTROLS.sub(" ", question or "").strip()


def check_question(question: str, limit: int) -> str:
    """The question with control characters gone; AssistantError when nothing askable is left."""
    q = strip_controls(question)
    if not q:
        raise AssistantError("The question is empty: type a question, e.g. assistant ask \"质检中心有多少名党员？\"")
    if len(q) > limit:
        raise AssistantError(f"The question is {len(q)} characters long; keep it under {limit} characters.")
    if not any(ch.isalnum() for ch in q):
        raise AssistantError("The question has no words, only punctuation or symbols: type a question in words.")
    return q


# What a request says about the reply, not about the reports: 「三四条」「一份」「就行」「下周」「列个」「讲讲」.
_REQUEST_FILLER = re.compile(rf"[一二三四五六七八九十两几]+(?:[到至][一二三四五六七八九十]*)?[{chars(_CUES, 'request_unit')}]?|[到至]|"
                             + alternation(_CUES, "request_filler"))


def content_words(question: str) -> list[str]:
    """The question's content words (jieba precise mode on folded text), question words removed."""
    out = []
    for w in cut(question):
        w = w.strip().lower()
        if (not w or not any(ch.isalnum() for ch in w) or w in STOPWORDS or w in TASK_WORDS
                or _QUESTION_WORDS.fullmatch(w) or _REQUEST_FILLER.fullmatch(w)):
            continue
        if w not in out:
            out.append(w)
    return out


def _quantity_unit(question: str) -> str | None:
    """The kind of quantity the question asks for, or None when it asks for none."""
    m = _QUANTITY_ASK.search(question)
    if not m:
        return None
    unit = m.group(2) or "" if m.group(1) else ""
    if m.group(0) == "第几":
        return "ordinal"
    if m.group(0) in ("多长时间", "多久"):
        return "time"
    if m.group(0).startswith("多") and m.group(3):
        return {"深": "length", "长": "length", "高": "length", "远": "length", "久": "time"}.get(m.group(3), "any")
    if "率" in m.group(0) or "比例" in m.group(0) or "百分" in m.group(0):
        return "percent"
    for kind, units in UNITS.items():
        if unit and unit in units:
            return kind
    return "any"


def _focus(question: str) -> list[str]:
    q = fold(question)
    out = []
    for rx in (_FOCUS_AFTER, _FOCUS_BEFORE):
        for m in rx.finditer(q):
            phrase = [w for w in nouns(m.group(1)) if len(w) >= 2 and w not in STOPWORDS]
            if phrase:
                out.append(phrase[-1].lower())
    return out


@dataclass(frozen=True)
class Question:
    """What the answerer needs to know about a question, worked out once."""

    text: str
    folded: str
    words: tuple[str, ...]  # content words (precise-mode jieba, folded, lower case)
    kind: str | None  # the kind of quantity asked for, if any
    spread: bool  # the answer spans reports (which units…, precedents, talking points)
    anchors: tuple[str, ...]  # names that single out one report, rarest first (none when spread)
    focus: tuple[str, ...]  # the thing asked about: 「几名预备党员」 → 预备党员
    about_report: bool = False  # asks about a report itself: its author, its date
    asks_who: bool = False
    asks_when: bool = False
    needs: Needs = Needs()  # what an answering sentence must state (needs.py, checked by answerability.py)


def analyse(index: Index, question: str) -> Question:
    folded = fold(question)
    spread = multi_report(question, index)
    return Question(
        text=question,
        folded=folded,
        words=tuple(content_words(question)),
        kind=_quantity_unit(folded),
        spread=spread,
        anchors=() if spread else tuple(anchors(index, question)),
        focus=tuple(_focus(question)),
        about_report=metadata_intent(question),
        asks_who=bool(_WHO.search(folded)),
        asks_when=bool(_WHEN.search(folded)),
        needs=needs(question, index.keyword.chunk_df),
    )


def anchors(index: Index, question: str) -> list[str]:
    """Names in the question that single out a report (an organisation, a person, a project code),
    rarest first."""
    named = entity_words(question)
    found = [w for w in content_words(question) if singles_out(index, w, named)]
    return sorted(found, key=lambda w: index.keyword.doc_df.get(w, 0))


_PART_END = re.compile(r"(?<=[？?])")
_ASKS = any_of("question_words.txt", "asks")
_WORDING = re.compile(rf"(?:是)?(?:{alternation(_CUES, 'how')})(?:{alternation(_CUES, 'wording_verb')})的?|(?:的)?原文")
PART_SETTING = re.compile(r"(?:19|20)\d{2}\s*年")  # a year the first part sets for the rest
_AND = listed_words(_CUES, "and")  # joins two people or organisations asked of each (each_of)


def each_of(question: str) -> list[str]:
    """「张善保和于静伟，分别拿到了什么称号」: the same question of each of two people or organisations
    (LAC's PER, ORG) joined by 和/与/及/、 before 分别 — the facts may be in two sentences or two
    reports. [] when the question is not so."""
    q = fold(question)
    tokens = lexical(question)  # offsets into the question as written (traditional too)
    for (a1, b1, t1), (a2, b2, _), (a3, b3, t3) in zip(tokens, tokens[1:], tokens[2:]):
        if t1 == t3 and t1 in ("PER", "ORG") and q[a2:b2] in _AND \
                and re.match(r"[，,]?\s*分别", q[b3:]):
            rest = question[b3 + re.match(r"[，,]?\s*分别", q[b3:]).end() :]
            return [question[:a1] + question[a1:b1] + rest, question[:a1] + question[a3:b3] + rest]
    return []


def question_parts(question: str) -> list[str]:
    """A request of two or more questions (「哈焊所一共几个党支部？被评为“基本满意”的有几个？」), each
    asking something: the parts; else the request alone."""
    if asks_only_when_who(question) and metadata_intent(question):
        return [question]  # 「那篇文章哪天发布的？作者是谁？」: one report's byline answers both
    each = each_of(question)
    if each:
        return each
    parts: list[str] = []
    for p in (p.strip() for p in _PART_END.split(question.strip())):
        if not p:
            continue
        if parts and not _ASKS.search(_WORDING.sub("", p)):
            # 「…哪几类竞赛？光栅室方案里是怎么写的？」 asks for the quote, which every answer gives: what
            # else it says (光栅室方案) sets the scene of the question before it
            scene = _WORDING.sub("", p).strip("？?，, ")
            parts[-1] = f"{scene}，{parts[-1]}" if scene else parts[-1]
            continue
        parts.append(p)
    return parts if len(parts) > 1 else [parts[0] if parts else question]


def asks_only_when_who(question: str) -> bool:
    """「…哪天发布的？作者是谁？」 asks only when and who. Whatever follows the first clause that asks
    who or when must ask who or when too, and every question word must be part of such a phrase:
    「…谁写的？他是什么职务？」「作者是谁、讲了什么」「…谁写的，并概括做法」 ask more."""
    clauses = [c for c in _CLAUSES.split(fold(question)) if c.strip()]
    first = next((i for i, c in enumerate(clauses) if _WHO.search(c) or _WHEN.search(c)), None)
    if first is None or not all(_WHO.search(c) or _WHEN.search(c) for c in clauses[first:]):
        return False
    return all(_in_who_or_when(c, m.start()) for c in clauses for m in _QUESTION_WORDS.finditer(c))


_CLAUSES = re.compile(r"[？?！!。；;，,、\s]|" + alternation(_CUE_PATTERNS, "clause_joiner"))


def _in_who_or_when(clause: str, pos: int) -> bool:
    return any(m.start() <= pos < m.end() for rx in (_WHO, _WHEN) for m in rx.finditer(clause))
