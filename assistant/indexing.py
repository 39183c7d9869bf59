"""The index: document store (SQLite) + keyword index (BM25) + dense index (Chroma).

Ingest is incremental and idempotent, keyed by a hash of each file's bytes and the pipeline
version: unchanged files are skipped, a changed file replaces all of its chunks, files gone from a
folder that was ingested before are removed. After every change, and whenever the index opens,
``sync`` makes BM25 and Chroma hold exactly the chunks of the store — nothing more, nothing less.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .chinese import fold, words
from .chunking import chunk
from .cleaning import clean
from .embedding import EmbedderUnavailable, load_embedder
from .errors import AssistantError
from .keyword import KeywordIndex, fingerprint
from .loading import Skipped, discover, read_file
from .schema import Chunk, DocMeta, Document, content_hash
from .settings import Settings
from .store import DocStore

log = logging.getLogger(__name__)

PIPELINE_VERSION = "4"  # bump when cleaning/chunking changes so every file is re-ingested
COLLECTION = "chunks"

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    chunks_added: int = 0
    chunks_removed: int = 0
    total_docs: int = 0
    total_chunks: int = 0
    dense: bool = False
    seconds: float = 0.0
    embed_seconds: float = 0.0


def date_ord(date: str) -> int:
    digits = date.replace("-", "")
    return int(digits.ljust(8, "0")) if digits.isdigit() else 0


def index_text(meta: DocMeta, c: Chunk) -> str:
    """What is embedded and keyword-indexed for a chunk: its document's title and organisation,
    its heading path and its text, folded to simplified characters."""
    head = " ".join(x for x in (meta.title, meta.org, " ".join(meta.aliases), " ".join(c.headings)) if x)
    return fold(f"{head}\n{c.text}")


class Index:
    def __init__(self, settings: Settings, embedder=None):
        self.settings = settings
        self.dir = Path(settings.index_dir)
        self.store = DocStore(self.dir / "store.sqlite3")
        self.keyword = KeywordIndex(self.dir / "keyword")
        self._embedder = embedder
        self._embedder_tried = embedder is not None
        self.dense_error: str | None = None
        self._vs = None
        self._synced = False

    @classmethod
    def open(cls, settings: Settings, embedder=None, create: bool = False) -> "Index":
        db = Path(settings.index_dir) / "store.sqlite3"
        if not create and not db.exists():
            raise AssistantError(f"No index at {settings.index_dir}/ yet: run `assistant ingest` first.")
        try:
            return cls(settings, embedder)
        except Exception as exc:  # sqlite/permission problems
            raise AssistantError(f"Cannot open the index at {settings.index_dir}/ ({exc}); check the path and permissions.")

    def close(self) -> None:
        self.store.close()

    # --- the embedding model and Chroma, loaded on first use
    @property
    def embedder(self):
        if not self._embedder_tried:
            self._embedder_tried = True
            try:
                self._embedder = load_embedder(self.settings.model)
            except EmbedderUnavailable as exc:
                self.dense_error = str(exc)
                log.info("%s; running with keyword retrieval only", exc)
        return self._embedder

    @property
    def dense(self) -> bool:
        return self.embedder is not None

    @property
    def vectorstore(self):
        if self._vs is None and self.embedder is not None:
            import chromadb
            from langchain_chroma import Chroma

            client = chromadb.PersistentClient(
                path=str(self.dir / "chroma"), settings=chromadb.Settings(anonymized_telemetry=False)
            )
            self._vs = Chroma(
                collection_name=COLLECTION,
                embedding_function=self.embedder,
                client=client,
                collection_metadata={"hnsw:space": "cosine"},
            )
        return self._vs

    # --- keeping BM25 and Chroma in step with the store
    def sync(self, progress: Progress | None = None) -> None:
        ids = self.store.chunk_ids()
        if not self.keyword.fp and not self.keyword.load() or self.keyword.fp != fingerprint(ids):
            self.keyword.rebuild(*self.store.all_words())
        vs = self.vectorstore
        if vs is not None:
            model_id = self.embedder.model_id
            if self.store.get_meta("embed_model") not in ("", model_id):
                log.warning("index was embedded with %s; re-embedding with %s", self.store.get_meta("embed_model"), model_id)
                vs.reset_collection()
            self.store.set_meta("embed_model", model_id)
            have = set(vs.get(include=[])["ids"])
            stale = sorted(have - ids)
            if stale:
                vs.delete(ids=stale)
            missing = sorted(ids - have)
            if missing:
                self._embed(missing, progress)
        self._synced = True

    def _embed(self, ids: list[str], progress: Progress | None) -> None:
        texts = self.store.index_texts(ids)
        metas = self.store.metas()
        batch = 256  # the model sorts each batch by length, so larger batches pad less
        for i in range(0, len(ids), batch):
            part = ids[i : i + batch]
            docs = [texts[c][0] for c in part]
            self.vectorstore.add_texts(
                texts=[texts[c][1] for c in part],
                metadatas=[
                    {"doc_id": d, "org": metas[d].org, "date_ord": date_ord(metas[d].date)} for d in docs
                ],
                ids=part,
            )
            if progress:
                progress("embed", min(i + batch, len(ids)), len(ids))

    def ensure_synced(self) -> None:
        if not self._synced:
            self.sync()

    # --- ingest and remove
    def ingest(self, paths: list[Path], progress: Progress | None = None) -> IngestReport:
        t0 = time.perf_counter()
        report = IngestReport()
        files, report.skipped = discover(paths)
        seen: dict[str, Path] = {}
        metas = dict(self.store.metas())
        for n, path in enumerate(files, 1):
            if progress:
                progress("read", n, len(files))
            doc_id = path.name
            if doc_id in seen:
                report.skipped.append(Skipped(path, f"same file name as {seen[doc_id]}; rename one of them"))
                continue
            try:
                raw = read_file(path, self.settings.max_file_bytes)
            except AssistantError as exc:
                report.skipped.append(Skipped(path, str(exc)))
                continue
            except OSError as exc:
                report.skipped.append(Skipped(path, f"cannot be read ({exc.strerror or exc})"))
                continue
            seen[doc_id] = path
            key = content_hash(f"{PIPELINE_VERSION}|{self.settings.chunk_tokens}|") + content_hash(raw.data.hex())
            previous = self.store.raw_hash(doc_id)
            if previous == key:
                report.unchanged.append(doc_id)
                continue
            doc = clean(raw.text, doc_id, path=str(path.resolve()), raw_hash=key)
            chunks = chunk(doc, self.settings.chunk_tokens, self.settings.overlap_sentences)
            if not chunks:
                report.skipped.append(Skipped(path, "has no text left after removing boilerplate"))
                continue
            itexts = [index_text(doc.meta, c) for c in chunks]
            old = len(self.store.doc_chunks(doc_id)) if previous else 0
            self.store.put(doc, chunks, itexts, [words(t) for t in itexts])
            report.chunks_added += len(chunks)
            report.chunks_removed += old
            (report.updated if previous else report.added).append(doc_id)

        # Files that were ingested from one of these folders before and are gone now.
        folders = [p.resolve() for p in paths if p.is_dir()]
        for doc_id, meta in metas.items():
            if doc_id in seen or not meta.path:
                continue
            mpath = Path(meta.path)
            if any(folder in mpath.parents for folder in folders) and not mpath.exists():
                report.chunks_removed += len(self.store.delete(doc_id))
                report.removed.append(doc_id)

        t_embed = time.perf_counter()
        self.sync(progress)
        report.embed_seconds = time.perf_counter() - t_embed
        report.dense = self.dense
        report.total_docs = len(self.store.metas())
        report.total_chunks = sum(self.store.chunk_counts().values())
        report.seconds = time.perf_counter() - t0
        return report

    def remove(self, doc_id: str) -> int:
        if doc_id not in self.store.metas():
            raise AssistantError(f"No document with id {doc_id!r} in the index; `assistant docs` lists them.")
        removed = self.store.delete(doc_id)
        self.sync()
        return len(removed)

    def documents(self) -> list[tuple[DocMeta, int]]:
        counts = self.store.chunk_counts()
        return [(m, counts.get(d, 0)) for d, m in self.store.metas().items()]

    def document(self, doc_id: str) -> Document:
        meta = self.store.metas()[doc_id]
        return Document(meta=meta, text=self.store.text(doc_id), raw_hash=self.store.raw_hash(doc_id) or "")

    def record(self, ans) -> None:
        """Keep each answer as data (question, retrieved chunk ids, citations) in answers.jsonl, so a
        wrong citation can be debugged by reading the record."""
        try:
            rec = ans.to_json()
            rec["reason"] = ans.reason
            rec["retrieved"] = [{k: v for k, v in r.items() if k != "text"} for r in rec["retrieved"]]
            with open(self.dir / "answers.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        except OSError as exc:
            log.info("could not record the answer (%s)", exc)
