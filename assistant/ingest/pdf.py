"""PDF (pypdf): pages separated by one form feed each, wrapped lines joined back into paragraphs,
running headers and page numbers dropped. A page without a text layer (a scan, or a scanned page in
an otherwise digital PDF) is rendered (pypdfium2) and read by OCR, one page at a time."""

from __future__ import annotations

import io
import logging
import re
import time
from typing import Callable

import pypdfium2 as pdfium

from ..core.errors import Unreadable
from .converted import Converted, plain, reason
from .lines import join_wrapped
from .ocr import MAX_SIDE, OcrPage, read_image

log = logging.getLogger(__name__)

MAX_PDF_PAGES = 2000
SCANNED_CHARS = 20  # a PDF with fewer non-space characters than this in all its pages has no text layer

_SPACES = re.compile(r" {2,}")
_PAGE_NUMBER = re.compile(
    r"^(?:[-–—－_·•\[\]（）()\s]*\d{1,4}[-–—－_·•\[\]（）()\s]*"
    r"|第\s*\d{1,4}\s*页(?:\s*[,，/／、]?\s*共\s*\d{1,4}\s*页)?"
    r"|共\s*\d{1,4}\s*页\s*[,，/／、]?\s*第\s*\d{1,4}\s*页"
    r"|\d{1,4}\s*[/／]\s*\d{1,4}"
    r"|(?:page|p\.)\s*\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?)$",
    re.IGNORECASE,
)
_EDGE = 3  # lines at the top and the bottom of a page where running headers and page numbers live
RUNNING_MIN_PAGES = 3  # a line at the edge of at least 3 pages, and of more than half of them, is a running head
PAGE_NUMBER_EDGE = 2  # a page number stands in a page's first or last 2 lines
# A page whose text layer holds fewer non-space characters than this is read by OCR: a scanned page has none, a
# digital page with a word or two (a page number, a stamp's caption) on top of a scan is still a scan.
PAGE_TEXT_MIN = 10


def read_pdf(data: bytes, deadline: float, timeout: float, progress: Callable[[int, int], None] | None = None) -> Converted:
    """The PDF's text. ``progress(done, total)`` is told of each page read by OCR; the ``deadline`` bounds
    reading the text layer, not OCR (whose progress is shown page by page)."""
    if b"%PDF-" not in data[:1024]:
        raise Unreadable("corrupt", "is not a PDF file (no %PDF header); check that it is really a PDF, "
                                    "re-save or re-export it, and ingest again", format=".pdf")
    try:
        from pypdf import PdfReader

        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")
            except Exception as exc:
                if "cryptography" in str(exc) or type(exc).__name__ == "DependencyError":
                    raise Unreadable("converter", "is AES-encrypted and reading it needs the cryptography "
                                                  "package: `pip install cryptography`", suffix=".pdf")
                opened = 0
            if not opened:
                raise Unreadable("encrypted", "is password-protected; open it with the password, save a copy "
                                              "without one (or `qpdf --decrypt --password=PW in.pdf out.pdf`) "
                                              "and ingest that", format=".pdf")
        count = len(reader.pages)
    except Unreadable:
        raise
    except Exception as exc:
        raise Unreadable("corrupt", f"is a damaged PDF ({reason(exc)}); re-save or re-export it (e.g. print "
                                    "it to PDF again) and ingest again", format=".pdf")
    if count > MAX_PDF_PAGES:
        raise Unreadable("size", f"has {count} pages, over the {MAX_PDF_PAGES}-page limit; split it into "
                                 "smaller PDFs (e.g. `qpdf in.pdf --split-pages=500 out.pdf`) and ingest those",
                         pages=count, limit=MAX_PDF_PAGES)
    if count == 0:
        raise Unreadable("no_text", "is a PDF with no pages; re-export it and ingest again", format=".pdf")
    pages: list[list[str]] = []
    failed = 0
    for number, page in enumerate(reader.pages, 1):
        if time.monotonic() > deadline:
            raise Unreadable("timeout", f"took longer than {timeout:g} s to read (stopped at page {number} of "
                                        f"{count}); split it into smaller PDFs and ingest those",
                             seconds=timeout, pages=count)
        try:
            raw = page.extract_text() or ""
        except Exception as exc:  # one broken page: keep the others, say so in the log
            log.warning("PDF page %d cannot be read: %s", number, reason(exc))
            raw, failed = "", failed + 1
        pages.append([_SPACES.sub(" ", ln) for ln in plain(raw).split("\n") if ln.strip()])
    if failed == count:
        raise Unreadable("corrupt", "is a PDF none of whose pages can be read; re-save or re-export it and "
                                    "ingest again", format=".pdf")
    bare = [n for n, lines in enumerate(pages, 1) if sum(len("".join(ln.split())) for ln in lines) < PAGE_TEXT_MIN]
    read = dict(zip(bare, _ocr_pages(data, bare, progress))) if bare else {}
    for n, page in read.items():
        pages[n - 1] = page.text.split("\n") if page.text else []
    pages = _drop_running_lines(pages)
    if sum(len("".join(ln.split())) for lines in pages for ln in lines) < SCANNED_CHARS:
        raise Unreadable("no_text", f"has no text layer ({count} pages of images) and OCR finds no text in them (a "
                                    "scan too faint or blurred to read?); scan it again at 300 dpi", pages=count)
    # An OCR'd page's lines are paragraphs already (ocr.layout joined them).
    text = "\f".join("\n".join(lines if n in read else join_wrapped(lines)) for n, lines in enumerate(pages, 1))
    return Converted(text=text, kind="pdf", pages=count, ocr_pages=tuple(read),
                     low_confidence=tuple(n for n, p in read.items() if p.low_confidence),
                     ocr_lines=tuple((n, ln) for n, p in read.items() for ln in p.lines),
                     pictures=tuple((n, p.picture) for n, p in read.items() if p.picture))


def _ocr_pages(data: bytes, numbers: list[int], progress: Callable[[int, int], None] | None) -> list[OcrPage]:
    """Pages ``numbers`` (1-based) rendered so that their longer side is ocr.MAX_SIDE pixels and read by OCR,
    one at a time."""
    try:
        doc = pdfium.PdfDocument(data, password="")
    except Exception as exc:  # noqa: BLE001 - pdfium's PdfiumError
        raise Unreadable("corrupt", f"has pages without text that cannot be rendered for OCR ({reason(exc)}); "
                                    "re-save or re-export it and ingest again", format=".pdf")
    out = []
    try:
        for done, n in enumerate(numbers, 1):
            page = doc[n - 1]
            try:
                w, h = page.get_size()
                image = page.render(scale=MAX_SIDE / max(w, h, 1)).to_pil()
            except Exception as exc:  # noqa: BLE001 - one page that cannot be rendered: it stays empty
                log.warning("PDF page %d cannot be rendered for OCR: %s", n, reason(exc))
                image = None
            finally:
                page.close()
            out.append(read_image(image) if image is not None else OcrPage((), ""))
            if progress:
                progress(done, len(numbers))
    finally:
        doc.close()
    return out


def _edge_key(line: str) -> str:
    """A line as compared across pages: no spaces, digits as '#' (so 第3页 and 第4页 match)."""
    return re.sub(r"\d+", "#", "".join(line.split()))


def _drop_running_lines(pages: list[list[str]]) -> list[list[str]]:
    """Remove page-number lines and the lines repeated at the top or bottom of most pages (at least
    three) from each page's first and last ``_EDGE`` lines."""
    def edges(lines):
        n = len(lines)
        return [i for i in range(n) if i < _EDGE or i >= n - _EDGE]

    counts: dict[str, int] = {}
    for lines in pages:
        for key in {_edge_key(lines[i]) for i in edges(lines)}:
            counts[key] = counts.get(key, 0) + 1
    with_text = sum(1 for lines in pages if lines)
    running = {k for k, c in counts.items() if c >= RUNNING_MIN_PAGES and c * 2 > with_text}
    out = []
    for lines in pages:
        drop = {i for i in edges(lines)
                if _edge_key(lines[i]) in running or (_PAGE_NUMBER.match(lines[i]) and (i < PAGE_NUMBER_EDGE or i >= len(lines) - PAGE_NUMBER_EDGE))}
        out.append([ln for i, ln in enumerate(lines) if i not in drop])
    return out
