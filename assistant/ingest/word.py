"""Word .docx (python-docx): headings as markdown heading lines, tables as `cell | cell` rows, a
zip bomb or an encrypted package refused."""

from __future__ import annotations

import io
import re
import zipfile

from ..core.errors import Unreadable
from ..core.wordlists import alternation
from .converted import Converted, plain, reason

HEADING_LEVELS = 9  # w:outlineLvl 0–8 are heading levels 1–9 (_outline_level); its 9 is body text (ECMA-376)
STYLE_CHAIN_MAX = 12  # styles followed up their based-on chain at most (a chain that loops ends here)
MAX_UNZIPPED = 512 * 1024 * 1024  # bytes a .docx may unpack to: a zip bomb is refused, not read

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_HEADING_STYLE = re.compile(r"^(?:heading|标题)\s*([1-9])$", re.IGNORECASE)
_TITLE_STYLE = re.compile(r"^(?:title|标题)$", re.IGNORECASE)
_TOC_STYLE = re.compile(r"^(?:toc|目录)", re.IGNORECASE)
# Core-property titles that name a template or a new file, not the document.
_STOCK_TITLE = re.compile(
    rf"^(?:Microsoft Word - |(?:{alternation('text_layout.txt', 'numbered_stock_title')})\s*\d*$|"
    rf"{alternation('text_layout.txt', 'stock_title')})",
    re.IGNORECASE,
)


def read_docx(data: bytes, suffix: str) -> Converted:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            unpacked = sum(info.file_size for info in z.infolist())
            names = set(z.namelist())
    except Exception as exc:
        raise Unreadable("corrupt", f"is not a valid Word file ({reason(exc)}); open it in Word/WPS, save it "
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
        raise Unreadable("corrupt", f"is a damaged Word file ({reason(exc)}); open it in Word/WPS, save it "
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
        return ("heading", own) if own <= HEADING_LEVELS else ("body", None)
    style_id = paragraph._p.style or ""
    if style_id not in cache:
        try:
            cache[style_id] = _style_role(paragraph.style)
        except Exception:  # a style part python-docx cannot resolve: plain body text
            cache[style_id] = ("body", None)
    return cache[style_id]


def _style_role(style) -> tuple[str, int | None]:
    seen = 0
    while style is not None and seen < STYLE_CHAIN_MAX:
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
            return ("heading", level) if level <= HEADING_LEVELS else ("body", None)
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


def is_encrypted_ooxml(data: bytes) -> bool:
    """An OLE container holding an encrypted Office Open XML package (a password-protected .docx)."""
    return "EncryptedPackage".encode("utf-16-le") in data[:1_000_000] or \
        "EncryptionInfo".encode("utf-16-le") in data[:1_000_000]
