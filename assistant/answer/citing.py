"""A citation of a quoted span: the report's title, organisation and date, the exact ``[start, end)``
of its cleaned text, the page and the heading path the quote sits under."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Protocol

from ..core.chinese import fold
from ..core.schema import MARKER, Answer, Citation, Hit
from ..ingest.chunking import heading_path_at


def cite(n: int, hit: Hit, quote: str, start: int, end: int, verified: bool = True,
         related: bool = False) -> Citation:
    """Cite ``quote`` (the cleaned text's ``[start, end)``) from ``hit``'s document as source ``n``."""
    m = hit.meta
    return Citation(n=n, doc_id=m.doc_id, title=m.title, date=m.date, org=m.org, quote=quote, start=start, end=end,
                    verified=verified, page=m.page_of(start), heading=" › ".join(heading_path_at(hit.chunk, start)),
                    related=related, doc_number=m.doc_number)


class Quoted(Protocol):
    """A sentence chosen to quote (answering.Scored): its chunk hit and its span."""

    hit: Hit
    text: str
    start: int
    end: int


def cite_all(sentences: list[Quoted], related: bool = False) -> list[Citation]:
    """Number the quoted sentences 1…n, in the order given."""
    return [cite(n, s.hit, s.text, s.start, s.end, related=related) for n, s in enumerate(sentences, 1)]


def _words(text: str) -> str:
    """A quote's words alone (folded, no spaces or punctuation): what it says, however it is set."""
    return re.sub(r"[\W_]", "", fold(text))


def contains(outer: Citation, inner: Citation) -> bool:
    """Does ``outer`` quote everything ``inner`` does: its span within ``outer``'s in the same report
    (two chunks of one sentence), or its words within ``outer``'s (a title line that repeats the opening
    of the sentence quoted after it, the same sentence in a report filed twice)?"""
    if outer.doc_id == inner.doc_id and outer.start <= inner.start and inner.end <= outer.end:
        return True
    words = _words(inner.quote)
    return bool(words) and words in _words(outer.quote)


def without_contained(ans: Answer) -> Answer:
    """The answer with no quote that another of its quotes contains: such a citation goes, its markers
    point at the quote containing it, an answer line that was only that quote goes, and the rest are
    numbered 1…n again. (Of two quotes that contain each other, the first stays.)"""
    into: dict[int, int] = {}
    for c in ans.citations:
        outer = next((d for d in ans.citations if d is not c and d.n not in into and contains(d, c)
                      and not (contains(c, d) and c.n < d.n)), None)
        if outer is not None:
            into[c.n] = outer.n
    if not into:
        return ans
    kept = [c for c in ans.citations if c.n not in into]
    number = {c.n: i for i, c in enumerate(kept, 1)}

    def new(n: int) -> int:
        while n in into:
            n = into[n]
        return number.get(n, n)

    def marked(text: str) -> str:
        text = MARKER.sub(lambda m: f"[{new(int(m.group(1)))}]", text)
        return re.sub(r"(\[\d+\])\1+", r"\1", text)  # 「…[2][2]」: one marker

    def cited(ns: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(dict.fromkeys(new(n) for n in ns))

    gone = {f"{c.quote}[{c.n}]" for c in ans.citations if c.n in into}
    text = marked("\n".join(ln for ln in ans.answer.split("\n") if ln not in gone))
    short = replace(ans.short_answer, n=new(ans.short_answer.n)) if ans.short_answer else None
    return replace(ans, answer=text, citations=[replace(c, n=number[c.n]) for c in kept], short_answer=short,
                   points=[replace(p, text=marked(p.text), citations=cited(p.citations)) for p in ans.points],
                   rows=[replace(r, practice=marked(r.practice), citations=cited(r.citations)) for r in ans.rows])
