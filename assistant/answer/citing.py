"""A citation of a quoted span: the report's title, organisation and date, the exact ``[start, end)``
of its cleaned text, the page and the heading path the quote sits under."""

from __future__ import annotations

from typing import Protocol

from ..core.schema import Citation, Hit
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
