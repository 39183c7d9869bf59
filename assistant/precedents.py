"""Precedent search (查找先例做法), extractive: every report that describes a matching practice, not
just the top five chunks. Retrieves broadly, keeps the sentences above a relevance cut-off, groups
them by organisation and lists 单位 | 时间 | 做法 | 出处, ordered by date."""

from __future__ import annotations

from .answering import SUPPORT_THRESHOLD, Scored, cite, prepare
from .drafting import _similar
from .indexing import Index, date_ord
from .modes import PRECEDENTS
from .retrieval import Filters
from .schema import Answer, Row

PER_ORG = 2  # practices listed per organisation at most
CUT = 0.5  # relative relevance cut-off: a sentence must reach half the best support


def find_precedents(index: Index, question: str, k: int = PRECEDENTS.breadth, filters: Filters = Filters()) -> Answer:
    q, scored, result = prepare(index, question, k, filters, "precedents")
    if result.reason:
        return result
    best = max(s.support for s in scored)
    relevant = sorted((s for s in scored if s.support >= max(SUPPORT_THRESHOLD, CUT * best)),
                      key=lambda s: (-s.support, -s.hit.score))
    by_org: dict[str, list[Scored]] = {}
    for s in relevant:
        org = s.hit.meta.org or s.hit.meta.title
        picked = by_org.setdefault(org, [])
        if len(picked) < PER_ORG and not any(_similar(s.text, p.text) for p in picked):
            picked.append(s)
    rows = [(org, s) for org, ss in by_org.items() for s in ss]
    rows.sort(key=lambda r: (date_ord(r[1].hit.meta.date) or 99999999, r[0], r[1].start))
    result.citations = cite([s for _, s in rows])
    for (org, s), c in zip(rows, result.citations):
        result.rows.append(Row(org=org, date=s.hit.meta.date, practice=s.text, citations=(c.n,)))
    lines = ["| 单位 | 时间 | 做法 | 出处 |", "|---|---|---|---|"]
    for r, c in zip(result.rows, result.citations):
        practice = r.practice.replace("|", "｜")
        lines.append(f"| {r.org} | {r.date or '日期不详'} | {practice}[{c.n}] | 《{c.title}》 |")
    result.answer = "\n".join(lines)
    result.refused = False
    return result
