"""How exact Chroma's nearest-neighbour search is, at Chroma's default ef_search (100) and at ours
(indexing.EF_SEARCH), on a built index.

Queries: the dev questions and the near-miss and holdout questions (tests/data), embedded once as
`assistant ask` embeds them. Exact neighbours: cosine over every vector of the collection (numpy).
For each ef the index's chroma/ folder is copied and the setting stored in the copy; then three
fresh processes each open the copy and search every query for its top n (n = 30, the pool a
question's dense ranking reads). Chroma completes its graph from the not-yet-persisted log when it
loads, in parallel, so processes can search slightly different graphs: the figures say how often
the three agree, besides recall against exact search and the search time. (Opening the index to
embed the questions raises its own stored setting to EF_SEARCH, as any open by the product does;
the copies are set to each ef measured.)

    HF_HUB_OFFLINE=1 .venv/bin/python bench/ann_recall.py --index /tmp/s10k [--index /tmp/s100k] [--n 30]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PROCESSES = 3


def questions() -> list[str]:
    from assistant.answer.evaluation import load_items

    dev = ROOT.parent / "shared" / "eval" / "qa_dev.jsonl"
    items = load_items(dev) if dev.exists() else []
    for name in ("near_miss.jsonl", "holdout.jsonl"):
        items += load_items(ROOT / "tests" / "data" / name)
    return list(dict.fromkeys(it["question"] for it in items))


def worker(chroma_dir: str, vectors: str, n: int) -> None:
    """One process: open the copy, search every query, print ids and times as JSON."""
    import chromadb

    from assistant.storage.dense import COLLECTION

    client = chromadb.PersistentClient(path=chroma_dir, settings=chromadb.Settings(anonymized_telemetry=False))
    col = client.get_collection(COLLECTION)
    qv = np.load(vectors)
    col.query(query_embeddings=[qv[0].tolist()], n_results=n)  # load the graph
    ids, ms = [], []
    for v in qv:
        t0 = time.perf_counter()
        r = col.query(query_embeddings=[v.tolist()], n_results=n, include=[])
        ms.append((time.perf_counter() - t0) * 1000)
        ids.append(r["ids"][0])
    print(json.dumps({"ids": ids, "ms": ms}))


def exact(chroma_dir: Path, qv: np.ndarray, n: int) -> list[list[str]]:
    import chromadb

    from assistant.storage.dense import COLLECTION

    client = chromadb.PersistentClient(path=str(chroma_dir), settings=chromadb.Settings(anonymized_telemetry=False))
    col = client.get_collection(COLLECTION)
    ids, vecs, offset = [], [], 0
    while True:
        got = col.get(include=["embeddings"], limit=5000, offset=offset)
        if not got["ids"]:
            break
        ids += got["ids"]
        vecs.append(np.asarray(got["embeddings"], dtype=np.float32))
        offset += len(got["ids"])
    m = np.vstack(vecs)
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    q = qv / np.linalg.norm(qv, axis=1, keepdims=True)
    sims = q @ m.T
    top = np.argsort(-sims, axis=1)[:, :n]
    return [[ids[i] for i in row] for row in top]


def measure(index_dir: Path, n: int, efs: list[int]) -> dict:
    from assistant.core.chinese import fold
    from assistant.core.settings import Settings
    from assistant.storage.dense import EF_SEARCH
    from assistant.storage.library import Index

    index = Index.open(Settings.from_env().with_(index_dir=index_dir))
    qs = questions()
    qv = np.asarray([index.embedder.embed_query(fold(q)) for q in qs], dtype=np.float32)
    chunks = index.store.chunk_total()
    index.close()
    out = {"index": str(index_dir), "chunks": chunks, "queries": len(qs), "n": n}
    with tempfile.TemporaryDirectory(prefix="ann-") as tmp:
        vec_file = Path(tmp) / "q.npy"
        np.save(vec_file, qv)
        truth = exact(index_dir / "chroma", qv, n)
        for ef in efs or [100, EF_SEARCH]:
            import chromadb

            from assistant.storage.dense import COLLECTION

            copy = Path(tmp) / f"chroma-ef{ef}"
            shutil.copytree(index_dir / "chroma", copy)
            client = chromadb.PersistentClient(path=str(copy), settings=chromadb.Settings(anonymized_telemetry=False))
            client.get_collection(COLLECTION).modify(configuration={"hnsw": {"ef_search": ef}})
            del client
            runs = []
            for _ in range(PROCESSES):
                res = subprocess.run([sys.executable, __file__, "--worker", str(copy), str(vec_file), str(n)],
                                     capture_output=True, text=True, check=True)
                runs.append(json.loads(res.stdout.strip().splitlines()[-1]))
            recall = [len(set(got) & set(want)) / max(1, len(want)) for run in runs for got, want in zip(run["ids"], truth)]
            agree = sum(all(set(r["ids"][i]) == set(runs[0]["ids"][i]) for r in runs) for i in range(len(qs)))
            ms = sorted(x for r in runs for x in r["ms"])
            out[f"ef{ef}"] = {
                "recall_mean": round(statistics.mean(recall), 4),
                "recall_min": round(min(recall), 4),
                "queries_exact": sum(1 for r in recall if r == 1.0),
                "queries_runs": len(recall),
                "processes_agree": f"{agree}/{len(qs)}",
                "search_ms_p50": round(ms[len(ms) // 2], 2),
                "search_ms_p95": round(ms[int(len(ms) * 0.95)], 2),
            }
            shutil.rmtree(copy)
    return out


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", action="append", required=True, type=Path)
    ap.add_argument("--n", type=int, default=30)
    ap.add_argument("--ef", type=int, action="append", help="ef_search values to compare (default: 100 and EF_SEARCH)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    results = []
    for d in args.index:
        r = measure(d, args.n, args.ef)
        results.append(r)
        print(json.dumps(r, ensure_ascii=False, indent=1), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
