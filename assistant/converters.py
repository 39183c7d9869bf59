"""Turn Word (.docx, .doc, .wps), PDF and web pages (.html/.htm) into plain text for ingest.

The text is one paragraph per line: Word headings become markdown heading lines ("## 二级"), which
the chunker turns into the heading path; table rows become one line with cells joined by " | ";
PDF pages are separated by one form feed each, with wrapped lines joined back into paragraphs and
running headers/page numbers dropped; a web page keeps its title, dateline and article text, not its
navigation, sidebar or footer. .doc/.wps go through the first external converter installed
(antiword, catdoc, LibreOffice). Whatever cannot be read raises ``Unreadable`` with a reason the
user can act on; no library exception escapes.
"""

from __future__ import annotations

import codecs
import io
import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .loading import Unreadable

log = logging.getLogger(__name__)

SUFFIXES = (".docx", ".pdf", ".html", ".htm", ".doc", ".wps")
MAX_PDF_PAGES = 2000
MAX_UNZIPPED = 512 * 1024 * 1024  # bytes a .docx may unpack to: a zip bomb is refused, not read
SCANNED_CHARS = 20  # a PDF with fewer non-space characters than this in all its pages has no text layer

_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Word 97-2003, WPS, and encrypted OOXML containers
_ZIP = b"PK\x03\x04"


@dataclass(frozen=True)
class Converted:
    text: str  # one paragraph per line; PDF pages separated by "\f" (page N follows N-1 form feeds)
    kind: str  # docx | pdf | html | doc | wps
    title: str = ""  # what the file itself states as its title; "" when unknown
    date: str = ""  # ISO YYYY-MM-DD, only a publication date the file states (never a file-system date)
    author: str = ""
    org: str = ""  # a web page's site name
    source: str = ""  # a web page's canonical URL
    pages: int = 0  # PDF pages (0 for other kinds)


def convert(path: Path, data: bytes, timeout: float = 60.0) -> Converted:
    """Convert ``data`` (the bytes of ``path``) to plain text; the suffix of ``path`` names the
    format, the bytes decide how it is read (a .doc that is really a .docx is read as one).
    ``timeout`` bounds the seconds spent in external converters and PDF pages."""
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise Unreadable("type", f"unsupported file type {suffix or '(none)'} for conversion", suffix=suffix)
    kind = {".htm": "html"}.get(suffix, suffix.lstrip("."))
    try:
        conv = _dispatch(suffix, data, timeout)
    except Unreadable:
        raise
    except Exception as exc:  # a bug or a library surprise: still a reason, not a traceback
        log.exception("converting a %s file failed", suffix)
        raise Unreadable("corrupt", f"cannot be converted ({_reason(exc)}); open it in its program, save it again "
                                    "and ingest again", format=suffix)
    conv = Converted(**{**conv.__dict__, "kind": kind})
    if not conv.text.replace("\f", "").strip():
        raise Unreadable("no_text", "has no readable text after conversion (only images, navigation or empty "
                                    "paragraphs?); check the file, or paste its text into a .txt file", format=suffix)
    return conv


def _dispatch(suffix: str, data: bytes, timeout: float) -> Converted:
    deadline = time.monotonic() + timeout
    if suffix == ".pdf":
        return _pdf(data, deadline, timeout)
    if suffix in (".html", ".htm") or _looks_html(data[:1024].lstrip()):
        return _html(data)  # Word and WPS can save web pages under .doc
    if data.startswith(_ZIP):
        return _docx(data, suffix)  # also a .doc/.wps that is really a .docx
    if data.startswith(_OLE) and _is_encrypted_ooxml(data):
        raise Unreadable("encrypted", "is password-protected; open it in Word/WPS, remove the password "
                                      "(File > Info > Protect Document), save, and ingest again", format=suffix)
    if suffix == ".docx":
        if not data.startswith(_OLE):
            raise Unreadable("corrupt", "is not a valid .docx file (not a zip package); open it in Word/WPS, "
                                        "save it again as .docx and ingest again", format=suffix)
        return _legacy(data, ".doc", deadline, timeout)  # a Word 97-2003 file named .docx
    return _legacy(data, suffix, deadline, timeout)


# ------------------------------------------------------------------------------------- plain text

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


def _reason(exc: BaseException) -> str:
    """A library exception as one short line for a message."""
    text = " ".join(str(exc).split())[:160]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# ------------------------------------------------------------------------------------------- docx

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_HEADING_STYLE = re.compile(r"^(?:heading|标题)\s*([1-9])$", re.IGNORECASE)
_TITLE_STYLE = re.compile(r"^(?:title|标题)$", re.IGNORECASE)
_TOC_STYLE = re.compile(r"^(?:toc|目录)", re.IGNORECASE)
# Core-property titles that name a template or a new file, not the document.
_STOCK_TITLE = re.compile(r"^(?:Microsoft Word - |(?:文档|Document|新建)\s*\d*$|无标题|Untitled|PowerPoint)", re.IGNORECASE)


def _docx(data: bytes, suffix: str) -> Converted:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            unpacked = sum(info.file_size for info in z.infolist())
            names = set(z.namelist())
    except Exception as exc:
        raise Unreadable("corrupt", f"is not a valid Word file ({_reason(exc)}); open it in Word/WPS, save it "
                                    "again as .docx and ingest again", format=suffix)
    if "word/document.xml" not in names:
        raise Unreadable("corrupt", "is a zip file but not a Word document (no word/document.xml); save it from "
                                    "Word/WPS as .docx and ingest again", format=suffix)
    if unpacked > MAX_UNZIPPED:
        raise Unreadable("size", f"unpacks to {unpacked // 2**20} MiB, over the {MAX_UNZIPPED // 2**20} MiB "
                                 "limit; split it into smaller files", size=unpacked, limit=MAX_UNZIPPED)
    try:
        import docx

        document = docx.Document(io.BytesIO(data))
        lines, title, heading1 = _docx_body(document)
        core_title = " ".join((document.core_properties.title or "").split())
    except Unreadable:
        raise
    except Exception as exc:
        raise Unreadable("corrupt", f"is a damaged Word file ({_reason(exc)}); open it in Word/WPS, save it "
                                    "again as .docx and ingest again", format=suffix)
    if _STOCK_TITLE.match(core_title):
        core_title = ""
    text = plain("\n".join(lines))
    return Converted(text=text, kind="docx", title=title or core_title or heading1)


def _docx_body(document) -> tuple[list[str], str, str]:
    """Body lines (paragraphs and table rows in document order), the text of the first
    Title-styled paragraph, and the level-1 heading the document opens with ("" when it opens with
    anything else: a bold first line in body style is left to the cleaner's title detection)."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    lines: list[str] = []
    title = heading1 = ""
    styles: dict[str, tuple[str, int | None]] = {}  # style id → (role, level), cached per document

    def blocks(parent):
        for child in parent.iterchildren():
            if child.tag in (_W + "sdt", _W + "customXml"):  # content controls (cover pages, TOC …)
                content = child.find(_W + "sdtContent") if child.tag == _W + "sdt" else child
                if content is not None:
                    yield from blocks(content)
            elif child.tag in (_W + "p", _W + "tbl"):
                yield child

    body = document.element.body
    for el in blocks(body):
        if el.tag == _W + "tbl":
            lines.extend(_table_rows(Table(el, document._body)))
            continue
        role, level = _paragraph_role(Paragraph(el, document._body), styles)
        text = _paragraph_text(el)
        if role == "toc" or not text.strip():
            continue
        if role == "heading":
            one_line = " ".join(text.split())
            if not lines and level == 1:
                heading1 = one_line
            lines.append("#" * min(level, 6) + " " + one_line)
        else:
            if role == "title" and not title:
                title = " ".join(text.split())
            lines.append(text)
    return lines, title, heading1


def _paragraph_text(p) -> str:
    """The visible text of a w:p: runs, hyperlinks and insertions; w:br/w:cr as line breaks, w:tab
    as a tab; deleted text, field codes, paragraph properties and VML fallbacks left out."""
    parts: list[str] = []

    def walk(el):
        for child in el.iterchildren():
            tag = child.tag
            if tag == _W + "t":
                parts.append(child.text or "")
            elif tag in (_W + "br", _W + "cr"):
                parts.append("\n")
            elif tag == _W + "tab":
                parts.append("\t")
            elif tag == _W + "noBreakHyphen":
                parts.append("-")
            elif tag in (_W + "pPr", _W + "rPr", _W + "del", _W + "instrText", _MC_FALLBACK):
                continue
            elif isinstance(tag, str):
                walk(child)

    walk(p)
    return "".join(parts)


def _paragraph_role(paragraph, cache: dict) -> tuple[str, int | None]:
    """("heading", level), ("title", None), ("toc", None) or ("body", None): from the paragraph's
    own outline level, else its style and the styles it is based on (name "Heading N"/"标题 N",
    "Title"/"标题", or an outline level)."""
    own = _outline_level(paragraph._p.pPr)
    if own is not None:
        return ("heading", own) if own <= 9 else ("body", None)
    style_id = paragraph._p.style or ""
    if style_id not in cache:
        try:
            cache[style_id] = _style_role(paragraph.style)
        except Exception:  # a style part python-docx cannot resolve: plain body text
            cache[style_id] = ("body", None)
    return cache[style_id]


def _style_role(style) -> tuple[str, int | None]:
    seen = 0
    while style is not None and seen < 12:
        name = " ".join((style.name or "").split())
        if _TOC_STYLE.match(name):
            return "toc", None
        m = _HEADING_STYLE.match(name)
        if m:
            return "heading", int(m.group(1))
        if _TITLE_STYLE.match(name):
            return "title", None
        level = _outline_level(style.element.pPr)
        if level is not None:
            return ("heading", level) if level <= 9 else ("body", None)
        style, seen = style.base_style, seen + 1
    return "body", None


def _outline_level(ppr) -> int | None:
    """w:outlineLvl as a heading level 1-9, 10 for "body text" (value 9), None when not set."""
    if ppr is None:
        return None
    el = ppr.find(_W + "outlineLvl")
    if el is None:
        return None
    try:
        return int(el.get(_W + "val")) + 1
    except (TypeError, ValueError):
        return None


def _table_rows(table) -> list[str]:
    """One line per row, cell texts joined by " | " (a merged cell that python-docx repeats is given
    once; nested tables are folded into their cell)."""
    from docx.table import Table

    rows = []
    for row in table.rows:
        try:
            cells = row.cells
        except Exception:  # malformed grid: the row's own cells
            from docx.table import _Cell
            cells = [_Cell(tc, table) for tc in row._tr.tc_lst]
        texts, last = [], None
        for cell in cells:
            if cell._tc is last:
                continue
            last = cell._tc
            pieces = []
            for child in cell._tc.iterchildren():
                if child.tag == _W + "p":
                    pieces.append(_paragraph_text(child))
                elif child.tag == _W + "tbl":
                    pieces.extend(_table_rows(Table(child, cell)))
            text = " ".join(" ".join(pieces).split())
            if text:
                texts.append(text)
        if texts:
            rows.append(" | ".join(texts))
    return rows


def _is_encrypted_ooxml(data: bytes) -> bool:
    """An OLE container holding an encrypted Office Open XML package (a password-protected .docx)."""
    return "EncryptedPackage".encode("utf-16-le") in data[:1_000_000] or \
        "EncryptionInfo".encode("utf-16-le") in data[:1_000_000]


# -------------------------------------------------------------------------------------------- pdf

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
    r"|第[一二三四五六七八九十百\d]{1,4}[章节条部分]|[•●◆■□▪·\-–—]\s|附件|#)"
)
_EDGE = 3  # lines at the top and the bottom of a page where running headers and page numbers live


def _pdf(data: bytes, deadline: float, timeout: float) -> Converted:
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
        raise Unreadable("corrupt", f"is a damaged PDF ({_reason(exc)}); re-save or re-export it (e.g. print "
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
            log.warning("PDF page %d cannot be read: %s", number, _reason(exc))
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
    running = {k for k, c in counts.items() if c >= 3 and c * 2 > with_text}
    out = []
    for lines in pages:
        drop = {i for i in edges(lines)
                if _edge_key(lines[i]) in running or (_PAGE_NUMBER.match(lines[i]) and (i < 2 or i >= len(lines) - 2))}
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
    full = widths[int(0.8 * (len(widths) - 1))] if len(widths) >= 5 else widths[-1]
    out = [lines[0]]
    for prev, line in zip(lines, lines[1:]):  # prev: the previous physical line
        if _TERMINAL.search(prev) or _width(prev) < max(16, 0.7 * full) or _LIST_START.match(line):
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


# -------------------------------------------------------------------------------------- .doc/.wps

_CONVERTER_HELP = {
    ".doc": "reading .doc needs antiword, catdoc or LibreOffice: `apt-get install antiword` "
            "(or catdoc / libreoffice-writer-nogui), or save the file as .docx in Word/WPS",
    ".wps": "reading .wps needs catdoc or LibreOffice: `apt-get install catdoc` (or libreoffice-writer-nogui), "
            "or save the file as .docx in WPS",
}
_ANTIWORD_TABLE_ROW = re.compile(r"^\|.*\|$")


def _converters(suffix: str, rtf: bool) -> list[tuple[str, str]]:
    """(name, program path) of the installed converters for ``suffix``, in the order they are tried."""
    found = []
    if not rtf:
        names = ("antiword", "catdoc") if suffix == ".doc" else ("catdoc",)
        found = [(name, prog) for name in names if (prog := shutil.which(name))]
    office = shutil.which("soffice") or shutil.which("libreoffice")
    if office:
        found.append(("soffice", office))
    return found


def _legacy(data: bytes, suffix: str, deadline: float, timeout: float) -> Converted:
    """A Word 97-2003 (.doc) or WPS (.wps) file through the first external converter that reads it."""
    rtf = data[:5] == b"{\\rtf"
    if not (data.startswith(_OLE) or rtf):
        raise Unreadable("corrupt", "is not a Word/WPS document (no OLE or RTF header); open it in Word/WPS, "
                                    "save it as .docx and ingest again", format=suffix)
    programs = _converters(suffix, rtf)
    if not programs:
        raise Unreadable("converter", _CONVERTER_HELP[suffix], suffix=suffix)
    errors: list[str] = []
    with tempfile.TemporaryDirectory(prefix="assistant-convert-") as tmp:
        work = Path(tmp)
        source = work / ("document" + (".rtf" if rtf else ".doc"))  # safe name; WPS files are Word-compatible
        source.write_bytes(data)
        for name, program in programs:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                text = _run_converter(name, program, source, work, remaining)
            except subprocess.TimeoutExpired:
                raise Unreadable("timeout", f"took longer than {timeout:g} s to convert with {name}; convert it to "
                                            ".docx in Word/WPS and ingest that", seconds=timeout, program=name)
            except _ConverterFailed as exc:
                log.info("%s cannot read the %s file: %s", name, suffix, exc)
                errors.append(f"{name}: {exc}")
                continue
            return Converted(text=text, kind=suffix.lstrip("."))
    if time.monotonic() > deadline:
        raise Unreadable("timeout", f"took longer than {timeout:g} s to convert; convert it to .docx in Word/WPS "
                                    "and ingest that", seconds=timeout)
    last = errors[-1] if errors else "no converter ran"
    if any(re.search(r"encrypt|password", e, re.IGNORECASE) for e in errors):
        raise Unreadable("encrypted", f"is password-protected ({last}); remove the password in Word/WPS, save, "
                                      "and ingest again", format=suffix)
    raise Unreadable("corrupt", f"cannot be converted ({last}); open it in Word/WPS, save it as .docx and "
                                "ingest again", format=suffix)


class _ConverterFailed(Exception):
    pass


def _run_converter(name: str, program: str, source: Path, work: Path, timeout: float) -> str:
    env = {**os.environ, "HOME": str(work), "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
    out_file = None
    if name == "antiword":
        argv = [program, "-m", "UTF-8.txt", "-w", "0", str(source)]
    elif name == "catdoc":
        argv = [program, "-d", "utf-8", "-w", str(source)]
    else:
        out_dir = work / "out"
        argv = [program, f"-env:UserInstallation={(work / 'profile').as_uri()}", "--headless", "--norestore",
                "--convert-to", "txt:Text (encoded):UTF8", "--outdir", str(out_dir), str(source)]
        out_file = out_dir / (source.stem + ".txt")
    code, stdout, stderr = _run(argv, timeout, env)
    if out_file is not None:
        stdout = out_file.read_bytes() if out_file.is_file() else b""
    err = [ln for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    if code != 0:
        raise _ConverterFailed(err[-1].strip() if err else f"exit status {code}")
    text = _decode_output(stdout)
    if name == "antiword":
        text = "\n".join(_antiword_line(ln) for ln in text.split("\n"))
    text = plain(text)
    if not text.strip():
        raise _ConverterFailed(err[-1].strip() if err else "no text in the output")
    return text


def _run(argv: list[str], timeout: float, env: dict) -> tuple[int, bytes, bytes]:
    """Run a converter in its own process group, so a timeout kills it and everything it started
    (LibreOffice's soffice.bin, a shell script's children) instead of waiting for their pipes."""
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=env, cwd=env["HOME"], start_new_session=True)
    except OSError as exc:
        raise _ConverterFailed(_reason(exc))
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        proc.communicate()
        raise
    finally:
        if proc.poll() is None:
            _kill_group(proc)
            proc.wait()
    return proc.returncode, stdout, stderr


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


def _decode_output(raw: bytes) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise _ConverterFailed("output is neither UTF-8 nor GB18030 text")


def _antiword_line(line: str) -> str:
    """antiword draws table rows as |cell   |cell   |: cells joined by " | "; its [pic] marks go."""
    if _ANTIWORD_TABLE_ROW.match(line.strip()):
        return " | ".join(c.strip() for c in line.strip()[1:-1].split("|") if c.strip())
    return line.replace("[pic]", "")


# ------------------------------------------------------------------------------------------- html

_META_CHARSET = re.compile(rb"""<meta[^>]+?charset\s*=\s*["']?\s*([a-zA-Z0-9_:.\-]+)""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([a-zA-Z0-9_.\-]+)""", re.IGNORECASE)
_GB = ("gb2312", "gbk", "gb18030", "x-gbk", "cp936", "gb_2312-80", "euc-cn", "hz-gb-2312")
_BLOCK_TAGS = frozenset(
    "address article aside blockquote body br caption center dd details div dl dt fieldset figcaption figure footer "
    "form h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section summary table tbody td tfoot th thead tr ul"
    .split()
)
_DROP_TAGS = ("script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "canvas", "select",
              "button", "input", "textarea", "nav", "aside", "form")
_CHROME = re.compile(r"(?:^|[\s_\-])(?:nav|navbar|menu|breadcrumbs?|crumbs?|sidebar|footer|copyright)(?:$|[\s_\-\d])",
                     re.IGNORECASE)
_BREADCRUMB_TEXT = re.compile(r"^(?:当前位置|您的位置|你的位置|您现在的位置|现在位置|所在位置|位置)\s*[:：]")
_DATELINE = re.compile(r"(?:发布时间|发布日期|发文日期|发表时间|更新时间|时间|日期)\s*[:：]\s*"
                       r"((?:19|20)\d{2}\s*(?:[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?))")
_DATE = re.compile(r"((?:19|20)\d{2})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})")
_DATE_META = ("article:published_time", "og:article:published_time", "og:published_time", "pubdate", "publishdate",
              "publish_date", "publication_date", "dc.date", "dc.date.issued", "dc.date.created", "dcterms.issued",
              "dcterms.created", "firstpublishedtime", "releasedate")
_SITE_META = ("og:site_name", "sitename", "site_name", "application-name", "apple-mobile-web-app-title")
# "文章标题--站点名", "标题_站点", "标题 | 站点", "标题 - 站点" (a bare hyphen is part of "2016-2020").
_TITLE_SEPARATORS = re.compile(r"\s*(?:--|——|_|\||｜)\s*|\s+[-—–]\s+")
_FOOTER_LINE = re.compile(r"版权所有|ICP备|ICP证|公网安备|Copyright|All Rights Reserved|©\s*\d{4}", re.IGNORECASE)
_INLINE_TAGS = frozenset("a abbr b big cite code em font i img kbd label q s small span strong sub sup tt u".split())


def _looks_html(head: bytes) -> bool:
    return head[:15].lower().startswith((b"<!doctype html", b"<html")) or \
        head[:3] == b"\xef\xbb\xbf" and head[3:18].lower().startswith((b"<!doctype html", b"<html"))


def _decode_html(data: bytes) -> str:
    """Decode a web page: BOM, else the charset it declares (<meta charset>, http-equiv, <?xml …?>),
    else UTF-8, else GB18030. GB2312/GBK are read as GB18030, their superset."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    m = _XML_ENCODING.search(data[:200]) or _META_CHARSET.search(data[:8192])
    declared = m.group(1).decode("ascii").lower() if m else ""
    declared = "gb18030" if declared in _GB else declared
    candidates = []
    for name in (declared, "utf-8", "gb18030"):
        try:
            encoding = codecs.lookup(name).name if name else ""
        except LookupError:
            continue
        if encoding and encoding not in candidates:
            candidates.append(encoding)
    for encoding in candidates:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    # A few broken bytes in an otherwise fine page are common; many mean the guess is wrong.
    for encoding in candidates:
        text = data.decode(encoding, errors="replace")
        if text.count("\ufffd") <= max(3, len(text) // 1000):
            log.warning("web page has %d bytes that are not %s; they are replaced", text.count("\ufffd"), encoding)
            return text
    raise Unreadable("encoding", "is a web page whose text is neither in the charset it declares nor UTF-8 nor "
                                 "GB18030; open it in a browser, save it as UTF-8 and ingest again", format=".html")


def _html(data: bytes) -> Converted:
    text = _decode_html(data)
    text = re.sub(r"^\s*<\?xml[^>]*>", "", text)  # lxml refuses str input with an encoding declaration
    try:
        import lxml.html

        tree = lxml.html.document_fromstring(text)
    except Exception as exc:
        raise Unreadable("corrupt", f"is not a web page lxml can parse ({_reason(exc)}); open it in a browser, "
                                    "save it again and ingest again", format=".html")
    meta = _html_meta(tree)
    _prune(tree)
    _unlayout(tree)
    dateline = _dateline(tree)
    fallback = _visible_lines(tree)
    doc = None
    try:
        import trafilatura

        doc = trafilatura.bare_extraction(
            tree, include_tables=True, include_comments=False, favor_recall=True, with_metadata=True,
            date_extraction_params={"original_date": True, "extensive_search": False,
                                    "max_date": time.strftime("%Y-%m-%d")})
    except Exception as exc:  # trafilatura trips over odd markup: the plain extraction below still works
        log.warning("trafilatura cannot read the web page (%s); using the plain extraction", _reason(exc))
    body = [ln for ln in plain(getattr(doc, "text", None) or "").split("\n") if ln.strip()]
    if sum(map(len, body)) < 0.5 * sum(map(len, fallback)):
        body = fallback  # trafilatura found far less than the page shows: take the largest text block
    body = [ln for ln in body if not (len(ln) < 120 and _FOOTER_LINE.search(ln)) and ln.strip("|- ")]
    title = meta.get("title") or " ".join((getattr(doc, "title", None) or "").split()) or _h1(tree)
    parts = [p for p in _TITLE_SEPARATORS.split(title) if p]
    if len(parts) > 1 and len(parts[0]) >= 4 and any(ln.startswith(parts[0]) for ln in body[:5]):
        title = parts[0]  # "文章标题_站点名": the article's own heading is the first part
    if body and title and (body[0] == title or len(body[0]) >= 4 and (
            body[0] in title or title in body[0] and len(body[0]) <= len(title) + 20)):
        first = body.pop(0)  # the article's own heading: keep the longer form once, as the title
        title = first if len(first) > len(title) else title
    if not body:
        raise Unreadable("no_text", "is a web page with no article text (only navigation, links or scripts?); "
                                    "save the article page itself, or paste its text into a .txt file",
                         format=".html")
    if dateline and not any(dateline in ln or ln in dateline for ln in body[:3]):
        body.insert(0, dateline)
    lines = ([title] if title else []) + body
    date = meta.get("date") or (_iso(dateline) if dateline else "") or _iso(getattr(doc, "date", None) or "")
    site = meta.get("site") or _site_name(getattr(doc, "sitename", None) or "", tree, title)
    return Converted(text=plain("\n".join(lines)), kind="html", title=title, date=date,
                     author=meta.get("author") or " ".join((getattr(doc, "author", None) or "").split()),
                     org=site, source=meta.get("source") or (getattr(doc, "url", None) or ""))


def _iso(text: str) -> str:
    m = _DATE.search(text)
    if not m:
        return ""
    import datetime

    try:
        return datetime.date(int(m.group(1)), int(m.group(2)), int(m.group(3))).isoformat()
    except ValueError:
        return ""


def _norm(text: str | None) -> str:
    return " ".join((text or "").split())


def _html_meta(tree) -> dict:
    """What the page's <head> states: og:title, a publication date, site name, author, canonical URL."""
    found: dict[str, str] = {}
    for el in tree.iter("meta"):
        key = (el.get("property") or el.get("name") or el.get("itemprop") or "").strip().lower()
        value = _norm(el.get("content"))
        if not key or not value:
            continue
        if key == "og:title" and "title" not in found:
            found["title"] = value
        elif key in _DATE_META and "date" not in found and _iso(value):
            found["date"] = _iso(value)
        elif key in _SITE_META and "site" not in found and "." not in value:
            found["site"] = value
        elif key in ("author", "article:author", "dc.creator") and "author" not in found:
            found["author"] = value
        elif key == "og:url" and "source" not in found and value.startswith("http"):
            found["source"] = value
    for el in tree.iter("link"):
        if "canonical" in (el.get("rel") or "").lower().split() and (href := (el.get("href") or "").strip()):
            if href.startswith("http"):
                found["source"] = href
            break
    return found


def _site_name(sitename: str, tree, title: str) -> str:
    """trafilatura's site name unless it is only the host name; else the part of <title> beside the
    article title ("文章标题--中国科学院XX研究所")."""
    if sitename and "." not in sitename:
        return _norm(sitename)
    head_title = _norm(tree.findtext(".//title"))
    if title and head_title.startswith(title):
        rest = _TITLE_SEPARATORS.sub("\n", head_title[len(title):]).strip("\n").split("\n")
        if rest and rest[-1] and len(rest[-1]) <= 40:
            return rest[-1]
    return ""


def _h1(tree) -> str:
    h1 = tree.find(".//h1")
    return _norm(h1.text_content()) if h1 is not None else _norm(tree.findtext(".//title"))


def _text_len(text: str) -> int:
    return len("".join(text.split()))


def _link_heavy(el) -> bool:
    """A block that is mostly links (a menu, a "related news" list): at least three links carrying at
    least half its text, and no run of ordinary text as long as a sentence."""
    links = list(el.iter("a"))
    if len(links) < 3:
        return False
    total = _text_len(el.text_content())
    linked = sum(_text_len(a.text_content()) for a in links)
    if total == 0 or linked * 2 < total or total - linked >= 200:
        return False
    for node in el.iter():
        if node.tag == "a" or any(anc.tag == "a" for anc in node.iterancestors()):
            continue
        if _text_len(node.text or "") >= 40 or _text_len(node.tail or "") >= 40:
            return False
    return True


def _prune(tree) -> None:
    """Remove what is never article text before extraction: scripts and forms, <nav>/<aside>,
    elements named as menus, breadcrumbs, sidebars and footers, breadcrumb lines, and link lists
    (trafilatura in recall mode keeps a sidebar of related-news links as if it were text)."""
    for el in list(tree.iter(*_DROP_TAGS)):
        el.drop_tree()
    for el in list(tree.iter("header", "footer")):  # site header/footer, not an article's own
        if not any(anc.tag == "article" for anc in el.iterancestors()) and \
                (el.tag == "footer" or el.find(".//h1") is None and el.find(".//h2") is None):
            el.drop_tree()
    removed: set = set()
    for el in list(tree.iter("div", "ul", "ol", "dl", "table", "td", "tr", "section", "span", "p")):
        if any(anc in removed for anc in el.iterancestors()):
            continue
        names = f"{el.get('class') or ''} {el.get('id') or ''}"
        text = _norm(el.text_content())
        if (_CHROME.search(names) and len(text) < 400) or \
                (len(text) < 150 and _BREADCRUMB_TEXT.match(text)) or _link_heavy(el):
            removed.add(el)
            el.drop_tree()


def _unlayout(tree) -> None:
    """Old sites lay pages out with nested tables and separate paragraphs with <br>: turn layout
    tables (holding a table, or a cell of running text) into <div>s, data tables into one <p> per
    row (cells joined by " | ") and <br>-separated text into <p>s, so the article is read as
    paragraphs, not as table cells."""
    for table in reversed(list(tree.iter("table"))):  # inner tables first
        own = [el for el in table.iter("thead", "tbody", "tfoot", "tr", "td", "th")
               if next(el.iterancestors("table"), None) is table]
        cells = [el for el in own if el.tag in ("td", "th")]
        if table.find(".//table") is not None or any(
                _text_len(c.text_content()) > 150 or len(c.findall("br")) >= 2 for c in cells):
            for el in [table, *own]:
                el.tag = "div"
    import lxml.html

    for table in list(tree.iter("table")):  # data tables left: one paragraph per row, cells joined by " | "
        if table.getparent() is None or table.find(".//table") is not None:
            continue
        rows = []
        for tr in table.iter("tr"):
            cells = [_norm(c.text_content()) for c in tr if isinstance(c.tag, str) and c.tag in ("td", "th")]
            if any(cells):
                rows.append(" | ".join(c for c in cells if c))
        block = lxml.html.Element("div")
        for row in rows:
            lxml.html.etree.SubElement(block, "p").text = row
        block.tail = table.tail
        table.getparent().replace(table, block)
    for el in list(tree.iter("div", "td", "span", "font", "p")):
        children = list(el)
        if sum(1 for c in children if c.tag == "br") < 2:
            continue
        if any(not isinstance(c.tag, str) or (c.tag != "br" and c.tag not in _INLINE_TAGS) for c in children):
            continue
        paragraphs = [lxml.html.Element("p")]
        paragraphs[0].text = el.text
        for child in children:
            el.remove(child)
            if child.tag == "br":
                p = lxml.html.Element("p")
                p.text = child.tail
                paragraphs.append(p)
            else:
                paragraphs[-1].append(child)  # an inline element keeps its tail text with it
        el.text = None
        if el.tag in ("p", "span", "font"):
            el.tag = "div"
        for p in paragraphs:
            if _text_len(p.text_content()):
                el.append(p)


def _dateline(tree) -> str:
    """The article's dateline ("发布时间：2016-05-13  来源：…"): the first short block that labels a date."""
    for el in tree.iter("div", "p", "span", "td", "li", "h2", "h3", "h4", "h5", "h6", "em", "font", "small"):
        text = _norm(el.text_content())
        if len(text) <= 150 and _DATELINE.search(text):
            return text
    return ""


def _visible_lines(tree) -> list[str]:
    """Plain extraction for when trafilatura fails: the text of <article>/<main>, else of the block
    that holds the most paragraph text, one line per block element."""
    body = tree.find(".//body")
    if body is None:
        return []
    root = None
    for tag in ("article", "main"):
        el = body.find(f".//{tag}")
        if el is not None and _text_len(el.text_content()) >= 50:
            root = el
            break
    if root is None:
        scores: dict = {}  # element → characters of text it holds directly or in its <p>/<li> children
        for el in body.iter("p", "li", "div", "td"):
            if el.tag in ("p", "li"):
                holder, size = el.getparent(), _text_len(el.text_content())
            else:
                holder, size = el, _text_len(el.text or "") + sum(
                    _text_len(c.tail or "") for c in el if c.tag not in _BLOCK_TAGS or c.tag == "br")
            if holder is not None and size:
                scores[holder] = scores.get(holder, 0) + size
        root = max(scores, key=scores.get) if scores else body
    parts: list[str] = []

    def walk(el):
        block = isinstance(el.tag, str) and el.tag in _BLOCK_TAGS
        if block:
            parts.append("\n")
        if isinstance(el.tag, str) and el.text:
            parts.append(el.text)
        for child in el:
            walk(child)
            if child.tail:
                parts.append(child.tail)
        if block:
            parts.append("\n")

    walk(root)
    return [_norm(ln) for ln in "".join(parts).split("\n") if _norm(ln)]
