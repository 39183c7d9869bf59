"""Speed and quality, ours against plain LangChain, in one run (a benchmark, not a timed test).

Ours: cold ingest of seeds/ into a fresh index (model load timed separately), then warm answer
latency (retrieve + extractive answer) over the dev questions.
Baseline: RecursiveCharacterTextSplitter(500, 50) over the raw files + Chroma similarity_search
with the same sentence-transformers model through langchain-huggingface.
Both: doc recall@5, evidence hit@5, evidence coverage@5 on the dev set.

    .venv/bin/python bench/benchmark.py [--dev FILE] [--haystack ../shared/corpora/govreports.jsonl]

--haystack also ingests that corpus (87 long reports) beside the seeds and repeats the
measurements for both systems at that scale.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.answer.answering import answer  # noqa: E402
from assistant.answer.evaluation import Scores, load_items  # noqa: E402
from assistant.core.settings import Settings  # noqa: E402
from assistant.storage.embedding import load_embedder  # noqa: E402
from assistant.storage.library import Index  # noqa: E402


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def write_haystack(path: Path, dest: Path) -> int:
    n = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        (dest / f"gov_{d['id']}.txt").write_text(f"{d['title']}\n时间:{d.get('date', '')}\n{d['text']}", encoding="utf-8")
        n += 1
    return n


def ours(items, corpus_dirs, model_spec):
    t0 = time.perf_counter()
    emb = load_embedder(model_spec)
    load_s = time.perf_counter() - t0
    index = Index.open(Settings(index_dir=Path(tempfile.mkdtemp(prefix="bench-ours-"))), embedder=emb, create=True)
    t0 = time.perf_counter()
    report = index.ingest(corpus_dirs)
    ingest_s = time.perf_counter() - t0
    for it in items[:3]:  # warm-up
        answer(index, it["question"])
    lat, scores = [], Scores()
    for it in items:
        t0 = time.perf_counter()
        a = answer(index, it["question"], k=5)
        lat.append(time.perf_counter() - t0)
        scores.add(it, a, index.store.text)
    return {"model_load_s": round(load_s, 2), "ingest_s": round(ingest_s, 2), "chunks": report.total_chunks,
            "p50_ms": round(pct(lat, 50) * 1000, 1), "p95_ms": round(pct(lat, 95) * 1000, 1), **scores.summary()}


def baseline(items, corpus_dirs, model_name):
    import chromadb
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    t0 = time.perf_counter()
    emb = HuggingFaceEmbeddings(model_name=model_name, model_kwargs={"device": "cpu"},
                                encode_kwargs={"normalize_embeddings": True})
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    docs = [Document(page_content=p.read_text(encoding="utf-8"), metadata={"doc_id": p.name})
            for d in corpus_dirs for p in sorted(d.glob("*.txt"))]
    splits = RecursiveCharacterTextSplitter(chunk_size=500, chunk_overlap=50).split_documents(docs)
    client = chromadb.PersistentClient(path=tempfile.mkdtemp(prefix="bench-lc-"),
                                       settings=chromadb.Settings(anonymized_telemetry=False))
    store = Chroma.from_documents(splits, emb, client=client, collection_name="baseline")
    ingest_s = time.perf_counter() - t0
    for it in items[:3]:
        store.similarity_search(it["question"], k=5)
    lat, scores = [], Scores()
    for it in items:
        t0 = time.perf_counter()
        res = store.similarity_search(it["question"], k=5)
        lat.append(time.perf_counter() - t0)
        scores.add_retrieval(it, [r.metadata["doc_id"] for r in res], [r.page_content for r in res])
    summary = scores.summary()
    for key in ("unanswerable_refused", "answerable_answered", "citations_verbatim"):
        summary.pop(key)  # the baseline neither refuses nor cites
    return {"model_load_s": round(load_s, 2), "ingest_s": round(ingest_s, 2), "chunks": len(splits),
            "p50_ms": round(pct(lat, 50) * 1000, 1), "p95_ms": round(pct(lat, 95) * 1000, 1), **summary}


def compare(title, a, b):
    print(f"\n== {title}")
    print(f"{'':24}{'ours':>14}{'plain LangChain':>18}{'ours/baseline':>16}")
    for key in a:
        if key not in b:
            print(f"{key:24}{str(a[key]):>14}{'-':>18}")
            continue
        ratio = f"{a[key] / b[key]:.2f}" if isinstance(a[key], (int, float)) and b[key] else ""
        print(f"{key:24}{str(a[key]):>14}{str(b[key]):>18}{ratio:>16}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dev", default=str(ROOT.parent / "shared" / "eval" / "qa_dev.jsonl"))
    ap.add_argument("--haystack", help="also measure with this JSONL corpus mixed in")
    args = ap.parse_args()
    items = load_items(Path(args.dev))
    settings = Settings.from_env()
    t0 = time.perf_counter()
    import langchain_chroma  # noqa: F401 - imports are paid once, before either system is timed
    import sentence_transformers  # noqa: F401

    print(f"imports (torch, sentence-transformers, chromadb): {time.perf_counter() - t0:.2f}s, not counted below")
    seeds = ROOT / "seeds"
    a = ours(items, [seeds], settings.model)
    b = baseline(items, [seeds], settings.model.name)
    compare(f"seeds ({len(items)} dev questions)", a, b)
    if args.haystack:
        hay = Path(tempfile.mkdtemp(prefix="haystack-"))
        n = write_haystack(Path(args.haystack), hay)
        a = ours(items, [seeds, hay], settings.model)
        b = baseline(items, [seeds, hay], settings.model.name)
        compare(f"seeds + {n} haystack reports", a, b)
    print("\nlatency: one answer = retrieve + extractive answer (ours) / similarity_search (baseline), warm, "
          "this machine; ingest excludes model load")
    return 0


if __name__ == "__main__":
    sys.exit(main())
