"""The embedding model run by onnxruntime instead of PyTorch: 1.7× faster ingest on a 2-core CPU (int8).

The ONNX file is made once per model revision from the sentence-transformers weights already in the
Hugging Face cache (``torch.onnx.export`` of the transformer with its mean pooling), its attention
fused by onnxruntime's transformer optimiser, and its weights quantised to int8 (dynamic
quantisation: int8 matrix products, float activations), its activations quantised per token so a
text's vector does not depend on what it is batched with (``onnx_graph``). The result is cached under
``~/.cache/dangjian-assistant/onnx/<model>/<revision>/`` (or ``$ASSISTANT_ONNX_DIR``), written to a
temporary name and renamed, under a file lock, so two processes starting at once export it once.

(sentence-transformers' own ``backend="onnx"`` needs optimum, whose releases pin transformers below
the version sentence-transformers 6 needs; the steps are the same ones optimum runs.)

Inference needs neither torch nor transformers: the ``tokenizers`` library reads the model's
``tokenizer.json``; texts are sorted by length and batched so padding stays small.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

BACKENDS = ("onnx-int8", "onnx", "torch")
OPSET = 17
BATCH = 32  # texts per run
BATCH_TOKENS = 8192  # … and at most this many padded tokens (long texts go in smaller batches)
# The int8 file. Its name changes with the quantisation scheme, so a cache made by an older version is not
# used for vectors of the new one (model_int8.onnx: one activation scale per batch).
INT8_FILE = "model_int8_token.onnx"


def cache_root() -> Path:
    """Where exported models are kept: $ASSISTANT_ONNX_DIR, else ~/.cache/dangjian-assistant/onnx."""
    d = os.environ.get("ASSISTANT_ONNX_DIR")
    return Path(d).expanduser() if d else Path.home() / ".cache" / "dangjian-assistant" / "onnx"


def snapshot_dir(name: str) -> Path:
    """The model's folder: a local path as given, else its snapshot in the Hugging Face cache (never downloads)."""
    local = Path(name).expanduser()
    if local.is_dir():
        return local
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(name, local_files_only=True))


def model_files(name: str, backend: str) -> tuple[Path, Path]:
    """(the .onnx file for this backend, tokenizer.json), exporting the ONNX file first if needed."""
    snap = snapshot_dir(name)
    tokenizer = snap / "tokenizer.json"
    if not tokenizer.exists():
        raise FileNotFoundError(f"{snap} has no tokenizer.json")
    folder = cache_root() / name.replace("/", "--") / snap.name
    target = folder / (INT8_FILE if backend == "onnx-int8" else "model.onnx")
    if target.exists():
        return target, tokenizer
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        if not target.exists():
            t0 = time.perf_counter()
            _export(snap, folder, quantise=backend == "onnx-int8")
            log.info("exported %s to %s in %.1fs", name, target, time.perf_counter() - t0)
    return target, tokenizer


def _export(snap: Path, folder: Path, quantise: bool) -> None:
    fp32 = folder / "model.onnx"
    if not fp32.exists():
        _export_fp32(snap, folder)
    if quantise:
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic

        from . import onnx_graph

        tmp = folder / f"{INT8_FILE}.{os.getpid()}.tmp"
        # The fused attention nodes are onnxruntime's own (shape inference cannot type their outputs): float.
        quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8, per_channel=False, reduce_range=False,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        try:
            onnx_graph.rewrite_file(tmp, tmp, quantised=True)
            tmp.replace(folder / INT8_FILE)
        finally:
            tmp.unlink(missing_ok=True)


def _export_fp32(snap: Path, folder: Path) -> None:
    import torch
    from onnxruntime.transformers.optimizer import optimize_model
    from transformers import AutoConfig, AutoModel

    from . import onnx_graph

    config = AutoConfig.from_pretrained(str(snap), local_files_only=True)
    model = AutoModel.from_pretrained(str(snap), local_files_only=True).eval()

    class MeanPooled(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):
            hidden = self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)

    ids = torch.ones((2, 8), dtype=torch.long)
    raw = folder / f"model.raw.{os.getpid()}.onnx"
    with torch.no_grad():
        torch.onnx.export(MeanPooled(model), (ids, torch.ones_like(ids)), str(raw),
                          input_names=["input_ids", "attention_mask"], output_names=["embedding"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                                        "embedding": {0: "batch"}},
                          opset_version=OPSET, dynamo=False)
    tmp = folder / f"model.onnx.{os.getpid()}.tmp"
    try:
        fused = optimize_model(str(raw), model_type="bert", num_heads=config.num_attention_heads,
                               hidden_size=config.hidden_size, opt_level=1)
        fused.save_model_to_file(str(tmp))
    except Exception as exc:  # noqa: BLE001 - the unfused graph is correct, only slower
        log.info("attention fusion failed (%s); using the plain export", exc)
        raw.replace(tmp)
    raw.unlink(missing_ok=True)
    try:
        onnx_graph.rewrite_file(tmp, tmp, quantised=False)
    except Exception as exc:  # noqa: BLE001 - only faster: the graph as exported gives the same vectors
        log.info("attention NaN guards kept (%s)", exc)
    tmp.replace(folder / "model.onnx")
    (folder / "export.json").write_text(json.dumps({"opset": OPSET, "torch": torch.__version__}), encoding="utf-8")


class OnnxEncoder:
    """encode(texts) → L2-normalised float32 vectors, as sentence-transformers' mean-pooled models give."""

    def __init__(self, onnx_path: Path, tokenizer_path: Path, max_length: int = 512, threads: int | None = None):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or int(os.environ.get("OMP_NUM_THREADS") or 0) or os.cpu_count() or 1
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length)
        self.path = onnx_path

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        encs = self.tokenizer.encode_batch(texts)
        order = sorted(range(len(encs)), key=lambda i: len(encs[i].ids))
        out: list[np.ndarray | None] = [None] * len(encs)
        start = 0
        while start < len(order):
            end = start + 1
            while end < len(order) and end - start < BATCH and (end - start + 1) * len(encs[order[end]].ids) <= BATCH_TOKENS:
                end += 1
            batch = order[start:end]
            width = len(encs[batch[-1]].ids)
            ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, i in enumerate(batch):
                n = len(encs[i].ids)
                ids[row, :n] = encs[i].ids
                mask[row, :n] = 1
            vecs = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            vecs = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
            for row, i in enumerate(batch):
                out[i] = vecs[row]
            start = end
        return np.stack(out).astype(np.float32)
