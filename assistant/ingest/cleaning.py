"""Turn a raw file into a Document: metadata from the text itself, boilerplate removed.

The cleaned text is canonical: chunk offsets and citation quotes refer to it. It keeps the
document's own title, dateline and author lines (they are what a metadata question cites) and
drops site chrome: URL lines, navigation and breadcrumbs, 【打印】【关闭】, copyright/address/phone/备案
footers, stray image names, and the pinyin artefacts of some traditional-Chinese scrapes ("推進(jìn)").
Control characters are normalised (\v and line/paragraph separators become line breaks, a form
feed is a page break whose position is kept for citations), and a line longer than ``MAX_LINE``
characters is cut (at a sentence end, else a comma or space, else anywhere) so that no later stage
meets unbounded input.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections import Counter

from ..core.chinese import fold
from ..core.schema import PAGED_KINDS, DocMeta, Document, content_hash
from ..core.wordlists import alternation, words
from . import gongwen
from .chunking import heading_of

_BOILERPLATE = "text_boilerplate_patterns.txt"
_LABELS = "text_labels.txt"
_ORGS = "text_org_words.txt"
_TONED = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü"
# "推進(jìn)": a pinyin syllable in parentheses straight after a CJK character.
_PINYIN = re.compile(rf"(?<=[\u4e00-\u9fff])[(（](?=[a-z{_TONED}]*[{_TONED}])[a-z{_TONED}]{{1,7}}[)）]")
_ODD_SPACE = re.compile(r"[\u00a0\u2002-\u200a\u202f\u205f]")
_ZERO_WIDTH = re.compile(r"[\u200b-\u200d\u2060\ufeff]")
# C0/C1 controls other than tab, newline and form feed (\v and \r are turned into newlines first).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ufffe\uffff]")
MAX_LINE = 4000  # characters; longer lines are cut into pieces of at most this size
# Where a report's parts are looked for, in lines (set by hand on the seeds' five layouts and the web pages of the
# format tests; the golden answers, bench/golden.py, hold every seed's metadata as cleaned with them):
HEAD_LINES = 15  # the page head: the title and the dateline are among the first 15 non-empty lines
FIELD_LINES = 6  # header fields (来源：, 作者：) stand up to 6 lines below the dateline (or the title)
HEADER_ZONE = 12  # breadcrumbs and empty header fields are dropped up to 12 lines below the title
TAIL_LINES = 15  # a copyright line among the last 15 lines names the site's owner (an organisation)
SOURCE_LINES = 5  # a source URL is looked for in the first 5 lines
SIGNATURE_LINES = 40  # a speech's signature line (「——在…上的讲话」) naming the unit, in the first 40
# Lengths, in characters:
DATE_LINE_MAX = 80  # a dateline (发布时间：…) is a short line
BREADCRUMB_MAX = 120  # a breadcrumb (首页 > 新闻 > …) is a short line
# A piece of a line holding a footer marker (版权所有, ICP备, 地址：…) is a notice when it is at most NOTICE_MAX long
# (the seeds' notices have 4–38 characters, the news generator's, bench/news.py, 17–30), or FOOTER_MAX when it does
# not end as a sentence does (a site's footer line: 版权所有、地址、邮编、电话 and 备案号 in one run of 60–100). A longer
# sentence that names 版权 (「…明确职务作品的版权所有权归属单位…。」, 70) is prose about copyright, and stays.
NOTICE_MAX = 40
FOOTER_MAX = 160
# What is left of a line once its notices are out is text when it has at least this many letters, digits or
# Chinese characters (not the 「号」 or 「|」 a notice leaves behind).
LEFT_MIN = 4
TITLE_MAX = 160
MAX_ALIASES = 5  # short names of the unit kept (哈焊所 for 哈尔滨焊接研究所)
PAGE_BREAK = "\f"
_URL_LINE = re.compile(r"^\s*(https?://\S+)\s*$")
_URL = re.compile(r"https?://[^\s|｜]+")
_BREADCRUMB = re.compile(rf"({alternation(_BOILERPLATE, 'breadcrumb_lead')}).*?(>|＞|»|›|→)|(\S\s*(>|＞|»)\s*){{2,}}")
_PRINT_CLOSE = re.compile(rf"【\s*({alternation(_BOILERPLATE, 'print_close')})[^】]{{0,12}}】|\[\s*(打印|关闭)\s*\]")
_FOOTER = re.compile(f"({alternation(_BOILERPLATE, 'footer')})", re.IGNORECASE)
_NOTICE = re.compile(f"({alternation(_BOILERPLATE, 'notice')})", re.IGNORECASE)
_NAV = re.compile(r"^(?:[^|｜\s]{1,8}\s*[|｜]\s*){2,}[^|｜\s]{1,8}$")  # 网站地图 | 联系我们 | 关于我们
_SENTENCE_END = re.compile(r"(?<=[。！？；!?])")
_IMAGE = re.compile(r"^\S*\.(png|jpe?g|gif|bmp|webp)\)?\s*$", re.IGNORECASE)
_FIELD = re.compile(r"^\s*([A-Za-z]{2,20}|[\u4e00-\u9fff]{2,6})\s*[:：]\s*(.*?)\s*$")
_DATE = re.compile(
    r"((?:19|20)\d{2})\s*(?:[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{1,2})|年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日)"
)
_DATE_LABELS = words(_LABELS, "date_label")
_ORG_LABELS = words(_LABELS, "org_label")
_AUTHOR_LABELS = words(_LABELS, "author_label")
_EMPTY_SECTION = re.compile(rf"^\s*({alternation(_LABELS, 'empty_section')})\s*[:：]?\s*$", re.IGNORECASE)
_ORG = re.compile(
    rf"[\u4e00-\u9fff]{{2,16}}?(?:{alternation(_ORGS, 'org_suffix')})"
    rf"(?:[\u4e00-\u9fff]{{0,10}}?(?:{alternation(_ORGS, 'party_org')}))?"
)
_DEICTIC = words(_ORGS, "deictic")
_BAD_ORG_START = words(_ORGS, "bad_org_start")
# Patterns used inside functions: what the text calls the unit a deictic word stands for (followed there by the
# rest of the name), a company suffix, a closing 「——…发言稿」 line, an abbreviation of the organisation.
_DEICTIC_UNIT = rf"([\u4e00-\u9fff]{{2,8}}?(?:{alternation(_ORGS, 'deictic_unit')}))"
_COMPANY_SUFFIX = f"({alternation(_ORGS, 'company_suffix')})$"
_SPEECH_SIGNATURE = rf"^\s*——\s*(.+?)({alternation(_LABELS, 'speech')})?\s*$"
_ALIAS_BASE = f"^(.*?(?:{alternation(_ORGS, 'alias_base')}))"
_ALIAS = rf"[\u4e00-\u9fff]{{2,6}}?(?:{alternation(_ORGS, 'alias_suffix')})"
_TITLE_TAG = re.compile(r"^\s*【[^】]{1,12}】\s*")
_TITLE_AUTHOR = re.compile(r"[（(]([\u4e00-\u9fff]{2,4})[）)]\s*$")
_AUTHOR_INLINE = re.compile(rf"[（(]?\s*(?:{alternation(_LABELS, 'author_inline')})\s*[:：]\s*([^\s)）]+)")


def remove_pinyin(text: str) -> str:
    return _PINYIN.sub("", text)


def _cut_line(line: str) -> list[str]:
    """A line of at most MAX_LINE characters stays whole; a longer one is cut in pieces, each at the
    last sentence end of its window (else the last comma or space, else the window's end)."""
    if len(line) <= MAX_LINE:
        return [line]
    out, start = [], 0
    while len(line) - start > MAX_LINE:
        window = line[start : start + MAX_LINE]
        cut = max(window.rfind(ch) for ch in "。！？；!?;")
        if cut < MAX_LINE // 2:
            cut = max(window.rfind(ch) for ch in "，,、 \t")
        if cut < MAX_LINE // 4:
            cut = MAX_LINE - 1
        out.append(line[start : start + cut + 1])
        start += cut + 1
    out.append(line[start:])
    return out


def normalize(raw: str) -> str:
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    for sep in ("\v", "\u2028", "\u2029", "\x85"):
        text = text.replace(sep, "\n")
    text = _CONTROL.sub("", text)
    text = _ZERO_WIDTH.sub("", text)
    text = _ODD_SPACE.sub(" ", text)
    text = remove_pinyin(text)
    if any(len(line) > MAX_LINE for line in text.split("\n")):
        text = "\n".join(piece for line in text.split("\n") for piece in _cut_line(line))
    return text


def iso_date(s: str) -> str:
    m = _DATE.search(s)
    if not m:
        return ""
    year = int(m.group(1))
    month = int(m.group(2) or m.group(4))
    day = int(m.group(3) or m.group(5))
    try:
        return _dt.date(year, month, day).isoformat()
    except ValueError:
        return ""


def _field(line: str) -> tuple[str, str] | None:
    m = _FIELD.match(line)
    if not m:
        return None
    return m.group(1).lower(), m.group(2)


def _is_date_line(line: str) -> bool:
    f = _field(line)
    if f and f[0] in _DATE_LABELS and iso_date(f[1]):
        return True
    stripped = _PRINT_CLOSE.sub("", line)
    return bool(iso_date(stripped)) and len(fold(stripped)) < DATE_LINE_MAX and ("发布" in fold(stripped) or "时间" in fold(stripped))


def _clean_meta_line(line: str) -> str:
    """'文章来源：  |  发布时间：2016-05-13  |  【打印】 【关闭】' → '发布时间：2016-05-13'."""
    line = _PRINT_CLOSE.sub("", line)
    parts = [p.strip() for p in re.split(r"[|｜]", line)]
    kept = []
    for p in parts:
        f = _field(p)
        if f is not None and not f[1]:
            continue  # an empty field such as '文章来源：'
        if p:
            kept.append(p)
    return "  ".join(kept)


def without_boilerplate(line: str) -> str:
    """A line (stripped) without its copyright, 备案, address and navigation notices; "" when nothing
    else stands on it. Notices come out whole, even run together with the text after them; other
    sentences of the line stay."""
    if _NAV.match(line):
        return ""
    if not _FOOTER.search(line) and not _NOTICE.search(line):
        return line
    pieces = _SENTENCE_END.split(_NOTICE.sub(" ", line))
    left = "".join(p for p in pieces if not _is_notice(p.strip())).strip()
    return left if sum(ch.isalnum() for ch in left) >= LEFT_MIN else ""


def _is_notice(piece: str) -> bool:
    if not _FOOTER.search(piece):
        return False
    return len(piece) <= (NOTICE_MAX if piece.endswith(("。", "！", "？", "；", "!", "?")) else FOOTER_MAX)


def _header_split(lines: list[str]) -> tuple[int, int | None]:
    """Return (index of the title line, index of the date line or None) for the page head."""
    nonempty = [i for i, ln in enumerate(lines) if ln.strip()]
    head = nonempty[:HEAD_LINES]
    date_idx = next((i for i in head if _is_date_line(lines[i])), None)
    if date_idx is None:  # the title is the first line that is not a URL or boilerplate
        first = next((i for i in head if not _URL_LINE.match(lines[i]) and not _chrome(lines[i].strip())),
                     head[0] if head else 0)
        return first, None
    # The title is the last content line before the date line (not a field, URL or breadcrumb).
    for i in reversed([j for j in head if j < date_idx]):
        ln = lines[i].strip()
        f = _field(ln)
        if f and f[0] == "title":
            return i, date_idx
        if f or _URL_LINE.match(ln) or _BREADCRUMB.search(ln) or _chrome(ln):
            continue
        return i, date_idx
    return date_idx, date_idx


def _chrome(line: str) -> bool:
    """Is the (stripped) line nothing but a notice, a navigation bar or a breadcrumb?"""
    return not without_boilerplate(line) or (_BREADCRUMB.search(line) is not None and len(line) < BREADCRUMB_MAX)


def _title_text(line: str) -> str:
    f = _field(line)
    title = f[1] if f and f[0] == "title" else line
    title = re.sub(r"^#{1,6}\s+", "", title.strip())
    title = _TITLE_TAG.sub("", title)
    title = re.split(r"-{3,}|_{3,}", title)[0]
    return re.sub(r"\s+", " ", title).strip()[:TITLE_MAX]


def _org_candidates(text: str) -> list[str]:
    out = []
    for m in _ORG.finditer(fold(text)):
        cand = m.group(0)
        if cand.startswith(_BAD_ORG_START) and not cand.startswith(_DEICTIC):
            continue
        out.append(cand)
    return out


def _resolve_deictic(cand: str, body: str) -> str:
    """'我所质检中心党支部' → '长春光机所质检中心党支部' using how the body names the same unit."""
    for d in _DEICTIC:
        if cand.startswith(d):
            rest = cand[len(d):]
            if len(rest) < 2:
                return ""
            found = [
                m.group(1)
                for m in re.finditer(_DEICTIC_UNIT + re.escape(rest), fold(body))
                if not m.group(1).startswith(_DEICTIC) and not m.group(1).startswith(_BAD_ORG_START)
            ]
            if not found:
                return rest
            counts = Counter(found)
            best = min(counts, key=lambda p: (-counts[p], len(p)))
            return best + rest
    return cand


def _copyright_owner(lines: list[str]) -> str:
    for ln in lines:
        m = re.search(r"版权所有\s*[:：©]?\s*(?:©)?\s*([\u4e00-\u9fff（）()]{4,40})", fold(ln))
        if m:
            owner = re.sub(_COMPANY_SUFFIX, "", m.group(1))
            if "集团" in owner and not owner.endswith("集团"):
                owner = owner.rsplit("集团", 1)[1]
            return owner
    return ""


def _extract_org(fields: dict, title: str, page_title: str, lines: list[str], body: str) -> str:
    for key in _ORG_LABELS:
        if fields.get(key):
            return fold(fields[key])
    for cand in _org_candidates(title):
        resolved = _resolve_deictic(cand, body)
        if resolved:
            return resolved
    for ln in lines[:SIGNATURE_LINES]:
        m = re.match(_SPEECH_SIGNATURE, fold(ln))
        if m:
            cands = _org_candidates(m.group(1))
            if cands:
                return _resolve_deictic(cands[0], body) or cands[0]
    m = re.search(r"-{3,}\s*(\S+)\s*$", page_title)
    if m:
        return fold(m.group(1))
    owner = _copyright_owner(lines[-TAIL_LINES:])
    if owner:
        return owner
    counts = Counter(c for c in _org_candidates(body) if not c.startswith(_DEICTIC))
    return counts.most_common(1)[0][0] if counts else ""


def _extract_author(fields: dict, title_line: str, lines: list[str]) -> str:
    for key in _AUTHOR_LABELS:
        if fields.get(key):
            return fields[key].split()[0]
    for ln in reversed(lines):
        m = _AUTHOR_INLINE.search(ln)
        if m:
            return re.split(r"\s|系", m.group(1))[0]
    m = _TITLE_AUTHOR.search(re.split(r"-{3,}", title_line)[0].strip())
    return m.group(1) if m else ""


def _is_subsequence(short: str, long: str) -> bool:
    it = iter(long)
    return all(ch in it for ch in short)


def org_aliases(org: str, body: str) -> tuple[str, ...]:
    """Abbreviations of the organisation that the text itself uses: 哈焊所 for 哈尔滨焊接研究所,
    长光所 for 长春光机所… (a word of the text made of the org name's characters, in order)."""
    if not org:
        return ()
    unit = re.match(_ALIAS_BASE, org)
    base = unit.group(1) if unit else org
    found = []
    for m in re.finditer(_ALIAS, fold(body)):
        w = m.group(0)
        while len(w) > 2 and not _is_subsequence(w, base):
            w = w[1:]
        if 2 < len(w) < len(base) and w[0] == base[0] and _is_subsequence(w, base) and w not in found:
            found.append(w)
    return tuple(found[:MAX_ALIASES])


def _infer_year(body: str) -> str:
    this_year = _dt.date.today().year
    years = [int(y) for y in re.findall(r"((?:19|20)\d{2})\s*年", body) if int(y) <= this_year]
    return str(max(years)) if years else ""


# A line that ends mid-sentence (a Chinese character or an opening mark) and a line that goes on with
# it (a Chinese character or a closing mark) on the next page are one line: a page break is not a
# sentence break, and a sentence cut in two would be quoted, or open a talking point, mid-phrase.
_GOES_ON = re.compile(r"[\u4e00-\u9fff，、“‘《（(—]$")
_GOES_ON_WITH = re.compile(r"^[\u4e00-\u9fff，、。；！？”’》）)]")


def _continues(before: str, after: str) -> bool:
    """Does ``after`` (first line of a page) go on with the sentence ``before`` (last line of the page before)?"""
    tail = re.split(r"[。！？；!?;]", before)[-1]  # the unfinished sentence: a heading only if it is one
    return (bool(_GOES_ON.search(before)) and bool(_GOES_ON_WITH.match(after))
            and heading_of(tail) is None and heading_of(after) is None)


def _pages(text: str) -> tuple[list[str], list[int]]:
    """Split into lines, form feeds (page breaks) taken out: (lines, 1-based page of each line)."""
    lines, pages, page = [], [], 1
    for ln in text.split("\n"):
        parts = ln.split(PAGE_BREAK)
        for j, part in enumerate(parts):
            if j:
                page += 1
            if part or len(parts) == 1:
                lines.append(part)
                pages.append(page)
    return lines, pages


def clean(raw: str, doc_id: str, path: str = "", raw_hash: str | None = None, kind: str = "txt",
          hints: dict | None = None) -> Document:
    """Clean ``raw`` (already decoded) and extract its metadata. ``hints`` are what the file format
    itself states (a web page's title and date, a Word file's title): used where the text says nothing."""
    hints = hints or {}
    text = normalize(raw)
    lines, line_pages = _pages(text)
    source = next((m.group(1) for ln in lines[:SOURCE_LINES] if (m := _URL_LINE.match(ln))), "")
    if not source:
        m = _URL.search("\n".join(lines[:SOURCE_LINES]))
        source = m.group(0) if m else ""

    title_idx, date_idx = _header_split(lines)
    official = gongwen.parse(lines)
    if official is not None:  # 公文: the body starts at its title; the 版记 leaves it, kept as metadata
        title_idx, date_idx = official.title_line, None
        lines = ["" if i in official.record_lines else ln for i, ln in enumerate(lines)]
    fields: dict[str, str] = {}
    for ln in lines[: (date_idx if date_idx is not None else title_idx) + FIELD_LINES]:
        f = _field(ln)
        if f and f[1] and f[0] not in fields:
            fields[f[0]] = f[1]
    page_title = next((ln for ln in lines[:title_idx] if "---" in ln), "")

    kept: list[str] = []
    kept_pages: list[int] = []
    joined: list[bool] = []  # a kept line that goes on with the sentence of the one before, across a page break
    for i, ln in enumerate(lines):
        s = ln.strip()
        if not s or i < title_idx:
            continue  # blank, or site chrome above the title
        if _URL_LINE.match(s) or _IMAGE.match(s) or _EMPTY_SECTION.match(s):
            continue
        s = without_boilerplate(s)  # line by line: the text before and after a notice stays
        if not s:
            continue
        if i < title_idx + HEADER_ZONE and _BREADCRUMB.search(s) and len(s) < BREADCRUMB_MAX:
            continue
        f = _field(s)
        if f is not None and not f[1] and i < title_idx + HEADER_ZONE:
            continue  # an empty header field such as 'Department:'
        if _PRINT_CLOSE.search(s):
            s = _clean_meta_line(s)
            if not s:
                continue
        joined.append(bool(kept) and kept_pages[-1] + 1 == line_pages[i] and _continues(kept[-1], s))
        kept.append(s)
        kept_pages.append(line_pages[i])
    seps = ["" if join or not k else "\n" for k, join in enumerate(joined)]  # what goes before each kept line
    cleaned = "".join(sep + s for sep, s in zip(seps, kept))
    page_starts: list[int] = []  # where pages 2, 3, … start in the cleaned text
    offset = 0
    for sep, s, page in zip(seps, kept, kept_pages):
        offset += len(sep)
        while len(page_starts) + 1 < page:
            page_starts.append(offset)
        offset += len(s)
    while len(page_starts) + 1 < line_pages[-1]:  # trailing empty pages
        page_starts.append(len(cleaned))

    title_line = lines[title_idx] if lines else ""
    title = _title_text(hints.get("title", "")) or _title_text(title_line) or doc_id
    date = ""
    for key in _DATE_LABELS:
        if fields.get(key) and (date := iso_date(fields[key])):
            break
    if not date and date_idx is not None:
        date = iso_date(_PRINT_CLOSE.sub("", lines[date_idx]))
    if not date and hints.get("date"):
        date = iso_date(hints["date"])
    if hints.get("org") and not any(fields.get(k) for k in _ORG_LABELS):
        fields["org"] = hints["org"]
    if not source and hints.get("source"):
        source = hints["source"]
    inferred = False
    if not date:
        date = _infer_year(cleaned)
        inferred = bool(date)
    org = _extract_org(fields, title, page_title, lines, cleaned)
    author = _extract_author(fields, title_line, lines) or hints.get("author", "")
    parts = {}
    if official is not None:
        title, org = official.title, official.issuer or org
        if official.written or official.printed:
            date, inferred = official.written or official.printed, False
        parts = {"doc_number": official.number, "signer": official.signer, "recipients": official.recipients,
                 "attachments": official.attachments, "cc": official.cc, "printed_by": official.printed_by,
                 "printed": official.printed}
    meta = DocMeta(
        doc_id=doc_id,
        title=title,
        date=date,
        org=org,
        author=author,
        source=source,
        path=path,
        date_inferred=inferred,
        aliases=org_aliases(org, cleaned),
        kind=kind,
        pages=tuple(page_starts) if kind in PAGED_KINDS or page_starts else (),
        ocr_pages=tuple(hints.get("ocr_pages", ())),
        low_confidence=tuple(hints.get("low_confidence", ())),
        **parts,
    )
    return Document(meta=meta, text=cleaned, raw_hash=raw_hash or content_hash(raw))
