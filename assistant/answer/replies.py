"""An LLM reply of a job with a layout of its own, read into that layout: talking points from
「1. 小标题：内容[2]」 lines, precedent rows from 「单位 | 时间 | 做法[2]」 lines."""

from __future__ import annotations

import re

from ..core.schema import MARKER, Point, Row
from .drafting import MAX_POINTS  # an LLM's reply keeps as many talking points as the extractive job gives

_POINT_LINE = re.compile(r"^\s*\d{1,2}\s*[.、．)）]\s*(?:\*\*)?([^：:*]{1,30}?)(?:\*\*)?\s*[：:]\s*(.+)$")


def parse_points(text: str) -> list[Point]:
    """「1. 小标题：内容[2]」 lines of a (verified) reply → points."""
    out = []
    for line in text.split("\n"):
        m = _POINT_LINE.match(line)
        if m:
            body = m.group(2).strip()
            out.append(Point(heading=m.group(1).strip(), text=body,
                             citations=tuple(dict.fromkeys(int(n) for n in MARKER.findall(body)))))
    return out[:MAX_POINTS]


def parse_points_reply(text: str) -> dict:
    return {"points": parse_points(text)}


def parse_rows_reply(text: str) -> dict:
    return {"rows": parse_rows(text)}


def parse_rows(text: str) -> list[Row]:
    """「单位 | 时间 | 做法[2]」 lines of a (verified) reply → rows (header and rule lines skipped)."""
    out = []
    for line in text.split("\n"):
        cells = [c.strip() for c in line.strip().strip("|｜").split("|")]
        if len(cells) < 3 or cells[0] in ("单位", "") or set(cells[0]) <= set("-: "):
            continue
        practice = cells[2]
        out.append(Row(org=cells[0], date=cells[1], practice=MARKER.sub("", practice).strip(),
                       citations=tuple(dict.fromkeys(int(n) for n in MARKER.findall(practice)))))
    return out
