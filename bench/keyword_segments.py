"""The keyword index at library scale: what a commit's segment costs the writer, what a reader that
starts in the middle of a long ingest pays to load every segment saved so far, a search over them,
and, as the baseline of the same run, one rebuild of the whole index (what every keyword save cost
before segments).

Chunks are the sentences of generated news passages (bench/news.py), cut into five-sentence chunks and
tokenised as ingest does, repeated under new ids up to N; commits of about BATCH_CHUNKS chunks, whole
documents.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/keyword_segments.py --chunks 92000
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from news import passage  # noqa: E402

from assistant.core.chinese import fold, words  # noqa: E402
from assistant.storage.keyword import KeywordIndex  # noqa: E402
from assistant.storage.library import BATCH_CHUNKS  # noqa: E402


def chunks(n: int, passages: int = 1500) -> tuple[list[str], list[str], list[list[str]]]:
    r = random.Random(20)
    ids, docs, ws = [], [], []
    for p in range(passages):
        sentences = [s for s in re.split(r"(?<=[。！？；])", passage(r)[1]) if s.strip()]
        for c in range(0, len(sentences), 5):
            ids.append(f"p{p}#{c}")
            docs.append(f"p{p}")
            ws.append(words(fold("".join(sentences[c:c + 5]))))
    out: tuple[list[str], list[str], list[list[str]]] = ([], [], [])
    copy = 0
    while len(out[0]) < n:
        out[0].extend(f"{i}~{copy}" for i in ids)
        out[1].extend(f"{d}~{copy}" for d in docs)
        out[2].extend(ws)
        copy += 1
    return out[0][:n], out[1][:n], out[2][:n]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chunks", type=int, default=92000)
    args = ap.parse_args()
    ids, docs, ws = chunks(args.chunks)
    work = Path(tempfile.mkdtemp(prefix="keyword-segments-"))
    index = KeywordIndex(work / "kw")
    index.rebuild([], [], [])
    per_commit, i = [], 0
    while i < len(ids):
        j = min(len(ids), i + BATCH_CHUNKS)
        while j < len(ids) and docs[j] == docs[j - 1]:
            j += 1
        t0 = time.perf_counter()
        index = index.with_segment(ids[i:j], docs[i:j], ws[i:j])
        per_commit.append(time.perf_counter() - t0)
        i = j
    t0 = time.perf_counter()
    reader = KeywordIndex(work / "kw")
    assert reader.load() and reader.fp == index.fp
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for q in ("上海 乒乓球 决赛", "人工智能 项目", "地铁 工程 公里"):
        reader.search(words(q), 30)
    search_ms = (time.perf_counter() - t0) / 3 * 1000
    t0 = time.perf_counter()
    KeywordIndex(work / "rebuilt").rebuild(ids, docs, ws, save=True)
    rebuild_s = time.perf_counter() - t0
    tenth = max(1, len(per_commit) // 10)
    result = {"chunks": len(ids), "segments": len(per_commit),
              "segment_ms_first_tenth": round(1000 * sum(per_commit[:tenth]) / tenth, 1),
              "segment_ms_last_tenth": round(1000 * sum(per_commit[-tenth:]) / tenth, 1),
              "segments_total_s": round(sum(per_commit), 1), "reader_load_all_segments_s": round(load_s, 1),
              "search_ms": round(search_ms, 1), "one_rebuild_s": round(rebuild_s, 1)}
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
