"""The index: document store (SQLite) + keyword index (BM25) + dense index (Chroma), shared by
several processes (a web server, CLI runs) and threads.

Identity. A document is not its file name: it is the file at a path. Re-ingesting the same path
updates that document; another file whose name is taken becomes a document of its own (its id gets
a suffix, ``name-2.txt``); the same bytes or the same text under another name are recognised and
not indexed twice (a file that moved is followed to its new path).

Writers. Reading, converting, cleaning, chunking and embedding a file take no lock. Only the commit
does: under an exclusive file lock (``index/write.lock``) the vectors go into Chroma, then the
document and its chunks into the store in one transaction that also bumps the store's generation,
then old vectors are deleted and BM25 is rebuilt (at most every few seconds, and at the end). A
crash at any point leaves at most vectors no document owns, or a keyword index that is behind: the
next ingest finds both (``finish``) and repairs them, and embeds documents whose vectors are
missing. ``ask`` never embeds: ``docs`` and ``ask`` say which documents are incomplete.

Readers take no lock (the first open of an index made before EF_SEARCH stores the wider search
setting in its collection once: a one-row write under Chroma's own database lock). ``refresh``
compares the store's generation with the one this process last saw and, when another process (or
thread) committed meanwhile, reloads the keyword index and reopens Chroma (whose in-memory HNSW
does not see another process's writes).
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable
from urllib.parse import urlparse

from ..core.chinese import fold, words
from ..core.errors import AssistantError, Unreadable
from ..core.schema import Chunk, DocMeta, Document, content_hash
from ..core.settings import Settings
from ..ingest.chunking import chunk
from ..ingest.cleaning import clean
from ..ingest.loading import Skipped, discover, free_name, read_file
from .answer_log import AnswerLog
from .embedding import EmbedderUnavailable, load_embedder
from .keyword import KeywordIndex, fingerprint
from .pg_store import PgAnswerLog, PgStore
from .store import DocRecord, DocStore, date_ord, date_span, file_lock  # noqa: F401 - date_ord is imported from here

log = logging.getLogger(__name__)

PIPELINE_VERSION = "6"  # bump when cleaning/chunking changes so every file is re-ingested
KEYWORD_SAVE_EVERY = 3.0  # seconds: during a long ingest BM25 is rebuilt at most this often …
KEYWORD_SAVE_FACTOR = 10  # … and at most every 10× its last rebuild time (≤ 10 % of the ingest)
# A reader of a shared store (PostgreSQL) rebuilds its keyword index from the store at most this often, so a
# document committed on another machine is found by keyword within about a second (the bar is 2 s).
READER_REBUILD_EVERY = 1.0
UPSERT_BATCH = 4000  # Chroma refuses batches above ~5,400
EMBED_GROUP = 128  # texts per encode call (a file's texts are sorted by length first); progress after each
CHROMA_OPEN_TRIES = 20
# Chroma keeps one system per path and process, in a dict shared by every client. Forgetting ours and
# starting a new one is not atomic: a thread that reopens while another does found the path gone
# between Chroma's own insert and lookup (a KeyError on the path, seen in CI under load). One reopen
# at a time per process.
_CHROMA_OPEN = threading.Lock()
# What Chroma says when its on-disk vector segment no longer matches its log: an ingest killed while
# Chroma was writing it (test_crash's random kills met it once in a few dozen CI runs; Chroma's own
# issue #5366). Its reads keep failing. The store still holds every chunk's text, so the writer sets
# the damaged folder aside and embeds the documents again.
CHROMA_DAMAGE = ("Failed to apply logs", "backfill request", "Error in compaction")
# Candidates Chroma's HNSW graph explores per search (its default is 100). The e5 vectors of these
# reports are crowded together, and with 100 the graph finds too few true neighbours: of the exact
# top 30, 0.84 at 10k chunks and 0.73 at 100k on average, none at all for some questions, and one
# process could miss a whole report that another found (the graph is completed from the not yet
# persisted log on every load, in parallel). 1000: 0.99 / 0.98, every process the same, 4.6 ms
# p50 instead of 1.5 at 100k (bench/ann_recall.py). Collections made earlier are raised to it.
EF_SEARCH = 1000
HNSW = {"hnsw": {"space": "cosine", "ef_search": EF_SEARCH}}
COLLECTION = "chunks"  # the default of Settings.chroma_collection
VECTOR_META_VERSION = "2"  # 2: date_end beside date_ord

Progress = Callable[[str, int, int], None]  # (stage, done, total)
RETRIES = 3  # times one file is read again when other writers keep changing what it is while it is embedded


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    duplicates: list[tuple[Path, str]] = field(default_factory=list)  # (file, the document it repeats)
    renamed: list[tuple[Path, str, str]] = field(default_factory=list)  # (file, its doc id, who had the name)
    moved: list[tuple[str, Path]] = field(default_factory=list)  # (doc id, its new path)
    finished: list[str] = field(default_factory=list)  # documents an earlier, interrupted ingest left incomplete
    incomplete: list[str] = field(default_factory=list)  # committed without vectors (no embedding model)
    chunks_added: int = 0
    chunks_removed: int = 0
    total_docs: int = 0
    total_chunks: int = 0
    dense: bool = False
    seconds: float = 0.0
    embed_seconds: float = 0.0

    @property
    def ingested(self) -> int:
        """Files that are in the index as asked: added, updated, unchanged, moved or already there."""
        return len(self.added) + len(self.updated) + len(self.unchanged) + len(self.moved) + len(self.duplicates)


def index_text(meta: DocMeta, c: Chunk) -> str:
    """What is embedded and keyword-indexed for a chunk: its document's title and organisation,
    its heading path and its text, folded to simplified characters."""
    head = " ".join(x for x in (meta.title, meta.org, " ".join(meta.aliases), " ".join(c.headings)) if x)
    return fold(f"{head}\n{c.text}")


def text_hash(text: str) -> str:
    """The same report whatever its file: folded cleaned text without white space."""
    return content_hash(re.sub(r"\s+", "", fold(text)))


@dataclass
class Prepared:
    """A file read, cleaned and chunked, ready to be embedded and committed."""

    path: Path
    key: str  # pipeline version + bytes hash: decides "unchanged"
    content_hash: str
    doc: Document | None = None
    chunks: list[Chunk] = field(default_factory=list)
    index_texts: list[str] = field(default_factory=list)
    words: list[list[str]] = field(default_factory=list)  # keyword tokens of each index text (jieba)
    text_hash: str = ""


@dataclass(frozen=True)
class Decision:
    action: str  # unchanged | duplicate | moved | update | new
    doc_id: str  # the document it is, repeats or becomes
    taken_by: str = ""  # for a new document whose file name was taken: the document that has it
    replaces: str = ""  # for a duplicate: the document this path held before (its text is gone from disk)


class ChromaUnreachable(AssistantError):
    pass


def chroma_http_client(url: str, timeout: float = 5.0):
    """A client of the Chroma server at ``url`` (http://host:port), after a heartbeat that gives up
    within ``timeout`` seconds: a server that is down is reported, never waited for."""

    import chromadb

    u = urlparse(url if "://" in url else f"http://{url}")
    if not u.hostname:
        raise ChromaUnreachable(f"ASSISTANT_CHROMA_URL={url!r} is not a URL; write it as http://host:port")
    port = u.port or (443 if u.scheme == "https" else 8000)
    try:
        with urllib.request.urlopen(f"{u.scheme}://{u.hostname}:{port}/api/v2/heartbeat", timeout=timeout) as resp:
            resp.read()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ChromaUnreachable(f"the Chroma server at {url} does not answer ({reason}): start it "
                                "(`chroma run --path DIR --port PORT`) or unset ASSISTANT_CHROMA_URL") from None
    return chromadb.HttpClient(host=u.hostname, port=port, ssl=u.scheme == "https",
                               settings=chromadb.Settings(anonymized_telemetry=False))


def search_wide(vs, remote: bool = False):
    """The vector store, its collection set to explore EF_SEARCH candidates per search: a collection
    made before with Chroma's default of 100 is raised once (the setting is stored with it, so this
    is one small write the first time an older index is opened, and a read after). Chroma reads it
    when a process loads the graph: here that is the first search, after this; a Chroma server that
    has the collection loaded already applies it once restarted (measured), and is asked to be. A
    collection with another kind of index (SPANN, on a distributed Chroma) is left as it is."""
    collection = vs._collection
    try:
        config = getattr(collection, "configuration_json", None) or {}
        hnsw = config.get("hnsw")
        if hnsw is not None and not config.get("spann") and hnsw.get("ef_search", 100) < EF_SEARCH:
            collection.modify(configuration={"hnsw": {"ef_search": EF_SEARCH}})
            if remote:
                log.warning("the collection %r now asks for a wider vector search (ef_search %d); restart the "
                            "Chroma server once so that it applies it", collection.name, EF_SEARCH)
    except Exception as exc:  # noqa: BLE001 - e.g. another process writing: the next open tries again
        log.warning("vector search stays at Chroma's default breadth for now (%s)", exc)
    return vs


def forget_chroma_system(path: str) -> None:
    """Chroma keeps one system per path and process: the next client of ``path`` starts a new one."""
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient._identifier_to_system.pop(path, None)
    SharedSystemClient._identifier_to_refcount.pop(path, None)


class Index:
    def __init__(self, settings: Settings, embedder=None):
        self.settings = settings
        self.dir = Path(settings.index_dir)
        url = settings.database_url.get_secret_value()
        self.store = PgStore(url) if url else DocStore(self.dir / "store.sqlite3")
        self.keyword = KeywordIndex(self.dir / "keyword")
        self._embedder = embedder
        self._embedder_tried = embedder is not None
        self.dense_error: str | None = None
        self.server_error: str | None = None  # the Chroma server (ASSISTANT_CHROMA_URL) did not answer
        self._vs = None
        self._seen_gen = -1  # the store generation this process's keyword index and Chroma reflect
        self._keyword_lags = False  # the keyword index loaded was behind the store (a writer was at work)
        self._reload_lock = threading.Lock()
        self._keyword_saved = 0.0
        self._keyword_build_s = 0.0
        self.vectors_set_aside: Path | None = None  # where damaged Chroma files went (``_vector_ids``)

        self.answer_log = PgAnswerLog(self.store, settings.log_answers) if self.store.shared else \
            AnswerLog(self.dir / "answers.jsonl", max_bytes=settings.log_max_bytes, backups=settings.log_backups,
                      enabled=settings.log_answers)

    @classmethod
    def open(cls, settings: Settings, embedder=None, create: bool = False) -> "Index":
        db = Path(settings.index_dir) / "store.sqlite3"
        if not create and not db.exists() and not settings.database_url.get_secret_value():
            raise AssistantError(f"No index at {settings.index_dir}/ yet: run `assistant ingest` first.")
        try:
            return cls(settings, embedder)
        except AssistantError:
            raise
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
        return self.embedder is not None and self.vectorstore is not None

    @property
    def model_id(self) -> str:
        """The model (and backend) vectors are written and compared with: the loaded embedder's own,
        which says PyTorch when the ONNX backend could not be had."""
        emb = self._embedder
        return getattr(emb, "model_id", None) or self.settings.model.id

    @property
    def vectorstore(self):
        if self._vs is None and self.embedder is not None and not self.server_error:
            try:
                self._vs = self._open_chroma()
            except ChromaUnreachable as exc:
                self.server_error = self.dense_error = str(exc)
                log.warning("%s; running with keyword retrieval only", exc)
        return self._vs

    @property
    def remote(self) -> bool:
        """Are the vectors on a Chroma server (ASSISTANT_CHROMA_URL) rather than under index/chroma/?"""
        return bool(self.settings.chroma_url)

    def _open_chroma(self, fresh: bool = False):
        from langchain_chroma import Chroma

        if self.remote:
            # A server sees every client's writes: nothing to reopen when another process commits. Its
            # collection records the index it belongs to: another index's vectors are never touched
            # (reconciling would delete them as vectors no document owns).
            name, own = self.settings.chroma_collection, self.store.index_id()
            vs = Chroma(collection_name=name, embedding_function=self.embedder,
                        client=chroma_http_client(self.settings.chroma_url),
                        collection_metadata={"hnsw:space": "cosine", "index_id": own}, collection_configuration=HNSW)
            owner = (vs._collection.metadata or {}).get("index_id")
            if owner != own and (owner or vs._collection.count()):
                raise ChromaUnreachable(
                    f"the collection {name!r} on {self.settings.chroma_url} holds another index's vectors: set "
                    "ASSISTANT_CHROMA_COLLECTION to a name of this index's own")
            return search_wide(vs, remote=True)
        import chromadb

        path = str(self.dir / "chroma")
        for attempt in range(CHROMA_OPEN_TRIES):
            try:
                with _CHROMA_OPEN:
                    if fresh or attempt:
                        # Chroma's in-memory HNSW does not see what another process wrote: forget our
                        # system (in-flight queries keep the old one) so the next client reloads. (A system
                        # whose start failed stays registered too, and would fail every later client.)
                        forget_chroma_system(path)
                    client = chromadb.PersistentClient(path=path, settings=chromadb.Settings(anonymized_telemetry=False))
                    vs = Chroma(collection_name=self.settings.chroma_collection, embedding_function=self.embedder,
                                client=client, collection_metadata={"hnsw:space": "cosine"},
                                collection_configuration=HNSW)
                return vs if fresh else search_wide(vs)  # a reopen after another process's commit: done already
            except Exception as exc:  # noqa: BLE001 - chromadb raises InternalError, not a subclass of its own
                # Two processes creating a new index at once: the one that loses finds Chroma's database
                # locked, or its tables just created, by the other. Wait and open what the other created.
                if not any(m in str(exc) for m in ("locked", "already exists")) or attempt == CHROMA_OPEN_TRIES - 1:
                    raise
                time.sleep(0.1 * (attempt + 1))

    # --- readers: see what other processes and threads committed
    def refresh(self) -> bool:
        """Bring this process's view up to date with the store; True when something changed. Never
        embeds and takes no lock another process holds: cheap when nothing changed (one query)."""
        gen = self.store.generation()
        if gen == self._seen_gen and not self._keyword_saved_since():
            return False
        with self._reload_lock:
            if gen == self._seen_gen:
                if not self._keyword_saved_since():
                    return False
                # No commit since, but the writer whose commits we saw has saved its keyword index.
                self._reload_keyword(self.store.chunk_ids())
                return True
            self._reload(gen)
        return True

    def _keyword_saved_since(self) -> bool:
        """The keyword index we loaded was behind the store, and a newer one has been saved since (or,
        for a shared store, this process may rebuild it again)."""
        return self._keyword_lags and (self.keyword.changed_on_disk() or (
            self.store.shared and self._may_rebuild(READER_REBUILD_EVERY)))

    def _may_rebuild(self, every: float) -> bool:
        """Has it been ``every`` seconds since the keyword index was last rebuilt here, or
        KEYWORD_SAVE_FACTOR times that rebuild's duration if that is longer? A long ingest (or, for a
        reader of a shared store, another machine's) is then caught up with in steps, not one rebuild a
        commit."""
        return time.monotonic() - self._keyword_saved >= max(every, KEYWORD_SAVE_FACTOR * self._keyword_build_s)

    def _rebuilt_keyword(self) -> KeywordIndex:
        """A keyword index rebuilt from the store and saved, its time kept for ``_may_rebuild``."""
        t0 = time.perf_counter()
        fresh = KeywordIndex(self.keyword.dir)
        fresh.rebuild(*self.store.all_words(), save=True)
        self._keyword_saved, self._keyword_build_s = time.monotonic(), time.perf_counter() - t0
        return fresh

    def _reload_keyword(self, ids: set[str]) -> None:
        fp = fingerprint(ids)
        if self.keyword.fp != fp or not self.keyword.fp:
            fresh = KeywordIndex(self.keyword.dir)
            if not fresh.load() and ids:
                # Nothing usable on disk: build it here (saved when no writer is at work). A saved index
                # that is merely behind is used as it is; the writer at work saves a new one within
                # seconds (``refresh`` notices it then), and the next ingest finishes one a crash left.
                with self._local_lock() as got:
                    fresh.rebuild(*self.store.all_words(), save=got)
            elif self.store.shared and fresh.fp != fp and self._may_rebuild(READER_REBUILD_EVERY):
                # A shared store: the writer may be on another machine, and saves its keyword files
                # there. Unless a writer of this machine is at work (it saves them here within
                # seconds), this process rebuilds them from the store.
                with self._local_lock() as got:
                    if got:
                        fresh = self._rebuilt_keyword()
            self.keyword = fresh  # one assignment: a search in flight keeps the old, consistent index
        self._keyword_lags = self.keyword.fp != fp

    def _reload(self, gen: int) -> None:
        self._reload_keyword(self.store.chunk_ids())
        if self._vs is not None and self._seen_gen >= 0 and not self.remote:
            self._vs = self._open_chroma(fresh=True)
        self._seen_gen = gen

    def ensure_synced(self) -> None:  # the name callers used before readers stopped writing
        self.refresh()

    # --- writers: one at a time across processes, each commit short
    @contextmanager
    def writing(self):
        """Exclusive write access to the whole library for one short commit: the store's write lock
        (for a shared store, also this directory's, which guards the local keyword files)."""
        with self.store.locked(), (self._local_lock(blocking=True) if self.store.shared else nullcontext()):
            self._catch_up()
            yield
            self._seen_gen = self.store.generation()

    def _local_lock(self, blocking: bool = False):
        """This directory's write lock; without ``blocking``, only if no other writer of this machine is
        at work right now (yields whether it got it)."""
        return file_lock(self.dir / "write.lock", blocking)

    def _catch_up(self) -> None:
        """Inside the write lock: if another process committed since we last looked, reopen Chroma and
        reload BM25 before writing (a stale in-memory index must never be written back)."""
        gen = self.store.generation()
        if gen != self._seen_gen:
            if self._vs is not None and not self.remote:
                self._vs = self._open_chroma(fresh=True)
            if self.keyword.changed_on_disk() or not self.keyword.fp:
                fresh = KeywordIndex(self.keyword.dir)
                if fresh.load():
                    self.keyword = fresh
            self._seen_gen = gen

    def _save_keyword(self, force: bool = False) -> None:
        """Inside the write lock: rebuild BM25 from the store and save it, when it is behind. During a
        long ingest at most every KEYWORD_SAVE_EVERY seconds, or KEYWORD_SAVE_FACTOR times the last
        rebuild's duration if that is longer (a rebuild of 100k chunks takes tens of seconds: the
        keyword side catches up in steps while the dense side has every commit at once)."""
        if not force and not self._may_rebuild(KEYWORD_SAVE_EVERY):
            return
        ids = self.store.chunk_ids()
        if self.keyword.fp == fingerprint(ids) and self.keyword.fp:
            return
        self.keyword = self._rebuilt_keyword()

    def _collection(self):
        return self.vectorstore._collection

    def chroma_ids(self) -> list[str]:
        """Every id in Chroma, paged (a list, so that a duplicate would show)."""
        col, out, offset = self._collection(), [], 0
        while True:
            part = col.get(include=[], limit=5000, offset=offset)["ids"]
            out.extend(part)
            if len(part) < 5000:
                return out
            offset += len(part)

    def _upsert(self, ids: list[str], vectors: list[list[float]], texts: list[str], metas: list[dict]) -> None:
        col = self._collection()
        for i in range(0, len(ids), UPSERT_BATCH):
            j = i + UPSERT_BATCH
            col.upsert(ids=ids[i:j], embeddings=vectors[i:j], documents=texts[i:j], metadatas=metas[i:j])

    def _delete_vectors(self, ids) -> None:
        ids = sorted(ids)
        col = self._collection()
        for i in range(0, len(ids), UPSERT_BATCH):
            col.delete(ids=ids[i : i + UPSERT_BATCH])

    def _embed(self, texts: list[str], progress: Progress | None, done: int = 0, total: int | None = None):
        """Vectors of ``texts``, in order. Encoded shortest first, so each batch pads to a similar length."""
        total = total or len(texts)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out: list[list[float] | None] = [None] * len(texts)
        for g in range(0, len(order), EMBED_GROUP):
            group = order[g : g + EMBED_GROUP]
            for i, vec in zip(group, self.embedder.embed_documents([texts[i] for i in group])):
                out[i] = vec
            if progress:
                progress("embed", done + g + len(group), total)
        return out

    @staticmethod
    def _vector_meta(meta: DocMeta) -> dict:
        """What Chroma keeps beside each vector, for filters in its ``where``: the document, its
        organisation, and the first and last day its date stands for (YYYYMMDD; 0 when undated)."""
        lo, hi = date_span(meta.date)
        return {"doc_id": meta.doc_id, "org": meta.org, "date_ord": lo, "date_end": hi}

    def _update_vector_metas(self) -> None:
        """Inside the write lock: vectors written before ``date_end`` existed get it (no re-embedding)."""
        if self.store.get_meta("vector_meta") == VECTOR_META_VERSION:
            return
        col, metas = self._collection(), self.store.metas()
        for doc_id in metas:
            ids = sorted(self.store.chunk_ids([doc_id]))
            for i in range(0, len(ids), UPSERT_BATCH):
                part = ids[i : i + UPSERT_BATCH]
                present = col.get(ids=part, include=[])["ids"]
                if present:
                    col.update(ids=present, metadatas=[self._vector_meta(metas[doc_id])] * len(present))
        self.store.set_meta("vector_meta", VECTOR_META_VERSION)

    # --- repair what an interrupted ingest left
    def _vector_ids(self) -> set[str]:
        """Inside the write lock: the ids Chroma holds. When Chroma's files are damaged (CHROMA_DAMAGE)
        its folder is set aside, kept as it is for a look, and a new one started: the caller embeds
        every document again from the store, which holds all their text."""
        try:
            self._update_vector_metas()
            return set(self.chroma_ids())
        except Exception as exc:  # noqa: BLE001 - chromadb raises its InternalError for this
            if self.remote or not any(m in str(exc) for m in CHROMA_DAMAGE):
                raise
            damage = exc
        aside = self.dir / f"chroma.damaged-{time.strftime('%Y%m%d-%H%M%S')}"
        log.warning("the vector index in %s is damaged (%s); it is kept as %s and every document is embedded "
                    "again", self.dir / "chroma", damage, aside.name)
        with _CHROMA_OPEN:
            forget_chroma_system(str(self.dir / "chroma"))
            (self.dir / "chroma").rename(aside)
        self._vs = search_wide(self._open_chroma(fresh=True))
        self.store.set_dense(list(self.store.metas()), "")  # bumps the generation: readers reopen Chroma
        self.store.set_meta("vector_meta", VECTOR_META_VERSION)
        self.vectors_set_aside = aside
        return set()

    def finish(self, progress: Progress | None = None) -> list[str]:
        """Make Chroma and BM25 hold exactly the store's chunks: delete vectors no document owns,
        embed documents whose vectors are missing, save BM25. Returns the documents completed."""
        completed: list[str] = []
        if self.vectorstore is not None:
            with self.writing():
                if self.store.get_meta("embed_model") not in ("", self.model_id):
                    log.warning("index was embedded with %s; re-embedding with %s",
                                self.store.get_meta("embed_model"), self.model_id)
                    self.vectorstore.reset_collection()
                    self.store.set_dense(list(self.store.metas()), "")
                self.store.set_meta("embed_model", self.model_id)
                store_ids = self.store.chunk_ids()
                have = self._vector_ids()
                if have - store_ids:
                    self._delete_vectors(have - store_ids)
                todo = sorted(set(self.store.not_embedded(self.model_id)) | {
                    c.doc_id for c in self.store.chunks(sorted(store_ids - have)).values()})
            for n, doc_id in enumerate(todo):
                chunks = self.store.doc_chunks(doc_id)
                texts = self.store.index_texts([c.chunk_id for c in chunks])
                ids = [c.chunk_id for c in chunks]
                vectors = self._embed([texts[i][1] for i in ids], progress)
                with self.writing():
                    if {c.chunk_id for c in self.store.doc_chunks(doc_id)} != set(ids):
                        continue  # changed meanwhile by another writer, who embedded it
                    meta = self.store.metas()[doc_id]
                    self._upsert(ids, vectors, [texts[i][1] for i in ids], [self._vector_meta(meta)] * len(ids))
                    self.store.set_dense([doc_id], self.model_id)
                    completed.append(doc_id)
        with self.writing():
            self._save_keyword(force=True)
        return completed

    def sync(self, progress: Progress | None = None) -> None:  # the older name of finish
        self.finish(progress)

    def incomplete(self) -> list[str]:
        """Documents without vectors (an interrupted ingest, or ingested without the model)."""
        return self.store.not_embedded(self.model_id)

    def vectors_missing(self) -> int:
        """How many chunks the vector store lacks (a Chroma server wiped or restored from an older
        backup, say): the next ``ingest`` embeds them again. Two counts, no pass over the ids."""
        if self.vectorstore is None:
            return 0
        try:
            return max(0, self.store.chunk_total() - self._collection().count())
        except Exception as exc:  # noqa: BLE001 - a server that went away since
            log.warning("cannot count the vectors (%s)", exc)
            return 0

    def keyword_behind(self) -> bool:
        """Is the saved keyword index older than the documents (a crash before it was saved)?"""
        self.refresh()
        return self.keyword.fp != fingerprint(self.store.chunk_ids())

    # --- ingest and remove
    def _prepare_text(self, path: Path, raw, key: str, bytes_hash: str) -> Prepared:
        resolved = str(path.resolve())
        doc = clean(raw.text, path.name, path=resolved, raw_hash=key, kind=raw.kind, hints=raw.hints)
        return Prepared(path=path, key=key, content_hash=bytes_hash, doc=doc, text_hash=text_hash(doc.text))

    @staticmethod
    def _holds(rec: DocRecord) -> bool:
        """Does the file a document was read from still hold the bytes that were indexed?"""
        if not rec.path:
            return False
        if not rec.content_hash:  # an index made before content hashes: trust the file is still it
            return os.path.exists(rec.path)
        try:
            return content_hash(Path(rec.path).read_bytes().hex()) == rec.content_hash
        except OSError:
            return False

    @staticmethod
    def decide(p: Prepared, records: dict[str, DocRecord]) -> Decision:
        resolved = str(p.path.resolve())
        own = next((r for r in records.values() if r.path == resolved), None)
        if own is not None and own.raw_hash == p.key:
            return Decision("unchanged", own.doc_id)
        same = [r for r in records.values() if r is not own and (
            r.content_hash == p.content_hash or (p.text_hash and r.text_hash == p.text_hash))]
        held = next((r for r in same if Index._holds(r)), None)
        if held is not None:
            # A repeat of a document whose file still holds it. If this path held a document of its
            # own, that text is gone from disk (the file was overwritten with the other report).
            return Decision("duplicate", held.doc_id, replaces=own.doc_id if own is not None else "")
        if same and own is None:
            # The text of a document whose file is gone or now holds something else: it moved here.
            return Decision("moved", same[0].doc_id)
        if own is not None:
            return Decision("update", own.doc_id)
        doc_id = free_name(p.path.name, records.__contains__)
        return Decision("new", doc_id, taken_by=p.path.name if doc_id != p.path.name else "")

    def _need_server(self) -> None:
        """Writers refuse to run while the Chroma server is down: its vectors would fall behind the store."""
        if self.embedder is not None and self.vectorstore is None and self.server_error:
            raise ChromaUnreachable(self.server_error)

    def ingest(self, paths: list[Path], progress: Progress | None = None) -> IngestReport:
        t0 = time.perf_counter()
        self._need_server()
        report = IngestReport()
        files, report.skipped = discover(paths)
        embed_time = 0.0
        if self.store.has_chunks():
            report.finished = self.finish(progress)
        else:  # a new index: its vectors are written with today's metadata from the start
            self.store.set_meta("vector_meta", VECTOR_META_VERSION)
        queue, tries = list(files), {}  # _commit may add files: copies whose text left the index, retries
        n = 0
        while n < len(queue):
            path = queue[n]
            n += 1
            if progress:
                progress("read", n, len(queue))
            try:
                records = self.store.records()
                raw = read_file(path, self.settings.max_file_bytes)
                bytes_hash = content_hash(raw.data.hex())
                key = content_hash(f"{PIPELINE_VERSION}|{self.settings.chunk_tokens}|") + bytes_hash
                own = next((r for r in records.values() if r.path == str(path.resolve())), None)
                if own is not None and own.raw_hash == key:
                    report.unchanged.append(own.doc_id)
                    continue
                prep = self._prepare_text(path, raw, key, bytes_hash)
            except Unreadable as exc:
                report.skipped.append(Skipped(path, str(exc), exc.kind, exc.detail))
                continue
            except OSError as exc:
                report.skipped.append(Skipped(path, f"cannot be read ({exc.strerror or exc})", "os"))
                continue
            decision = self.decide(prep, records)
            if decision.action in ("unchanged", "duplicate", "moved"):
                queue.extend(self._commit(prep, None, report, tries))
                continue
            self._chunk(prep, decision.doc_id)
            if not prep.chunks:
                report.skipped.append(Skipped(path, "has no text left after removing boilerplate", "no_text"))
                continue
            doc, chunks = prep.doc, prep.chunks
            prep.index_texts = [index_text(doc.meta, c) for c in chunks]
            prep.words = [words(t) for t in prep.index_texts]  # before the lock, which only commits
            vectors = None
            if self.vectorstore is not None:
                t_embed = time.perf_counter()
                vectors = self._embed(prep.index_texts, progress)
                embed_time += time.perf_counter() - t_embed
            queue.extend(self._commit(prep, vectors, report, tries))

        # Files that were ingested from one of these folders before and are gone now: their documents
        # follow a copy recorded elsewhere, or go.
        folders = [p.resolve() for p in paths if p.is_dir()]
        if folders:
            with self.writing():
                for rec in self.store.records().values():
                    mpath = Path(rec.path) if rec.path else None
                    if mpath and any(f in mpath.parents for f in folders) and not mpath.exists():
                        self._retire(rec.doc_id, report)
        with self.writing():
            self._save_keyword(force=True)
        report.dense = self.dense
        report.embed_seconds = embed_time
        counts = self.store.chunk_counts()
        report.total_docs = len(self.store.metas())
        report.total_chunks = sum(counts.values())
        report.seconds = time.perf_counter() - t0
        return report

    def _commit(self, prep: Prepared, vectors, report: IngestReport, tries: dict[str, int]) -> list[Path]:
        """Commit one prepared file as its decision (made again under the write lock) says. Returns
        the files to ingest next: copies holding a text this commit replaced, or this file again when
        another writer changed what it is meanwhile and it must be read anew (``tries`` counts that)."""
        resolved = str(prep.path.resolve())
        with self.writing():
            decision = self.decide(prep, self.store.records())  # another writer may have committed meanwhile
            if decision.action == "unchanged":
                report.unchanged.append(decision.doc_id)
                return []
            if decision.action == "duplicate":
                if decision.replaces:
                    self._retire(decision.replaces, report)
                    self._save_keyword()
                self.store.add_copy(resolved, decision.doc_id, prep.content_hash)
                report.duplicates.append((prep.path, decision.doc_id))
                return []
            self.store.drop_copies([resolved])  # from now on this path is a document's own
            if decision.action == "moved":
                self.store.set_path(decision.doc_id, resolved)
                report.moved.append((decision.doc_id, prep.path))
                return []
            if prep.doc is None or not prep.chunks:
                # Decided "duplicate"/"moved" before the lock (so neither chunked nor embedded) and it no
                # longer is: read it again, outside the lock (never commit a document without its chunks).
                tries[resolved] = tries.get(resolved, 0) + 1
                if tries[resolved] <= RETRIES:
                    return [prep.path]
                report.skipped.append(Skipped(prep.path, "changed by other ingests again and again meanwhile; "
                                                         "ingest it again"))
                return []
            if decision.doc_id != prep.doc.doc_id:  # its name was taken meanwhile: another free name
                self._chunk(prep, decision.doc_id)
            doc, chunks = prep.doc, prep.chunks
            # Copies of the text this update replaces are ingested next, as documents of their own.
            again = [path for path, _ in self._copies_holding(doc.doc_id)] if decision.action == "update" else []
            old = self.store.chunk_ids([doc.doc_id]) if decision.action == "update" else set()
            new_ids = [c.chunk_id for c in chunks]
            if vectors is not None:
                self._upsert(new_ids, vectors, prep.index_texts, [self._vector_meta(doc.meta)] * len(chunks))
            self.store.put(doc, chunks, prep.index_texts, prep.words,
                           content_hash=prep.content_hash, text_hash=prep.text_hash,
                           dense=self.model_id if vectors is not None else "")
            if vectors is not None and old - set(new_ids):
                self._delete_vectors(old - set(new_ids))
            self._save_keyword()
        report.chunks_added += len(chunks)
        report.chunks_removed += len(old)
        (report.updated if decision.action == "update" else report.added).append(doc.doc_id)
        if decision.taken_by:
            report.renamed.append((prep.path, doc.doc_id, decision.taken_by))
        if vectors is None:
            report.incomplete.append(doc.doc_id)
        return again

    def _chunk(self, prep: Prepared, doc_id: str) -> None:
        """Chunk a prepared document as ``doc_id``. Chunk ids derive from the id; the chunks' bounds,
        index texts, words and vectors do not (a title never comes from it), so a document whose id
        is taken while it is embedded is chunked again under a free one and keeps the rest."""
        doc = prep.doc
        if doc_id != doc.doc_id:
            doc = Document(meta=replace(doc.meta, doc_id=doc_id), text=doc.text, raw_hash=doc.raw_hash)
        prep.doc, prep.chunks = doc, chunk(doc, self.settings.chunk_tokens, self.settings.overlap_sentences)

    def _copies_holding(self, doc_id: str) -> list[tuple[Path, str]]:
        """Inside the write lock: (path, content hash) of the recorded copies of a document whose files
        still hold what they held when recorded. Every record of its copies goes: the caller replaces
        or removes the document."""
        recorded = self.store.copies(doc_id)
        self.store.drop_copies([path for path, _ in recorded])
        held = []
        for path, chash in recorded:
            try:
                if content_hash(Path(path).read_bytes().hex()) == chash:
                    held.append((Path(path), chash))
            except OSError:
                continue  # gone or unreadable: forgotten
        return held

    def _retire(self, doc_id: str, report: IngestReport) -> None:
        """Inside the write lock: the file a document was read from no longer holds it. A recorded
        copy that still does becomes its file (reported as moved); with none, the document goes."""
        copies = self._copies_holding(doc_id)
        if not copies:
            self._delete_doc(doc_id, report)
            return
        (path, _), others = copies[0], copies[1:]
        self.store.set_path(doc_id, str(path))
        for other, chash in others:
            self.store.add_copy(str(other), doc_id, chash)
        report.moved.append((doc_id, path))

    def _delete_doc(self, doc_id: str, report: IngestReport | None = None) -> int:
        """Inside the write lock: the document goes from the store first (readers stop seeing it at
        once), then its vectors."""
        ids = self.store.delete(doc_id)
        if self.vectorstore is not None and ids:
            self._delete_vectors(ids)
        if report is not None:
            report.chunks_removed += len(ids)
            report.removed.append(doc_id)
        return len(ids)

    def remove(self, doc_id: str) -> int:
        self._need_server()
        with self.writing():
            if doc_id not in self.store.records():
                raise AssistantError(f"No document with id {doc_id!r} in the index; `assistant docs` lists them.")
            n = self._delete_doc(doc_id)
            self._save_keyword(force=True)
        return n

    def documents(self) -> list[tuple[DocMeta, int]]:
        counts = self.store.chunk_counts()
        return [(m, counts.get(d, 0)) for d, m in self.store.metas().items()]

    def document(self, doc_id: str) -> Document:
        meta = self.store.metas()[doc_id]
        return Document(meta=meta, text=self.store.text(doc_id), raw_hash=self.store.raw_hash(doc_id) or "")

    def record(self, ans) -> None:
        """Keep each answer as data (question, retrieved chunk ids, citations) in the answer log
        (``index/answers.jsonl``, rotated; off with ASSISTANT_LOG_ANSWERS=0), so a wrong citation can
        be debugged by reading the record."""
        rec = ans.to_json()
        rec["reason"] = ans.reason
        rec["time"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        rec["retrieved"] = [{k: v for k, v in r.items() if k != "text"} for r in rec["retrieved"]]
        self.answer_log.append(rec)
