"""The document store: SQLite under the index directory, the source of truth for documents,
their cleaned text and their chunks. Chroma (dense) and BM25 (keyword) are derived from it and
checked against it whenever the index opens."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from .chinese import fold
from .schema import Chunk, DocMeta, Document

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS docs (
    doc_id TEXT PRIMARY KEY, raw_hash TEXT NOT NULL, meta TEXT NOT NULL, text TEXT NOT NULL,
    ingested_at TEXT NOT NULL DEFAULT (datetime('now')));
CREATE TABLE IF NOT EXISTS chunks (
    chunk_id TEXT PRIMARY KEY, doc_id TEXT NOT NULL REFERENCES docs(doc_id) ON DELETE CASCADE,
    idx INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL, headings TEXT NOT NULL,
    tokens INTEGER NOT NULL, index_text TEXT NOT NULL, words TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
"""


def _meta_from_json(raw: str) -> DocMeta:
    data = json.loads(raw)
    data["aliases"] = tuple(data.get("aliases", ()))
    return DocMeta(**data)


class DocStore:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), check_same_thread=False)
        self.db.execute("PRAGMA foreign_keys = ON")
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.executescript(SCHEMA)
        self._text_cache: dict[str, str] = {}
        self._folded_cache: dict[str, str] = {}
        self._meta_cache: dict[str, DocMeta] | None = None

    def close(self) -> None:
        self.db.close()

    # --- meta
    def get_meta(self, key: str, default: str = "") -> str:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    # --- documents
    def raw_hash(self, doc_id: str) -> str | None:
        row = self.db.execute("SELECT raw_hash FROM docs WHERE doc_id=?", (doc_id,)).fetchone()
        return row[0] if row else None

    def put(self, doc: Document, chunks: list[Chunk], index_texts: list[str], words: list[list[str]]) -> None:
        """Replace a document and all its chunks in one transaction."""
        meta = json.dumps(doc.meta.__dict__, ensure_ascii=False)
        with self.db:
            self.db.execute("DELETE FROM docs WHERE doc_id=?", (doc.doc_id,))
            self.db.execute(
                "INSERT INTO docs(doc_id, raw_hash, meta, text) VALUES (?, ?, ?, ?)",
                (doc.doc_id, doc.raw_hash, meta, doc.text),
            )
            self.db.executemany(
                'INSERT INTO chunks(chunk_id, doc_id, idx, start, "end", headings, tokens, index_text, words) '
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (c.chunk_id, c.doc_id, c.index, c.start, c.end, json.dumps(c.headings, ensure_ascii=False),
                     c.tokens, it, " ".join(w))
                    for c, it, w in zip(chunks, index_texts, words)
                ],
            )
        self._text_cache.pop(doc.doc_id, None)
        self._folded_cache.pop(doc.doc_id, None)
        self._meta_cache = None

    def delete(self, doc_id: str) -> list[str]:
        ids = [r[0] for r in self.db.execute("SELECT chunk_id FROM chunks WHERE doc_id=?", (doc_id,))]
        with self.db:
            self.db.execute("DELETE FROM docs WHERE doc_id=?", (doc_id,))
        self._text_cache.pop(doc_id, None)
        self._folded_cache.pop(doc_id, None)
        self._meta_cache = None
        return ids

    def metas(self) -> dict[str, DocMeta]:
        if self._meta_cache is None:
            self._meta_cache = {
                d: _meta_from_json(m) for d, m in self.db.execute("SELECT doc_id, meta FROM docs ORDER BY doc_id")
            }
        return self._meta_cache

    def text(self, doc_id: str) -> str:
        if doc_id not in self._text_cache:
            row = self.db.execute("SELECT text FROM docs WHERE doc_id=?", (doc_id,)).fetchone()
            if row is None:
                raise KeyError(doc_id)
            self._text_cache[doc_id] = row[0]
        return self._text_cache[doc_id]

    def folded(self, doc_id: str) -> str:
        """The cleaned text folded to simplified characters and lower case, for matching."""
        if doc_id not in self._folded_cache:
            self._folded_cache[doc_id] = fold(self.text(doc_id)).lower()
        return self._folded_cache[doc_id]

    def chunk_counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT doc_id, count(*) FROM chunks GROUP BY doc_id"))

    # --- chunks
    def _chunk(self, row) -> Chunk:
        chunk_id, doc_id, idx, start, end, headings, tokens = row
        text = self.text(doc_id)
        return Chunk(chunk_id, doc_id, idx, start, end, text[start:end], tuple(json.loads(headings)), tokens)

    def chunks(self, ids: list[str]) -> dict[str, Chunk]:
        out: dict[str, Chunk] = {}
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            q = ",".join("?" * len(part))
            for row in self.db.execute(
                f'SELECT chunk_id, doc_id, idx, start, "end", headings, tokens FROM chunks WHERE chunk_id IN ({q})', part
            ):
                out[row[0]] = self._chunk(row)
        return out

    def doc_chunks(self, doc_id: str) -> list[Chunk]:
        rows = self.db.execute(
            'SELECT chunk_id, doc_id, idx, start, "end", headings, tokens FROM chunks WHERE doc_id=? ORDER BY idx',
            (doc_id,),
        )
        return [self._chunk(r) for r in rows]

    def all_words(self) -> tuple[list[str], list[str], list[list[str]]]:
        """(chunk ids, doc ids, keyword tokens) for every chunk, in a stable order."""
        ids, docs, words = [], [], []
        for cid, did, w in self.db.execute("SELECT chunk_id, doc_id, words FROM chunks ORDER BY doc_id, idx"):
            ids.append(cid)
            docs.append(did)
            words.append(w.split(" ") if w else [])
        return ids, docs, words

    def index_texts(self, ids: list[str]) -> dict[str, tuple[str, str]]:
        """chunk id → (doc id, text that is embedded) for the given chunks."""
        out = {}
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            q = ",".join("?" * len(part))
            for cid, did, t in self.db.execute(
                f"SELECT chunk_id, doc_id, index_text FROM chunks WHERE chunk_id IN ({q})", part
            ):
                out[cid] = (did, t)
        return out

    def chunk_ids(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT chunk_id FROM chunks")}
