"""Embedders. Each is a LangChain ``Embeddings`` (so it plugs into LangChain vector stores) that
applies the model's own query/passage prompts.

``load_embedder`` never blocks on the network: it loads from the local cache first and downloads
only when the model is missing, with short timeouts. When the model cannot be had it raises
``EmbedderUnavailable`` and the caller runs keyword-only.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import time
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Callable, Protocol

from langchain_core.embeddings import Embeddings

from ..core.settings import ModelSpec
from .onnx_backend import OnnxEncoder, model_files

log = logging.getLogger(__name__)

HASH_MODEL = "hash"  # a deterministic fake for tests: ASSISTANT_EMBED_MODEL=hash


QUERY_CACHE = 256  # questions whose vectors an embedder keeps


class EmbedderUnavailable(Exception):
    pass


class Embedder(Protocol):
    model_id: str

    def embed_documents(self, texts: list[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...

    def embed_queries(self, texts: list[str]) -> list[list[float]]: ...


class SentenceTransformerEmbedder(Embeddings):
    def __init__(self, spec: ModelSpec, model, batch_size: int = 32):
        self.spec = spec
        self.model = model
        self.model_id = spec.id
        self.batch_size = batch_size
        self.load_seconds = 0.0
        # One question is embedded twice per request (routing, then retrieval): the second is a lookup.
        self._query = lru_cache(maxsize=QUERY_CACHE)(lambda text: tuple(self.embed_queries([text])[0]))

    def embed_documents(self, texts: list[str], progress: Callable[[int], None] | None = None) -> list[list[float]]:
        out: list[list[float]] = []
        for i in range(0, len(texts), self.batch_size):
            batch = [self.spec.passage_prompt + t for t in texts[i : i + self.batch_size]]
            vecs = self.model.encode(batch, normalize_embeddings=True, show_progress_bar=False, convert_to_numpy=True)
            out.extend(v.tolist() for v in vecs)
            if progress:
                progress(len(batch))
        return out

    def embed_query(self, text: str) -> list[float]:
        return list(self._query(text))

    def embed_queries(self, texts: list[str]) -> list[list[float]]:
        vecs = self.model.encode([self.spec.query_prompt + t for t in texts], normalize_embeddings=True,
                                 show_progress_bar=False, convert_to_numpy=True)
        return vecs.tolist()


class OnnxEmbedder(Embeddings):
    """The same model run by onnxruntime (``onnx_backend``): fp32, or int8 weights (``onnx-int8``)."""

    def __init__(self, spec: ModelSpec, encoder):
        self.spec = spec
        self.encoder = encoder
        self.model_id = spec.id
        self.load_seconds = 0.0
        # One question is embedded twice per request (routing, then retrieval): the second is a lookup.
        self._query = lru_cache(maxsize=QUERY_CACHE)(lambda text: tuple(self.embed_queries([text])[0]))

    def embed_documents(self, texts: list[str], progress: Callable[[int], None] | None = None) -> list[list[float]]:
        vecs = self.encoder.encode([self.spec.passage_prompt + t for t in texts])
        if progress:
            progress(len(texts))
        return vecs.tolist()

    def embed_query(self, text: str) -> list[float]:
        return list(self._query(text))

    def embed_queries(self, texts: list[str]) -> list[list[float]]:
        return self.encoder.encode([self.spec.query_prompt + t for t in texts]).tolist()


class HashEmbedder(Embeddings):
    """Deterministic character-bigram hashing embedder (SHA-256 seeded): a fake for unit tests."""

    def __init__(self, dim: int = 256):
        self.dim = dim
        self.model_id = HASH_MODEL
        self.load_seconds = 0.0

    def _vec(self, text: str) -> list[float]:
        v = [0.0] * self.dim
        grams = [text[i : i + 2] for i in range(max(1, len(text) - 1))]
        for g in grams:
            h = hashlib.sha256(g.encode("utf-8")).digest()
            v[int.from_bytes(h[:4], "little") % self.dim] += 1.0 if h[4] & 1 else -1.0
        norm = math.sqrt(sum(x * x for x in v)) or 1.0
        return [x / norm for x in v]

    def embed_documents(self, texts: list[str], progress: Callable[[int], None] | None = None) -> list[list[float]]:
        out = [self._vec(t) for t in texts]
        if progress:
            progress(len(texts))
        return out

    def embed_query(self, text: str) -> list[float]:
        return self._vec(text)

    def embed_queries(self, texts: list[str]) -> list[list[float]]:
        return [self._vec(t) for t in texts]


def _quiet_hub() -> None:
    os.environ.setdefault("HF_HUB_ETAG_TIMEOUT", "5")
    os.environ.setdefault("HF_HUB_DOWNLOAD_TIMEOUT", "20")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def load_embedder(spec: ModelSpec):
    """Load the configured model: local cache first, then a download (unless offline). With an ONNX
    backend the model is run by onnxruntime (exported from the cached weights on first use); if that
    cannot be made, PyTorch runs it and the returned embedder's ``model_id`` says so."""
    if spec.name == HASH_MODEL:
        return HashEmbedder()
    _quiet_hub()
    if spec.backend != "torch":
        t0 = time.perf_counter()
        try:
            return _load_onnx(spec, t0)
        except Exception as exc:  # noqa: BLE001 - e.g. the weights are not cached yet: the PyTorch path downloads them
            log.info("ONNX %s backend unavailable (%s: %s); trying PyTorch", spec.backend, type(exc).__name__, exc)
            fallback = _load_torch(spec)  # downloads the weights when allowed, so the export can run
            try:
                return _load_onnx(spec, t0)
            except Exception as exc2:  # noqa: BLE001
                log.warning("ONNX %s backend unavailable (%s); embedding with PyTorch", spec.backend, exc2)
                return fallback
    return _load_torch(spec)


def _load_onnx(spec: ModelSpec, t0: float):
    onnx_path, tokenizer = model_files(spec.name, spec.backend)
    emb = OnnxEmbedder(spec, OnnxEncoder(onnx_path, tokenizer))
    emb.load_seconds = time.perf_counter() - t0
    return emb


def _load_torch(spec: ModelSpec):
    t0 = time.perf_counter()
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:  # pragma: no cover - a broken install
        raise EmbedderUnavailable(f"sentence-transformers is not installed ({exc})")
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    local_dir = Path(spec.name).expanduser()
    errors = []
    attempts = [dict(local_files_only=True)]
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
    if not local_dir.is_dir() and not offline:
        attempts.append(dict(local_files_only=False))
    for kwargs in attempts:
        try:
            model = SentenceTransformer(str(local_dir) if local_dir.is_dir() else spec.name, device="cpu", **kwargs)
            emb = SentenceTransformerEmbedder(replace(spec, backend="torch"), model)
            emb.load_seconds = time.perf_counter() - t0
            return emb
        except Exception as exc:  # noqa: BLE001 - any failure means "no model here"
            errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    raise EmbedderUnavailable(
        f"embedding model {spec.name!r} is not in the local cache and could not be downloaded ({errors[-1]})"
    )
