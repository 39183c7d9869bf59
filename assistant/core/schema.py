"""Typed data passed between the pipeline stages: load → clean → chunk → index → retrieve → answer."""

from __future__ import annotations

import bisect
import hashlib
import re
from dataclasses import dataclass, field

MARKER = re.compile(r"\[(\d{1,3})\]")  # a citation marker [n] in answer text


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


PAGED_KINDS = ("pdf", "jpg", "png", "bmp", "webp", "tif")  # formats whose text has pages (a scan's too)


@dataclass(frozen=True)
class DocMeta:
    doc_id: str
    title: str
    date: str = ""  # ISO: YYYY-MM-DD, or YYYY when only the year is known
    org: str = ""
    author: str = ""
    source: str = ""  # URL when the file names one
    path: str = ""  # where the file was read from
    date_inferred: bool = False  # True when the date was guessed from the body, not a header
    aliases: tuple[str, ...] = ()  # short names of the organisation used in the text (哈焊所)
    kind: str = "txt"  # the format the text came from: txt | md | docx | pdf | html | doc | wps | jpg | png | tif …
    pages: tuple[int, ...] = ()  # PDF, scan: offset in the cleaned text where each page after the first starts
    ocr_pages: tuple[int, ...] = ()  # pages (1-based) whose text OCR read
    low_confidence: tuple[int, ...] = ()  # … those of them read with low confidence: check them against the scan
    # An official document's parts (GB/T 9704; ingest/gongwen.py); its 发文机关 is ``org``, its 成文日期 ``date``:
    doc_number: str = ""  # 发文字号: 国办发〔2016〕12号
    signer: str = ""  # 签发人
    recipients: str = ""  # 主送机关
    attachments: str = ""  # 附件说明
    cc: str = ""  # 抄送机关 (版记)
    printed_by: str = ""  # 印发机关 (版记)
    printed: str = ""  # 印发日期, ISO (版记)

    def page_of(self, offset: int) -> int:
        """The page (1-based) a cleaned-text offset falls on, or 0 when the document has no pages."""
        if not self.pages and self.kind not in PAGED_KINDS:
            return 0
        return 1 + bisect.bisect_right(self.pages, offset)


@dataclass(frozen=True)
class Document:
    """A cleaned document. ``text`` is canonical: citation offsets index into it."""

    meta: DocMeta
    text: str
    raw_hash: str  # hash of the file bytes as read (decides "unchanged" on re-ingest)

    @property
    def doc_id(self) -> str:
        return self.meta.doc_id


@dataclass(frozen=True)
class ScanPage:
    """A page OCR read, as kept to show a quote on the scan: the page's picture, and each line's place in
    the cleaned text (``start``, ``end``) and on the picture (``x0, y0, x1, y1`` as shares of its width
    and height)."""

    page: int  # 1-based
    picture: bytes  # PNG
    lines: tuple[tuple[int, int, float, float, float, float], ...] = ()  # (start, end, x0, y0, x1, y1)

    def lines_in(self, start: int, end: int) -> list[tuple[float, float, float, float]]:
        """The boxes of the text from ``start`` to ``end`` on the page: each line holding any of it, cut
        where the text starts and ends inside the line (a line's characters stand evenly across it)."""
        boxes = []
        for lo, hi, x0, y0, x1, y1 in self.lines:
            if lo < end and start < hi:
                share = (x1 - x0) / (hi - lo)
                boxes.append((x0 + max(0, start - lo) * share, y0, x1 - max(0, hi - end) * share, y1))
        return boxes


@dataclass(frozen=True)
class DocRecord:
    """What identity decisions need to know about an indexed document."""

    doc_id: str
    path: str
    raw_hash: str
    content_hash: str
    text_hash: str
    dense: str


@dataclass(frozen=True)
class Sentence:
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    doc_id: str
    index: int
    start: int  # [start, end) in the document's cleaned text
    end: int
    text: str
    headings: tuple[str, ...] = ()
    tokens: int = 0


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score and the ranks that produced it."""

    chunk: Chunk
    meta: DocMeta
    score: float
    dense_rank: int | None = None
    keyword_rank: int | None = None


@dataclass(frozen=True)
class Citation:
    n: int
    doc_id: str
    title: str
    date: str
    org: str
    quote: str
    start: int
    end: int
    verified: bool = True  # the cited source supports the sentence (always so for extractive quotes)
    page: int = 0  # PDF page of the quote (1-based), 0 when the source has no pages
    heading: str = ""  # the section heading path where the quote sits (一、… › （二）…)
    related: bool = False  # quoted as close to the question, not as its answer (a refusal that says what is missing)
    doc_number: str = ""  # the official document's 发文字号, when it is one

    @property
    def where(self) -> str:
        """「第3页 · 二、主要做法」: where in the report the quote sits, for sources lists."""
        return " · ".join(x for x in (f"第{self.page}页" if self.page else "", self.heading) if x)


@dataclass(frozen=True)
class ShortAnswer:
    """The words that answer (a name, a date, a count…), inside the quote of citation ``n``."""

    text: str
    n: int
    start: int  # [start, end) in the document's cleaned text, within the citation's [start, end)
    end: int


@dataclass(frozen=True)
class Point:
    """One talking point: a short heading, its supporting sentences, the citations behind them."""

    heading: str
    text: str
    citations: tuple[int, ...]


@dataclass(frozen=True)
class Row:
    """One precedent: an organisation, when, what it did, and where that is written."""

    org: str
    date: str
    practice: str
    citations: tuple[int, ...]


@dataclass
class Answer:
    question: str
    answer: str
    refused: bool
    dense: bool
    citations: list[Citation] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    reason: str = ""  # why a refusal happened (for debugging and the record)
    mode: str = "qa"  # the job that answered: a name in modes.REGISTRY
    generator: str = "extractive"  # or "llm:MODEL"
    points: list[Point] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)  # generated sentences no source supports
    notice: str = ""  # e.g. the LLM failed and this is the extractive answer
    asked_mode: str = ""  # the job the user chose, when the request was routed to another (``mode``)
    checks: dict = field(default_factory=dict)  # an LLM reply's verification counts (sentences, markers kept…)
    short_answer: ShortAnswer | None = None  # the span the answer opens with
    missing: str = ""  # a refusal's 「文档中没有写明…」: what the reports leave out, in words

    @property
    def only_related(self) -> bool:
        """A refusal that cites sentences close to the question, none of which answers it."""
        return bool(self.citations) and all(c.related for c in self.citations)

    def to_json(self) -> dict:
        out = {
            "question": self.question,
            "answer": self.answer,
            "refused": self.refused,
            "dense": self.dense,
            "mode": self.mode,
            "generator": self.generator,
            "unsupported": self.unsupported,
            "citations": [
                {
                    "n": c.n,
                    "doc_id": c.doc_id,
                    "title": c.title,
                    "date": c.date,
                    "org": c.org,
                    "quote": c.quote,
                    "start": c.start,
                    "end": c.end,
                    "verified": c.verified,
                    "page": c.page,
                    "heading": c.heading,
                    "related": c.related,
                    "doc_number": c.doc_number,
                }
                for c in self.citations
            ],
            "retrieved": [
                {
                    "rank": i + 1,
                    "doc_id": h.chunk.doc_id,
                    "chunk_id": h.chunk.chunk_id,
                    "score": round(h.score, 6),
                    "text": h.chunk.text,
                }
                for i, h in enumerate(self.hits)
            ],
        }
        if self.short_answer:
            sa = self.short_answer
            out["short_answer"] = {"text": sa.text, "n": sa.n, "start": sa.start, "end": sa.end}
        if self.missing:
            out["missing"] = self.missing
        if self.notice:
            out["notice"] = self.notice
        if self.asked_mode:
            out["asked_mode"] = self.asked_mode
        if self.checks:
            out["checks"] = self.checks
        if self.reason:
            out["reason"] = self.reason
        if self.points:
            out["points"] = [{"heading": p.heading, "text": p.text, "citations": list(p.citations)} for p in self.points]
        if self.rows:
            out["rows"] = [{"org": r.org, "date": r.date, "practice": r.practice, "citations": list(r.citations)}
                           for r in self.rows]
        return out
