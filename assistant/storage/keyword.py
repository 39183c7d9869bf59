"""BM25 keyword index (bm25s) over jieba search-mode tokens of folded text.

Two parts, so that an ingest's cost per document does not grow with the library:
- the base: a bm25s index rebuilt from the document store (at the end of an ingest when what it added is
  more than REBUILD_TAIL_SHARE of the base, and after documents were removed or replaced);
- the tail: the chunks committed since, one ``Segment`` per commit, each a small inverted index written
  beside the base in the same commit. Tail chunks are scored when asked, with the statistics of the
  whole index, so a document is found by keyword as soon as its commit ends.

Every state is stamped with a fingerprint of the chunk ids it covers (a sum of their hashes, so adding
a segment updates it without reading every id), so an index out of step with the store is noticed. An
index object is never changed once made: adding a segment or loading another process's gives a new one,
and a search in flight keeps the one it started with."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import time
import uuid
from collections import Counter
from functools import lru_cache
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
STATE_VERSION = 2  # 2: a base folder (bm25s + base.json) and tail segments; 1 kept everything in state.json
FP_MOD = 1 << 128


def _bm25s():
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets itself to DEBUG on import
    return bm25s


@lru_cache(maxsize=1 << 18)  # a reader sums the store's ids at each change: each hashed once
def _id_hash(cid: str) -> int:
    return int.from_bytes(hashlib.sha256(cid.encode()).digest()[:16], "big")


def _fp_hex(total: int) -> str:
    return f"{total % FP_MOD:032x}"


def _fp_sum(ids) -> int:
    return sum(_id_hash(cid) for cid in ids)


def fingerprint(ids) -> str:
    """Of a set of chunk ids, whatever their order: the sum of their hashes (so it can grow by a segment)."""
    return _fp_hex(_fp_sum(ids))


def _doc_freqs(doc_ids: list[str], words: list[list[str]]) -> tuple[Counter, Counter, int]:
    """(chunks using each word, documents using each word, documents) of these chunks."""
    per_doc: dict[str, set[str]] = {}
    for d, w in zip(doc_ids, words):
        per_doc.setdefault(d, set()).update(w)
    return Counter(t for w in words for t in set(w)), Counter(t for s in per_doc.values() for t in s), len(per_doc)


def _plus_counts(counts: dict[str, int], more: Counter) -> dict[str, int]:
    out = dict(counts)
    for t, n in more.items():
        out[t] = out.get(t, 0) + n
    return out


def _tokens(w: list[str]) -> list[str]:
    return w if w else [""]  # bm25s's way with a chunk without words: one empty token


class Segment:
    """Chunks one commit added after the base was built: their ids, documents, lengths and an inverted
    index (term → chunk positions and term frequencies, as CSR arrays). Never changed once made."""

    def __init__(self, name: str, ids: list[str], doc_ids: list[str], words: list[list[str]]):
        self.name, self.ids, self.doc_ids = name, list(ids), list(doc_ids)
        self.lengths = np.array([len(_tokens(w)) for w in words], dtype=np.float64)
        vocab: dict[str, int] = {}
        terms, pos, tfs = [], [], []
        for i, w in enumerate(words):
            for term, tf in Counter(_tokens(w)).items():
                terms.append(vocab.setdefault(term, len(vocab)))
                pos.append(i)
                tfs.append(tf)
        order = np.argsort(np.asarray(terms, dtype=np.int64), kind="stable")
        self.pos = np.asarray(pos, dtype=np.int32)[order]
        self.tf = np.asarray(tfs, dtype=np.float32)[order]
        self.indptr = np.concatenate([[0], np.cumsum(np.bincount(np.asarray(terms, dtype=np.int64),
                                                                  minlength=len(vocab)))]).astype(np.int64)
        self.vocab = vocab
        self.chunk_df, self.doc_df, self.n_docs = _doc_freqs(doc_ids, words)
        self.fp = _fp_sum(ids)

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        at = self.vocab.get(term)
        if at is None:
            return None
        s, e = self.indptr[at], self.indptr[at + 1]
        return self.pos[s:e], self.tf[s:e]

    def save(self, directory: Path, words: list[list[str]]) -> None:
        tmp = directory / f"{self.name}.{uuid.uuid4().hex[:8]}.tmp"
        tmp.write_text(json.dumps({"ids": self.ids, "doc_ids": self.doc_ids, "words": [" ".join(w) for w in words]},
                                  ensure_ascii=False), encoding="utf-8")
        tmp.replace(directory / self.name)

    @classmethod
    def load(cls, directory: Path, name: str) -> "Segment":
        data = json.loads((directory / name).read_text(encoding="utf-8"))
        return cls(name, data["ids"], data["doc_ids"], [w.split(" ") if w else [] for w in data["words"]])


class KeywordIndex:
    def __init__(self, directory: Path):
        self.dir = directory
        self.ids: list[str] = []
        self.doc_ids: list[str] = []
        self.chunk_df: dict[str, int] = {}
        self.doc_df: dict[str, int] = {}
        self.n_docs = 0
        self.fp = ""
        self.folder = ""  # the base's folder under ``dir``
        self.segments: tuple[Segment, ...] = ()
        self._bm25 = None
        self._vocab: dict[str, int] = {}
        self._base_n = 0  # chunks in the base (the first of ``ids``)
        self._length_sum = 0.0  # tokens in all chunks, base and tail (the average chunk length of BM25)
        self._loaded_mtime = 0
        self._codes: np.ndarray | None = None  # each chunk's document as a number, for filter masks
        self._code_of: dict[str, int] = {}

    @property
    def tail_size(self) -> int:
        return len(self.ids) - self._base_n

    # --- build and persist
    def rebuild(self, ids: list[str], doc_ids: list[str], words: list[list[str]], save: bool = True) -> None:
        """Index these chunks as the base (no tail); with ``save``, persist them so other processes load
        the same index.

        Each build is saved into a folder of its own and ``state.json`` — which names the folder —
        is replaced last, atomically: a reader loads either the old index or the new, never half."""
        bm25s = _bm25s()
        self.ids, self.doc_ids, self._codes, self.segments = list(ids), list(doc_ids), None, ()
        chunk_df, doc_df, self.n_docs = _doc_freqs(doc_ids, words)
        self.chunk_df, self.doc_df = dict(chunk_df), dict(doc_df)
        self._base_n = len(self.ids)
        self.fp = fingerprint(self.ids)
        self._length_sum = float(sum(len(_tokens(w)) for w in words))
        if ids:
            bm25 = bm25s.BM25(k1=BM25_K1, b=BM25_B)
            bm25.index([_tokens(w) for w in words], show_progress=False)
            self._bm25 = bm25
            self._vocab = bm25.vocab_dict
        else:
            self._bm25 = None
            self._vocab = {}
        self.folder = f"bm25-{self.fp[:16]}-{uuid.uuid4().hex[:8]}"
        if save:
            self.save()

    def save(self) -> None:
        """Write the base into its folder and the state naming it (a rebuilt index has no tail)."""
        folder = self.dir / self.folder
        folder.mkdir(parents=True, exist_ok=True)
        self._touch_current()
        if self._bm25 is not None:
            self._bm25.save(str(folder), show_progress=False)
        base = {"ids": self.ids, "doc_ids": self.doc_ids, "chunk_df": self.chunk_df, "doc_df": self.doc_df,
                "n_docs": self.n_docs, "length_sum": self._length_sum, "fingerprint": self.fp}
        (folder / "base.json").write_text(json.dumps(base, ensure_ascii=False), encoding="utf-8")
        self._write_state()
        # Older builds and segments go once STALE_AFTER seconds old (a reader in another process may still be
        # loading one).
        keep = {self.folder, *(s.name for s in self.segments)}
        for old in [*self.dir.glob("bm25-*"), *self.dir.glob("seg-*"), *self.dir.glob("*.tmp")]:
            try:
                if old.name not in keep and time.time() - old.stat().st_mtime > STALE_AFTER:
                    shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink(missing_ok=True)
            except OSError:
                pass  # another process's cleanup took it first

    def _touch_current(self) -> None:
        """The files of the state about to be replaced count as new from now: a reader that has just read
        that state has STALE_AFTER seconds to load them, however old they are."""
        try:
            state = json.loads((self.dir / "state.json").read_text(encoding="utf-8"))
            for name in [state.get("folder", ""), *state.get("segments", [])]:
                if name and (self.dir / name).exists():
                    os.utime(self.dir / name)
        except (OSError, ValueError, AttributeError):
            pass  # no state yet, or an older or damaged one: nothing a reader can be loading from it

    def _write_state(self) -> None:
        state = {"version": STATE_VERSION, "fingerprint": self.fp, "folder": self.folder,
                 "segments": [s.name for s in self.segments]}
        tmp = self.dir / f"state.json.{uuid.uuid4().hex[:8]}.tmp"
        tmp.write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")
        tmp.replace(self.dir / "state.json")
        self._loaded_mtime = (self.dir / "state.json").stat().st_mtime_ns

    def with_segment(self, ids: list[str], doc_ids: list[str], words: list[list[str]]) -> "KeywordIndex":
        """This index and these chunks, added as a tail segment (saved first, then the state naming it):
        the cost is the segment's and the vocabulary's, not the library's."""
        seg = Segment(f"seg-{uuid.uuid4().hex}.json", ids, doc_ids, words)
        self.dir.mkdir(parents=True, exist_ok=True)
        seg.save(self.dir, words)
        grown = self._plus(seg)
        grown._write_state()
        return grown

    def _plus(self, seg: Segment) -> "KeywordIndex":
        grown = KeywordIndex(self.dir)
        for name in ("folder", "_bm25", "_vocab", "_base_n", "_loaded_mtime"):
            setattr(grown, name, getattr(self, name))
        grown.segments = (*self.segments, seg)
        grown.ids, grown.doc_ids = self.ids + seg.ids, self.doc_ids + seg.doc_ids
        grown.chunk_df, grown.doc_df = _plus_counts(self.chunk_df, seg.chunk_df), _plus_counts(self.doc_df, seg.doc_df)
        grown.n_docs = self.n_docs + seg.n_docs
        grown._length_sum = self._length_sum + float(seg.lengths.sum())
        grown.fp = _fp_hex(int(self.fp, 16) + seg.fp)
        return grown

    def changed_on_disk(self) -> bool:
        """Has another process saved a newer build since this one was loaded or saved?"""
        try:
            return (self.dir / "state.json").stat().st_mtime_ns != self._loaded_mtime
        except OSError:
            return False

    def load(self) -> bool:
        """Load the saved index into this (empty) object. False when there is none usable."""
        got = self.reloaded()
        if got is None:
            return False
        self.__dict__.update(got.__dict__)
        return True

    def reloaded(self) -> "KeywordIndex | None":
        """The saved index, as a new object: this one's base and segments are reused when the saved state
        still has them (a reader then reads only the segments committed since). None when nothing usable
        is saved."""
        state_path = self.dir / "state.json"
        if not state_path.exists():
            return None
        try:
            mtime = state_path.stat().st_mtime_ns
            state = json.loads(state_path.read_text(encoding="utf-8"))
            if state.get("version") != STATE_VERSION:
                return None  # an older layout: rebuilt from the store
            names, have = state["segments"], [s.name for s in self.segments]
            if state["folder"] == self.folder and self.fp and names[: len(have)] == have:
                got, names = self._copy(), names[len(have):]
            else:
                got = self._load_base(state["folder"])
            for name in names:
                got = got._plus(Segment.load(self.dir, name))
            if got.fp != state["fingerprint"]:
                raise ValueError("its fingerprint does not match its chunks")
            got._loaded_mtime = mtime
            return got
        except Exception as exc:  # noqa: BLE001 - a damaged index is rebuilt from the store
            log.warning("keyword index unreadable (%s); it will be rebuilt", exc)
            return None

    def _copy(self) -> "KeywordIndex":
        same = KeywordIndex(self.dir)
        same.__dict__.update(self.__dict__)
        return same

    def _load_base(self, folder: str) -> "KeywordIndex":
        base = json.loads((self.dir / folder / "base.json").read_text(encoding="utf-8"))
        got = KeywordIndex(self.dir)
        got.folder = folder
        got.ids, got.doc_ids = base["ids"], base["doc_ids"]
        got.chunk_df, got.doc_df, got.n_docs = base["chunk_df"], base["doc_df"], base["n_docs"]
        got._length_sum = base["length_sum"]
        got._base_n, got.fp = len(got.ids), base["fingerprint"]
        if got.ids:
            got._bm25 = _bm25s().BM25.load(str(self.dir / folder), show_progress=False)
            got._vocab = got._bm25.vocab_dict
        return got

    # --- query
    def search(self, words: list[str], k: int, allowed_docs: set[str] | None = None,
               mask: np.ndarray | None = None) -> list[tuple[str, float]]:
        """Top-k chunks for these words; only those of ``allowed_docs`` (or where ``mask``, its
        ``mask()`` computed already, is true)."""
        if not self.ids:
            return []
        scores = np.zeros(len(self.ids), dtype=np.float64)
        toks = [self._vocab[t] for t in words if t in self._vocab]
        if self._bm25 is not None and toks:
            scores[: self._base_n] = self._bm25.get_scores(toks)
        hit = bool(toks)
        if self.segments:
            n, avg = len(self.ids), self._length_sum / len(self.ids)
            at = self._base_n
            for seg in self.segments:
                for t in words:
                    post = seg.postings(t)
                    if post is None:
                        continue
                    pos, tf = post
                    df = self.chunk_df.get(t, 0)
                    idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
                    norm = BM25_K1 * ((1 - BM25_B) + BM25_B * seg.lengths[pos] / avg)
                    scores[at + pos] += idf * tf / (norm + tf)
                    hit = True
                at += len(seg.ids)
        if not hit:
            return []
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
