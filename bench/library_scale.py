"""Ingest at library scale: many short news-like passages (bench/news.py), one file each.

    blocks     `assistant ingest --progress-json <folder>` of N passages into a fresh index: the seconds each
               block of B files took (flat from the first block to the last is the aim), total time, chunks/s,
               the encoder's share, peak memory, and the files skipped as empty (five of them shown). With
               --readers, a reader process asks questions throughout the ingest and again once it is over: its
               answer latency during the ingest against none.
    langchain  the same N files ingested by us and by plain LangChain (RecursiveCharacterTextSplitter(500, 50)
               + Chroma, the same model through langchain-huggingface), in the same run: time, chunks/s, the
               ratio, and each one's encoder share (its texts embedded again alone, after the run); our seconds per
               block of files too.

    With --chroma-alone, the baseline of the same run: Chroma alone writing the ingest's vectors again, timed
    per block (how much of the growth from block to block is Chroma's HNSW insertion).

    HF_HUB_OFFLINE=1 .venv/bin/python bench/library_scale.py blocks --docs 20000 --block 1000 --readers --chroma-alone
    HF_HUB_OFFLINE=1 .venv/bin/python bench/library_scale.py langchain --docs 5000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import chromadb  # noqa: E402
from news import generate  # noqa: E402

from assistant.storage.dense import HNSW  # noqa: E402
from assistant.storage.library import BATCH_CHUNKS  # noqa: E402

MODEL = "intfloat/multilingual-e5-small"
QUESTIONS = ["上海乒乓球队在决赛中以几比几战胜了对手？", "杭州市今年新建了多少个人工智能项目？",
             "南京地铁工程全长多少公里？", "本届锦标赛共有多少名运动员参赛？", "哪个城市举行了集成电路产业对接会？"]


def _env(index: Path) -> dict:
    return dict(os.environ, ASSISTANT_INDEX_DIR=str(index), HF_HUB_OFFLINE="1")


def _rss_of(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


def ingest(folder: Path, index: Path, block: int) -> dict:
    """Our CLI ingest of ``folder``: per-block seconds (by files read), the final report, peak RSS."""
    cmd = [sys.executable, "-m", "assistant", "ingest", "--progress-json", str(folder)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=_env(index), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            cwd=ROOT)
    marks, report, rss = [], None, []
    for line in proc.stdout:
        msg = json.loads(line)
        if msg.get("stage") == "read" and not marks:  # the first block starts with the first file, not the process
            marks.append(time.perf_counter() - t0)
        if msg.get("stage") == "read" and msg["done"] % block == 0 and msg["done"] // block == len(marks):
            marks.append(time.perf_counter() - t0)
            rss.append(_rss_of(proc.pid))
        elif "report" in msg:
            report = msg["report"]
    _, status, usage = os.wait4(proc.pid, 0)
    total = time.perf_counter() - t0
    blocks = [round(b - a, 1) for a, b in zip(marks, marks[1:])]
    # After the last file is read: its batch's commit and the end of the ingest (BM25 rebuilt when it grew).
    return {"seconds": round(total, 1), "startup_s": round(marks[0], 1), "blocks": blocks,
            "after_last_read_s": round(total - marks[-1], 1),
            "rss_mb_at_blocks": rss,
            "peak_rss_mb": usage.ru_maxrss // 1024, "rc": os.waitstatus_to_exitcode(status), "report": report}


READER = """
import json, sys, time
from pathlib import Path
from assistant.core.settings import Settings
from assistant.storage.library import Index
from assistant.answer.pipeline import Request, answer
index = Index.open(Settings.from_env(), create=True)
questions, out, stop = json.loads(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
n = 0
with out.open("a") as f:
    while not stop.exists():
        q = questions[n % len(questions)]
        t0 = time.perf_counter()
        a = answer(index, Request(question=q), log=False)
        f.write(json.dumps({"t": time.time(), "s": time.perf_counter() - t0, "refused": a.refused}) + "\\n")
        f.flush()
        n += 1
        time.sleep(0.5)
"""


def _reader(index: Path, out: Path, stop: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", READER, json.dumps(QUESTIONS, ensure_ascii=False), str(out), str(stop)],
                            env=_env(index), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _latency(rows: list[dict]) -> dict:
    s = sorted(r["s"] for r in rows)
    if not s:
        return {}
    return {"questions": len(s), "p50_ms": round(1000 * statistics.median(s), 1),
            "p95_ms": round(1000 * s[min(len(s) - 1, int(0.95 * len(s)))], 1), "max_ms": round(1000 * s[-1], 1)}


def chroma_blocks(index: Path, path: Path, block: int) -> dict:
    """The baseline of the same run: the ingest's own vectors (with their texts and metadata) written again
    into a fresh Chroma collection of the same configuration, file by file in the ingest's order, in
    batches of BATCH_CHUNKS, timed per block of files. What Chroma's HNSW insertion alone costs as it grows."""
    src = chromadb.PersistentClient(path=str(index / "chroma"))
    col = src.list_collections()[0]
    rows: dict[str, list] = {}
    total = col.count()
    for off in range(0, total, 5000):
        got = col.get(limit=5000, offset=off, include=["embeddings", "documents", "metadatas"])
        for cid, vec, text, meta in zip(got["ids"], got["embeddings"], got["documents"], got["metadatas"]):
            rows.setdefault(meta["doc_id"], []).append((cid, list(vec), text, meta))
    dst = chromadb.PersistentClient(path=str(path)).create_collection(
        "chunks", metadata={"hnsw:space": "cosine"}, configuration=HNSW)
    secs, pending, t_block = [], [], 0.0
    docs = sorted(rows)
    for n, doc in enumerate(docs, 1):
        pending.extend(rows[doc])
        if len(pending) >= BATCH_CHUNKS or n == len(docs) or n % block == 0:
            t0 = time.perf_counter()
            dst.upsert(ids=[r[0] for r in pending], embeddings=[r[1] for r in pending],
                       documents=[r[2] for r in pending], metadatas=[r[3] for r in pending])
            t_block += time.perf_counter() - t0
            pending = []
        if n % block == 0:
            secs.append(round(t_block, 2))
            t_block = 0.0
    return {"blocks": secs, "last5_over_first5": round(statistics.mean(secs[-5:]) / statistics.mean(secs[:5]), 3)
            if len(secs) >= 10 else None}


def blocks(args) -> dict:
    work = Path(tempfile.mkdtemp(prefix="library-scale-"))
    folder, index = work / "news", work / "index"
    kinds = generate(args.docs, folder)
    print("generated", kinds, flush=True)
    reader = None
    if args.readers:  # the reader opens the (empty) index first; it sees the ingest's commits as they land
        subprocess.run([sys.executable, "-m", "assistant", "docs"], env=_env(index), cwd=ROOT, capture_output=True)
        lat, stop = work / "latency.jsonl", work / "stop"
        reader = _reader(index, lat, stop)
        time.sleep(args.warmup)
    t_start = time.time()
    result = ingest(folder, index, args.block)
    t_end = time.time()
    chroma_alone = None
    if reader is not None:
        time.sleep(args.after)  # the same reader, the same index, no ingest
        stop.touch()
        result["reader_rc"] = reader.wait(timeout=120)  # -11: it died of a segmentation fault
        rows = [json.loads(line) for line in lat.read_text().splitlines() if line.strip()]
        during = [r for r in rows if t_start <= r["t"] <= t_end]
        after = [r for r in rows if r["t"] > t_end + 2]
        result["reader_during_ingest"] = _latency(during)
        result["reader_no_ingest"] = _latency(after)
    if args.chroma_alone:
        chroma_alone = chroma_blocks(index, work / "chroma-alone", args.block)
    rep = result.pop("report") or {}
    b = result["blocks"]
    empty = [s for s in rep.get("skipped", []) if s["kind"] == "no_text"]
    result.update({
        "docs": args.docs, "kinds": kinds, "added": len(rep.get("added", [])), "chunks": rep.get("total_chunks"),
        "chunks_per_s": round((rep.get("total_chunks") or 0) / result["seconds"], 1),
        "embed_share": round(rep.get("embed_seconds", 0) / max(rep.get("seconds", 1), 1e-9), 3),
        "last_block_over_first": round(b[-1] / b[0], 3) if len(b) > 1 else None,
        "last5_over_first5": round(statistics.mean(b[-5:]) / statistics.mean(b[:5]), 3) if len(b) >= 10 else None,
        "max_block_over_min": round(max(b) / min(b), 3) if b else None,
        "chroma_alone": chroma_alone,
        "skipped_empty": len(empty), "skipped_other": len(rep.get("skipped", [])) - len(empty),
        "empty_examples": [{"name": s["name"], "text": (folder / s["name"]).read_text(encoding="utf-8")[:120]}
                           for s in empty[:5]],
    })
    print(json.dumps(result, ensure_ascii=False, indent=1), flush=True)
    return result


LANGCHAIN = """
import json, sys, time, tempfile
from pathlib import Path
import chromadb
from langchain_chroma import Chroma
from langchain_core.documents import Document
from langchain_huggingface import HuggingFaceEmbeddings
from langchain_text_splitters import RecursiveCharacterTextSplitter
emb = HuggingFaceEmbeddings(model_name=sys.argv[2], model_kwargs={"device": "cpu"},
                            encode_kwargs={"normalize_embeddings": True})
emb.embed_documents(["预热"])
t0 = time.perf_counter()
docs = [Document(page_content=p.read_text(encoding="utf-8"), metadata={"source": p.name})
        for p in sorted(Path(sys.argv[1]).iterdir())]
splits = RecursiveCharacterTextSplitter(chunk_size=500, chunk_overlap=50).split_documents(docs)
client = chromadb.PersistentClient(path=tempfile.mkdtemp(prefix="bench-lc-"),
                                   settings=chromadb.Settings(anonymized_telemetry=False))
Chroma.from_documents(splits, emb, client=client, collection_name="baseline")
total = time.perf_counter() - t0
t0 = time.perf_counter()
emb.embed_documents([d.page_content for d in splits])
print(json.dumps({"seconds": round(total, 1), "chunks": len(splits), "encoder_alone_s": round(time.perf_counter() - t0, 1)}))
"""


def langchain(args) -> dict:
    work = Path(tempfile.mkdtemp(prefix="library-lc-"))
    folder = work / "news"
    generate(args.docs, folder)
    out = {}
    for name in ("ours", "langchain") if not args.langchain_first else ("langchain", "ours"):
        if name == "ours":
            subprocess.run([sys.executable, "-m", "assistant", "docs"], env=_env(work / "index"), cwd=ROOT,
                           capture_output=True)  # the index made and the model cached: not timed
            r = ingest(folder, work / "index", args.block)
            rep = r["report"]
            out[name] = {"seconds": r["seconds"], "chunks": rep["total_chunks"], "peak_rss_mb": r["peak_rss_mb"],
                         "embed_seconds": rep["embed_seconds"], "blocks": r["blocks"]}
        else:
            proc = subprocess.run([sys.executable, "-c", LANGCHAIN, str(folder), MODEL], env=_env(work / "lc"),
                                  cwd=ROOT, capture_output=True, text=True)
            out[name] = json.loads(proc.stdout.strip().splitlines()[-1])
        print(name, out[name], flush=True)
    ours, lc = out["ours"], out["langchain"]
    ours["chunks_per_s"] = round(ours["chunks"] / ours["seconds"], 1)
    lc["chunks_per_s"] = round(lc["chunks"] / lc["seconds"], 1)
    out["time_ratio_ours_over_langchain"] = round(ours["seconds"] / lc["seconds"], 3)
    out["encoder_share"] = {"ours": round(ours["embed_seconds"] / ours["seconds"], 3),
                            "langchain": round(lc["encoder_alone_s"] / lc["seconds"], 3)}
    print(json.dumps(out, ensure_ascii=False, indent=1), flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("blocks")
    b.add_argument("--docs", type=int, default=20000)
    b.add_argument("--block", type=int, default=1000)
    b.add_argument("--readers", action="store_true")
    b.add_argument("--warmup", type=float, default=20.0, help="seconds the reader starts before the ingest")
    b.add_argument("--after", type=float, default=60.0, help="seconds the reader asks once the ingest is over")
    b.add_argument("--chroma-alone", action="store_true", help="also time Chroma alone writing the same vectors")
    lc = sub.add_parser("langchain")
    lc.add_argument("--docs", type=int, default=5000)
    lc.add_argument("--langchain-first", action="store_true")
    lc.add_argument("--block", type=int, default=1000, help="our ingest's seconds per block of this many files")
    args = ap.parse_args()
    result = blocks(args) if args.cmd == "blocks" else langchain(args)
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
