"""Read files from disk: .txt/.md with encoding detection (UTF-8 ± BOM, UTF-16, GB18030/GBK, Big5),
and .docx/.pdf/.html/.htm/.doc/.wps through ``converters``; sanity checks with a reason for each refusal."""

from __future__ import annotations

import codecs
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..core.chinese import language_share
from ..core.errors import AssistantError, Unreadable
from .converters import convert
from .images import IMAGE_SUFFIXES

TEXT_SUFFIXES = (".txt", ".md")
CONVERTED_SUFFIXES = (".docx", ".pdf", ".html", ".htm", ".doc", ".wps") + IMAGE_SUFFIXES  # read by converters.convert
SUFFIXES = TEXT_SUFFIXES + CONVERTED_SUFFIXES
SCAN_SUFFIXES = (".pdf",) + IMAGE_SUFFIXES  # mostly pictures: settings.max_scan_bytes
FORMATS = ("Word (.docx, .doc, .wps), PDF (scanned pages read by OCR), web pages (.html/.htm), text (.txt/.md), "
           "scans and photos (.jpg, .png, .tif, .bmp, .webp)")
MAX_TEXT_CHARS = 8_000_000  # about 20 MB of Chinese text: beyond it a file is refused, not half-read
# Text that is not language (``chinese.language_share``) is refused: a damaged file that a converter
# still "read" comes out as random characters that would be indexed and quoted as a source. Measured
# (tests/test_loading.py::test_real_reports_read_as_language): the five seeds and the 87 reports of
# govreports.jsonl score 0.919 at least (seed 003, traditional with toned pinyin; median 0.9996);
# random bytes behind an OLE header read by LibreOffice as a .doc score 0.098, random bytes decoded as
# GB18030 0.39, Big5 0.34, cp1252 0.33, UTF-16 0.10. Below LANGUAGE_MIN_CHARS such characters a text
# is too short to judge.
# A text file is binary when its first PROBE_CHARS characters hold more than CONTROLS_MAX control characters
# (other than line and page breaks and tabs): a stray \x1a or \x07 in a real report is forgiven.
PROBE_CHARS = 4096
CONTROLS_MAX = 8
LANGUAGE_SHARE_MIN = 0.6
LANGUAGE_MIN_CHARS = 40


@dataclass(frozen=True)
class RawFile:
    path: Path
    text: str
    encoding: str
    data: bytes
    kind: str = "txt"  # txt | md | docx | pdf | html | doc | wps
    hints: dict = field(default_factory=dict)  # title/date/author/org/source the format itself states
    ocr_lines: tuple = ()  # what OCR read, page by page (converted.Converted): to find quotes on the scan
    pictures: tuple = ()


def display(path: Path | str) -> str:
    """A path as text that can always be printed (a name that is not UTF-8 shows replacement marks)."""
    return os.fsencode(str(path)).decode("utf-8", "replace")


def free_name(name: str, taken) -> str:
    """``name``, or ``stem-2.suffix`` (-3, …) when ``taken(name)`` says it is taken: how a second
    document or upload of one name is named (名单.txt, 名单-2.txt)."""
    if not taken(name):
        return name
    stem, dot, suffix = name.rpartition(".")
    stem, suffix = (stem, dot + suffix) if stem else (name, "")
    n = 2
    while taken(f"{stem}-{n}{suffix}"):
        n += 1
    return f"{stem}-{n}{suffix}"


def bad_name(path: Path) -> str | None:
    """Why a file name cannot be used as a document name, or None."""
    try:
        path.name.encode("utf-8")
    except UnicodeEncodeError:
        return ("file name is not valid UTF-8 (probably GBK from Windows); rename it, e.g. "
                "`convmv -f gbk -t utf-8 --notest FILE`, and ingest again")
    return None


@dataclass(frozen=True)
class Skipped:
    path: Path
    reason: str  # in English, for the CLI
    kind: str = ""  # Unreadable.kind, so the page can say it in Chinese
    detail: dict = field(default_factory=dict)


def decode(data: bytes) -> tuple[str, str]:
    """Return (text, encoding). Raises Unreadable when the bytes are not text we can read."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):].decode("utf-8", errors="strict"), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16"), "utf-16"
    if b"\x00" in data[:8192]:
        raise Unreadable("binary", "looks like a binary file (contains NUL bytes)")
    try:
        return data.decode("utf-8", errors="strict"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data, cp_isolation=["gb18030", "big5"]).best()
    if best is None:
        raise Unreadable("encoding", "is not text in UTF-8, GB18030/GBK or Big5 (a binary file?); save it as UTF-8 text")
    encoding = "big5" if best.encoding.startswith("big5") else "gb18030"
    return data.decode(encoding, errors="strict"), encoding


def read_file(path: Path, max_bytes: int, progress: Callable[[int, int], None] | None = None,
              max_scan_bytes: int | None = None) -> RawFile:
    """Read one file; Unreadable carries the reason it cannot be ingested. ``progress(done, total)`` is told
    of each page read by OCR. A PDF or an image may be up to ``max_scan_bytes`` (when given), others ``max_bytes``."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise Unreadable("type", f"unsupported file type {path.suffix or '(none)'}; supported: {FORMATS}",
                         suffix=path.suffix)
    if not path.is_file():
        raise Unreadable("type", "is not a regular file", suffix=path.suffix)
    if max_scan_bytes and suffix in SCAN_SUFFIXES:
        max_bytes = max(max_bytes, max_scan_bytes)
    size = path.stat().st_size
    if size == 0:
        raise Unreadable("empty", "is empty")
    if size > max_bytes:
        raise Unreadable("size", f"is {size // 1024} KiB, over the {max_bytes // 1024} KiB limit; split it into "
                                 "smaller files", size=size, limit=max_bytes)
    data = path.read_bytes()
    if suffix in CONVERTED_SUFFIXES:
        conv = convert(path, data, progress=progress)
        text, encoding, kind = conv.text, "", conv.kind
        hints = {k: v for k in ("title", "date", "author", "org", "source", "ocr_pages", "low_confidence")
                 if (v := getattr(conv, k, ""))}
    else:
        try:
            text, encoding = decode(data)
        except UnicodeDecodeError:
            raise Unreadable("encoding", "cannot be decoded as UTF-8, GB18030/GBK or Big5 text; save it as UTF-8")
        controls = sum(1 for ch in text[:PROBE_CHARS] if ord(ch) < 32 and ch not in "\n\r\t\f\v")
        if controls > CONTROLS_MAX:
            raise Unreadable("binary", "looks like a binary file (control characters), not text")
        kind, hints = suffix.lstrip("."), {}
        conv = None
    if not text.strip():
        raise Unreadable("no_text", "has no text")
    share, n = language_share(text)
    if n >= LANGUAGE_MIN_CHARS and share < LANGUAGE_SHARE_MIN:
        raise Unreadable("garbled", f"reads as random characters, not text ({share:.0%} common Chinese characters or "
                                    "letters); the file is damaged or not what its name says: open it in its "
                                    "program, save it again (as .docx or UTF-8 .txt) and ingest that",
                         share=round(share, 3))
    if len(text) > MAX_TEXT_CHARS:
        raise Unreadable("size", f"holds {len(text):,} characters of text, over the {MAX_TEXT_CHARS:,} limit; "
                                 "split it into smaller files", size=size, limit=max_bytes)
    return RawFile(path=path, text=text, encoding=encoding, data=data, kind=kind, hints=hints,
                   ocr_lines=conv.ocr_lines if conv else (), pictures=conv.pictures if conv else ())


def discover(paths: list[Path]) -> tuple[list[Path], list[Skipped]]:
    """Expand folders into the files we can read (sorted; symlinked folders are not followed, so a
    link loop cannot trap us); report what does not exist and what is left out, with the reason."""
    files: list[Path] = []
    skipped: list[Skipped] = []
    for p in paths:
        if not p.exists():
            raise AssistantError(f"path does not exist: {display(p)} — check the spelling or pass an existing file "
                                 "or folder")
        if p.is_dir():
            found = []
            for root, dirs, names in os.walk(p, onerror=lambda e: skipped.append(
                    Skipped(Path(e.filename or p), f"folder cannot be read ({e.strerror})"))):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in names:
                    f = Path(root) / name
                    if name.startswith((".", "~$")) or not f.is_file():
                        continue  # hidden files, Word's lock files, sockets and broken links
                    if f.suffix.lower() not in SUFFIXES:
                        skipped.append(Skipped(f, f"unsupported file type {f.suffix or '(none)'}", "type",
                                               {"suffix": f.suffix}))
                    elif why := bad_name(f):
                        skipped.append(Skipped(f, why, "name"))
                    else:
                        found.append(f)
            files.extend(sorted(found))
        elif why := bad_name(p):
            skipped.append(Skipped(p, why, "name"))
        else:
            files.append(p)
    return files, skipped
