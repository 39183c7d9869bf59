"""Precedent search (查找先例做法), extractive: every report that describes a matching practice, not
just the top five chunks. Retrieves broadly, keeps the sentences above a relevance cut-off, groups
them by organisation and lists 单位 | 时间 | 做法 | 出处, ordered by date."""

from __future__ import annotations

from ..core.schema import Answer, Row
from ..storage.library import Index, date_ord
from .answering import SUPPORT_THRESHOLD, prepare
from .citing import cite_all
from .drafting import similar
from .retrieval import Filters
from .support import Scored

# bench/thresholds.py (precedents): 1 → 107; 3 → 106
PER_ORG = 2  # practices listed per organisation at most
# bench/thresholds.py (precedents): 0.4 → 38; 0.6 → 33
CUT = 0.5  # relative relevance cut-off: a sentence must reach half the best support
# Precedent search reads widely (two chunks a report, up to 300, and every chunk the keyword ranking scores
# near its best): every unit with the practice is listed.
BREADTH = 300
PER_DOC = 2


def find_precedents(index: Index, question: str, k: int = BREADTH, filters: Filters = Filters()) -> Answer:
    q, scored, result = prepare(index, question, k, filters, "precedents", max_per_doc=PER_DOC,
                                exhaustive=True)
    if result.reason:
        return result
    best = max(s.support for s in scored)
    relevant = sorted((s for s in scored if s.support >= max(SUPPORT_THRESHOLD, CUT * best)),
                      key=lambda s: (-s.support, -s.hit.score))
    by_org: dict[str, list[Scored]] = {}
    for s in relevant:
        org = s.hit.meta.org or s.hit.meta.title
        picked = by_org.setdefault(org, [])
        if len(picked) < PER_ORG and not any(similar(s.text, p.text) for p in picked):
            picked.append(s)
    rows = [(org, s) for org, ss in by_org.items() for s in ss]
    rows.sort(key=lambda r: (date_ord(r[1].hit.meta.date) or 99999999, r[0], r[1].start))
    result.citations = cite_all([s for _, s in rows])
    for (org, s), c in zip(rows, result.citations):
        result.rows.append(Row(org=org, date=s.hit.meta.date, practice=s.text, citations=(c.n,)))
    lines = ["| 单位 | 时间 | 做法 | 出处 |", "|---|---|---|---|"]
    for r, c in zip(result.rows, result.citations):
        practice = r.practice.replace("|", "｜")
        lines.append(f"| {r.org} | {r.date or '日期不详'} | {practice}[{c.n}] | 《{c.title}》 |")
    result.answer = "\n".join(lines)
    result.refused = False
    return result
