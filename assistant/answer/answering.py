"""Extractive answers: the sentences of the retrieved chunks that best support the question, each
quoted verbatim and cited; or a refusal when the documents do not hold the answer.

What a question asks is worked out in question.py, how well each sentence supports it in support.py;
here the sentences are selected, quoted and cited, or the question refused. When the question names a
unit, person or project that singles out a report (哈焊所, C919), only reports that mention it may
answer. A question is refused
when no sentence reaches the threshold, and also when what it asks for cannot be there: a number
or year it names that the report does not contain, the thing it asks about (「几名预备党员」)
absent from the report (or the whole index), or a quantity, date or place it asks for
(「多少」「第几」「哪一年」「哪里人」) that no well-supported sentence states.
"""

from __future__ import annotations

import re
from dataclasses import replace

from ..core.chinese import (
    TASK_WORDS,
    fold,
    has_place_name,
    name_pattern,
    nouns,
    quoted,
    synonyms,
    words,
)
from ..core.schema import Answer, Citation, Hit, ShortAnswer
from ..core.wordlists import any_of
from ..storage.library import Index
from .answerability import Lack, is_item, missing
from .citing import cite_all, without_contained
from .needs import Needs, local_names, name_in, needs
from .official import issued
from .question import (
    PART_SETTING,
    Question,
    analyse,
    asks_only_when_who,
    question_parts,
)
from .reader import short_answer
from .retrieval import Filters, per_doc_cap, retrieve
from .support import (
    BYLINE,
    DATE_IN,
    Scored,
    score_sentences,
)

REFUSAL = "文档中没有找到相关信息"
_CUE_PATTERNS = "answering_cues_patterns.txt"
# bench/thresholds.py (qa): 0.15 → 2 (1 unanswerable answered); 0.25 → 5 (1 answerable refused)
SUPPORT_THRESHOLD = 0.2  # calibrated on the dev set: answerable questions score ≥ 0.27
# Set by hand against the dev, near-miss and own sets (bench/eval_answers.py; bench/golden.py records what they
# give): what a sentence needs, relative to the best sentence's support, to be …
# bench/thresholds.py (qa): 0.6 → 1 (1 unanswerable answered); 0.8 → none
GOOD_SHARE = 0.7  # … one of those that support the question well (refusal_reason)
# bench/thresholds.py (qa): 0.75 → 12; 0.95 → 6
QUOTE_SHARE = 0.85  # … quoted beside the best one
# bench/thresholds.py (qa): 0.5 → none; 0.7 → none
SPREAD_QUOTE_SHARE = 0.6  # … quoted beside it from a report not yet quoted, for a question spanning reports
# bench/thresholds.py (qa): 0.1 → none; 0.2 → none
QUANTITY_BONUS = 0.15  # added, in select, to a sentence stating the quantity asked for (几名, 多少个) with its unit
# bench/thresholds.py (qa): 0.4 → none; 0.6 → 2
ANSWERING_FLOOR = 0.5  # a sentence that states what is asked may answer with half the best sentence's support
# A place the question names may stand earlier in the sentence's paragraph, up to this many characters
# before it: about two sentences of these reports (the seeds' 366 sentences: median 40 characters, mean
# 54, 75th percentile 72).
# bench/thresholds.py (qa): 80 → none; 160 → none
PARAGRAPH_BEFORE = 120
# A numbered line of its own (「1、实心药芯焊丝事业部党支部把“创新示范岗建在生产一线中”。」) whose next
# paragraph tells what that unit did: the unit it names answers 「哪个支部」 for that paragraph.
_FULL_STOP = re.compile(r"[。！？!?\n]")
LIST_LEAD = re.compile(r"\s*(?:\d{1,2}\s*[、.．]|[（(][\d一二三四五六七八九十]{1,2}[）)]|[一二三四五六七八九十]{1,2}是)")
_ARABIC = re.compile(r"[0-9]{2,}")
_MAX_QUOTES = 3
# A question that singles out a report may take this many of its k chunks from one report (anchored_hits):
# on the blind dev set D it answered one more question than 2 and broke none; 5 (no cap) lost the total of
# 「哈焊所共有多少个党支部」.
ANCHORED_CAP = 3
# bench/thresholds.py (qa): 1 → 2 (1 answerable refused); 3 → none
LOOK_FURTHER = 2  # a refusal for want of a sentence stating the answer reads this many times k chunks first
RELATED = 2  # sentences quoted beside a refusal that says what is missing
_WHEN_STRICT = any_of(_CUE_PATTERNS, "when_strict")  # asks for a date, nothing else will do
_WHERE_STRICT = any_of("question_words.txt", "where_strict")


def in_scope(index: Index, q: Question, scored: list[Scored]) -> list[Scored]:
    """The sentences from reports that mention the rarest name the question singles a report out
    by (in its text or its metadata, in full or abbreviated form)."""
    if not q.anchors:
        return scored
    pattern = name_pattern(q.anchors[0])
    ok: dict[str, bool] = {}
    for s in scored:
        d = s.hit.chunk.doc_id
        if d not in ok:
            m = s.hit.meta
            names = fold(" ".join((m.title, m.org, *m.aliases))).lower()
            ok[d] = bool(pattern.search(names) or pattern.search(index.store.folded(d)))
    return [s for s in scored if ok[s.hit.chunk.doc_id]]


def anchored_hits(index: Index, question: str, k: int, filters: Filters) -> list[Hit]:
    """For a question that singles out a report (哈焊所, 兰州化物所): the top k chunks with up to
    ANCHORED_CAP of one report. The general cap of two left the answering chunk of a one-report
    question out (the third best of its report, behind two of reports that cannot answer: in_scope
    drops them); no cap at all lets many chunks of the report in whose best-supported sentences raise
    the bar (ANSWERING_FLOOR) above the sentence that states the answer."""
    return retrieve(index, question, k=k, filters=filters, max_per_doc=ANCHORED_CAP)


def refusal_reason(index: Index, q: Question, hits: list[Hit], scored: list[Scored], strict: bool = True) -> str:
    """Why the documents cannot answer ``q`` (empty when they can). ``scored`` is already in scope. A
    Lack when the reports say something close but not the answer: its ``zh`` says what is missing."""
    if not hits:
        return "nothing retrieved"
    if not scored:
        return f"no retrieved report mentions {q.anchors[0]}"
    best = max(s.support for s in scored)
    if best < SUPPORT_THRESHOLD:
        return f"best support {best:.2f} < {SUPPORT_THRESHOLD}"
    retrieved = {h.chunk.doc_id: index.store.folded(h.chunk.doc_id) for h in hits}
    scope = {s.hit.chunk.doc_id for s in scored}
    for num in _ARABIC.findall(q.folded):
        # A year or count the question names must be in a report it could be answered from.
        if not any(num in retrieved[d] for d in (scope if q.anchors else retrieved)):
            return Lack(f"the number {num} appears in no retrieved document"
                        + (f" about {q.anchors[0]}" if q.anchors else ""), f"与“{num}”有关的内容")
    for focus in q.focus:
        if q.anchors:
            if not any(focus in retrieved[d] for d in scope):
                return Lack(f"「{focus}」 appears in no report about {q.anchors[0]}", f"{q.anchors[0]}{focus}的情况")
        elif index.keyword.chunk_df.get(focus, 0) == 0 and not any(focus in t for t in retrieved.values()):
            return f"「{focus}」 appears nowhere in the index"
    if q.needs.unknown:
        return f"the library never mentions 「{q.needs.unknown[0]}」"  # nothing close: 火星 is in no report
    if q.spread:
        # "Which units held a marathon?": the practice asked about must be somewhere in the index.
        for w in nouns(q.text):
            w = w.lower()
            if len(w) >= 3 and w not in TASK_WORDS and not _known(index, w):
                return f"「{w}」 appears nowhere in the index"
    # Sentences that support the question well (a byline counts for questions about a report).
    good = [s for s in scored if s.support + (s.bonus if BYLINE.search(s.text) else 0.0) >= GOOD_SHARE * best]
    if strict and (not q.spread or q.needs.constraints() != Needs()):
        # A sentence that states what is asked may support the question less well than the best one
        # (a question spanning reports: only the period, year or grade it names is asked of them).
        candidates = sorted(answer_candidates(scored, q), key=lambda s: -s.support)
        lacks = [lack(index, q, s) for s in candidates]
        if all(lacks):
            return Lack(f"no supporting sentence states what is asked: it {lacks[0]}", lacks[0].zh)
    # 「哪天发布的」: a well-supported sentence of a report whose header gives the day will do.
    dated_report = any(asks_about(q, s.hit.meta) and s.hit.meta.date and not s.hit.meta.date_inferred for s in good)
    if _WHEN_STRICT.search(q.folded) and not dated_report and not any(DATE_IN.search(fold(s.text)) for s in good):
        return Lack("asks when, and no supporting sentence gives a date or time", "具体时间")
    if _WHERE_STRICT.search(q.folded) and not any(has_place_name(s.text) for s in good):
        return Lack("asks where from, and no supporting sentence names a place", "籍贯或出生地")
    return ""


def answer_candidates(scored: list[Scored], q: Question | None = None) -> list[Scored]:
    """The sentences supported well enough to answer if they state what is asked: a sentence that
    does may support the question less well than the best one. For a question about a report itself
    (「…谁写的」「哪天发布的」) its byline and dateline are candidates too, however few of the
    question's words they repeat (作者:党群工作部 repeats none)."""
    best = max(s.support for s in scored)
    floor = max(SUPPORT_THRESHOLD, ANSWERING_FLOOR * best)
    about = q is not None and q.about_report
    return [s for s in scored if s.support >= floor or (about and BYLINE.search(s.text))]


def lack(index: Index, q: Question, s: Scored) -> str:
    """What sentence ``s`` lacks to answer ``q`` (empty when it answers): see answerability.py. Its
    report's title, organisation and headings count for the names asked about; for a question about
    the report itself its author and (header) date count too. Worked out once per sentence."""
    if s.lacks is None:
        s.lacks = _lack(index, q, s)
    return s.lacks


def _lack(index: Index, q: Question, s: Scored) -> str:
    m = s.hit.meta
    context = " ".join((m.title, m.org, *m.aliases, *s.hit.chunk.headings))
    n, report, author = q.needs.constraints() if q.spread else q.needs, "", ""
    if asks_about(q, m):
        n = n.for_report()
        if n.when and (not m.date or m.date_inferred):
            return Lack("is in a report whose header gives no date", "发布日期")
        report = m.date if m.date and not m.date_inferred else ""
        author = m.author
        if n.who and not m.author and not BYLINE.search(s.text):
            return Lack("is not the report's byline, and the report names no author", "作者")
    text = index.store.text(s.hit.chunk.doc_id)
    paragraph = text.rfind("\n", max(0, s.start - PARAGRAPH_BEFORE), s.start) + 1
    before = text[max(paragraph, s.start - PARAGRAPH_BEFORE) : s.start]
    lo, hi = list_lead(text, paragraph, s.start)
    return missing(n, s.text, context, report, author, before, text[lo:hi], m.date)


def list_lead(text: str, paragraph: int, start: int) -> tuple[int, int]:
    """Where the numbered first sentence of the paragraph that holds ``start`` stands (or that of the
    line above, when that line is a numbered sentence alone): 「1、实心药芯焊丝事业部党支部把…。」 names
    whom the rest is about. (0, 0) when neither is numbered, or the sentence at ``start`` is the lead."""
    for at in (paragraph, text.rfind("\n", 0, max(0, paragraph - 1)) + 1 if paragraph else -1):
        if at < 0 or not LIST_LEAD.match(text, at):
            continue
        end = _FULL_STOP.search(text, at)
        end = end.end() if end else len(text)
        if end <= start:
            return at + len(text[at:end]) - len(text[at:end].lstrip()), end
    return 0, 0


def with_leads(index: Index, q: Question, picked: list[Scored], scored: list[Scored]) -> list[Scored]:
    """For 「哪个支部」: a quoted sentence that does not name the unit comes with the numbered lead that
    does (``list_lead``), so that the answer shows it."""
    out = list(picked)
    for s in picked:
        if name_in(q.needs.which, fold(s.text)):
            continue
        text = index.store.text(s.hit.chunk.doc_id)
        lo, _ = list_lead(text, text.rfind("\n", 0, s.start) + 1, s.start)
        lead = next((x for x in scored if x.hit.chunk.doc_id == s.hit.chunk.doc_id and x.start == lo), None)
        if lead is not None and lead not in out and name_in(q.needs.which, fold(lead.text)):
            out.append(lead)
    return out


def asks_about(q: Question, m) -> bool:
    """Is ``q`` a question about the report ``m`` itself (its date, its author)? 「《…通知》是哪天印发的」
    asks about the document it names, not about a report that quotes it."""
    titles = re.findall(r"《([^》]{2,60})》", q.folded)
    return q.about_report and all(name_in(t, fold(m.title)) for t in titles)


def _known(index: Index, word: str) -> bool:
    """Does the index use the word, a paraphrase of it, or a word it is made of (科研单位 → 科研)?"""
    df = index.keyword.chunk_df
    return any(df.get(w, 0) for w in (word, *synonyms(word), *(x for x in words(word) if len(x) >= 2)))


def byline_hits(index: Index, hits: list[Hit]) -> list[Hit]:
    """The first and last chunk of the top report (its dateline and author line), for questions
    about the report itself, when retrieval did not bring them."""
    top = hits[0]
    chunks = index.store.doc_chunks(top.chunk.doc_id)
    have = {h.chunk.chunk_id for h in hits}
    extra = []
    for c in (chunks[0], chunks[-1]) if chunks else ():
        if c.chunk_id not in have:
            have.add(c.chunk_id)
            extra.append(Hit(chunk=c, meta=top.meta, score=0.0))
    return extra


ITEM_REPORTS = 2  # 「第四个方面」: the list point is looked for in the top two reports retrieved …
# bench/thresholds.py (qa): 2 → none; 4 → none
ITEM_CHUNKS = 3  # … in this many of their chunks at most


def item_hits(index: Index, n: int, hits: list[Hit]) -> list[Hit]:
    """For 「…的第四个方面讲的是什么」: the chunks of the top reports that mark point ``n`` of a list (四是,
    （四）, 4.), when retrieval did not bring them — the point's own words are seldom the question's."""
    have = {h.chunk.chunk_id for h in hits}
    metas = {h.chunk.doc_id: h.meta for h in hits}
    extra: list[Hit] = []
    for doc_id in list(dict.fromkeys(h.chunk.doc_id for h in hits))[:ITEM_REPORTS]:
        for c in index.store.doc_chunks(doc_id):
            if c.chunk_id not in have and is_item(n, c.text) and len(extra) < ITEM_CHUNKS:
                extra.append(Hit(chunk=c, meta=metas[doc_id], score=0.0))
    return extra


def _setting(index: Index, first: str, part: str) -> str:
    """What a later part takes from the first as understood: the names and the year it sets
    (「2025年赤字率…？超长期特别国债又打算发多少？」 asks of 2025 too)."""
    said, df = fold(part), index.keyword.chunk_df
    own = local_names(part, df)  # 「…质检中心又有多少名党员？」 names its own subject
    names = [] if own else [x for x in local_names(first, df) if not name_in(x, said)]
    years = [y for y in PART_SETTING.findall(fold(first)) if y not in said]
    return "，".join(dict.fromkeys(years + [f"“{x}”" if x in quoted(fold(first)) else x for x in names]))


def _share_of(index: Index, first: str, part: str) -> str:
    """「…拿到多少经费？其中多少花在了代表会议上？」: the share a later part asks is of what the first
    part counts — 「其中多少经费花在了…」."""
    of = needs(first, index.keyword.chunk_df).counted
    m = re.match(r"(其中\s*(?:有)?(?:多少|几))", part)
    if not m or not of or of in part:
        return part
    return part[: m.end()] + of + part[m.end():]


def answer(index: Index, question: str, k: int = 5, filters: Filters = Filters()) -> Answer:
    """Retrieve, select the supporting sentences, quote and cite them — or refuse. A request of
    several questions is answered part by part (``answer_parts``); the day an official document named in
    the question was issued, from its own dates (``official.issued``)."""
    dated = issued(index, question, k, filters)
    if dated is not None:
        return dated
    parts = question_parts(question)
    if len(parts) > 1:
        return without_contained(answer_parts(index, question, parts, k, filters))
    return without_contained(replace(answer_one(index, parts[0], k, filters), question=question))


def answer_parts(index: Index, question: str, parts: list[str], k: int, filters: Filters) -> Answer:
    """Each part answered on its own (a later part with the first part's setting), the quotes numbered
    together; a part the reports do not answer says so. A refusal when no part is answered."""
    answers = []
    for i, part in enumerate(parts):
        setting = _setting(index, parts[0], part) if i else ""
        part = _share_of(index, parts[0], part) if i else part
        answers.append(answer_one(index, f"{setting}，{part}" if setting else part, k, filters))
    if all(a.refused for a in answers):
        return answer_one(index, question, k, filters)
    citations: list[Citation] = []
    where: dict[tuple[str, int], int] = {}
    spans, lines = [], []
    for part, a in zip(parts, answers):
        if a.refused:
            lines.append(f"（{part}）" + (f"文档中没有写明{a.missing}。" if a.missing else REFUSAL))
            continue
        renumber = {}
        for c in a.citations:
            key = (c.doc_id, c.start)
            if key not in where:
                where[key] = len(citations) + 1
                citations.append(replace(c, n=where[key]))
            renumber[c.n] = where[key]
        text = re.sub(r"\[(\d+)\]", lambda m: f"[{renumber.get(int(m.group(1)), m.group(1))}]", a.answer)
        if a.short_answer:
            sa = a.short_answer
            spans.append(replace(sa, n=renumber[sa.n]))
            text = text.split("\n", 1)[1] if "\n" in text else text
        lines.extend(line for line in text.split("\n") if line not in lines)
    first = answers[0] if not answers[0].refused else next(a for a in answers if not a.refused)
    head = "；".join(f"{sa.text}[{sa.n}]" for sa in spans)
    return replace(first, question=question, answer="\n".join(([head] if head else []) + lines), refused=False,
                   citations=citations, hits=[h for a in answers for h in a.hits],
                   short_answer=spans[0] if spans else None, reason="",
                   missing="；".join(a.missing for a in answers if a.refused and a.missing))


def _names_asked(q: Question, scored: list[Scored]) -> bool:
    """Does a sentence well enough supported to answer name what the question asks instances of?"""
    return bool(scored) and any(q.needs.asked in fold(s.text) for s in answer_candidates(scored, q))


def answer_one(index: Index, question: str, k: int = 5, filters: Filters = Filters()) -> Answer:
    """One question: retrieve, select the supporting sentences, quote and cite them — or refuse."""
    q, scored, result = prepare(index, question, k, filters, "qa")
    if isinstance(result.reason, Lack) and not q.spread:
        # The reports say something close but none of the top k sentences states it: read further down
        # the ranking before refusing (the day of a meeting was the 6th chunk of its report).
        q2, scored2, result2 = prepare(index, question, LOOK_FURTHER * k, filters, "qa")
        if not result2.reason:
            q, scored, result = q2, scored2, result2
    elif not result.reason and not q.spread and q.needs.asked and not _names_asked(q, scored):
        # No sentence that could answer names what 「哪两个重大节点」 asks instances of: one further down may
        q2, scored2, result2 = prepare(index, question, LOOK_FURTHER * k, filters, "qa")
        if not result2.reason and _names_asked(q2, scored2):
            q, scored, result = q2, scored2, result2
    if result.reason:
        return say_missing(q, scored, result)
    header = header_lines(q, result.hits, scored) if q.about_report else []
    every = scored
    if not q.spread:  # only sentences that state what is asked are quoted
        scored = [s for s in answer_candidates(scored, q) if not lack(index, q, s)]
    else:  # of the period, year or grade asked
        scored = [s for s in scored if not lack(index, q, s)]
    if header_answers(q, result.hits, header):  # 「哪天发布的？作者是谁？」: the byline says it all
        picked = header
    else:
        quoted_lines = {(s.hit.chunk.doc_id, s.start) for s in header}
        picked = header + [s for s in select(q, scored) if (s.hit.chunk.doc_id, s.start) not in quoted_lines][
            : max(1, _MAX_QUOTES - len(header))] \
            if scored else header
    if q.needs.which and not q.spread:
        picked = with_leads(index, q, picked, every)
    # Present in document order within each document, documents in order of first appearance.
    order = {d: i for i, d in enumerate(dict.fromkeys(s.hit.chunk.doc_id for s in picked))}
    picked.sort(key=lambda s: (order[s.hit.chunk.doc_id], s.start))
    result.citations = cite_all(picked)
    short = None if q.spread else short_answer_of(q, picked, result.citations)
    result.citations, renumber = join_adjacent(result.citations)
    result.short_answer = replace(short, n=renumber[short.n]) if short else None
    lines = [f"{c.quote}[{c.n}]" for c in result.citations]
    if result.short_answer:  # 「巴音贺希格[1]」, then the sentence that says so
        lines.insert(0, f"{result.short_answer.text}[{result.short_answer.n}]")
    result.answer = "\n".join(lines)
    result.refused = False
    return result


def short_answer_of(q: Question, picked: list[Scored], citations: list[Citation]) -> ShortAnswer | None:
    """The span that answers, read (reader.py) from the best-supported quoted sentence that has one."""
    for i in sorted(range(len(picked)), key=lambda i: -(picked[i].support + picked[i].bonus)):
        span = short_answer(q.needs, picked[i].text, q.words)
        if span:
            c = citations[i]
            return ShortAnswer(span.text(c.quote), c.n, c.start + span.start, c.start + span.end)
    return None


def say_missing(q: Question, scored: list[Scored], result: Answer) -> Answer:
    """A refusal. When the reports say something close but not the answer (the refusal's reason is a
    Lack), it says what is missing and quotes the closest sentences as related, not as the answer:
    「文档中没有写明组长的姓名。相关原文：…」. A bare refusal when nothing close was found."""
    if not isinstance(result.reason, Lack) or not scored:
        return result
    close = sorted((s for s in answer_candidates(scored, q) if not _heading(s)), key=lambda s: -(s.support + s.bonus))
    related = list({(s.hit.chunk.doc_id, s.start): s for s in close}.values())[:RELATED]
    order = {d: i for i, d in enumerate(dict.fromkeys(s.hit.chunk.doc_id for s in related))}
    related.sort(key=lambda s: (order[s.hit.chunk.doc_id], s.start))
    result.citations = cite_all(related, related=True)
    result.missing = result.reason.zh
    result.answer = missing_text(result.missing, result.citations)
    return result


def missing_text(missing: str, related: list[Citation]) -> str:
    """「文档中没有写明…。相关原文：」 and the related quotes, one a line."""
    return "\n".join([f"文档中没有写明{missing}。相关原文：", *(f"{c.quote}[{c.n}]" for c in related)])


def header_lines(q: Question, hits: list[Hit], scored: list[Scored]) -> list[Scored]:
    """For 「哪天发布的」「作者是谁」: the top report's own dateline and author line, quoted first."""
    top = hits[0].meta
    out: list[Scored] = []
    dated_found = signed_found = False
    for s in scored:
        if s.hit.chunk.doc_id != top.doc_id or any(x.start == s.start for x in out):
            continue
        dated = bool(q.needs.when and top.date and not top.date_inferred and top.date in s.text)
        signed = bool(q.needs.who and top.author and top.author in s.text and BYLINE.search(s.text))
        if (dated and not dated_found) or (signed and not signed_found):
            out.append(s)
            dated_found, signed_found = dated_found or dated, signed_found or signed
    return out[:2]


def header_answers(q: Question, hits: list[Hit], header: list[Scored]) -> bool:
    """Does the question ask only when and by whom the report was written, and do the top report's
    own dateline and author line state it?"""
    if not asks_only_when_who(q.folded):
        return False
    top = hits[0].meta
    return bool(header) and (not q.needs.when or any(top.date and top.date in s.text for s in header)) and \
        (not q.needs.who or any(top.author and top.author in s.text for s in header))


def _heading(s: Scored) -> bool:
    """A title or heading line (「四、强化组织,增强活力」), not a sentence that says something."""
    return s.text == s.hit.meta.title or s.text in s.hit.chunk.headings or not _SENTENCE_END.search(s.text)


_SENTENCE_END = re.compile(r"[。！？；!?;…]\W*$")


# Quotes that follow one another in a report with nothing between are one quote up to this many characters:
# 「…联系点制度。」「党委成员亲自深入到各自的联系点…」 and the ；clauses of one sentence (「张善保荣获…;」「于静伟
# 荣获…。」) read as the passage they are. Set F: evidence strings spanning two such quotes, 4 of 48 (a
# set-D sentence of 300 characters is rare; two clauses of the seeds' lists are under 200).
MAX_JOINED = 300


def join_adjacent(citations: list[Citation]) -> tuple[list[Citation], dict[int, int]]:
    """Citations in document order, those that touch (one ends where the next starts, in one report)
    joined into one, renumbered; and the old number → new number."""
    out: list[Citation] = []
    renumber: dict[int, int] = {}
    for c in citations:
        last = out[-1] if out else None
        if last and last.doc_id == c.doc_id and last.end == c.start and not last.related and not c.related \
                and "\n" not in last.quote + c.quote and c.end - last.start <= MAX_JOINED:
            out[-1] = replace(last, quote=last.quote + c.quote, end=c.end)
        else:
            out.append(replace(c, n=len(out) + 1))
        renumber[c.n] = len(out)
    return out, renumber


def prepare(index: Index, question: str, k: int, filters: Filters, mode: str, max_per_doc: int | None = None,
            exhaustive: bool = False) -> tuple[Question, list[Scored], Answer]:
    """The first half of every mode: check, analyse, retrieve, score in scope. Returns the question,
    its scored sentences and a refusal to fill in — final when its ``reason`` is set. The question is
    checked already (pipeline.Reply). ``max_per_doc``: the
    job's chunks per report (None: as the question's spread asks); ``exhaustive``: also every chunk the
    keyword ranking scores near its best (retrieval.retrieve)."""
    index.ensure_synced()  # the keyword statistics that analyse() reads
    q = analyse(index, question)
    if mode != "qa":  # talking points and precedents draw on every report that fits, whatever it names
        q = replace(q, spread=True, anchors=())
    # The question's spread is known already: retrieve need not read it from the question again.
    cap = max_per_doc or per_doc_cap(index, q.spread)
    if q.anchors and mode == "qa":
        hits = anchored_hits(index, question, k, filters)
    else:
        hits = retrieve(index, question, k=k, filters=filters, max_per_doc=cap, exhaustive=exhaustive)
    if hits and q.about_report:
        hits = hits + byline_hits(index, hits)
    if hits and q.needs.item and mode == "qa":
        hits = hits + item_hits(index, q.needs.item, hits)
    scored = in_scope(index, q, score_sentences(index, q, hits))
    reason = refusal_reason(index, q, hits, scored, strict=mode == "qa")
    return q, scored, Answer(question=question, answer=REFUSAL, refused=True, dense=index.dense, hits=hits,
                             reason=reason, mode=mode)


def select(q: Question, scored: list[Scored]) -> list[Scored]:
    """The best sentences: up to three, close in support to the best one; for questions that span
    reports a sentence from a report not yet quoted gets in more easily."""
    ranked = sorted(scored, key=lambda s: (-(s.support + s.bonus + (QUANTITY_BONUS if s.has_quantity else 0.0)),
                                           -s.hit.score))
    best = ranked[0].support
    picked: list[Scored] = []
    seen: set[tuple[str, int]] = set()
    docs_used: set[str] = set()
    for s in ranked:
        if len(picked) >= _MAX_QUOTES:
            break
        key = (s.hit.chunk.doc_id, s.start)
        if key in seen:
            continue
        floor = (SPREAD_QUOTE_SHARE if q.spread and s.hit.chunk.doc_id not in docs_used else QUOTE_SHARE) * best
        if picked and s.support < floor:
            continue
        if q.kind and not picked and not s.has_quantity:
            continue
        seen.add(key)
        docs_used.add(s.hit.chunk.doc_id)
        picked.append(s)
    return picked or ranked[:1]
