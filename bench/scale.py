"""Query cost and quality as the index grows: one or more already-built indexes (e.g. 1k, 10k, 100k
chunks, each made by `assistant ingest` into its own folder), each measured in a fresh subprocess
so memory figures belong to that index and no cache carries over to the next.

Per index: chunks and documents; size on disk (allocated blocks, like du) in total and per part
(store.sqlite3*, chroma/, keyword/, other); RSS after imports, after opening the index and loading
the embedder, after the first (cold) question and at the end, and peak (VmHWM); the cold first
answer; then, after a warm-up over the first 3 questions, --repeat passes over every dev question,
each question going through these in turn (so a load spike on the shared machine hits all alike):
  ours      answer(index, q, k=5)  (retrieve + extractive answer; also retrieve() alone and the
            query embedding alone, to show where the time goes)
  baseline  plain LangChain Chroma.similarity_search(q, k=5) over the SAME Chroma collection with
            the same embedder (no folding, no BM25, no answer)
p50/p95/max over all questions x passes. Quality from the first pass, scored as bench/benchmark.py
does: doc recall@5, evidence hit@5/coverage@5 (both), refusals and verbatim citations (ours).
The machine is shared: the git commit, the date and the load average before/after go in the output.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/scale.py --index /tmp/s1k --index /tmp/s10k --index /tmp/s100k \
        [--dev ../shared/eval/qa_dev.jsonl] [--repeat 3] [--json bench/results/scale.json]

The embedding model/backend come from ASSISTANT_* settings as for `assistant ask`; an index whose
vectors were made by another model/backend is flagged (docs_not_embedded).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MB = 1024 * 1024


def mem() -> dict[str, float]:
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, val = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = round(int(val.split()[0]) / 1024, 1)  # kB -> MB
    return out


def disk(d: Path) -> dict[str, float]:
    parts = dict.fromkeys(("store", "chroma", "keyword", "other"), 0)
    for p in d.rglob("*"):
        if p.is_file() and not p.is_symlink():
            rel = p.relative_to(d).parts
            part = ("store" if rel[0].startswith("store.sqlite3") else
                    rel[0] if rel[0] in ("chroma", "keyword") and len(rel) > 1 else "other")
            parts[part] += p.stat().st_blocks * 512
    parts = {k: round(v / MB, 2) for k, v in parts.items()}
    return {"total": round(sum(parts.values()), 2), **parts}


def one(d: Path, dev: Path, repeat: int) -> dict:
    """Measure one index in this process (run as `scale.py --one DIR`)."""
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    from assistant.answer.answering import answer
    from assistant.answer.evaluation import Scores, load_items
    from assistant.answer.retrieval import Filters, allowed_docs, retrieve
    from assistant.core.chinese import fold
    from assistant.core.settings import Settings
    from assistant.storage.library import Index
    from bench.benchmark import pct

    imports_s = time.perf_counter() - t0
    rss_imports = mem()["VmRSS"]
    items = load_items(dev)
    t0 = time.perf_counter()
    index = Index.open(Settings.from_env().with_(index_dir=d))
    emb = index.embedder
    if emb is None:
        raise SystemExit(f"{d}: no embedding model ({index.dense_error})")
    index.refresh()
    open_s = time.perf_counter() - t0
    rss_open = mem()["VmRSS"]
    counts = index.store.chunk_counts()

    t0 = time.perf_counter()
    answer(index, items[0]["question"], k=5)  # cold: first Chroma query, first sentence scoring
    cold_ms = (time.perf_counter() - t0) * 1000
    rss_first = mem()["VmRSS"]

    # The baseline: plain LangChain similarity search on the product's own Chroma collection (a
    # langchain_chroma.Chroma: local, or on the server ASSISTANT_CHROMA_URL names).
    base = index.vectorstore

    DATED, BY_ORG = Filters(since="2012", until="2024-06-30"), Filters(orgs=("研究所", "党委"))
    admitted = {"dated": len(allowed_docs(index, DATED)), "by_org": len(allowed_docs(index, BY_ORG))}
    runs = {
        "ours": lambda q: answer(index, q, k=5),
        "retrieve": lambda q: retrieve(index, q, k=5),
        "embed": lambda q: emb.embed_query(fold(q)),
        "baseline": lambda q: base.similarity_search(q, k=5),
        # Filters that admit much of the library: a date range (pushed into Chroma as date bounds) and an
        # organisation word (resolved to its documents by SQL, then Chroma's doc_id $in and the BM25 mask).
        "dated": lambda q: answer(index, q, k=5, filters=DATED),
        "by_org": lambda q: answer(index, q, k=5, filters=BY_ORG),
    }
    for it in items[:3]:  # warm-up
        for run in runs.values():
            run(it["question"])
    lat = {name: [] for name in runs}
    ours_s, base_s = Scores(), Scores()
    answers = []  # what each question got, to compare runs (e.g. local Chroma against a server)
    for rep in range(repeat):
        for it in items:  # each question through every run in turn, so a load spike hits them alike
            for name, run in runs.items():
                t0 = time.perf_counter()
                res = run(it["question"])
                lat[name].append((time.perf_counter() - t0) * 1000)
                if rep or name not in ("ours", "baseline"):
                    continue
                if name == "baseline":
                    base_s.add_retrieval(it, [r.metadata["doc_id"] for r in res], [r.page_content for r in res])
                    continue
                answers.append({"answer": res.answer, "refused": res.refused,
                                "citations": [(c.doc_id, c.start, c.end) for c in res.citations],
                                "retrieved": [h.chunk.chunk_id for h in res.hits]})
                ours_s.add(it, res, index.store.text)
    m = mem()
    stats = {name: {"p50": round(pct(v, 50), 1), "p95": round(pct(v, 95), 1), "max": round(max(v), 1)}
             for name, v in lat.items()}
    stats["ours"]["cold"] = round(cold_ms, 1)
    ours_q = ours_s.summary()
    ours_q["refusal_accuracy"] = round((ours_s.refusal_ok + ours_s.answered_ok)
                                       / max(1, ours_s.refusal_total + ours_s.answerable), 4)
    base_q = {k: v for k, v in base_s.summary().items() if isinstance(v, float)}  # it neither refuses nor cites
    return {
        "index": str(d), "chroma": index.settings.chroma_url or "local", "answers": answers,
        "chunks": sum(counts.values()), "docs": len(counts), "model_id": index.model_id,
        "docs_not_embedded": len(index.store.not_embedded(index.model_id)),
        "vector_models": dict(index.store._all("SELECT dense, count(*) FROM docs GROUP BY dense")),
        "questions": len(items), "repeat": repeat, "disk_mb": disk(d),
        "rss_mb": {"imports": rss_imports, "open": rss_open, "after_first": rss_first, "end": m["VmRSS"],
                   "peak": m["VmHWM"]},
        "time_s": {"imports": round(imports_s, 2), "open": round(open_s, 2),
                   "embedder_load": round(getattr(emb, "load_seconds", 0.0), 2)},
        "latency_ms": stats, "filter_admits_docs": admitted,
        "ratio": {p: round(stats["ours"][p] / stats["baseline"][p], 2) for p in ("p50", "p95")},
        "quality": {"ours": ours_q, "baseline": base_q, "ours_misses": ours_s.misses, "baseline_misses": base_s.misses},
        "loadavg": {"before": [round(x, 2) for x in load0], "after": [round(x, 2) for x in os.getloadavg()]},
    }


def show(r: dict) -> None:
    dm, rss, t, lat = r["disk_mb"], r["rss_mb"], r["time_s"], r["latency_ms"]
    print(f"\n== {r['index']}: {r['chunks']:,} chunks, {r['docs']:,} docs, {r['model_id']}, "
          f"{r['questions']} questions x {r['repeat']}")
    if r["docs_not_embedded"]:
        print(f"!! {r['docs_not_embedded']} documents have no vectors from {r['model_id']} (documents by the model "
              f"their vectors came from: {r['vector_models']}): dense results are approximate or missing")
    print(f"disk MB   {dm['total']} (store {dm['store']}, chroma {dm['chroma']}, keyword {dm['keyword']}, "
          f"other {dm['other']})")
    print(f"RSS MB    imports {rss['imports']}, open {rss['open']}, after first question {rss['after_first']}, "
          f"end {rss['end']}, peak {rss['peak']}")
    print(f"time      open {t['open']}s (embedder load {t['embedder_load']}s), cold first answer "
          f"{lat['ours']['cold']} ms; load avg {r['loadavg']['before'][0]} -> {r['loadavg']['after'][0]}")
    print(f"{'':24}{'ours':>12}{'baseline':>12}{'ours/base':>11}")
    rows = [(f"{p} ms", lat["ours"][p], lat["baseline"][p]) for p in ("p50", "p95", "max")]
    rows += [(k, v, r["quality"]["baseline"].get(k)) for k, v in r["quality"]["ours"].items()]
    for key, a, b in rows:
        ratio = f"{a / b:.2f}" if isinstance(a, float) and b else ""
        print(f"{key:24}{str(a):>12}{str('-' if b is None else b):>12}{ratio:>11}")
    for name, what in (("retrieve", "retrieve() alone"), ("embed", "query embedding alone"),
                       ("dated", f"answer, date filter ({r['filter_admits_docs']['dated']} docs)"),
                       ("by_org", f"answer, org filter ({r['filter_admits_docs']['by_org']} docs)")):
        print(f"{what:34}{'p50 ' + str(lat[name]['p50']):>12}{'p95 ' + str(lat[name]['p95']):>12}")


def summary(results: list[dict]) -> None:
    cols = ["chunks", "docs", "disk MB", "RSS MB", "peak MB", "ours p50", "ours p95", "base p50", "base p95",
            "ratio p95", "recall@5", "hit@5", "base rec", "base hit", "refuse acc"]
    print("\n== summary (latency ms; recall/hit = doc recall@5 / evidence hit@5; base = plain LangChain)")
    w = max(len(Path(r["index"]).name) for r in results) + 1
    print(f"{'index':<{w}}" + " ".join(f"{c:>10}" for c in cols))
    for r in results:
        if "error" in r:
            print(f"{r['index']}: {r['error']}")
            continue
        lat, q = r["latency_ms"], r["quality"]
        row = [f"{r['chunks']:,}", f"{r['docs']:,}", r["disk_mb"]["total"], r["rss_mb"]["end"], r["rss_mb"]["peak"],
               lat["ours"]["p50"], lat["ours"]["p95"], lat["baseline"]["p50"], lat["baseline"]["p95"],
               r["ratio"]["p95"], q["ours"]["doc_recall@5"], q["ours"]["evidence_hit@5"],
               q["baseline"]["doc_recall@5"], q["baseline"]["evidence_hit@5"], q["ours"]["refusal_accuracy"]]
        print(f"{Path(r['index']).name:<{w}}" + " ".join(f"{str(v):>10}" for v in row))


def git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True).stdout.strip()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", action="append", default=[], help="an index folder (repeatable)")
    ap.add_argument("--dev", default=str(ROOT.parent / "shared" / "eval" / "qa_dev.jsonl"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", help="write all results here")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:  # child: anything else printed goes to stderr, the JSON alone to stdout
        out = os.fdopen(os.dup(1), "w")
        os.dup2(2, 1)
        out.write(json.dumps(one(Path(args.one), Path(args.dev), args.repeat), ensure_ascii=False))
        out.close()
        return 0
    if not args.index:
        ap.error("give at least one --index DIR")
    meta = {"commit": git("rev-parse", "--short", "HEAD"),
            "dirty": bool(git("status", "--porcelain", "--", "assistant")),
            "date": datetime.datetime.now().isoformat(timespec="seconds"), "dev": args.dev, "repeat": args.repeat,
            "loadavg_before": [round(x, 2) for x in os.getloadavg()]}
    print(f"commit {meta['commit']}{' (assistant/ modified)' if meta['dirty'] else ''}, {meta['date']}, "
          f"load avg {meta['loadavg_before']}")
    env = {**os.environ, "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1")}
    results = []
    for d in args.index:
        p = subprocess.run([sys.executable, __file__, "--one", str(Path(d).resolve()), "--dev", args.dev,
                            "--repeat", str(args.repeat)], stdout=subprocess.PIPE, text=True, env=env)
        if p.returncode:
            results.append({"index": d, "error": f"exit {p.returncode} (see stderr above)"})
            continue
        results.append(json.loads(p.stdout))
        show(results[-1])
    meta["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    summary(results)
    print(f"\nload avg before {meta['loadavg_before']}, after {meta['loadavg_after']}; ours = answer() "
          f"(retrieve + extractive answer), baseline = similarity_search on the same collection; warm, this machine")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({**meta, "results": results}, ensure_ascii=False, indent=1) + "\n",
                                   encoding="utf-8")
        print(f"wrote {args.json}")
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
