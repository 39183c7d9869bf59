"""The document store: SQLite under the index directory, the source of truth for documents,
their cleaned text and their chunks. Chroma (dense) and BM25 (keyword) are derived from it.

Several processes share one store (a web server, CLI runs): every change commits in one
transaction that also bumps ``generation``, so a reader notices another process's change with one
cheap query and reloads what it caches. Each thread has its own SQLite connection (WAL mode:
readers never wait for a writer and see the last committed state).
"""

from __future__ import annotations

import fcntl
import json
import secrets
import sqlite3
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..core.chinese import fold
from ..core.schema import Chunk, DocMeta, DocRecord, Document, ScanPage

# The tables both stores have as they are (docs and copies differ: see each store's schema).
COMMON_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    chunk_id TEXT PRIMARY KEY, doc_id TEXT NOT NULL REFERENCES docs(doc_id) ON DELETE CASCADE,
    idx INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL, headings TEXT NOT NULL,
    tokens INTEGER NOT NULL, index_text TEXT NOT NULL, words TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE INDEX IF NOT EXISTS copies_doc ON copies(doc_id);
"""
SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    doc_id TEXT PRIMARY KEY, raw_hash TEXT NOT NULL, meta TEXT NOT NULL, text TEXT NOT NULL,
    ingested_at TEXT NOT NULL DEFAULT (datetime('now')));
CREATE TABLE IF NOT EXISTS copies (
    path TEXT PRIMARY KEY, doc_id TEXT NOT NULL, content_hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS scan_pages (
    doc_id TEXT NOT NULL REFERENCES docs(doc_id) ON DELETE CASCADE, page INTEGER NOT NULL, picture BLOB NOT NULL,
    lines TEXT NOT NULL, PRIMARY KEY (doc_id, page));
""" + COMMON_SCHEMA
# Columns added after the first release (an older index is migrated in place on open).
IDENTITY_COLUMNS = {
    "path": "TEXT NOT NULL DEFAULT ''",  # where the file was read from (resolved): re-ingesting it updates the doc
    "content_hash": "TEXT NOT NULL DEFAULT ''",  # sha256 of the file's bytes: the same bytes elsewhere are a duplicate
    "text_hash": "TEXT NOT NULL DEFAULT ''",  # sha256 of the folded cleaned text without spaces: the same report again
    "dense": "TEXT NOT NULL DEFAULT ''",  # the embedding model its vectors were written with; '' = not embedded yet
}
# What filters read, so that a filter is one SQL query, not a pass over every document's metadata.
FILTER_COLUMNS = {
    "org_key": "TEXT",  # folded, lower-cased organisation + title + aliases: an org filter matches inside it
    "date_lo": "INTEGER",  # the report's date as YYYYMMDD (a year-only date: YYYY0000 …
    "date_hi": "INTEGER",  # … to YYYY1231); 0 when it has none
}

INDEXES = {"docs_path": "path", "docs_content": "content_hash", "docs_text": "text_hash", "docs_date": "date_lo"}
# A writer holds SQLite's lock for one document's commit: another connection waits up to this many seconds
# before it gives up with an error (set far above any commit, so that only a stuck writer is reported).
BUSY_TIMEOUT = 60
WAL_TRIES = 200  # … and tries this many times, 50 ms apart, to switch a new database to WAL
_RECORD = "doc_id, path, raw_hash, content_hash, text_hash, dense"  # a DocRecord's columns
TEXT_CACHE_CHARS = 16_000_000  # cleaned and folded texts kept in memory (least recently used go first)


@contextmanager
def file_lock(path: Path, blocking: bool = True, shared: bool = False) -> Iterator[bool]:
    """An exclusive lock on ``path`` across the processes of this machine (``shared``: one that other
    shared holders may hold at once, but no exclusive one); yields whether it got it (with
    ``blocking`` it waits and always gets it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        try:
            fcntl.flock(fh, mode if blocking else mode | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def date_ord(date: str) -> int:
    digits = date.replace("-", "")
    return int(digits.ljust(8, "0")) if digits.isdigit() else 0


def date_span(date: str) -> tuple[int, int]:
    """(first, last) day a date stands for, as YYYYMMDD: a year-only date spans its year."""
    d = date_ord(date)
    return (d, d + 1231) if d and d % 10000 == 0 else (d, d)


def filter_values(meta: DocMeta) -> tuple[str, int, int]:
    return (fold(" ".join((meta.org, meta.title, *meta.aliases))).lower(), *date_span(meta.date))


class LRU:
    """A dict bounded by the total length of its string values, least recently used dropped first."""

    def __init__(self, budget: int):
        self.budget, self.size, self.data = budget, 0, OrderedDict()

    def get(self, key):
        value = self.data.get(key)
        if value is not None:
            self.data.move_to_end(key)
        return value

    def put(self, key, value: str) -> None:
        old = self.data.pop(key, None)
        self.size -= len(old) if old is not None else 0
        self.data[key] = value
        self.size += len(value)
        while self.size > self.budget and len(self.data) > 1:
            _, dropped = self.data.popitem(last=False)
            self.size -= len(dropped)


def _meta_from_json(raw: str) -> DocMeta:
    data = json.loads(raw)
    data["aliases"] = tuple(data.get("aliases", ()))
    data["pages"] = tuple(data.get("pages", ()))
    data["ocr_pages"] = tuple(data.get("ocr_pages", ()))
    data["low_confidence"] = tuple(data.get("low_confidence", ()))
    return DocMeta(**data)


class SqlStore:
    """What a store does, in SQL both SQLite and PostgreSQL run (``?`` placeholders; the few statements
    that differ are class attributes). A subclass gives ``_all``/``_one`` (a read in its own
    snapshot), ``_tx`` (one write transaction, committed on leaving), ``locked`` (the library's write
    lock across processes) and ``close``."""

    shared = False  # True when other machines' processes use the same store (their local files differ)
    SET_META = "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)"
    ADD_META = "INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)"
    SET_COPY = "INSERT OR REPLACE INTO copies(path, doc_id, content_hash) VALUES (?, ?, ?)"
    COPY_ORDER = "rowid"  # the order copies were recorded in
    DOC_ORDER = "rowid"  # … and documents committed in (an updated document's row is new)
    INSTR = "instr"  # instr(haystack, needle) > 0: needle is inside haystack

    def __init__(self) -> None:
        self._cache_lock = threading.Lock()
        self._cache_gen = -1
        self._text_cache = LRU(TEXT_CACHE_CHARS)
        self._folded_cache = LRU(TEXT_CACHE_CHARS)
        self._meta_cache: dict[str, DocMeta] | None = None

    def _all(self, sql: str, args=()) -> list:
        raise NotImplementedError

    def _one(self, sql: str, args=()):
        rows = self._all(sql, args)
        return rows[0] if rows else None

    def _tx(self):
        raise NotImplementedError

    def locked(self, blocking: bool = True):
        """The library's write lock across processes (a context manager yielding whether it got it)."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def _in(self, sql: str, values: list[str]) -> Iterator:
        """The rows of ``sql`` (its one ``IN ({})`` filled with placeholders) for every value, 500 at a time."""
        for i in range(0, len(values), 500):
            part = values[i : i + 500]
            yield from self._all(sql.format(",".join("?" * len(part))), part)

    # --- meta and the change counter
    def get_meta(self, key: str, default: str = "") -> str:
        row = self._one("SELECT value FROM meta WHERE key=?", (key,))
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as db:
            db.execute(self.SET_META, (key, value))

    def index_id(self) -> str:
        """This index's own id (made once): a Chroma server's collection records whose vectors it holds."""
        with self._tx() as db:
            db.execute(self.ADD_META, ("index_id", secrets.token_hex(8)))
        return self.get_meta("index_id")

    def generation(self) -> int:
        """How many changes the store has committed (by any process)."""
        return int(self.get_meta("generation", "0"))

    @staticmethod
    def _bump(db) -> None:
        db.execute("INSERT INTO meta(key, value) VALUES ('generation', '1') "
                   "ON CONFLICT(key) DO UPDATE SET value = CAST(CAST(meta.value AS INTEGER) + 1 AS TEXT)")

    def _fresh(self) -> tuple[int, LRU, LRU]:
        """Drop the caches when another change has been committed since they were filled. Returns the
        generation and the caches to use: a value read after this call goes into these dicts, never
        into ones a later reset made (that would put an old value under a newer generation)."""
        gen = self.generation()
        with self._cache_lock:
            if gen != self._cache_gen:
                self._text_cache, self._folded_cache = LRU(TEXT_CACHE_CHARS), LRU(TEXT_CACHE_CHARS)
                self._meta_cache = None
                self._cache_gen = gen
            return self._cache_gen, self._text_cache, self._folded_cache

    # --- documents
    def raw_hash(self, doc_id: str) -> str | None:
        row = self._one("SELECT raw_hash FROM docs WHERE doc_id=?", (doc_id,))
        return row[0] if row else None

    def records(self) -> dict[str, DocRecord]:
        """Every document's record (a pass over the library: not for what an ingest does per file)."""
        return {r[0]: DocRecord(*r) for r in self._all(
            f"SELECT {_RECORD} FROM docs ORDER BY {self.DOC_ORDER}")}

    # --- the identity lookups an ingest makes per file: indexed (docs_path, docs_content, docs_text), so their
    # cost does not grow with the library
    def record_at(self, path: str) -> DocRecord | None:
        """The document read from this (resolved) path, if any."""
        row = self._one(f"SELECT {_RECORD} FROM docs WHERE path=? ORDER BY {self.DOC_ORDER} LIMIT 1", (path,))
        return DocRecord(*row) if row else None

    def record_of(self, doc_id: str) -> DocRecord | None:
        row = self._one(f"SELECT {_RECORD} FROM docs WHERE doc_id=?", (doc_id,))
        return DocRecord(*row) if row else None

    def records_like(self, content_hash: str, text_hash: str) -> list[DocRecord]:
        """The documents whose file held these bytes, or whose cleaned text is this text, in the order
        they were first committed."""
        return [DocRecord(*r) for r in self._all(
            f"SELECT {_RECORD} FROM docs WHERE content_hash=? OR (text_hash=? AND text_hash<>'') "
            f"ORDER BY {self.DOC_ORDER}", (content_hash, text_hash))]

    def has_doc(self, doc_id: str) -> bool:
        return self._one("SELECT 1 FROM docs WHERE doc_id=?", (doc_id,)) is not None

    def put(self, doc: Document, chunks: list[Chunk], index_texts: list[str], words: list[list[str]],
            content_hash: str = "", text_hash: str = "", dense: str = "", scan: tuple[ScanPage, ...] = ()) -> None:
        """Replace a document, all its chunks and its scanned pages in one transaction."""
        meta = json.dumps(doc.meta.__dict__, ensure_ascii=False)
        with self._tx() as db:
            db.execute("DELETE FROM docs WHERE doc_id=?", (doc.doc_id,))
            db.execute(
                "INSERT INTO docs(doc_id, raw_hash, meta, text, path, content_hash, text_hash, dense, org_key, date_lo, "
                "date_hi) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (doc.doc_id, doc.raw_hash, meta, doc.text, doc.meta.path, content_hash, text_hash, dense,
                 *filter_values(doc.meta)),
            )
            db.executemany(
                'INSERT INTO chunks(chunk_id, doc_id, idx, start, "end", headings, tokens, index_text, words) '
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (c.chunk_id, c.doc_id, c.index, c.start, c.end, json.dumps(c.headings, ensure_ascii=False),
                     c.tokens, it, " ".join(w))
                    for c, it, w in zip(chunks, index_texts, words)
                ],
            )
            db.executemany("INSERT INTO scan_pages(doc_id, page, picture, lines) VALUES (?, ?, ?, ?)",
                           [(doc.doc_id, p.page, p.picture, json.dumps(p.lines)) for p in scan])
            self._bump(db)

    def scan_page(self, doc_id: str, page: int) -> ScanPage | None:
        """A scanned page of a document as ingest kept it, or None (not a page OCR read)."""
        row = self._one("SELECT picture, lines FROM scan_pages WHERE doc_id=? AND page=?", (doc_id, page))
        if row is None:
            return None
        return ScanPage(page, bytes(row[0]), tuple(tuple(ln) for ln in json.loads(row[1])))

    def set_path(self, doc_id: str, path: str) -> None:
        """A document's file moved: same content, new place."""
        with self._tx() as db:
            row = db.execute("SELECT meta FROM docs WHERE doc_id=?", (doc_id,)).fetchone()
            meta = json.loads(row[0])
            meta["path"] = path
            db.execute("UPDATE docs SET path=?, meta=? WHERE doc_id=?",
                       (path, json.dumps(meta, ensure_ascii=False), doc_id))
            self._bump(db)

    def set_dense(self, doc_ids: list[str], model_id: str) -> None:
        with self._tx() as db:
            db.executemany("UPDATE docs SET dense=? WHERE doc_id=?", [(model_id, d) for d in doc_ids])
            self._bump(db)

    def delete(self, doc_id: str) -> list[str]:
        """A document, its chunks and the copies recorded of it go."""
        with self._tx() as db:
            ids = [r[0] for r in db.execute("SELECT chunk_id FROM chunks WHERE doc_id=?", (doc_id,)).fetchall()]
            db.execute("DELETE FROM docs WHERE doc_id=?", (doc_id,))
            db.execute("DELETE FROM copies WHERE doc_id=?", (doc_id,))
            self._bump(db)
        return ids

    # --- copies: other files found to hold an indexed document (not indexed twice, remembered)
    def add_copy(self, path: str, doc_id: str, content_hash: str) -> None:
        with self._tx() as db:
            db.execute(self.SET_COPY, (path, doc_id, content_hash))

    def copies(self, doc_id: str) -> list[tuple[str, str]]:
        """(path, content hash of its bytes when recorded) of each copy of a document, oldest first."""
        return [tuple(r) for r in self._all(f"SELECT path, content_hash FROM copies WHERE doc_id=? ORDER BY {self.COPY_ORDER}",
                                             (doc_id,))]

    def drop_copies(self, paths: list[str]) -> None:
        with self._tx() as db:
            db.executemany("DELETE FROM copies WHERE path=?", [(p,) for p in paths])

    def metas(self) -> dict[str, DocMeta]:
        gen, _, _ = self._fresh()
        cache = self._meta_cache
        if cache is None:
            cache = {d: _meta_from_json(m) for d, m in self._all("SELECT doc_id, meta FROM docs ORDER BY doc_id")}
            with self._cache_lock:
                if self._cache_gen == gen:  # not when a newer commit reset the caches meanwhile
                    self._meta_cache = cache
        return cache

    def text(self, doc_id: str) -> str:
        _, texts, _ = self._fresh()
        with self._cache_lock:
            cached = texts.get(doc_id)
        if cached is None:
            row = self._one("SELECT text FROM docs WHERE doc_id=?", (doc_id,))
            if row is None:
                raise KeyError(doc_id)
            cached = row[0]
            with self._cache_lock:
                texts.put(doc_id, cached)
        return cached

    def folded(self, doc_id: str) -> str:
        """The cleaned text folded to simplified characters and lower case, for matching."""
        _, _, folded = self._fresh()
        with self._cache_lock:
            cached = folded.get(doc_id)
        if cached is None:
            cached = fold(self.text(doc_id)).lower()
            with self._cache_lock:
                folded.put(doc_id, cached)
        return cached

    def filter_docs(self, orgs: tuple[str, ...] = (), lo: int | None = None, hi: int | None = None,
                    doc_ids: tuple[str, ...] = ()) -> set[str]:
        """The documents a filter admits, by one SQL query: an organisation named (folded) inside
        org_key, a date span that meets [lo, hi] (documents without a date fail any date bound)."""
        where, args = [], []
        if orgs:
            where.append("(" + " OR ".join(f"{self.INSTR}(org_key, ?) > 0" for _ in orgs) + ")")
            args.extend(fold(o).lower() for o in orgs)
        if lo is not None:
            where.append("date_lo > 0 AND date_hi >= ?")
            args.append(lo)
        if hi is not None:
            where.append("date_lo > 0 AND date_lo <= ?")
            args.append(hi)
        if doc_ids:
            where.append(f"doc_id IN ({','.join('?' * len(doc_ids))})")
            args.extend(doc_ids)
        sql = "SELECT doc_id FROM docs" + (" WHERE " + " AND ".join(where) if where else "")
        return {r[0] for r in self._all(sql, args)}

    def has_chunks(self) -> bool:
        return self._one("SELECT 1 FROM chunks LIMIT 1") is not None

    def chunk_total(self) -> int:
        return self._one("SELECT count(*) FROM chunks")[0]

    def chunk_counts(self) -> dict[str, int]:
        return dict(self._all("SELECT doc_id, count(*) FROM chunks GROUP BY doc_id"))

    def not_embedded(self, model_id: str) -> list[str]:
        """Documents whose vectors are missing or were made by another model."""
        return [r[0] for r in self._all("SELECT doc_id FROM docs WHERE dense != ? ORDER BY doc_id", (model_id,))]

    # --- chunks
    def _chunk(self, row) -> Chunk:
        chunk_id, doc_id, idx, start, end, headings, tokens = row
        text = self.text(doc_id)
        return Chunk(chunk_id, doc_id, idx, start, end, text[start:end], tuple(json.loads(headings)), tokens)

    def chunks(self, ids: list[str]) -> dict[str, Chunk]:
        out: dict[str, Chunk] = {}
        for row in self._in('SELECT chunk_id, doc_id, idx, start, "end", headings, tokens FROM chunks '
                            "WHERE chunk_id IN ({})", ids):
            try:
                out[row[0]] = self._chunk(row)
            except KeyError:  # its document was removed between the two reads
                continue
        return out

    def doc_chunks(self, doc_id: str) -> list[Chunk]:
        rows = self._all(
            'SELECT chunk_id, doc_id, idx, start, "end", headings, tokens FROM chunks WHERE doc_id=? ORDER BY idx',
            (doc_id,),
        )
        return [self._chunk(r) for r in rows]

    def all_words(self) -> tuple[list[str], list[str], list[list[str]]]:
        """(chunk ids, doc ids, keyword tokens) for every chunk, in a stable order."""
        ids, docs, words = [], [], []
        for cid, did, w in self._all("SELECT chunk_id, doc_id, words FROM chunks ORDER BY doc_id, idx"):
            ids.append(cid)
            docs.append(did)
            words.append(w.split(" ") if w else [])
        return ids, docs, words

    def index_texts(self, ids: list[str]) -> dict[str, tuple[str, str]]:
        """chunk id → (doc id, text that is embedded) for the given chunks."""
        return {cid: (did, t) for cid, did, t in
                self._in("SELECT chunk_id, doc_id, index_text FROM chunks WHERE chunk_id IN ({})", ids)}

    def chunk_ids(self, doc_ids: list[str] | None = None) -> set[str]:
        if doc_ids is None:
            return {r[0] for r in self._all("SELECT chunk_id FROM chunks")}
        return {r[0] for r in self._in("SELECT chunk_id FROM chunks WHERE doc_id IN ({})", doc_ids)}


class DocStore(SqlStore):
    """The embedded store: SQLite under the index directory, one connection per thread (WAL mode), the
    write lock a file lock beside it (``write.lock``)."""

    def __init__(self, path: Path):
        super().__init__()
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        db = self.db
        if not self._schema_ready(db):
            # Create or migrate in one write transaction: two processes opening a new index at the same
            # time would otherwise both see a column missing and the second ALTER TABLE would fail.
            db.execute("BEGIN IMMEDIATE")
            try:
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                have = {r[1] for r in db.execute("PRAGMA table_info(docs)")}
                for name, decl in {**IDENTITY_COLUMNS, **FILTER_COLUMNS}.items():
                    if name not in have:
                        db.execute(f"ALTER TABLE docs ADD COLUMN {name} {decl}")
                for doc_id, raw in list(db.execute("SELECT doc_id, meta FROM docs WHERE org_key IS NULL")):
                    db.execute("UPDATE docs SET org_key=?, date_lo=?, date_hi=? WHERE doc_id=?",
                               (*filter_values(_meta_from_json(raw)), doc_id))
                if "path" not in have:  # an index made before identity columns: take the path from the meta
                    for doc_id, raw in list(db.execute("SELECT doc_id, meta FROM docs")):
                        db.execute("UPDATE docs SET path=? WHERE doc_id=?", (json.loads(raw).get("path", ""), doc_id))
                for name, column in INDEXES.items():
                    db.execute(f"CREATE INDEX IF NOT EXISTS {name} ON docs({column})")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    @staticmethod
    def _schema_ready(db: sqlite3.Connection) -> bool:
        """Is the schema complete already (the usual case: opening it then writes nothing)?"""
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'index')")}
        have = {r[1] for r in db.execute("PRAGMA table_info(docs)")}
        return ({"meta", "docs", "chunks", "chunks_doc", "copies", "copies_doc", "scan_pages", *INDEXES} <= tables
                and {*IDENTITY_COLUMNS, *FILTER_COLUMNS} <= have)

    @property
    def db(self) -> sqlite3.Connection:
        """This thread's connection (SQLite connections must not be shared between threads)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT, check_same_thread=False)
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT * 1000}")
            for attempt in range(WAL_TRIES):
                try:  # switching a new database to WAL does not wait for a busy handler: retry
                    conn.execute("PRAGMA journal_mode = WAL")
                    break
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) or attempt == WAL_TRIES - 1:
                        raise
                    time.sleep(0.05)
            self._local.conn = conn
            with self._conns_lock:
                self._conns.append(conn)
        return conn

    def close(self) -> None:
        with self._conns_lock:
            for conn in self._conns:
                try:
                    conn.close()
                except sqlite3.ProgrammingError:  # closed from its own thread already
                    pass
            self._conns.clear()
        self._local = threading.local()

    def _all(self, sql: str, args=()) -> list:
        return self.db.execute(sql, args).fetchall()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        db = self.db
        with db:
            yield db

    def locked(self, blocking: bool = True):
        return file_lock(self.path.parent / "write.lock", blocking)
