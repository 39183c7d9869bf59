"""Turn Word (.docx, .doc, .wps), PDF, web pages (.html/.htm) and scans (images) into plain text for ingest.

The text is one paragraph per line: Word headings become markdown heading lines ("## 二级"), which
the chunker turns into the heading path; table rows become one line with cells joined by " | ";
PDF pages are separated by one form feed each, with wrapped lines joined back into paragraphs and
running headers/page numbers dropped, and pages without a text layer read by OCR; an image (a scan or
a photo, a TIFF of many pages) is read by OCR page by page; a web page keeps its title, dateline and article text, not its
navigation, sidebar or footer. .doc/.wps go through the first external converter installed
(antiword, catdoc, LibreOffice). Whatever cannot be read raises ``Unreadable`` with a reason the
user can act on; no library exception escapes.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable

from ..core.errors import Unreadable
from .converted import OLE, ZIP, Converted, reason
from .images import IMAGE_SUFFIXES, read_picture
from .legacy_word import read_legacy
from .pdf import read_pdf
from .webpage import looks_html, read_html
from .word import is_encrypted_ooxml, read_docx

log = logging.getLogger(__name__)

SUFFIXES = (".docx", ".pdf", ".html", ".htm", ".doc", ".wps") + IMAGE_SUFFIXES


def convert(path: Path, data: bytes, timeout: float = 60.0, progress: Callable[[int, int], None] | None = None) -> Converted:
    """Convert ``data`` (the bytes of ``path``) to plain text; the suffix of ``path`` names the
    format, the bytes decide how it is read (a .doc that is really a .docx is read as one).
    ``timeout`` bounds the seconds spent in external converters and PDF text layers; ``progress(done,
    total)`` is told of each page read by OCR."""
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise Unreadable("type", f"unsupported file type {suffix or '(none)'} for conversion", suffix=suffix)
    kind = {".htm": "html", ".jpeg": "jpg", ".tiff": "tif"}.get(suffix, suffix.lstrip("."))
    try:
        conv = _dispatch(suffix, data, timeout, progress)
    except Unreadable:
        raise
    except Exception as exc:  # a bug or a library surprise: still a reason, not a traceback
        log.exception("converting a %s file failed", suffix)
        raise Unreadable("corrupt", f"cannot be converted ({reason(exc)}); open it in its program, save it again "
                                    "and ingest again", format=suffix)
    conv = Converted(**{**conv.__dict__, "kind": kind})
    if not conv.text.replace("\f", "").strip():
        raise Unreadable("no_text", "has no readable text after conversion (only images, navigation or empty "
                                    "paragraphs?); check the file, or paste its text into a .txt file", format=suffix)
    return conv


def _dispatch(suffix: str, data: bytes, timeout: float, progress) -> Converted:
    deadline = time.monotonic() + timeout
    if suffix == ".pdf":
        return read_pdf(data, deadline, timeout, progress)
    if suffix in IMAGE_SUFFIXES:
        return read_picture(data, suffix, progress)
    if suffix in (".html", ".htm") or looks_html(data[:1024].lstrip()):
        return read_html(data)  # Word and WPS can save web pages under .doc
    if data.startswith(ZIP):
        return read_docx(data, suffix)  # also a .doc/.wps that is really a .docx
    if data.startswith(OLE) and is_encrypted_ooxml(data):
        raise Unreadable("encrypted", "is password-protected; open it in Word/WPS, remove the password "
                                      "(File > Info > Protect Document), save, and ingest again", format=suffix)
    if suffix == ".docx":
        if not data.startswith(OLE):
            raise Unreadable("corrupt", "is not a valid .docx file (not a zip package); open it in Word/WPS, "
                                        "save it again as .docx and ingest again", format=suffix)
        return read_legacy(data, ".doc", deadline, timeout)  # a Word 97-2003 file named .docx
    return read_legacy(data, suffix, deadline, timeout)
