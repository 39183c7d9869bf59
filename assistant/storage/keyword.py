"""BM25 keyword index (bm25s) over jieba search-mode tokens of folded text.

It is rebuilt from the document store after every change and stamped with a fingerprint of the
chunk ids it covers, so an index that is out of step with the store is noticed and rebuilt."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import shutil
import time
import uuid
from collections import Counter
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

# BM25's term-frequency saturation and length normalisation: the textbook values (Robertson & Zaragoza),
# bm25s's defaults, not tuned here.
BM25_K1 = 1.2
BM25_B = 0.75
# Saved builds other than the newest are deleted once this many seconds old: a reader in another process
# may still be loading one (loading a 100k-chunk build takes a few seconds; a minute is ample).
STALE_AFTER = 60


def _bm25s():
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets itself to DEBUG on import
    return bm25s


def fingerprint(ids) -> str:
    return hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()


class KeywordIndex:
    def __init__(self, directory: Path):
        self.dir = directory
        self.ids: list[str] = []
        self.doc_ids: list[str] = []
        self.chunk_df: dict[str, int] = {}
        self.doc_df: dict[str, int] = {}
        self.n_docs = 0
        self.fp = ""
        self._bm25 = None
        self._vocab: dict[str, int] = {}
        self._loaded_mtime = 0
        self._codes: np.ndarray | None = None  # each chunk's document as a number, for filter masks
        self._code_of: dict[str, int] = {}

    # --- build and persist
    def rebuild(self, ids: list[str], doc_ids: list[str], words: list[list[str]], save: bool = True) -> None:
        """Index these chunks; with ``save``, persist them so other processes load the same index.

        Each build is saved into a folder of its own and ``state.json`` — which names the folder —
        is replaced last, atomically: a reader loads either the old index or the new, never half."""
        bm25s = _bm25s()
        self.ids, self.doc_ids, self._codes = list(ids), list(doc_ids), None
        self.chunk_df = dict(Counter(t for w in words for t in set(w)))
        per_doc: dict[str, set[str]] = {}
        for d, w in zip(doc_ids, words):
            per_doc.setdefault(d, set()).update(w)
        self.doc_df = dict(Counter(t for s in per_doc.values() for t in s))
        self.n_docs = len(per_doc)
        self.fp = fingerprint(ids)
        if ids:
            bm25 = bm25s.BM25(k1=BM25_K1, b=BM25_B)
            bm25.index([w if w else [""] for w in words], show_progress=False)
            self._bm25 = bm25
            self._vocab = bm25.vocab_dict
        else:
            self._bm25 = None
            self._vocab = {}
        if save:
            self.save()

    def save(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        folder = f"bm25-{self.fp[:16]}-{uuid.uuid4().hex[:8]}"
        if self._bm25 is not None:
            self._bm25.save(str(self.dir / folder), show_progress=False)
        state = {"fingerprint": self.fp, "folder": folder, "ids": self.ids, "doc_ids": self.doc_ids,
                 "chunk_df": self.chunk_df, "doc_df": self.doc_df, "n_docs": self.n_docs}
        tmp = self.dir / f"state.json.{uuid.uuid4().hex[:8]}.tmp"
        tmp.write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")
        tmp.replace(self.dir / "state.json")
        self._loaded_mtime = (self.dir / "state.json").stat().st_mtime_ns
        # Older builds go once STALE_AFTER seconds old (a reader in another process may still be loading one).
        for old in self.dir.glob("bm25-*"):
            if old.name != folder and time.time() - old.stat().st_mtime > STALE_AFTER:
                shutil.rmtree(old, ignore_errors=True)
        for old in self.dir.glob("state.json.*.tmp"):
            if time.time() - old.stat().st_mtime > STALE_AFTER:
                old.unlink(missing_ok=True)

    def changed_on_disk(self) -> bool:
        """Has another process saved a newer build since this one was loaded or saved?"""
        try:
            return (self.dir / "state.json").stat().st_mtime_ns != self._loaded_mtime
        except OSError:
            return False

    def load(self) -> bool:
        state_path = self.dir / "state.json"
        if not state_path.exists():
            return False
        try:
            mtime = state_path.stat().st_mtime_ns
            state = json.loads(state_path.read_text(encoding="utf-8"))
            bm25, vocab = None, {}
            if state["ids"]:
                bm25 = _bm25s().BM25.load(str(self.dir / state.get("folder", "bm25")), show_progress=False)
                vocab = bm25.vocab_dict
            self.ids, self.doc_ids, self._codes = state["ids"], state["doc_ids"], None
            self.chunk_df, self.doc_df, self.n_docs = state["chunk_df"], state["doc_df"], state["n_docs"]
            self.fp = state["fingerprint"]
            self._bm25, self._vocab = bm25, vocab
            self._loaded_mtime = mtime
            return True
        except Exception as exc:  # noqa: BLE001 - a damaged index is rebuilt from the store
            log.warning("keyword index unreadable (%s); it will be rebuilt", exc)
            return False

    # --- query
    def search(self, words: list[str], k: int, allowed_docs: set[str] | None = None,
               mask: np.ndarray | None = None) -> list[tuple[str, float]]:
        """Top-k chunks for these words; only those of ``allowed_docs`` (or where ``mask``, its
        ``mask()`` computed already, is true)."""
        if self._bm25 is None or not self.ids:
            return []
        toks = [self._vocab[t] for t in words if t in self._vocab]
        if not toks:
            return []
        scores = self._bm25.get_scores(toks)
        if mask is None and allowed_docs is not None:
            mask = self.mask(allowed_docs)
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.ids[i], float(scores[i])) for i in top if scores[i] > 0]

    def mask(self, allowed_docs: set[str]) -> np.ndarray:
        """Which chunks belong to these documents, as a boolean array (vectorised, no pass in Python)."""
        if self._codes is None or len(self._codes) != len(self.doc_ids):
            names = sorted(set(self.doc_ids))
            self._code_of = {d: i for i, d in enumerate(names)}
            self._codes = np.fromiter((self._code_of[d] for d in self.doc_ids), dtype=np.int32, count=len(self.doc_ids))
        wanted = np.fromiter((self._code_of[d] for d in allowed_docs if d in self._code_of), dtype=np.int32)
        return np.isin(self._codes, wanted)

    def idf(self, word: str) -> float:
        """Chunk-level IDF; a word the corpus never uses gets the largest value."""
        n = max(1, len(self.ids))
        df = self.chunk_df.get(word, 0)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))
