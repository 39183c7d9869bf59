"""Encoding many short files: each file's chunks on their own against chunks of different files
batched together (what ingest does, storage/library.py ``flush``), for each ONNX backend: chunks/s
and how much a chunk's vector depends on the other texts of its batch (max |difference|, min cosine
between the two ways).

The int8 model quantises each token's activations on its own (storage/onnx_graph.py), so both ways
give the same vectors and files can share batches. ``--onnx-file NAME=PATH`` times another ONNX file
of the same model in both ways too: the previous int8 file (one activation scale per batch, whose
vectors change with their batchmates) is the baseline of this run.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/encode_batching.py --docs 300 [--backend onnx-int8 --backend onnx] \
        [--onnx-file per-batch=~/.cache/dangjian-assistant/onnx/<model>/<revision>/model_int8.onnx]
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
from assistant.storage.embedding import OnnxEmbedder, load_embedder  # noqa: E402
from assistant.storage.library import EMBED_GROUP, Index  # noqa: E402
from assistant.storage.onnx_backend import OnnxEncoder, model_files  # noqa: E402


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
    ap.add_argument("--onnx-file", action="append", default=[], metavar="NAME=PATH",
                    help="another ONNX file of the model, timed the same way (e.g. the previous int8 file)")
    args = ap.parse_args()
    files = texts_by_file(args.docs)
    chunks = sum(len(f) for f in files)
    result = {"files": len(files), "chunks": chunks}
    spec = Settings.from_env().model
    embedders = {}  # the first is the baseline: the first --onnx-file, else the first backend, each file on its own
    for item in args.onnx_file:
        name, _, path = item.partition("=")
        tokenizer = model_files(spec.name, "onnx")[1]
        embedders[name] = OnnxEmbedder(spec, OnnxEncoder(Path(path).expanduser(), tokenizer))
    for backend in args.backend or ["onnx-int8"]:
        embedders[backend] = load_embedder(model_spec(spec.name, backend=backend))
    for emb in embedders.values():
        emb.embed_documents(["预热"])
    secs = {(label, way): [] for label in embedders for way in ("per_file", "across_files")}
    vecs = {}
    for _ in range(args.rounds):  # every configuration once a round, so machine noise falls on all of them
        for label, emb in embedders.items():
            for name, way in (("per_file", per_file), ("across_files", across_files)):
                t0 = time.perf_counter()
                vecs[label, name] = way(emb, files)
                secs[label, name].append(time.perf_counter() - t0)
    base = min(secs[next(iter(embedders)), "per_file"])
    for label in embedders:
        a, b = vecs[label, "per_file"], vecs[label, "across_files"]
        cos = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
        best = {way: min(secs[label, way]) for way in ("per_file", "across_files")}
        result[label] = {
            "per_file_chunks_per_s": round(chunks / best["per_file"], 1),
            "across_files_chunks_per_s": round(chunks / best["across_files"], 1),
            "across_over_per_file_speed": round(best["per_file"] / best["across_files"], 3),
            "across_over_baseline_per_file_speed": round(base / best["across_files"], 3),
            "max_abs_difference": float(np.abs(a - b).max()), "min_cosine": float(cos.min()),
            "seconds": {way: [round(x, 1) for x in secs[label, way]] for way in best},
        }
        print(label, json.dumps(result[label]), flush=True)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
