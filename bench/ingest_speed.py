"""Ingest throughput, its overhead over the encoder alone, and ONNX int8 against PyTorch, in one run.

For each embedding backend (onnx-int8, torch by default), with the model loaded beforehand (not timed):
  ingest   a fresh index from the folder (read, clean, chunk, jieba, embed, Chroma, SQLite, BM25)
  encoder  the same model embedding the same texts alone (``embed_documents`` of the stored index
           texts, in the same length-sorted groups the ingest uses)
and prints chunks/s for both, the overhead (ingest / encoder - 1; target ≤ 15 %), and the ratios
between backends. The cosine between the two backends' vectors of the same texts is printed too.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/ingest_speed.py /tmp/hay1000 [--backend onnx-int8 --backend torch]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.core.settings import Settings, model_spec  # noqa: E402
from assistant.storage.embedding import load_embedder  # noqa: E402
from assistant.storage.library import EMBED_GROUP, Index  # noqa: E402


def encode_alone(emb, texts: list[str]) -> tuple[float, np.ndarray]:
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), 0), dtype=np.float32)
    t0 = time.perf_counter()
    vecs: list = [None] * len(texts)
    for g in range(0, len(order), EMBED_GROUP):
        group = order[g : g + EMBED_GROUP]
        for i, v in zip(group, emb.embed_documents([texts[i] for i in group])):
            vecs[i] = v
    seconds = time.perf_counter() - t0
    out = np.asarray(vecs, dtype=np.float32)
    return seconds, out


def one(folder: Path, backend: str) -> dict:
    settings = Settings.from_env().with_(index_dir=Path(tempfile.mkdtemp(prefix=f"ingest-{backend}-")))
    spec = model_spec(settings.model.name, backend=backend)
    settings = settings.with_(model=spec)
    t0 = time.perf_counter()
    emb = load_embedder(spec)
    load_s = time.perf_counter() - t0
    emb.embed_documents(["预热"])
    index = Index.open(settings, embedder=emb, create=True)
    t0 = time.perf_counter()
    report = index.ingest([folder])
    ingest_s = time.perf_counter() - t0
    ids = sorted(index.store.chunk_ids())
    texts_by_id = index.store.index_texts(ids)
    texts = [texts_by_id[i][1] for i in ids]
    encode_s, vecs = encode_alone(emb, texts)
    np.save(settings.index_dir / "vectors.npy", vecs)
    return {"backend": backend, "model_id": emb.model_id, "model_load_s": round(load_s, 2), "chunks": len(ids),
            "ingest_s": round(ingest_s, 1), "embed_inside_ingest_s": round(report.embed_seconds, 1),
            "encoder_alone_s": round(encode_s, 1), "ingest_chunks_per_s": round(len(ids) / ingest_s, 2),
            "encoder_chunks_per_s": round(len(ids) / encode_s, 2),
            "overhead": round(ingest_s / encode_s - 1, 3), "vectors": str(settings.index_dir / "vectors.npy"),
            "ids": ids[:3]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder")
    ap.add_argument("--backend", action="append")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(Path(args.folder), args.one)))
        return 0
    backends = args.backend or ["onnx-int8", "torch"]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    print(f"commit {commit.strip()}, {time.strftime('%Y-%m-%dT%H:%M:%S')}, load avg {os.getloadavg()}, "
          f"{os.cpu_count()} cores")
    rows = []
    for b in backends:  # each in its own process: one backend's caches and threads do not touch the other
        out = subprocess.run([sys.executable, __file__, args.folder, "--one", b], capture_output=True, text=True,
                             check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    keys = ["model_id", "model_load_s", "chunks", "ingest_s", "embed_inside_ingest_s", "encoder_alone_s",
            "ingest_chunks_per_s", "encoder_chunks_per_s", "overhead"]
    print(f"{'':24}" + "".join(f"{r['backend']:>22}" for r in rows))
    for k in keys:
        print(f"{k:24}" + "".join(f"{str(r[k]):>22}" for r in rows))
    if len(rows) >= 2:
        a, b = rows[0], rows[1]
        print(f"\n{a['backend']} vs {b['backend']}: ingest {b['ingest_s'] / a['ingest_s']:.2f}× faster, "
              f"encoder alone {b['encoder_alone_s'] / a['encoder_alone_s']:.2f}× faster")
        va, vb = np.load(a["vectors"]), np.load(b["vectors"])
        cos = (va * vb).sum(1)
        print(f"cosine between their vectors of the same {len(cos)} texts: min {cos.min():.4f}, "
              f"mean {cos.mean():.4f}, 1st percentile {np.percentile(cos, 1):.4f}")
    print(f"load avg after {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
