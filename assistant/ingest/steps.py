"""The steps of an ingest that need no index: a file read becomes a prepared document (cleaned, its
hashes taken, chunked under an id), and its identity is decided against the records of the
documents already indexed. The library (storage/library.py) runs them, embeds, and commits under
its write lock, where it decides again.

Identity. A document is not its file name: it is the file at a path. Re-ingesting the same path
updates that document; another file whose name is taken becomes a document of its own (its id gets
a suffix, ``name-2.txt``); the same bytes or the same text under another name are recognised and
not indexed twice (a file that moved is followed to its new path).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Protocol

from ..core.chinese import fold
from ..core.schema import Chunk, DocMeta, DocRecord, Document, content_hash
from .chunking import chunk
from .cleaning import clean
from .loading import RawFile, Skipped, free_name
from .regions import locate

PIPELINE_VERSION = "6"  # bump when cleaning/chunking changes so every file is re-ingested

Progress = Callable[[str, int, int], None]  # (stage, done, total)


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


def file_key(bytes_hash: str, chunk_tokens: int) -> str:
    """What decides "unchanged": the file's bytes, read by this pipeline version at this chunk size."""
    return content_hash(f"{PIPELINE_VERSION}|{chunk_tokens}|") + bytes_hash


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
    scan: tuple = ()  # schema.ScanPage of each page OCR read: its picture and its lines' places


def prepare(path: Path, raw: RawFile, key: str, bytes_hash: str) -> Prepared:
    """A file read, cleaned, with its hashes: not yet chunked (its id is decided first)."""
    doc = clean(raw.text, path.name, path=str(path.resolve()), raw_hash=key, kind=raw.kind, hints=raw.hints)
    return Prepared(path=path, key=key, content_hash=bytes_hash, doc=doc, text_hash=text_hash(doc.text),
                    scan=locate(doc, raw.ocr_lines, raw.pictures))


def chunk_as(prep: Prepared, doc_id: str, chunk_tokens: int, overlap_sentences: int) -> None:
    """Chunk a prepared document as ``doc_id``. Chunk ids derive from the id; the chunks' bounds,
    index texts, words and vectors do not (a title never comes from it), so a document whose id
    is taken while it is embedded is chunked again under a free one and keeps the rest."""
    doc = prep.doc
    if doc_id != doc.doc_id:
        doc = Document(meta=replace(doc.meta, doc_id=doc_id), text=doc.text, raw_hash=doc.raw_hash)
    prep.doc, prep.chunks = doc, chunk(doc, chunk_tokens, overlap_sentences)


@dataclass(frozen=True)
class Decision:
    action: str  # unchanged | duplicate | moved | update | new
    doc_id: str  # the document it is, repeats or becomes
    taken_by: str = ""  # for a new document whose file name was taken: the document that has it
    replaces: str = ""  # for a duplicate: the document this path held before (its text is gone from disk)


def holds(rec: DocRecord) -> bool:
    """Does the file a document was read from still hold the bytes that were indexed?"""
    if not rec.path:
        return False
    if not rec.content_hash:  # an index made before content hashes: trust the file is still it
        return os.path.exists(rec.path)
    try:
        return content_hash(Path(rec.path).read_bytes().hex()) == rec.content_hash
    except OSError:
        return False


class Known(Protocol):
    """What identity decisions look up among the indexed documents (the store, storage/store.py): each
    an indexed query, so that deciding costs the same in a library of ten documents or of a hundred
    thousand."""

    def record_at(self, path: str) -> DocRecord | None: ...

    def records_like(self, content_hash: str, text_hash: str) -> list[DocRecord]: ...

    def has_doc(self, doc_id: str) -> bool: ...


def decide(p: Prepared, known: Known) -> Decision:
    """What a prepared file is, given the indexed documents."""
    resolved = str(p.path.resolve())
    own = known.record_at(resolved)
    if own is not None and own.raw_hash == p.key:
        return Decision("unchanged", own.doc_id)
    same = [r for r in known.records_like(p.content_hash, p.text_hash) if own is None or r.doc_id != own.doc_id]
    held = next((r for r in same if holds(r)), None)
    if held is not None:
        # A repeat of a document whose file still holds it. If this path held a document of its
        # own, that text is gone from disk (the file was overwritten with the other report).
        return Decision("duplicate", held.doc_id, replaces=own.doc_id if own is not None else "")
    if same and own is None:
        # The text of a document whose file is gone or now holds something else: it moved here.
        return Decision("moved", same[0].doc_id)
    if own is not None:
        return Decision("update", own.doc_id)
    doc_id = free_name(p.path.name, known.has_doc)
    return Decision("new", doc_id, taken_by=p.path.name if doc_id != p.path.name else "")
