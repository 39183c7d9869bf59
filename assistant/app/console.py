"""The terminal side of an ingest: a progress bar per stage, and the report as JSON (what
`ingest --progress-json` prints last; the web page's ingest jobs read it)."""

from __future__ import annotations

import sys

from tqdm import tqdm

from ..ingest.loading import display


def progress_bar():
    """A tqdm bar per ingest stage on stderr (used by `ingest` and by `serve` on first start)."""
    bars = {}

    def update(stage: str, done: int, total: int) -> None:
        label = {"read": "读取文档", "ocr": "文字识别（页）", "embed": "向量化"}.get(stage, stage)
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=label, unit={"embed": "块", "ocr": "页"}.get(stage, "个"), file=sys.stderr,
                                     leave=False, disable=None)
        bar.update(done - bar.n)

    def close():
        for b in bars.values():
            b.close()

    return update, close


def report_dict(report) -> dict:
    """An ingest report as JSON (what `ingest --progress-json` prints last; the web page reads it)."""
    return {
        "added": report.added, "updated": report.updated, "unchanged": report.unchanged,
        "removed": report.removed, "finished": report.finished, "incomplete": report.incomplete,
        "skipped": [{"path": display(s.path), "name": display(s.path.name), "reason": s.reason, "kind": s.kind,
                     "detail": s.detail} for s in report.skipped],
        "duplicates": [{"path": display(p), "name": display(p.name), "of": d} for p, d in report.duplicates],
        "renamed": [{"path": display(p), "name": display(p.name), "doc_id": d, "taken_by": t}
                    for p, d, t in report.renamed],
        "moved": [{"doc_id": d, "path": display(p)} for d, p in report.moved],
        "chunks_added": report.chunks_added, "chunks_removed": report.chunks_removed,
        "total_docs": report.total_docs, "total_chunks": report.total_chunks, "dense": report.dense,
        "seconds": round(report.seconds, 3), "embed_seconds": round(report.embed_seconds, 3),
    }
