"""The layout of official documents (党政机关公文格式, GB/T 9704-2012), read from the text's lines.

版头: 份号, 密级, 紧急程度, 发文机关标志 (「中共某某委员会文件」), 发文字号 (「某发〔2016〕12号」) and, for
a report upwards, 签发人. 主体: 标题, 主送机关 (the line that ends with a colon), 正文, 附件说明, 发文机关署名
and 成文日期 (in Chinese numerals too: 二〇一六年四月八日). 版记: 抄送 and 印发机关和印发日期.

``parse`` finds these parts in a document's lines (a .txt, a Word file, a PDF or a scan all become
lines); cleaning keeps them as metadata, takes the 版记 lines out of the body and starts the body at
the title. A text without a 发文字号 or a 印发 line is not read as one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..core.wordlists import alternation

_G = "text_gongwen.txt"
HEAD_LINES = 12  # the 版头 (份号 … 签发人) and the title stand in a document's first 12 non-empty lines
TAIL_LINES = 12  # the 署名, 成文日期 and 版记 in its last 12
TITLE_LINES = 3  # a title runs over at most 3 lines

# 发文字号: 机关代字, 年份 in 〔〕 (typed or read by OCR as 【】［］[]（）() too), 发文顺序号 — written back with 〔〕.
_NUMBER = re.compile(r"([\u4e00-\u9fff]{1,16}?)\s*[〔［\[（(【]\s*((?:19|20)\d{2})\s*[〕］\]）)】]\s*(\d{1,5})\s*号")
_SIGNER = re.compile(r"签\s*发\s*人\s*[:：]\s*([\u4e00-\u9fff·、\s]{2,30})$")
_MARK = re.compile(rf"^(.{{2,60}}?)\s*(?:{alternation(_G, 'mark_end')})$")  # 发文机关标志: 「…委员会文件」
_SERIAL = re.compile(r"^\d{6}$")  # 份号
_CLASSIFIED = re.compile(rf"^(?:{alternation(_G, 'classified')})(?:\s*★.*)?$")
_URGENT = re.compile(rf"^(?:{alternation(_G, 'urgent')})$")
_RULE = re.compile(r"^[\s\-—–_─━=＝]{3,}$")
_CN = "〇零○一二三四五六七八九十"
_DATE = re.compile(rf"^((?:19|20)\d{{2}}|[{_CN}]{{4}})\s*年\s*(\d{{1,2}}|[{_CN}]{{1,3}})\s*月\s*(\d{{1,2}}|[{_CN}]{{1,3}})\s*日$")
_PRINTED = re.compile(rf"^(.*?)\s*((?:19|20)\d{{2}}\s*年\s*\d{{1,2}}\s*月\s*\d{{1,2}}\s*日|[{_CN}]{{4}}年[{_CN}]{{1,3}}月"
                      rf"[{_CN}]{{1,3}}日)\s*印\s*发\s*$")
_CC = re.compile(r"^抄\s*送\s*[:：]\s*(.*)$")
_ATTACHMENT = re.compile(r"^附\s*件\s*[:：]\s*(.+)$")
_TITLE_END = re.compile(rf"(?:{alternation(_G, 'doc_type')})$")
_RECIPIENTS = re.compile(r"^([^。！？；]{2,200}?)\s*[:：]$")
_DIGITS = {ch: n for n, ch in enumerate("〇一二三四五六七八九")} | {"零": 0, "○": 0}


@dataclass(frozen=True)
class GongWen:
    title: str
    title_line: int  # where the body starts: the title's first line
    number: str = ""  # 发文字号: 国办发〔2016〕12号
    issuer: str = ""  # 发文机关: from its 标志, else its 署名
    signer: str = ""  # 签发人
    recipients: str = ""  # 主送机关
    attachments: str = ""  # 附件说明
    signed_by: str = ""  # 发文机关署名
    written: str = ""  # 成文日期, ISO
    cc: str = ""  # 抄送机关
    printed_by: str = ""  # 印发机关
    printed: str = ""  # 印发日期, ISO
    record_lines: tuple[int, ...] = ()  # the 版记's lines: out of the body, kept here


def cn_number(text: str) -> int:
    """二〇一六 → 2016 (digit by digit); 十二 → 12, 二十三 → 23, 三十 → 30; digits as they are."""
    if text.isdigit():
        return int(text)
    if "十" in text:
        tens, _, ones = text.partition("十")
        return (_DIGITS.get(tens, 1) if tens else 1) * 10 + (_DIGITS.get(ones, 0) if ones else 0)
    return int("".join(str(_DIGITS[ch]) for ch in text))


def iso(text: str) -> str:
    """「2016年4月8日」「二〇一六年四月八日」 → 2016-04-08; "" when it is no full date."""
    m = _DATE.match(text.strip())
    if not m:
        return ""
    y, mo, d = (cn_number(x) for x in m.groups())
    return f"{y:04d}-{mo:02d}-{d:02d}" if 1 <= mo <= 12 and 1 <= d <= 31 else ""


def structural(line: str) -> bool:
    """Is ``line`` one of the parts a 公文 sets on a line of its own (标志, 文号, 签发人, 附件说明, 成文日期, 抄送,
    印发)? A page's wrapped lines are never joined across one (lines.join_wrapped)."""
    s = line.strip()
    if not s or len(s) > 60:
        return False
    return bool((_NUMBER.search(s) and not re.search(r"[。！？；，]", s)) or _SIGNER.search(s) or _ATTACHMENT.match(s)
                or _CC.match(s) or _PRINTED.match(s) or iso(s)
                or (len(s) <= 30 and _MARK.match(s) and not re.search(r"[。！？；，、]", s)))


def parse(lines: list[str]) -> GongWen | None:
    """The parts of an official document in ``lines`` (the document's lines, blank ones included), or None."""
    filled = [i for i, ln in enumerate(lines) if ln.strip()]
    if not filled:
        return None
    head, tail = filled[:HEAD_LINES], filled[-TAIL_LINES:]
    number_at = next((i for i in head if _NUMBER.search(lines[i].strip()) and len(lines[i].strip()) <= 60), None)
    printed_at = next((i for i in reversed(tail) if _PRINTED.match(lines[i].strip())), None)
    if number_at is None and printed_at is None:
        return None
    number = signer = issuer = ""
    if number_at is not None:
        text = lines[number_at].strip()
        prefix, year, serial = _NUMBER.search(text).groups()
        number = f"{prefix}〔{year}〕{int(serial)}号"
        sm = _SIGNER.search(text)
        signer = sm.group(1).strip() if sm else ""
    marks = [_MARK.match(lines[i].strip()) for i in head if number_at is None or i < number_at]
    issuer = next((m.group(1).strip() for m in marks if m), "")
    # The title: the first lines after the 版头 (文号, 签发人, the red rule), up to TITLE_LINES of them
    start = next((k for k, i in enumerate(filled) if i == number_at), -1) + 1
    while start < len(filled) and (_SIGNER.search(lines[filled[start]].strip()) or _RULE.match(lines[filled[start]])):
        start += 1
    if number_at is None:  # no 文号: the title follows the 标志 (or opens the text)
        start = next((k + 1 for k, i in enumerate(head) if _MARK.match(lines[i].strip())), 0)
        while start < len(filled) and (_SERIAL.match(lines[filled[start]].strip()) or _RULE.match(lines[filled[start]])):
            start += 1
    if start >= len(filled):
        return None
    title_line = filled[start]
    parts = [lines[title_line].strip()]
    k = start + 1
    while (k < len(filled) and len(parts) < TITLE_LINES and not _TITLE_END.search(parts[-1])
           and not _RECIPIENTS.match(lines[filled[k]].strip()) and len(lines[filled[k]].strip()) <= 40):
        parts.append(lines[filled[k]].strip())
        k += 1
    title = "".join(parts)
    recipients = ""
    if k < len(filled):
        rm = _RECIPIENTS.match(lines[filled[k]].strip())
        recipients = rm.group(1).strip() if rm else ""
    # The 版记: 抄送 (and its continuation) and the 印发 line, with the rules between them
    record, cc, printed_by, printed = [], "", "", ""
    if printed_at is not None:
        pm = _PRINTED.match(lines[printed_at].strip())
        printed_by, printed = pm.group(1).strip(), iso(re.sub(r"\s+", "", pm.group(2)))
        record.append(printed_at)
    for i in tail:
        cm = _CC.match(lines[i].strip())
        if cm:
            cc_lines = [i] + [j for j in tail if i < j < (printed_at if printed_at is not None else len(lines))
                              and not _RULE.match(lines[j]) and not _PRINTED.match(lines[j].strip())]
            cc = (cm.group(1) + "".join(lines[j].strip() for j in cc_lines[1:])).strip().rstrip("。")
            record += cc_lines
    if record:
        first = min(record)
        record += [i for i in tail if i > first and _RULE.match(lines[i])]
        record += [i for i in tail if i < first and _RULE.match(lines[i]) and not any(
            lines[j].strip() and not _RULE.match(lines[j]) for j in range(i + 1, first))]
    # 署名 and 成文日期: the last full date alone on a line before the 版记, and the line above it
    body_end = min(record) if record else len(lines)
    written, signed_by = "", ""
    for i in reversed([j for j in tail if j < body_end]):
        if iso(lines[i].strip()):
            written = iso(lines[i].strip())
            above = [j for j in filled if j < i]
            if above and len(lines[above[-1]].strip()) <= 40 and not re.search(r"[。！？；，]", lines[above[-1]]):
                signed_by = lines[above[-1]].strip()
            break
    attachments = next((am.group(1).strip() for i in filled if (am := _ATTACHMENT.match(lines[i].strip()))), "")
    return GongWen(title=title, title_line=title_line, number=number, issuer=issuer or signed_by, signer=signer,
                   recipients=recipients, attachments=attachments, signed_by=signed_by, written=written, cc=cc,
                   printed_by=printed_by, printed=printed, record_lines=tuple(sorted(set(record))))
