"""The vectors: a local Chroma under ``index/chroma/`` or a collection on a Chroma server
(ASSISTANT_CHROMA_URL), behind one interface. ``Dense.open`` gives the LangChain vector store that
retrieval searches; the writer's operations (upsert, delete, every id, the metadata beside each
vector, setting damaged files aside) go to its collection, in batches Chroma accepts.

A local Chroma's in-memory HNSW does not see what another process wrote: a reader reopens it
(``open(fresh=True)``) when the store's generation says another process committed. A server sees
every client's writes.

A local Chroma is not safe for one process to read while another writes it: a reader that loads or
searches the HNSW files while a writer flushes them dies of a segmentation fault inside Chroma (met
here with a page server answering during a 20,000-file ingest; chromadb 1.5.9, the same as
MemPalace's issues #1329 and #1972). So its readers hold a shared lock on ``index/chroma.lock`` while
they open or search it (``reading``), and its writer an exclusive one while it writes (``writing``):
a search waits for one batch's write (about half a second), never the other way round for long."""

from __future__ import annotations

import logging
import threading
import time
import urllib.error
import urllib.request
from contextlib import nullcontext
from pathlib import Path
from typing import Callable, Iterable
from urllib.parse import urlparse

from ..core.errors import AssistantError
from ..core.schema import DocMeta
from ..core.settings import Settings
from .store import date_span, file_lock

log = logging.getLogger(__name__)

UPSERT_BATCH = 4000  # Chroma refuses batches above ~5,400
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
ID_PAGE = 5000  # ids read from Chroma per request


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


def vector_meta(meta: DocMeta) -> dict:
    """What Chroma keeps beside each vector, for filters in its ``where``: the document, its
    organisation, and the first and last day its date stands for (YYYYMMDD; 0 when undated)."""
    lo, hi = date_span(meta.date)
    return {"doc_id": meta.doc_id, "org": meta.org, "date_ord": lo, "date_end": hi}


def is_damage(exc: Exception) -> bool:
    """Is this Chroma's error for a vector segment that no longer matches its log (CHROMA_DAMAGE)?"""
    return any(m in str(exc) for m in CHROMA_DAMAGE)


class Dense:
    """One index's vectors, local or on a server. ``vs`` is the open LangChain store (None until
    ``open``); ``index_id`` names the index a server's collection must belong to."""

    def __init__(self, settings: Settings, folder: Path, index_id: Callable[[], str]):
        self.settings = settings
        self.path = folder / "chroma"
        self.lock_path = folder / "chroma.lock"
        self.index_id = index_id
        self.vs = None

    def reading(self):
        """Hold while opening or searching a local Chroma: no other process writes it meanwhile."""
        return nullcontext() if self.remote else file_lock(self.lock_path, shared=True)

    def writing(self):
        """Hold while writing a local Chroma: no other process reads it meanwhile."""
        return nullcontext() if self.remote else file_lock(self.lock_path)

    @property
    def remote(self) -> bool:
        """Are the vectors on a Chroma server (ASSISTANT_CHROMA_URL) rather than under index/chroma/?"""
        return bool(self.settings.chroma_url)

    def open(self, embedder, fresh: bool = False):
        """Open (``fresh``: reopen, reloading a local HNSW another process wrote to) and return the store."""
        self.vs = self._open_remote(embedder) if self.remote else self._open_local(embedder, fresh)
        return self.vs

    def _open_remote(self, embedder):
        from langchain_chroma import Chroma

        # A server sees every client's writes: nothing to reopen when another process commits. Its
        # collection records the index it belongs to: another index's vectors are never touched
        # (reconciling would delete them as vectors no document owns).
        name, own = self.settings.chroma_collection, self.index_id()
        vs = Chroma(collection_name=name, embedding_function=embedder,
                    client=chroma_http_client(self.settings.chroma_url),
                    collection_metadata={"hnsw:space": "cosine", "index_id": own}, collection_configuration=HNSW)
        owner = (vs._collection.metadata or {}).get("index_id")
        if owner != own and (owner or vs._collection.count()):
            raise ChromaUnreachable(
                f"the collection {name!r} on {self.settings.chroma_url} holds another index's vectors: set "
                "ASSISTANT_CHROMA_COLLECTION to a name of this index's own")
        return search_wide(vs, remote=True)

    def _open_local(self, embedder, fresh: bool):
        import chromadb
        from langchain_chroma import Chroma

        path = str(self.path)
        for attempt in range(CHROMA_OPEN_TRIES):
            try:
                with _CHROMA_OPEN, self.reading():
                    if fresh or attempt:
                        # Chroma's in-memory HNSW does not see what another process wrote: forget our
                        # system (in-flight queries keep the old one) so the next client reloads. (A system
                        # whose start failed stays registered too, and would fail every later client.)
                        forget_chroma_system(path)
                    client = chromadb.PersistentClient(path=path, settings=chromadb.Settings(anonymized_telemetry=False))
                    vs = Chroma(collection_name=self.settings.chroma_collection, embedding_function=embedder,
                                client=client, collection_metadata={"hnsw:space": "cosine"},
                                collection_configuration=HNSW)
                return vs if fresh else search_wide(vs)  # a reopen after another process's commit: done already
            except Exception as exc:  # noqa: BLE001 - chromadb raises InternalError, not a subclass of its own
                # Two processes creating a new index at once: the one that loses finds Chroma's database
                # locked, or its tables just created, by the other. Wait and open what the other created.
                if not any(m in str(exc) for m in ("locked", "already exists")) or attempt == CHROMA_OPEN_TRIES - 1:
                    raise
                time.sleep(0.1 * (attempt + 1))

    # --- the writer's operations, on an open store
    def ids(self) -> list[str]:
        """Every id in Chroma, paged (a list, so that a duplicate would show)."""
        col, out, offset = self.vs._collection, [], 0
        with self.reading():
            while True:
                part = col.get(include=[], limit=ID_PAGE, offset=offset)["ids"]
                out.extend(part)
                if len(part) < ID_PAGE:
                    return out
                offset += len(part)

    def count(self) -> int:
        with self.reading():
            return self.vs._collection.count()

    def upsert(self, ids: list[str], vectors: list[list[float]], texts: list[str], metas: list[dict]) -> None:
        col = self.vs._collection
        with self.writing():
            for i in range(0, len(ids), UPSERT_BATCH):
                j = i + UPSERT_BATCH
                col.upsert(ids=ids[i:j], embeddings=vectors[i:j], documents=texts[i:j], metadatas=metas[i:j])

    def delete(self, ids) -> None:
        ids = sorted(ids)
        col = self.vs._collection
        with self.writing():
            for i in range(0, len(ids), UPSERT_BATCH):
                col.delete(ids=ids[i : i + UPSERT_BATCH])

    def set_metas(self, metas_by_ids: Iterable[tuple[list[str], dict]]) -> None:
        """Give the vectors of each id list the metadata beside it (ids Chroma lacks are passed over)."""
        col = self.vs._collection
        with self.writing():
            for ids, meta in metas_by_ids:
                for i in range(0, len(ids), UPSERT_BATCH):
                    present = col.get(ids=ids[i : i + UPSERT_BATCH], include=[])["ids"]
                    if present:
                        col.update(ids=present, metadatas=[meta] * len(present))

    def reset(self) -> None:
        """Every vector goes (another embedding model: all are written again)."""
        with self.writing():
            self.vs.reset_collection()

    def set_aside(self, embedder) -> Path:
        """A local Chroma whose files are damaged: its folder is renamed, kept as it is for a look, and
        a new one opened. Returns where the old one went."""
        aside = self.path.with_name(f"chroma.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        with _CHROMA_OPEN, self.writing():
            forget_chroma_system(str(self.path))
            self.path.rename(aside)
        self.vs = search_wide(self._open_local(embedder, fresh=True))
        return aside
