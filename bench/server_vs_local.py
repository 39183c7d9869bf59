"""The same index answered from a local Chroma and from a Chroma server — and, with --postgres, from a
PostgreSQL store with the Chroma server: identical answers, latency ratio; with --ingest N, ingest
speed at that size too.

Starts `chroma run --path … --port …` on loopback (or uses --url), copies the index's store and
keyword index into a temporary folder, copies its vectors (with their documents and metadata, no
re-embedding) into the server's collection, then measures both with bench/scale.py's per-index
run (the dev questions, warm, --repeat passes) and compares every question's answer, citations
and retrieved chunks. --postgres also starts a throwaway PostgreSQL cluster (scripts/servers.py),
copies the store's rows into it, measures a third run (store on PostgreSQL, vectors on the server,
keyword files local), and times what a page server of another machine does when the library
changes: read every chunk's words from PostgreSQL and rebuild its keyword index. --ingest N then
ingests N new reports (government reports with a marker line, so none is a duplicate) into a copy
of the local index and into the shared library, and gives chunks per second for each.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/server_vs_local.py --index /tmp/s10k [--repeat 3] [--postgres]
        [--ingest 12] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

TABLES = {  # the store's tables and the columns both stores have
    "meta": ("key", "value"),
    "docs": ("doc_id", "raw_hash", "meta", "text", "ingested_at", "path", "content_hash", "text_hash", "dense",
             "org_key", "date_lo", "date_hi"),
    "chunks": ("chunk_id", "doc_id", "idx", "start", '"end"', "headings", "tokens", "index_text", "words"),
    "copies": ("path", "doc_id", "content_hash"),
}


def start_server() -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = tempfile.mkdtemp(prefix="chroma-server-")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "chroma"), "run", "--path", data, "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=2).read()
            return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit(f"chroma run did not start on {url}")


def copy_vectors(src_dir: Path, url: str, collection: str) -> tuple[int, float]:
    import chromadb

    from assistant.storage.dense import COLLECTION, HNSW, UPSERT_BATCH, chroma_http_client
    from assistant.storage.store import DocStore

    local = chromadb.PersistentClient(path=str(src_dir / "chroma"), settings=chromadb.Settings(anonymized_telemetry=False))
    src = local.get_collection(COLLECTION)
    owner = DocStore(src_dir / "store.sqlite3").index_id()  # the copy of the store is the same index
    dst = chroma_http_client(url).get_or_create_collection(collection, configuration=HNSW, metadata={"hnsw:space": "cosine",
                                                                                  "index_id": owner})
    t0, n, offset = time.perf_counter(), 0, 0
    while True:
        part = src.get(include=["embeddings", "documents", "metadatas"], limit=UPSERT_BATCH, offset=offset)
        if not part["ids"]:
            break
        dst.add(ids=part["ids"], embeddings=part["embeddings"], documents=part["documents"],
                metadatas=part["metadatas"])
        n += len(part["ids"])
        offset += len(part["ids"])
    return n, time.perf_counter() - t0


def copy_store(src_dir: Path, url: str) -> tuple[int, float]:
    """Every row of the SQLite store into the PostgreSQL store's tables (made by PgStore)."""
    import sqlite3

    import psycopg

    from assistant.storage.pg_store import PgStore

    PgStore(url).close()  # the schema
    t0, n = time.perf_counter(), 0
    src = sqlite3.connect(str(src_dir / "store.sqlite3"))
    with psycopg.connect(url) as dst, dst.cursor() as cur:
        for table, cols in TABLES.items():
            rows = src.execute(f"SELECT {', '.join(cols)} FROM {table}").fetchall()
            cur.executemany(f"INSERT INTO {table}({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})", rows)
            n += len(rows)
    return n, time.perf_counter() - t0


def keyword_rebuild(url: str) -> dict:
    """What a page server of another machine does when the shared library changed: the words of every
    chunk from PostgreSQL, and its keyword index rebuilt from them (timed apart)."""
    from assistant.storage.keyword import KeywordIndex
    from assistant.storage.pg_store import PgStore

    store = PgStore(url)
    t0 = time.perf_counter()
    words = store.all_words()
    read_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    KeywordIndex(Path(tempfile.mkdtemp(prefix="kw-"))).rebuild(*words, save=True)
    build_s = time.perf_counter() - t1
    store.close()
    return {"chunks": len(words[0]), "read_s": round(read_s, 2), "rebuild_s": round(build_s, 2)}


def new_reports(n: int, dest: Path) -> Path:
    """``n`` reports to ingest: government reports from ../shared/corpora, each with a marker line of its
    own (so that none is the same text as a report already held)."""
    dest.mkdir(parents=True, exist_ok=True)
    lines = (ROOT.parent / "shared" / "corpora" / "govreports.jsonl").read_text(encoding="utf-8").splitlines()
    stamp = time.strftime("%Y%m%d%H%M%S")
    for i, line in enumerate(lines[:n]):
        rec = json.loads(line)
        (dest / f"new-{stamp}-{i:03d}.txt").write_text(f"{rec.get('title', '报告')}（新增 {stamp}-{i}）\n\n{rec['text']}",
                                                        encoding="utf-8")
    return dest


def ingest_speed(folder: Path, env: dict) -> dict:
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "assistant", "ingest", "--progress-json", str(folder)], env=env,
                         cwd=ROOT, capture_output=True, text=True, check=True)
    secs = time.perf_counter() - t0
    report = json.loads([ln for ln in out.stdout.splitlines() if '"report"' in ln][-1])["report"]
    added = report["chunks_added"]
    return {"files": len(report["added"]), "chunks": added, "seconds": round(secs, 1),
            "chunks_per_s": round(added / secs, 2), "total_chunks": report["total_chunks"]}


def measure(index_dir: Path, repeat: int, env: dict) -> dict:
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "scale.py"), "--one", str(index_dir), "--repeat",
                          str(repeat)], stdout=subprocess.PIPE, text=True, env=env, check=True)
    return json.loads(out.stdout)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", required=True)
    ap.add_argument("--url", help="an already running Chroma server (default: start one)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--postgres", action="store_true", help="also the store on a throwaway PostgreSQL cluster")
    ap.add_argument("--ingest", type=int, default=0, metavar="N", help="also ingest N new reports into each")
    ap.add_argument("--json")
    args = ap.parse_args()
    src = Path(args.index).resolve()
    proc, url = (None, args.url) if args.url else start_server()
    pg = None
    results: dict = {}
    try:
        collection = f"bench-{int(time.time())}"
        n, secs = copy_vectors(src, url, collection)  # before the store is copied: it records the index id
        copy = Path(tempfile.mkdtemp(prefix="remote-index-"))
        for p in src.iterdir():
            if p.name != "chroma" and p.is_file():
                shutil.copy2(p, copy / p.name)
        shutil.copytree(src / "keyword", copy / "keyword")
        print(f"copied {n:,} vectors to {url} (collection {collection}) in {secs:.1f}s")
        base_env = {**os.environ, "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1")}
        for k in ("ASSISTANT_CHROMA_URL", "ASSISTANT_DATABASE_URL", "ASSISTANT_INDEX_DIR"):
            base_env.pop(k, None)
        server_env = {**base_env, "ASSISTANT_CHROMA_URL": url, "ASSISTANT_CHROMA_COLLECTION": collection}
        results["local"] = measure(src, args.repeat, base_env)
        results["server"] = measure(copy, args.repeat, server_env)
        if args.postgres:
            from servers import Postgres

            pg = Postgres()
            rows, secs = copy_store(src, pg.url)
            print(f"copied {rows:,} rows into PostgreSQL in {secs:.1f}s")
            shared = Path(tempfile.mkdtemp(prefix="shared-index-"))
            shutil.copytree(src / "keyword", shared / "keyword")  # its own keyword files, as a page server keeps
            shared_env = {**server_env, "ASSISTANT_DATABASE_URL": pg.url}
            results["postgres"] = measure(shared, args.repeat, shared_env)
            results["keyword_rebuild"] = keyword_rebuild(pg.url)
            if args.ingest:
                reports = new_reports(args.ingest, Path(tempfile.mkdtemp(prefix="new-reports-")))
                local_copy = Path(tempfile.mkdtemp(prefix="local-copy-")) / "index"
                shutil.copytree(src, local_copy)
                results["ingest_local"] = ingest_speed(reports, {**base_env, "ASSISTANT_INDEX_DIR": str(local_copy)})
                results["ingest_postgres"] = ingest_speed(reports, {**shared_env, "ASSISTANT_INDEX_DIR": str(shared)})
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        if pg is not None:
            pg.close()
    local = results["local"]
    names = [k for k in ("server", "postgres") if k in results]
    print(f"\n{local['chunks']:,} chunks, {local['questions']} questions × {args.repeat}")
    ok = True
    for name in names:
        pairs = list(zip(local["answers"], results[name]["answers"]))
        shown = sum((a["answer"], a["refused"], a["citations"]) == (b["answer"], b["refused"], b["citations"])
                    for a, b in pairs)
        same_set = sum(sorted(a["retrieved"]) == sorted(b["retrieved"]) for a, b in pairs)
        ok &= shown == len(pairs)
        print(f"{name}: identical answers and citations {shown}/{len(pairs)}; same retrieved chunks "
              f"{same_set}/{len(pairs)} (the server's HNSW graph is built in another insertion order)")
    print(f"{'':14}{'local':>10}" + "".join(f"{n:>10}{n + '/local':>16}" for n in names))
    for part, ps in (("answer", ("p50", "p95", "max")), ("retrieve", ("p50", "p95"))):
        key = "ours" if part == "answer" else "retrieve"
        for p in ps:
            a = local["latency_ms"][key][p]
            print(f"{part} {p:<{13 - len(part)}}{a:>10}" + "".join(
                f"{results[n]['latency_ms'][key][p]:>10}{results[n]['latency_ms'][key][p] / a:>16.2f}" for n in names))
    print(f"RSS end MB    {local['rss_mb']['end']:>10}" + "".join(f"{results[n]['rss_mb']['end']:>10}{'':>16}"
                                                                 for n in names))
    print("load avg: " + ", ".join(f"{n} {results[n]['loadavg']['before'][0]}→{results[n]['loadavg']['after'][0]}"
                                   for n in ["local", *names]))
    if "keyword_rebuild" in results:
        kr = results["keyword_rebuild"]
        print(f"keyword index of another machine, {kr['chunks']:,} chunks: words read from PostgreSQL in "
              f"{kr['read_s']} s, rebuilt in {kr['rebuild_s']} s")
    if "ingest_local" in results:
        a, b = results["ingest_local"], results["ingest_postgres"]
        print(f"ingest of {a['files']} new reports at {a['total_chunks'] - a['chunks']:,} chunks: local "
              f"{a['chunks']} chunks in {a['seconds']} s = {a['chunks_per_s']} chunks/s; PostgreSQL + Chroma server "
              f"{b['chunks']} chunks in {b['seconds']} s = {b['chunks_per_s']} chunks/s; ratio "
              f"{b['chunks_per_s'] / a['chunks_per_s']:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
