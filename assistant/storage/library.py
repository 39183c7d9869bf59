"""The library: document store (SQLite) + keyword index (BM25) + dense index (Chroma), shared by
several processes (a web server, CLI runs) and threads.

The parts: ``store`` (SQLite, or PostgreSQL with ASSISTANT_DATABASE_URL), ``keyword`` (BM25 files of
this machine), ``vectors`` (dense.py: a local Chroma or a server's), the embedder, and the question
log. The ingest steps that need no index (read, clean, decide what a file is, chunk) are in
ingest/steps.py; this class runs them, embeds, and commits.

Writers. Reading, converting, cleaning, chunking and embedding a file take no lock. Only the commit
does: under an exclusive file lock (``index/write.lock``) the vectors go into Chroma, then the
document and its chunks into the store in one transaction that also bumps the store's generation,
then old vectors are deleted and the commit's chunks are added to BM25 as a segment (keyword.py; BM25
is rebuilt from the store after removals, at most every few seconds, and at the end of an ingest that
grew it by more than REBUILD_TAIL_SHARE). A
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
import threading
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

from ..core.chinese import words
from ..core.errors import AssistantError, Unreadable
from ..core.schema import DocMeta, Document, content_hash
from ..core.settings import Settings
from ..ingest.loading import Skipped, discover, read_file
from ..ingest.steps import (
    IngestReport,
    Prepared,
    Progress,
    chunk_as,
    decide,
    file_key,
    index_text,
    prepare,
)
from .answer_log import AnswerLog
from .dense import VECTOR_META_VERSION, ChromaUnreachable, Dense, is_damage, vector_meta
from .embedding import EmbedderUnavailable, load_embedder
from .keyword import KeywordIndex, fingerprint
from .pg_store import PgAnswerLog, PgStore
from .store import DocStore, date_ord, file_lock  # noqa: F401 - date_ord is imported from here

log = logging.getLogger(__name__)

KEYWORD_SAVE_EVERY = 3.0  # seconds: after removals BM25 is rebuilt at most this often …
KEYWORD_SAVE_FACTOR = 10  # … and at most every 10× its last rebuild time (≤ 10 % of the ingest)
# Added chunks go into BM25 as segments, scored with the whole index's statistics; the base's chunks keep the
# statistics of their build (IDF and average length). At the end of an ingest the base is rebuilt when the
# segments hold more than this share of its chunks: an IDF is then off by less than log(1.1) ≈ 0.1, and adding
# a file to a large library does not cost a rebuild (92,000 chunks: 8 s, bench/library_scale.py).
REBUILD_TAIL_SHARE = 0.1
# A reader of a shared store (PostgreSQL) rebuilds its keyword index from the store at most this often, so a
# document committed on another machine is found by keyword within about a second (the bar is 2 s).
READER_REBUILD_EVERY = 1.0
# Files are committed in batches of at least this many chunks: Chroma is written once a batch, not once a file (a
# library of short notices paid 0.16 s a file for it), and encoded together (see flush).
BATCH_CHUNKS = 256
BATCH_SECONDS = 5.0  # … or once its first file has waited this long (slow files are not held back for long)
EMBED_GROUP = 128  # texts per encode call (a batch's texts are sorted by length first); progress after each
RETRIES = 3  # times one file is read again when other writers keep changing what it is while it is embedded


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
        self.vectors = Dense(settings, self.dir, self.store.index_id)
        self._seen_gen = -1  # the store generation this process's keyword index and Chroma reflect
        self._keyword_lags = False  # the keyword index loaded was behind the store (a writer was at work)
        self._reload_lock = threading.Lock()
        self._keyword_saved = 0.0
        self._keyword_build_s = 0.0
        # Inside the write lock: chunks committed and not yet in the keyword index, and whether chunks were
        # removed since it was built (then it is rebuilt from the store, not extended).
        self._kw_added: list[tuple[list[str], list[str], list[list[str]]]] = []
        self._kw_removed = False
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
        """The LangChain vector store retrieval searches, opened on first use; None without the embedding
        model or while the Chroma server does not answer."""
        if self.vectors.vs is None and self.embedder is not None and not self.server_error:
            try:
                self.vectors.open(self.embedder)
            except ChromaUnreachable as exc:
                self.server_error = self.dense_error = str(exc)
                log.warning("%s; running with keyword retrieval only", exc)
        return self.vectors.vs

    @property
    def remote(self) -> bool:
        """Are the vectors on a Chroma server (ASSISTANT_CHROMA_URL) rather than under index/chroma/?"""
        return self.vectors.remote

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
            # The saved index; a reader that has its base reads only the segments committed since.
            fresh = self.keyword.reloaded() or KeywordIndex(self.keyword.dir)
            if not fresh.fp and ids:
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
        if self.vectors.vs is not None and self._seen_gen >= 0 and not self.remote:
            self.vectors.open(self.embedder, fresh=True)
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
            try:
                yield
            except BaseException:
                # Chunks committed before the failure may be in the store or not: BM25 is rebuilt from the
                # store, never extended by them (another writer's rebuild may hold them already).
                self._kw_removed = self._kw_removed or bool(self._kw_added)
                raise
            self._seen_gen = self.store.generation()

    def _local_lock(self, blocking: bool = False):
        """This directory's write lock; without ``blocking``, only if no other writer of this machine is
        at work right now (yields whether it got it)."""
        return file_lock(self.dir / "write.lock", blocking)

    def _catch_up(self) -> None:
        """Inside the write lock: if another process committed since we last looked, reopen Chroma; if
        another process saved BM25 (a commit, or a rebuild without one: the start of an ingest, a reader),
        reload it before writing (a stale in-memory index must never be written back, nor a segment added
        to a base another process has replaced and may have deleted)."""
        gen = self.store.generation()
        if gen != self._seen_gen:
            if self.vectors.vs is not None and not self.remote:
                self.vectors.open(self.embedder, fresh=True)
            self._seen_gen = gen
        if self.keyword.changed_on_disk() or not self.keyword.fp:
            fresh = self.keyword.reloaded()
            if fresh is not None:
                self.keyword = fresh

    def _save_keyword(self, force: bool = False) -> None:
        """Inside the write lock: bring the saved BM25 up to the store. The chunks committed since go in as
        one segment, at the cost of the segment, not of the library: readers find them by keyword as soon
        as the commit ends. After removals BM25 is rebuilt from the store instead, at most every
        KEYWORD_SAVE_EVERY seconds or KEYWORD_SAVE_FACTOR times the last rebuild's duration if that is
        longer (the keyword side catches up in steps while the dense side has every commit at once).
        With ``force`` (the end of an ingest or removal) it is rebuilt when it differs from the store
        (a crash left it behind) or its segments outgrew REBUILD_TAIL_SHARE of its base."""
        if self._kw_removed or not self.keyword.fp:
            if force or self._may_rebuild(KEYWORD_SAVE_EVERY):
                self._rebuild_keyword()
            return
        if self._kw_added:
            if self.keyword.changed_on_disk():
                self._rebuild_keyword()  # what is saved could not be loaded (see _catch_up): never extend another base
                return
            ids, docs, ws = ([x for part in self._kw_added for x in part[i]] for i in range(3))
            self.keyword = self.keyword.with_segment(ids, docs, ws)
            self._kw_added.clear()
        if force and (self.keyword.tail_size > REBUILD_TAIL_SHARE * (len(self.keyword.ids) - self.keyword.tail_size)
                      or self.keyword.fp != fingerprint(self.store.chunk_ids())):
            self._rebuild_keyword()

    def _rebuild_keyword(self) -> None:
        self.keyword = self._rebuilt_keyword()
        self._kw_added.clear()
        self._kw_removed = False

    def chroma_ids(self) -> list[str]:
        """Every id in Chroma, paged (a list, so that a duplicate would show)."""
        self.vectorstore  # noqa: B018 - opened on first use
        return self.vectors.ids()

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

    def _update_vector_metas(self) -> None:
        """Inside the write lock: vectors written before ``date_end`` existed get it (no re-embedding)."""
        if self.store.get_meta("vector_meta") == VECTOR_META_VERSION:
            return
        metas = self.store.metas()
        self.vectors.set_metas((sorted(self.store.chunk_ids([d])), vector_meta(m)) for d, m in metas.items())
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
            if self.remote or not is_damage(exc):
                raise
            damage = exc
        aside = self.vectors.set_aside(self.embedder)
        log.warning("the vector index in %s is damaged (%s); it is kept as %s and every document is embedded "
                    "again", self.vectors.path, damage, aside.name)
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
                    self.vectors.reset()
                    self.store.set_dense(list(self.store.metas()), "")
                self.store.set_meta("embed_model", self.model_id)
                store_ids = self.store.chunk_ids()
                have = self._vector_ids()
                if have - store_ids:
                    self.vectors.delete(have - store_ids)
                todo = sorted(set(self.store.not_embedded(self.model_id)) | {
                    c.doc_id for c in self.store.chunks(sorted(store_ids - have)).values()})
            counts = self.store.chunk_counts() if todo else {}
            done, total = 0, sum(counts.get(d, 0) for d in todo)
            while todo:  # documents a batch at a time (about BATCH_CHUNKS chunks), encoded together
                group: list[tuple[str, list[str], list[str]]] = []
                while todo and (not group or sum(len(ids) for _, ids, _ in group) < BATCH_CHUNKS):
                    doc_id = todo.pop(0)
                    ids = [c.chunk_id for c in self.store.doc_chunks(doc_id)]
                    texts = self.store.index_texts(ids)
                    group.append((doc_id, ids, [texts[i][1] for i in ids]))
                vectors = self._embed([t for _, _, texts in group for t in texts], progress, done, total)
                done += len(vectors)
                with self.writing():
                    metas, start = self.store.metas(), 0
                    for doc_id, ids, texts in group:
                        own, start = vectors[start : start + len(ids)], start + len(ids)
                        if doc_id not in metas or {c.chunk_id for c in self.store.doc_chunks(doc_id)} != set(ids):
                            continue  # changed meanwhile by another writer, who embedded it
                        self.vectors.upsert(ids, own, texts, [vector_meta(metas[doc_id])] * len(ids))
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
            return max(0, self.store.chunk_total() - self.vectors.count())
        except Exception as exc:  # noqa: BLE001 - a server that went away since
            log.warning("cannot count the vectors (%s)", exc)
            return 0

    def keyword_behind(self) -> bool:
        """Is the saved keyword index older than the documents (a crash before it was saved)?"""
        self.refresh()
        return self.keyword.fp != fingerprint(self.store.chunk_ids())

    # --- ingest and remove
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
        batch: list[Prepared] = []  # prepared and chunked, to be encoded and committed together
        batch_started = 0.0
        n = 0

        def flush() -> None:
            nonlocal embed_time
            if not batch:
                return
            vectors = None
            if self.vectorstore is not None:
                t_embed = time.perf_counter()
                # The files of a batch are encoded together (many short files fill an encode call): a text's
                # vector does not depend on its batchmates (the int8 model quantises each token on its own,
                # storage/onnx_graph.py), so it is the same whatever else is ingested with it.
                vectors = self._embed([t for p in batch for t in p.index_texts], progress)
                embed_time += time.perf_counter() - t_embed
            queue.extend(self._commit(batch, vectors, report, tries))
            batch.clear()

        while n < len(queue) or batch:  # a commit may add files to the queue
            while n < len(queue):
                path = queue[n]
                n += 1
                if progress:
                    progress("read", n, len(queue))
                try:
                    pages = (lambda done, total: progress("ocr", done, total)) if progress else None
                    raw = read_file(path, self.settings.max_file_bytes, progress=pages,
                                    max_scan_bytes=self.settings.max_scan_bytes)
                    bytes_hash = content_hash(raw.data.hex())
                    key = file_key(bytes_hash, self.settings.chunk_tokens)
                    own = self.store.record_at(str(path.resolve()))
                    if own is not None and own.raw_hash == key:
                        report.unchanged.append(own.doc_id)
                        continue
                    prep = prepare(path, raw, key, bytes_hash)
                except Unreadable as exc:
                    report.skipped.append(Skipped(path, str(exc), exc.kind, exc.detail))
                    continue
                except OSError as exc:
                    report.skipped.append(Skipped(path, f"cannot be read ({exc.strerror or exc})", "os"))
                    continue
                decision = decide(prep, self.store)
                if decision.action in ("unchanged", "duplicate", "moved"):
                    flush()  # commits stay in the order of the files
                    queue.extend(self._commit([prep], None, report, tries))
                    continue
                self._chunk(prep, decision.doc_id)
                if not prep.chunks:
                    report.skipped.append(Skipped(path, "has no text left after removing boilerplate", "no_text"))
                    continue
                prep.index_texts = [index_text(prep.doc.meta, c) for c in prep.chunks]
                prep.words = [words(t) for t in prep.index_texts]  # before the lock, which only commits
                if not batch:
                    batch_started = time.monotonic()
                batch.append(prep)
                if (sum(len(p.chunks) for p in batch) >= BATCH_CHUNKS or prep.doc.meta.ocr_pages
                        or time.monotonic() - batch_started >= BATCH_SECONDS):
                    flush()  # a scan at once: its pages took minutes to read
            flush()

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

    def _commit(self, batch: list[Prepared], vectors, report: IngestReport, tries: dict[str, int]) -> list[Path]:
        """Commit prepared files, in order, each as its decision (made again under the write lock) says;
        ``vectors`` are their chunks' vectors, one after another (None: not embedded). Each document is
        its own transaction, written without vectors first; the batch's vectors then go to Chroma at
        once and the documents are marked embedded (a crash in between leaves them to ``finish``).
        Returns the files to ingest next: copies holding a text a commit replaced, or a file again when
        another writer changed what it is meanwhile and it must be read anew (``tries`` counts that)."""
        again: list[Path] = []
        rows: tuple[list, list, list, list] = ([], [], [], [])  # the vectors to write: ids, vectors, texts, metas
        stale: set[str] = set()  # vectors of updated documents' old chunks
        embedded: list[str] = []
        at = 0
        with self.writing():
            for prep in batch:
                mine = vectors[at : at + len(prep.chunks)] if vectors is not None else None
                at += len(prep.chunks)
                doc = self._commit_one(prep, mine is not None, report, tries, again, stale)
                if doc is not None and mine is not None:
                    rows[0].extend(c.chunk_id for c in prep.chunks)
                    rows[1].extend(mine)
                    rows[2].extend(prep.index_texts)
                    rows[3].extend([vector_meta(doc.meta)] * len(prep.chunks))
                    embedded.append(doc.doc_id)
            if rows[0]:
                self.vectors.upsert(*rows)
                self.store.set_dense(embedded, self.model_id)
            if stale - set(rows[0]):
                self.vectors.delete(stale - set(rows[0]))
            self._save_keyword()
        return again

    def _commit_one(self, prep: Prepared, embedded: bool, report: IngestReport, tries: dict[str, int],
                    again: list[Path], stale: set[str]) -> Document | None:
        """Inside the write lock: one prepared file committed as its decision says. Returns the document
        written, if one was (without vectors: ``_commit`` writes them); adds to ``again`` the files to
        read next, to ``stale`` the chunk ids an update replaced."""
        resolved = str(prep.path.resolve())
        decision = decide(prep, self.store)  # another writer may have committed meanwhile
        if decision.action == "unchanged":
            report.unchanged.append(decision.doc_id)
            return None
        if decision.action == "duplicate":
            if decision.replaces:
                self._retire(decision.replaces, report)
                self._save_keyword()
            self.store.add_copy(resolved, decision.doc_id, prep.content_hash)
            report.duplicates.append((prep.path, decision.doc_id))
            return None
        self.store.drop_copies([resolved])  # from now on this path is a document's own
        if decision.action == "moved":
            self.store.set_path(decision.doc_id, resolved)
            report.moved.append((decision.doc_id, prep.path))
            return None
        if prep.doc is None or not prep.chunks:
            # Decided "duplicate"/"moved" before the lock (so neither chunked nor embedded) and it no
            # longer is: read it again, outside the lock (never commit a document without its chunks).
            tries[resolved] = tries.get(resolved, 0) + 1
            if tries[resolved] <= RETRIES:
                again.append(prep.path)
            else:
                report.skipped.append(Skipped(prep.path, "changed by other ingests again and again meanwhile; "
                                                         "ingest it again"))
            return None
        if decision.doc_id != prep.doc.doc_id:  # its name was taken meanwhile: another free name
            self._chunk(prep, decision.doc_id)
        doc, chunks = prep.doc, prep.chunks
        old: set[str] = set()
        if decision.action == "update":
            # Copies of the text this update replaces are ingested next, as documents of their own.
            again.extend(path for path, _ in self._copies_holding(doc.doc_id))
            old = self.store.chunk_ids([doc.doc_id])
            stale.update(old - {c.chunk_id for c in chunks})
            self._kw_removed = self._kw_removed or bool(old)
        self.store.put(doc, chunks, prep.index_texts, prep.words, content_hash=prep.content_hash,
                       text_hash=prep.text_hash, dense="", scan=prep.scan)
        self._kw_added.append(([c.chunk_id for c in chunks], [doc.doc_id] * len(chunks), prep.words))
        report.chunks_added += len(chunks)
        report.chunks_removed += len(old)
        (report.updated if decision.action == "update" else report.added).append(doc.doc_id)
        if decision.taken_by:
            report.renamed.append((prep.path, doc.doc_id, decision.taken_by))
        if not embedded:
            report.incomplete.append(doc.doc_id)
        return doc

    def _chunk(self, prep: Prepared, doc_id: str) -> None:
        chunk_as(prep, doc_id, self.settings.chunk_tokens, self.settings.overlap_sentences)

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
        self._kw_removed = self._kw_removed or bool(ids)
        if self.vectorstore is not None and ids:
            self.vectors.delete(ids)
        if report is not None:
            report.chunks_removed += len(ids)
            report.removed.append(doc_id)
        return len(ids)

    def remove(self, doc_id: str) -> int:
        self._need_server()
        with self.writing():
            if not self.store.has_doc(doc_id):
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
