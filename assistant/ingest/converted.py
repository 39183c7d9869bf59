"""What a converter gives back (the text one paragraph per line, and what the file states about
itself), and the plain-text normalisation every converter ends with."""

from __future__ import annotations

import re
from dataclasses import dataclass

OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Word 97-2003, WPS, and encrypted OOXML containers
ZIP = b"PK\x03\x04"


@dataclass(frozen=True)
class Converted:
    text: str  # one paragraph per line; PDF pages separated by "\f" (page N follows N-1 form feeds)
    kind: str  # docx | pdf | html | doc | wps
    title: str = ""  # what the file itself states as its title; "" when unknown
    date: str = ""  # ISO YYYY-MM-DD, only a publication date the file states (never a file-system date)
    author: str = ""
    org: str = ""  # a web page's site name
    source: str = ""  # a web page's canonical URL
    pages: int = 0  # PDF pages, or an image's (0 for other kinds)
    ocr_pages: tuple[int, ...] = ()  # the pages (1-based) whose text OCR read: a scan's, or a PDF's without text
    low_confidence: tuple[int, ...] = ()  # … those of them read with low confidence (ocr.LOW_CONFIDENCE)
    ocr_lines: tuple = ()  # (page, ocr.OcrLine) of every line OCR read, with its box, in reading order
    pictures: tuple[tuple[int, bytes], ...] = ()  # (page, ocr.OcrPage.picture) of every page OCR read text on


_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f\ufffe\uffff]")
_BLANKS = re.compile(r"\n{3,}")


def plain(text: str) -> str:
    """Normalise line ends and control characters: \\r\\n, \\r, \\v, U+2028/2029 and NEL become \\n,
    and so does a form feed (a page break inside a Word file or a PDF page: only the PDF converter
    puts form feeds back, between pages); other C0/C1 controls and U+FFFE/FFFF are removed, lines
    are stripped and runs of blank lines collapse to one. Tabs are kept."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    for sep in ("\v", "\f", "\u2028", "\u2029", "\x85"):
        text = text.replace(sep, "\n")
    text = _CONTROLS.sub("", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    return _BLANKS.sub("\n\n", text).strip("\n")


def reason(exc: BaseException) -> str:
    """A library exception as one short line for a message."""
    text = " ".join(str(exc).split())[:160]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
