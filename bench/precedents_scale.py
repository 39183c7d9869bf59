"""Precedent search on a large index (how many units it lists, how long it takes) and what a local
reader pays to reopen Chroma after another process's commit (a Chroma server is never reopened).

    HF_HUB_OFFLINE=1 .venv/bin/python bench/precedents_scale.py /tmp/s100k [question …]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.answer.jobs import PRECEDENTS  # noqa: E402
from assistant.answer.precedents import find_precedents  # noqa: E402
from assistant.core.settings import Settings  # noqa: E402
from assistant.storage.library import Index  # noqa: E402

QUESTIONS = ["有哪些单位组织过党章党规或党建知识竞赛、答题活动？各是怎么搞的？", "哪些单位开展了数字化转型工作？怎么做的？",
             "有哪些单位推进了垃圾分类？做法是什么？"]


def main() -> int:
    index = Index.open(Settings.from_env().with_(index_dir=Path(sys.argv[1])))
    index.refresh()
    if index.vectorstore is None:
        raise SystemExit(f"no dense index: {index.dense_error}")
    for q in sys.argv[2:] or QUESTIONS:
        find_precedents(index, q, k=PRECEDENTS.breadth)  # cold: texts read and folded
        t0 = time.perf_counter()
        a = find_precedents(index, q, k=PRECEDENTS.breadth)
        ms = (time.perf_counter() - t0) * 1000
        print(f"{ms:6.0f} ms warm, {len(a.hits)} chunks read, {len({r.org for r in a.rows})} units, "
              f"{len(a.rows)} rows: {q}")
    if not index.remote:
        t0 = time.perf_counter()
        index.vectors.open(index.embedder, fresh=True)
        index.vectorstore.similarity_search("党支部", k=5)
        print(f"local Chroma reopened (as after another process's commit) + one query: {time.perf_counter() - t0:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
