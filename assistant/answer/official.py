"""When an official document (公文) was issued: 「…是哪天印发的」 is answered from the document's own
dates (ingest/gongwen.py) — its 印发日期 from the 版记 and its 成文日期 under the signature — not from
whatever sentence of some report mentions a date. The document must be named: by its 发文字号, or by
its title (「《…实施方案》是哪天印发的」, most of the title's words in the question). Reports that
are not official documents never take this path."""

from __future__ import annotations

from ..core.chinese import bigrams, fold
from ..core.schema import Answer, DocMeta, Hit, ShortAnswer
from ..core.wordlists import any_of
from ..ingest.gongwen import iso
from ..storage.library import Index
from .citing import cite
from .retrieval import Filters, allowed_docs, number_key, retrieve

_CUE_PATTERNS = "answering_cues_patterns.txt"
_ASKS_ISSUED = any_of(_CUE_PATTERNS, "asks_issued")
_ASKS_WRITTEN = any_of(_CUE_PATTERNS, "asks_written")
# A question names a document by its title when it holds this share of the title's character bigrams: 「两学一做
# 实施方案是哪天印发的」 holds 6 of the 18 of 「关于深入开展“两学一做”学习教育的实施方案」 (0.33); 「《关于2020年度
# 工作总结》是哪天印发的」 holds 1 (0.06). Set by hand on these.
TITLE_SHARE = 0.3



def _named(meta: DocMeta, question: str) -> bool:
    if meta.doc_number and number_key(meta.doc_number) in number_key(fold(question)):
        return True
    title = bigrams(meta.title)
    return bool(title) and len(title & bigrams(question)) >= TITLE_SHARE * len(title)


def _zh(date: str) -> str:
    y, m, d = date.split("-")
    return f"{int(y)}年{int(m)}月{int(d)}日"


def issued(index: Index, question: str, k: int, filters: Filters) -> Answer | None:
    """The answer to 「…是哪天印发/成文的」 of a named official document, or None when the question is
    not that or names none."""
    if not _ASKS_ISSUED.search(fold(question)):
        return None
    allowed = allowed_docs(index, filters)
    metas = index.store.metas()
    named = [m for d, m in metas.items() if (m.printed or m.doc_number) and (allowed is None or d in allowed)
             and _named(m, question)]
    if not named:
        return None
    hits = retrieve(index, question, k=k, filters=filters)
    ranked = {h.chunk.doc_id: i for i, h in enumerate(hits)}
    meta = min(named, key=lambda m: (ranked.get(m.doc_id, len(hits)), m.doc_id))
    text = index.store.text(meta.doc_id)
    # The quote: the 成文日期 line under the signature (the 版记's 印发 line is not in the body), else the title's.
    start = end = 0
    offset = 0
    for line in text.split("\n"):
        if meta.date and iso(line.strip()) == meta.date:
            start, end = offset + len(line) - len(line.lstrip()), offset + len(line.rstrip())
        offset += len(line) + 1
    if end == 0:
        end = len(text.split("\n", 1)[0])
    chunk = next(c for c in index.store.doc_chunks(meta.doc_id) if c.start <= start < c.end)
    citation = cite(1, Hit(chunk=chunk, meta=meta, score=0.0), text[start:end], start, end)
    number = f"（{meta.doc_number}）" if meta.doc_number else ""
    written = f"成文日期为{_zh(meta.date)}" if meta.date and not meta.date_inferred else ""
    if meta.printed and not _ASKS_WRITTEN.search(fold(question)):
        by = f"，{meta.printed_by}印发" if meta.printed_by else ""
        answer = f"《{meta.title}》{number}的印发日期为{_zh(meta.printed)}（据文末版记{by}）" + \
            (f"；{written}。[1]" if written else "。[1]")
        short = _zh(meta.printed)
    elif written:
        answer = f"《{meta.title}》{number}的{written}。[1]"
        short = _zh(meta.date)
    else:
        return None
    span = ShortAnswer(text[start:end], 1, start, end) if start < end and iso(text[start:end]) else None
    return Answer(question=question, answer=answer, refused=False, dense=index.dense, citations=[citation],
                  hits=hits, reason=f"the dates of the official document {meta.doc_id}: {short}", short_answer=span)
