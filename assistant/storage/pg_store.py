"""The library's store on a PostgreSQL server (``ASSISTANT_DATABASE_URL=postgresql://…``), for several
page servers on several machines sharing one library: the documents, chunks and generation counter
(the same tables and queries as the embedded SQLite store), the question log and the ingest jobs
with their progress. The write lock is a PostgreSQL advisory lock, held by a connection of its own:
it goes when its holder dies, whatever kills it. Connections come from a psycopg 3 pool."""

from __future__ import annotations

import json
import logging
import threading
import time
from contextlib import contextmanager
from typing import Iterator
from urllib.parse import urlparse

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from ..core.errors import AssistantError
from .store import COMMON_SCHEMA, INDEXES, SqlStore

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    doc_id TEXT PRIMARY KEY, raw_hash TEXT NOT NULL, meta TEXT NOT NULL, text TEXT NOT NULL,
    ingested_at TEXT NOT NULL DEFAULT (now()::text), path TEXT NOT NULL DEFAULT '',
    content_hash TEXT NOT NULL DEFAULT '', text_hash TEXT NOT NULL DEFAULT '', dense TEXT NOT NULL DEFAULT '',
    org_key TEXT, date_lo INTEGER, date_hi INTEGER);
CREATE TABLE IF NOT EXISTS copies (
    path TEXT PRIMARY KEY, doc_id TEXT NOT NULL, content_hash TEXT NOT NULL, seq BIGSERIAL);
CREATE TABLE IF NOT EXISTS scan_pages (
    doc_id TEXT NOT NULL REFERENCES docs(doc_id) ON DELETE CASCADE, page INTEGER NOT NULL, picture BYTEA NOT NULL,
    lines TEXT NOT NULL, PRIMARY KEY (doc_id, page));
CREATE TABLE IF NOT EXISTS answers (id BIGSERIAL PRIMARY KEY, at TIMESTAMPTZ NOT NULL DEFAULT now(), record JSONB NOT NULL);
CREATE TABLE IF NOT EXISTS ingest_jobs (
    id TEXT PRIMARY KEY, server TEXT NOT NULL, files JSONB NOT NULL, stage TEXT NOT NULL, done INTEGER NOT NULL,
    total INTEGER NOT NULL, report JSONB, error TEXT NOT NULL DEFAULT '', finished BOOLEAN NOT NULL DEFAULT false,
    started DOUBLE PRECISION NOT NULL, finished_at DOUBLE PRECISION NOT NULL DEFAULT 0,
    updated TIMESTAMPTZ NOT NULL DEFAULT now());
""" + COMMON_SCHEMA + "".join(f"CREATE INDEX IF NOT EXISTS {n} ON docs({c});\n" for n, c in INDEXES.items())
# Advisory lock keys (any 64-bit numbers, the same in every process of this program): the library's
# write lock, and the one that makes creating the schema one process's job.
WRITE_LOCK = 0x6461_6E67_6A69_616E
SCHEMA_LOCK = WRITE_LOCK + 1
POOL_MAX = 8  # connections per process; a reader holds one for one query, so a page server's threads share a few
JOB_COLUMNS = ("id", "server", "files", "stage", "done", "total", "report", "error", "finished", "started",
               "finished_at")  # an ingest job as the ingest_jobs table keeps it (files and report as JSON)
CONNECT_TIMEOUT = 5  # seconds: a server that does not answer is reported, not waited for
# How long a read of the change counter stands for it. Every read of the store's caches checks the counter;
# on the server each check is a round trip (at 10k chunks the checks made a question 2.7x slower than on
# SQLite: bench/server_vs_local.py --postgres). Another machine's change is seen this much later at most.
GENERATION_TTL = 0.2


class StoreUnavailable(AssistantError):
    """The PostgreSQL server cannot be reached (or went away)."""


def where(url: str) -> str:
    """host:port/database of a URL, without user or password, for messages."""
    u = urlparse(url)
    return f"{u.hostname or 'localhost'}:{u.port or 5432}{u.path or ''}"


def unavailable(url: str, exc: BaseException) -> StoreUnavailable:
    reason = " ".join(str(exc).split())[:200] or type(exc).__name__
    return StoreUnavailable(f"cannot reach the PostgreSQL server at {where(url)} ({reason}); start it, or unset "
                            "ASSISTANT_DATABASE_URL to use the local store")


def _pg(sql: str) -> str:
    """The shared SQL's ``?`` placeholders as psycopg's ``%s``."""
    return sql.replace("?", "%s")


class _Tx:
    """One transaction's connection, with the ``execute``/``executemany`` the shared SQL calls."""

    def __init__(self, conn: psycopg.Connection):
        self.conn = conn

    def execute(self, sql: str, args=()):
        return self.conn.execute(_pg(sql), tuple(args))

    def executemany(self, sql: str, rows) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(_pg(sql), [tuple(r) for r in rows])


class PgStore(SqlStore):
    shared = True
    SET_META = "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
    ADD_META = "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING"
    SET_COPY = ("INSERT INTO copies(path, doc_id, content_hash) VALUES (?, ?, ?) ON CONFLICT (path) "
                "DO UPDATE SET doc_id = EXCLUDED.doc_id, content_hash = EXCLUDED.content_hash")
    COPY_ORDER = "seq"
    DOC_ORDER = "ingested_at, doc_id"
    INSTR = "strpos"

    def __init__(self, url: str):
        super().__init__()
        self.url = url
        try:  # one connection first, so that a server that is down is one clear line at once
            with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT, autocommit=True) as conn:
                conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK,))
                try:
                    for statement in SCHEMA.split(";"):
                        if statement.strip():
                            conn.execute(statement)
                finally:
                    conn.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK,))
        except psycopg.OperationalError as exc:
            raise unavailable(url, exc) from None
        self._pool_lock = threading.Lock()
        self._gen, self._gen_at = 0, -GENERATION_TTL
        self.pool = self._new_pool()
        self._closed = threading.Event()

    def _new_pool(self) -> ConnectionPool:
        return ConnectionPool(self.url, min_size=1, max_size=POOL_MAX, timeout=CONNECT_TIMEOUT, open=True,
                              kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT}, name="assistant-store")

    def _getconn(self) -> tuple[ConnectionPool, psycopg.Connection]:
        """A connection from the pool (and the pool, to give it back to). After an outage the pool waits
        longer and longer between its own attempts to reconnect; when the server answers a direct
        connection again, a new pool replaces it."""
        pool = self.pool
        try:
            return pool, pool.getconn()
        except (psycopg.OperationalError, PoolTimeout) as exc:
            try:
                psycopg.connect(self.url, connect_timeout=CONNECT_TIMEOUT).close()
            except psycopg.OperationalError:
                raise unavailable(self.url, exc) from None
            with self._pool_lock:
                if self.pool is pool:
                    self.pool = self._new_pool()
                    threading.Thread(target=pool.close, daemon=True, name="old-store-pool").start()
                pool = self.pool
            try:
                return pool, pool.getconn()
            except (psycopg.OperationalError, PoolTimeout) as again:
                raise unavailable(self.url, again) from None

    @staticmethod
    def _putconn(pool: ConnectionPool, conn: psycopg.Connection) -> None:
        try:
            pool.putconn(conn)  # a connection that failed is dropped, not lent again
        except Exception:  # noqa: BLE001 - its pool closed meanwhile: the connection just closes
            conn.close()

    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection]:
        pool, conn = self._getconn()
        try:
            yield conn
        except psycopg.OperationalError as exc:
            raise unavailable(self.url, exc) from None
        finally:
            self._putconn(pool, conn)

    def _all(self, sql: str, args=()) -> list:
        """A read. A connection that a restart of the server broke fails in use and is dropped: the read
        is tried again on another, once (when no connection can be had at all, ``_getconn`` says so)."""
        for attempt in (1, 2):
            pool, conn = self._getconn()
            try:
                cur = conn.execute(_pg(sql), tuple(args))
                return cur.fetchall() if cur.description else []
            except psycopg.OperationalError as exc:
                if attempt == 2:
                    raise unavailable(self.url, exc) from None
            finally:
                self._putconn(pool, conn)
        raise AssertionError("unreachable")

    def generation(self) -> int:
        """The change counter, read from the server at most every GENERATION_TTL seconds: a question
        reads the store's caches many times, and each would otherwise be a round trip."""
        now = time.monotonic()
        if now - self._gen_at >= GENERATION_TTL:
            self._gen, self._gen_at = int(self.get_meta("generation", "0")), now
        return self._gen

    @contextmanager
    def _tx(self) -> Iterator[_Tx]:
        with self._conn() as conn, conn.transaction():
            yield _Tx(conn)
        self._gen_at = -GENERATION_TTL  # this process's own change is seen at once

    @contextmanager
    def locked(self, blocking: bool = True) -> Iterator[bool]:
        """The write lock: a session advisory lock on a connection of its own (released when that
        connection closes, also when the process holding it is killed)."""
        try:
            conn = psycopg.connect(self.url, connect_timeout=CONNECT_TIMEOUT, autocommit=True)
        except psycopg.OperationalError as exc:
            raise unavailable(self.url, exc) from None
        try:
            if blocking:
                conn.execute("SELECT pg_advisory_lock(%s)", (WRITE_LOCK,))
                got = True
            else:
                got = conn.execute("SELECT pg_try_advisory_lock(%s)", (WRITE_LOCK,)).fetchone()[0]
            if got:
                self._gen_at = -GENERATION_TTL  # a writer reads the counter as it is, not as it was
            yield got
        finally:
            conn.close()  # closing the session releases its advisory locks

    def close(self) -> None:
        if not self._closed.is_set():
            self._closed.set()
            self.pool.close()

    # --- what only a shared store keeps: the question log and the ingest jobs
    def log_answer(self, record: dict) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO answers(record) VALUES (?)", (json.dumps(record, ensure_ascii=False),))

    def answers(self, limit: int = 100) -> list[dict]:
        """The latest logged answers, newest first."""
        return [r[0] for r in self._all("SELECT record FROM answers ORDER BY id DESC LIMIT ?", (limit,))]

    def put_job(self, job: dict) -> None:
        """Record an ingest job's state (its JOB_COLUMNS)."""
        cols = JOB_COLUMNS
        values = [json.dumps(job[c], ensure_ascii=False) if c in ("files", "report") and job[c] is not None
                  else job[c] for c in cols]
        with self._tx() as db:
            db.execute(f"INSERT INTO ingest_jobs({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
                       f"ON CONFLICT (id) DO UPDATE SET {', '.join(f'{c} = EXCLUDED.{c}' for c in cols[3:])}, "
                       "updated = now()", values)

    def jobs(self, running_only: bool = False) -> list[dict]:
        cols = JOB_COLUMNS
        sql = f"SELECT {', '.join(cols)} FROM ingest_jobs" + (" WHERE NOT finished" if running_only else "")
        return [dict(zip(cols, r)) for r in self._all(sql + " ORDER BY started")]


class PgAnswerLog:
    """The question log in the shared store (what AnswerLog is for the local one)."""

    def __init__(self, store: PgStore, enabled: bool = True):
        self.store, self.enabled = store, enabled

    def append(self, record: dict) -> None:
        if not self.enabled:
            return
        try:
            self.store.log_answer(record)
        except AssistantError as exc:  # answering must not fail because the log cannot be written
            log.info("question log not written: %s", exc)
