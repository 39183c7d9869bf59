"""PDF (pypdf): pages separated by one form feed each, wrapped lines joined back into paragraphs,
running headers and page numbers dropped; a PDF without a text layer refused."""

from __future__ import annotations

import io
import logging
import re
import time
import unicodedata

from ..core.errors import Unreadable
from ..core.wordlists import chars
from .converted import Converted, plain, reason

log = logging.getLogger(__name__)

MAX_PDF_PAGES = 2000
SCANNED_CHARS = 20  # a PDF with fewer non-space characters than this in all its pages has no text layer

# A line that ends a sentence: 。！？；：… (or ASCII !?;:), possibly followed by closing quotes/brackets.
# A closing quote or bracket alone does not end one ("落实“三会一课”" wraps on to "制度").
_TERMINAL = re.compile(r"[。！？；：…!?;:][”’」』）)\]】》]*$")
_SPACES = re.compile(r" {2,}")
_PAGE_NUMBER = re.compile(
    r"^(?:[-–—－_·•\[\]（）()\s]*\d{1,4}[-–—－_·•\[\]（）()\s]*"
    r"|第\s*\d{1,4}\s*页(?:\s*[,，/／、]?\s*共\s*\d{1,4}\s*页)?"
    r"|共\s*\d{1,4}\s*页\s*[,，/／、]?\s*第\s*\d{1,4}\s*页"
    r"|\d{1,4}\s*[/／]\s*\d{1,4}"
    r"|(?:page|p\.)\s*\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?)$",
    re.IGNORECASE,
)
_LIST_START = re.compile(
    r"^(?:[一二三四五六七八九十]{1,3}\s*、|[（(]\s*[一二三四五六七八九十\d]{1,3}\s*[）)]|\d{1,2}\s*[、．.](?!\d)"
    rf"|第[一二三四五六七八九十百\d]{{1,4}}[{chars('text_layout.txt', 'section_unit')}]|[•●◆■□▪·\-–—]\s|附件|#)"
)
_EDGE = 3  # lines at the top and the bottom of a page where running headers and page numbers live
RUNNING_MIN_PAGES = 3  # a line at the edge of at least 3 pages, and of more than half of them, is a running head
PAGE_NUMBER_EDGE = 2  # a page number stands in a page's first or last 2 lines
# A line is a paragraph's last (not wrapped) when narrower than SHORT_LINE_SHARE of the page's full width: the
# FULL_LINE_PERCENTILE width of its lines (its widest with fewer than 5), and never when wider than SHORT_LINE_MIN
# (16 half-width columns, 8 Chinese characters). Set by hand on the PDFs the format tests make from the seeds.
FULL_LINE_PERCENTILE = 0.8
SHORT_LINE_SHARE = 0.7
SHORT_LINE_MIN = 16


def read_pdf(data: bytes, deadline: float, timeout: float) -> Converted:
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
    pages = _drop_running_lines(pages)
    if sum(len("".join(ln.split())) for lines in pages for ln in lines) < SCANNED_CHARS:
        raise Unreadable("scanned", f"has no text layer ({count} pages of images, probably a scan); run OCR "
                                    "first, e.g. `ocrmypdf in.pdf out.pdf`, and ingest the result", pages=count)
    text = "\f".join("\n".join(_join_wrapped(lines)) for lines in pages)
    return Converted(text=text, kind="pdf", pages=count)


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


def _width(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)


def _join_wrapped(lines: list[str]) -> list[str]:
    """Re-join the lines a PDF wrapped: a line is continued by the next one unless it ends a
    sentence (。！？；：… and any closing quotes), is shorter than most lines of the page (a
    paragraph's last line, a heading), or the next one opens a list item or heading. CJK joins CJK
    without a space, latin joins latin with one."""
    if not lines:
        return []
    widths = sorted(_width(ln) for ln in lines)
    full = widths[int(FULL_LINE_PERCENTILE * (len(widths) - 1))] if len(widths) >= 5 else widths[-1]
    out = [lines[0]]
    for prev, line in zip(lines, lines[1:]):  # prev: the previous physical line
        if _TERMINAL.search(prev) or _width(prev) < max(SHORT_LINE_MIN, SHORT_LINE_SHARE * full) or _LIST_START.match(line):
            out.append(line)
            continue
        a, b = prev[-1], line[0]
        if a == "-" and len(prev) > 1 and prev[-2].isascii() and prev[-2].isalpha():
            out[-1] += line  # a hyphenated latin word
        elif a.isascii() and b.isascii() and (a.isalnum() or a in ",.;:!?%)'\"") and b.isalnum():
            out[-1] += " " + line
        else:
            out[-1] += line
    return out
