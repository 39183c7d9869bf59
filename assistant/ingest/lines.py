"""Lines a page wrapped, joined back into paragraphs: a PDF's text layer and an OCR'd page both give
one physical line at a time, and a sentence that runs over a line end must be one sentence again."""

from __future__ import annotations

import re
import unicodedata

from ..core.wordlists import chars
from .gongwen import structural

# A line that ends a sentence: 。！？；：… (or ASCII !?;:), possibly followed by closing quotes/brackets.
# A closing quote or bracket alone does not end one ("落实“三会一课”" wraps on to "制度").
_TERMINAL = re.compile(r"[。！？；：…!?;:][”’」』）)\]】》]*$")
_LIST_START = re.compile(
    r"^(?:[一二三四五六七八九十]{1,3}\s*、|[（(]\s*[一二三四五六七八九十\d]{1,3}\s*[）)]|\d{1,2}\s*[、．.](?!\d)"
    rf"|第[一二三四五六七八九十百\d]{{1,4}}[{chars('text_layout.txt', 'section_unit')}]|[•●◆■□▪·\-–—]\s|附件|#)"
)
# A line is a paragraph's last (not wrapped) when narrower than SHORT_LINE_SHARE of the page's full width: the
# FULL_LINE_PERCENTILE width of its lines (its widest with fewer than 5), and never when wider than SHORT_LINE_MIN
# (16 half-width columns, 8 Chinese characters). Set by hand on the PDFs the format tests make from the seeds.
FULL_LINE_PERCENTILE = 0.8
SHORT_LINE_SHARE = 0.7
SHORT_LINE_MIN = 16


def _width(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)


def join_wrapped(lines: list[str]) -> list[str]:
    """Re-join the lines a page wrapped: a line is continued by the next one unless it ends a
    sentence (。！？；：… and any closing quotes), is shorter than most lines of the page (a
    paragraph's last line, a heading), or the next one opens a list item or heading. CJK joins CJK
    without a space, latin joins latin with one."""
    if not lines:
        return []
    widths = sorted(_width(ln) for ln in lines)
    full = widths[int(FULL_LINE_PERCENTILE * (len(widths) - 1))] if len(widths) >= 5 else widths[-1]
    out = [lines[0]]
    for prev, line in zip(lines, lines[1:]):  # prev: the previous physical line
        if (_TERMINAL.search(prev) or _width(prev) < max(SHORT_LINE_MIN, SHORT_LINE_SHARE * full) or _LIST_START.match(line)
                or structural(prev) or structural(line)):  # an official document's parts stand on lines of their own
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
