"""The same index answered from a local Chroma and from a Chroma server: identical answers, latency ratio.

Starts `chroma run --path … --port …` on loopback (or uses --url), copies the index's store and
keyword index into a temporary folder, copies its vectors (with their documents and metadata, no
re-embedding) into the server's collection, then measures both with bench/scale.py's per-index
run (the dev questions, warm, --repeat passes) and compares every question's answer, citations
and retrieved chunks.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/server_vs_local.py --index /tmp/s10k [--repeat 3] [--json FILE]
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

    from assistant.storage.library import COLLECTION, HNSW, UPSERT_BATCH, chroma_http_client
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


def measure(index_dir: Path, repeat: int, env: dict) -> dict:
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "scale.py"), "--one", str(index_dir), "--repeat",
                          str(repeat)], stdout=subprocess.PIPE, text=True, env=env, check=True)
    return json.loads(out.stdout)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", required=True)
    ap.add_argument("--url", help="an already running Chroma server (default: start one)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json")
    args = ap.parse_args()
    src = Path(args.index).resolve()
    proc, url = (None, args.url) if args.url else start_server()
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
        base_env.pop("ASSISTANT_CHROMA_URL", None)
        local = measure(src, args.repeat, base_env)
        remote = measure(copy, args.repeat, {**base_env, "ASSISTANT_CHROMA_URL": url,
                                             "ASSISTANT_CHROMA_COLLECTION": collection})
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
    pairs = list(zip(local["answers"], remote["answers"]))
    shown = sum((a["answer"], a["refused"], a["citations"]) == (b["answer"], b["refused"], b["citations"]) for a, b in pairs)
    same_set = sum(sorted(a["retrieved"]) == sorted(b["retrieved"]) for a, b in pairs)
    same = sum(a == b for a, b in pairs)
    print(f"\n{local['chunks']:,} chunks, {local['questions']} questions × {args.repeat}")
    print(f"identical answers and citations: {shown}/{len(pairs)}; same retrieved chunks: {same_set}/{len(pairs)}, "
          f"in the same order: {same}/{len(pairs)} (the server's HNSW graph is built in another insertion order)")
    print(f"{'':14}{'local':>10}{'server':>10}{'server/local':>14}")
    for p in ("p50", "p95", "max"):
        a, b = local["latency_ms"]["ours"][p], remote["latency_ms"]["ours"][p]
        print(f"answer {p:<7}{a:>10}{b:>10}{b / a:>14.2f}")
    for p in ("p50", "p95"):
        a, b = local["latency_ms"]["retrieve"][p], remote["latency_ms"]["retrieve"][p]
        print(f"retrieve {p:<5}{a:>10}{b:>10}{b / a:>14.2f}")
    print(f"RSS end MB    {local['rss_mb']['end']:>10}{remote['rss_mb']['end']:>10}")
    print(f"load avg: local {local['loadavg']['before'][0]}→{local['loadavg']['after'][0]}, "
          f"server {remote['loadavg']['before'][0]}→{remote['loadavg']['after'][0]}")
    if args.json:
        Path(args.json).write_text(json.dumps({"local": local, "server": remote, "identical": same}, ensure_ascii=False,
                                              indent=1) + "\n", encoding="utf-8")
    return 0 if shown == len(pairs) else 1


if __name__ == "__main__":
    sys.exit(main())
