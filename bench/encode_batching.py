"""Encoding many short files: each file's chunks on their own (what ingest does) against chunks of
different files batched together, for each ONNX backend: chunks/s and how much a chunk's vector
depends on the other texts of its batch (max |difference|, min cosine between the two ways).

Batching across files is faster, but with the int8 model a vector then depends on what else was
ingested: dynamic quantisation takes one activation scale per batch. This bench is the measurement
behind encoding each file on its own (storage/library.py, ``flush``).

    HF_HUB_OFFLINE=1 .venv/bin/python bench/encode_batching.py --docs 300 [--backend onnx-int8 --backend onnx]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from news import generate  # noqa: E402

from assistant.core.settings import Settings, model_spec  # noqa: E402
from assistant.storage.embedding import load_embedder  # noqa: E402
from assistant.storage.library import EMBED_GROUP, Index  # noqa: E402


def texts_by_file(docs: int) -> list[list[str]]:
    """The index texts of ``docs`` generated news passages, as an ingest makes them, grouped by file."""
    work = Path(tempfile.mkdtemp(prefix="encode-batching-"))
    generate(docs, work / "news")
    index = Index.open(Settings(index_dir=work / "index", model=model_spec("hash")), create=True)
    index.ingest([work / "news"])
    out = []
    for doc_id in sorted(index.store.metas()):
        ids = [c.chunk_id for c in index.store.doc_chunks(doc_id)]
        texts = index.store.index_texts(ids)
        out.append([texts[i][1] for i in ids])
    index.close()
    return out


def per_file(emb, files: list[list[str]]) -> np.ndarray:
    return np.asarray([v for texts in files for v in emb.embed_documents(texts)], dtype=np.float32)


def across_files(emb, files: list[list[str]]) -> np.ndarray:
    flat = [t for texts in files for t in texts]
    order = sorted(range(len(flat)), key=lambda i: len(flat[i]))
    vecs: list = [None] * len(flat)
    for g in range(0, len(order), EMBED_GROUP):
        group = order[g : g + EMBED_GROUP]
        for i, v in zip(group, emb.embed_documents([flat[i] for i in group])):
            vecs[i] = v
    return np.asarray(vecs, dtype=np.float32)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=2, help="each way timed this many times, alternating")
    ap.add_argument("--backend", action="append", help="onnx-int8 (default) and/or onnx (float32)")
    args = ap.parse_args()
    files = texts_by_file(args.docs)
    chunks = sum(len(f) for f in files)
    result = {"files": len(files), "chunks": chunks}
    for backend in args.backend or ["onnx-int8"]:
        emb = load_embedder(model_spec(Settings.from_env().model.name, backend=backend))
        emb.embed_documents(["预热"])
        secs: dict[str, list[float]] = {"per_file": [], "across_files": []}
        vecs = {}
        for _ in range(args.rounds):
            for name, way in (("per_file", per_file), ("across_files", across_files)):
                t0 = time.perf_counter()
                vecs[name] = way(emb, files)
                secs[name].append(time.perf_counter() - t0)
        a, b = vecs["per_file"], vecs["across_files"]
        cos = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
        best = {k: min(v) for k, v in secs.items()}
        result[backend] = {
            "per_file_chunks_per_s": round(chunks / best["per_file"], 1),
            "across_files_chunks_per_s": round(chunks / best["across_files"], 1),
            "across_over_per_file_speed": round(best["per_file"] / best["across_files"], 3),
            "max_abs_difference": float(np.abs(a - b).max()), "min_cosine": float(cos.min()),
            "seconds": {k: [round(x, 1) for x in v] for k, v in secs.items()},
        }
        print(backend, json.dumps(result[backend]), flush=True)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
