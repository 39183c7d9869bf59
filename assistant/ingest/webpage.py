"""Web pages (.html/.htm, and Word/WPS pages saved under .doc): the title, dateline and article text,
not the navigation, sidebar or footer."""

from __future__ import annotations

import codecs
import datetime
import logging
import re
import time

from ..core.errors import Unreadable
from ..core.wordlists import alternation
from .cleaning import without_boilerplate
from .converted import Converted, plain, reason

log = logging.getLogger(__name__)

_META_CHARSET = re.compile(rb"""<meta[^>]+?charset\s*=\s*["']?\s*([a-zA-Z0-9_:.\-]+)""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([a-zA-Z0-9_.\-]+)""", re.IGNORECASE)
_BOILERPLATE = "text_boilerplate_patterns.txt"
_LABELS = "text_labels.txt"
_GB = ("gb2312", "gbk", "gb18030", "x-gbk", "cp936", "gb_2312-80", "euc-cn", "hz-gb-2312")
_BLOCK_TAGS = frozenset(
    "address article aside blockquote body br caption center dd details div dl dt fieldset figcaption figure footer "
    "form h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section summary table tbody td tfoot th thead tr ul"
    .split()
)
_DROP_TAGS = ("script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "canvas", "select",
              "button", "input", "textarea", "nav", "aside", "form")
_CHROME = re.compile(rf"(?:^|[\s_\-])(?:{alternation(_BOILERPLATE, 'chrome_class')})(?:$|[\s_\-\d])",
                     re.IGNORECASE)
_BREADCRUMB_TEXT = re.compile(rf"^(?:{alternation(_LABELS, 'breadcrumb_label')})\s*[:：]")
_DATELINE = re.compile(rf"(?:{alternation(_LABELS, 'dateline_label')})\s*[:：]\s*"
                       r"((?:19|20)\d{2}\s*(?:[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?))")
_DATE = re.compile(r"((?:19|20)\d{2})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})")
_DATE_META = ("article:published_time", "og:article:published_time", "og:published_time", "pubdate", "publishdate",
              "publish_date", "publication_date", "dc.date", "dc.date.issued", "dc.date.created", "dcterms.issued",
              "dcterms.created", "firstpublishedtime", "releasedate")
_SITE_META = ("og:site_name", "sitename", "site_name", "application-name", "apple-mobile-web-app-title")
# "文章标题--站点名", "标题_站点", "标题 | 站点", "标题 - 站点" (a bare hyphen is part of "2016-2020").
_TITLE_SEPARATORS = re.compile(r"\s*(?:--|——|_|\||｜)\s*|\s+[-—–]\s+")
# Sizes that tell an article from a page's chrome, in characters (set by hand on the web pages of the format
# tests, tests/formats.py, which wrap seed reports in menus, breadcrumbs, sidebars and footers):
EXTRACTED_SHARE = 0.5  # trafilatura's text under half the largest text block's: the block is taken instead
ARTICLE_MIN = 50  # an <article>/<main> with less text is not the article
CHROME_MAX = 400  # a block named like a menu or footer is dropped when shorter than this …
SHORT_BLOCK_MAX = 150  # … and a breadcrumb or a dateline is a block at most this long …
LINK_LIST_MIN = 3  # a block of at least 3 links carrying half its text …
LINK_LIST_PLAIN_MAX = 200  # … with less than this of other text …
SENTENCE_RUN = 40  # … and no run of plain text this long (a sentence) is a link list
TITLE_PART_MIN = 4  # 「文章标题_站点名」: the first part is the title when this long and the body opens with it …
TITLE_LINES = 5  # … within its first lines
TITLE_EXTRA_MAX = 20  # a first line holding the title with at most this much more is the article's own heading
DATELINE_LINES = 3  # the dateline is put first unless one of the first lines holds it
SITENAME_MAX = 40  # 「标题 - 站点名」: the last part of the <title> is the site's name when this short
_INLINE_TAGS = frozenset("a abbr b big cite code em font i img kbd label q s small span strong sub sup tt u".split())


def looks_html(head: bytes) -> bool:
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


def read_html(data: bytes) -> Converted:
    text = _decode_html(data)
    text = re.sub(r"^\s*<\?xml[^>]*>", "", text)  # lxml refuses str input with an encoding declaration
    try:
        import lxml.html

        tree = lxml.html.document_fromstring(text)
    except Exception as exc:
        raise Unreadable("corrupt", f"is not a web page lxml can parse ({reason(exc)}); open it in a browser, "
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
        log.warning("trafilatura cannot read the web page (%s); using the plain extraction", reason(exc))
    body = [ln for ln in plain(getattr(doc, "text", None) or "").split("\n") if ln.strip()]
    if sum(map(len, body)) < EXTRACTED_SHARE * sum(map(len, fallback)):
        body = fallback  # trafilatura found far less than the page shows: take the largest text block
    # Copyright and 备案 notices go line by line (cleaning.without_boilerplate); the text beside them stays.
    body = [kept for ln in body if (kept := without_boilerplate(ln.strip())) and kept.strip("|- ")]
    title = meta.get("title") or " ".join((getattr(doc, "title", None) or "").split()) or _h1(tree)
    parts = [p for p in _TITLE_SEPARATORS.split(title) if p]
    if len(parts) > 1 and len(parts[0]) >= TITLE_PART_MIN and any(ln.startswith(parts[0]) for ln in body[:TITLE_LINES]):
        title = parts[0]  # "文章标题_站点名": the article's own heading is the first part
    if body and title and (body[0] == title or len(body[0]) >= TITLE_PART_MIN and (
            body[0] in title or title in body[0] and len(body[0]) <= len(title) + TITLE_EXTRA_MAX)):
        first = body.pop(0)  # the article's own heading: keep the longer form once, as the title
        title = first if len(first) > len(title) else title
    if not body:
        raise Unreadable("no_text", "is a web page with no article text (only navigation, links or scripts?); "
                                    "save the article page itself, or paste its text into a .txt file",
                         format=".html")
    if dateline and not any(dateline in ln or ln in dateline for ln in body[:DATELINE_LINES]):
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
        if rest and rest[-1] and len(rest[-1]) <= SITENAME_MAX:
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
    if len(links) < LINK_LIST_MIN:
        return False
    total = _text_len(el.text_content())
    linked = sum(_text_len(a.text_content()) for a in links)
    if total == 0 or linked * 2 < total or total - linked >= LINK_LIST_PLAIN_MAX:
        return False
    for node in el.iter():
        if node.tag == "a" or any(anc.tag == "a" for anc in node.iterancestors()):
            continue
        if _text_len(node.text or "") >= SENTENCE_RUN or _text_len(node.tail or "") >= SENTENCE_RUN:
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
        if (_CHROME.search(names) and len(text) < CHROME_MAX) or \
                (len(text) < SHORT_BLOCK_MAX and _BREADCRUMB_TEXT.match(text)) or _link_heavy(el):
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
        if len(text) <= SHORT_BLOCK_MAX and _DATELINE.search(text):
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
        if el is not None and _text_len(el.text_content()) >= ARTICLE_MIN:
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
