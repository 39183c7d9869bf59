"""One index shared by many processes and threads: readers see other processes' commits after
``refresh``, never wait for a writer, and a writer never writes back a stale view."""

import fcntl
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import ROOT, SEED_IDS, SEEDS

from assistant.answer.answering import answer
from assistant.answer.retrieval import retrieve
from assistant.core.settings import Settings, model_spec
from assistant.storage import library
from assistant.storage.keyword import KeywordIndex
from assistant.storage.library import Index

CORPUS = ROOT.parent / "shared" / "corpora" / "govreports.jsonl"

X_REPORT = ("钛合金研究室党支部开展主题党日活动\n时间：2021-06-18\n"
            "钛合金研究室党支部组织党员参观深海探测器总装车间，支部书记周海涛讲授专题党课。\n"
            "党员们围绕深海探测器耐压壳体攻关立下军令状，确保年底前完成第一轮海试。\n")
Y_REPORT = ("稀土催化研究组党支部召开组织生活会\n时间：2022-03-09\n"
            "稀土催化研究组党支部召开专题组织生活会，支部书记林晓燕带头开展批评与自我批评。\n"
            "会议确定今年重点推进稀土催化剂中试放大，由青年党员突击队承担攻关任务。\n")
Z_REPORT = ("低温物理实验室党支部推进党建与科研融合\n时间：2023-11-02\n"
            "低温物理实验室党支部设立超导量子芯片党员攻关岗，支部书记韩冬梅担任岗长。\n"
            "攻关岗一年内完成稀释制冷机国产化样机调试，获评研究所优秀党建品牌。\n")


def cli_env(model: str = "hash") -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env["HF_HUB_OFFLINE"] = "1"
    env["ASSISTANT_LOG_ANSWERS"] = "0"
    if model == "hash":
        env["ASSISTANT_EMBED_MODEL"] = "hash"
    return env


def cli(index_dir: Path, *args, model: str = "hash", timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assistant", "--index", str(index_dir), *map(str, args)],
                          cwd=ROOT, env=cli_env(model), capture_output=True, text=True, timeout=timeout)


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder


def assert_consistent(index) -> set[str]:
    index.refresh()
    store = index.store.chunk_ids()
    dense = index.chroma_ids()
    disk = KeywordIndex(index.keyword.dir)
    assert disk.load()
    for ids in (dense, index.keyword.ids, disk.ids):
        assert len(ids) == len(set(ids)) and set(ids) == store, (len(ids), len(store))
    assert index.incomplete() == []
    return store


# A fresh process's view: store, Chroma (ids, and the HNSW graph: each chunk's own vector finds it)
# and the saved BM25. Run in a subprocess so nothing this process cached can help.
FRESH_VIEW = r"""
import json, sys
from pathlib import Path
from assistant.storage.library import Index
from assistant.storage.keyword import KeywordIndex
from assistant.core.settings import Settings, model_spec
index = Index.open(Settings(index_dir=Path(sys.argv[1]), model=model_spec(sys.argv[2])))
col = index.vectorstore._collection
got = col.get(include=["embeddings"])
lost = []
for cid, vec in zip(got["ids"], got["embeddings"]):
    near = col.query(query_embeddings=[list(vec)], n_results=1, include=["distances"])
    if near["ids"][0][:1] != [cid] and not (near["distances"][0] and near["distances"][0][0] < 1e-4):
        lost.append(cid)
kw = KeywordIndex(index.keyword.dir)
print(json.dumps({"store": sorted(index.store.chunk_ids()), "chroma": got["ids"],
                  "keyword": kw.ids if kw.load() else None, "not_in_graph": lost,
                  "docs": sorted(index.store.metas()), "incomplete": index.incomplete()}))
"""


def fresh_view(index_dir: Path, model: str = "hash") -> dict:
    out = subprocess.run([sys.executable, "-c", FRESH_VIEW, str(index_dir), model], cwd=ROOT, env=cli_env(model),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def assert_fresh_view_consistent(index_dir: Path, model: str = "hash") -> dict:
    view = fresh_view(index_dir, model)
    store = set(view["store"])
    assert len(view["chroma"]) == len(set(view["chroma"])) and set(view["chroma"]) == store
    assert view["keyword"] is not None and len(view["keyword"]) == len(store) and set(view["keyword"]) == store
    assert view["not_in_graph"] == [], f"{len(view['not_in_graph'])} vectors Chroma lists but cannot find"
    assert view["incomplete"] == []
    return view


class LockHolder:
    """Another process holding the exclusive write lock, as a writer at work does."""

    def __init__(self, index_dir: Path, name: str = "write.lock"):
        index_dir.mkdir(parents=True, exist_ok=True)
        code = ("import fcntl, sys, time\n"
                "fh = open(sys.argv[1], 'a+')\n"
                "fcntl.flock(fh, fcntl.LOCK_EX)\n"
                "print('locked', flush=True)\n"
                "time.sleep(600)\n")
        self.proc = subprocess.Popen([sys.executable, "-c", code, str(index_dir / name)],
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "locked"
        with open(index_dir / name, "a+") as fh:  # really held: a non-blocking try fails
            with pytest.raises(BlockingIOError):
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def release(self):
        self.proc.kill()
        self.proc.wait()


def within(seconds: float, fn, *args, **kwargs):
    """Run fn in a thread; fail if it has not returned in time (it waits for a lock)."""
    box = {}

    def run():
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            box["error"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"{getattr(fn, '__name__', fn)} did not return within {seconds}s (waiting for the lock?)"
    if "error" in box:
        raise box["error"]
    return box["value"]


# --- (a) another process's ingest and remove are seen after refresh


@pytest.mark.parametrize("model", ["hash", pytest.param("real", marks=pytest.mark.slow)])
def test_other_process_ingest_and_remove_are_seen_after_refresh(tmp_path, model):
    settings = Settings(index_dir=tmp_path / "index")
    if model == "hash":
        settings = settings.with_(model=model_spec("hash"))
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for name in SEED_IDS[:3]:
        shutil.copy(SEEDS / name, seeds / name)
    index = Index.open(settings, create=True)
    first = index.ingest([seeds])
    assert first.dense and sorted(first.added) == SEED_IDS[:3], index.dense_error
    assert "x.txt" not in {h.chunk.doc_id for h in retrieve(index, "深海探测器耐压壳体攻关", k=5)}
    before = index.store.generation()

    done = cli(tmp_path / "index", "ingest", write(tmp_path / "new", "x.txt", X_REPORT), model=model)
    assert done.returncode == 0, done.stderr
    assert index.refresh() and index.store.generation() > before
    hits = retrieve(index, "深海探测器耐压壳体攻关", k=5)
    x = [h for h in hits if h.chunk.doc_id == "x.txt"]
    assert x and x[0] is hits[0], [(h.chunk.doc_id, h.dense_rank, h.keyword_rank) for h in hits]
    assert x[0].dense_rank is not None, "the new chunk is not found by the dense side (Chroma not reopened)"
    assert x[0].keyword_rank is not None, "the new chunk is not found by BM25 (keyword index not reloaded)"
    assert "深海探测器" in answer(index, "钛合金研究室党支部组织党员参观了什么？").answer
    assert not index.refresh()  # nothing new: cheap, no reload

    gone = SEED_IDS[0]
    assert gone in {h.chunk.doc_id for h in retrieve(index, "质检中心党支部书记赵宇", k=5)}
    done = cli(tmp_path / "index", "remove", gone, model=model)
    assert done.returncode == 0, done.stderr
    assert index.refresh()
    for q in ("质检中心党支部书记赵宇", "以学促做工作交流会", "质检中心党支部", "中心现有员工61人，其中党员30人"):
        hits = retrieve(index, q, k=10)
        assert gone not in {h.chunk.doc_id for h in hits}, q
    # The dense side on its own returns none of its chunks either (every vector is a candidate).
    qv = index.embedder.embed_query("质检中心党支部书记赵宇")
    col = index.vectorstore._collection
    near = col.query(query_embeddings=[qv], n_results=col.count(), include=["metadatas"])
    assert gone not in {m["doc_id"] for m in near["metadatas"][0]}
    assert "x.txt" in {m["doc_id"] for m in near["metadatas"][0]}
    assert_consistent(index)
    index.close()


# --- (b) readers never wait for a writer


def test_readers_do_not_wait_for_the_write_lock(hash_settings, seed_copy, tmp_path):
    index = Index.open(hash_settings, create=True)
    index.ingest([seed_copy])
    reader = Index.open(hash_settings)
    assert retrieve(reader, "质检中心党支部书记赵宇", k=3)
    # Another writer commits, then a third process takes the write lock and keeps it.
    writer = Index.open(hash_settings)
    writer.ingest([write(tmp_path / "new", "x.txt", X_REPORT)])
    writer.close()
    holder = LockHolder(hash_settings.index_dir)
    try:
        # The reader reloads what the writer committed without the lock.
        hits = within(30, retrieve, reader, "深海探测器耐压壳体攻关", k=3)
        assert hits[0].chunk.doc_id == "x.txt" and hits[0].dense_rank is not None
        ans = within(30, answer, reader, "质检中心党支部请了哪些人给党员讲党课、做技术讲座？")
        assert not ans.refused and ans.citations and ans.citations[0].doc_id == SEED_IDS[0]
        # A reader that starts with no keyword index on disk builds one in memory instead of waiting.
        shutil.rmtree(hash_settings.index_dir / "keyword")
        cold = within(30, Index.open, hash_settings)
        hits = within(30, retrieve, cold, "深海探测器耐压壳体攻关", k=3)
        assert hits[0].chunk.doc_id == "x.txt" and hits[0].keyword_rank is not None
        assert within(30, cold.documents) and within(30, cold.incomplete) == []
        assert not (hash_settings.index_dir / "keyword" / "state.json").exists()  # it did not write
    finally:
        holder.release()


def test_a_local_chroma_is_not_searched_while_another_process_writes_it(hash_settings, seed_copy):
    """Chroma 1.5 dies of a segmentation fault in a process that searches its files while another
    process writes them (met with a reader during a 20,000-file ingest). A search waits while a
    writer holds the vectors' lock, and goes on once it lets go; the store's write lock does not
    stop it (test above)."""
    index = Index.open(hash_settings, create=True)
    index.ingest([seed_copy])
    reader = Index.open(hash_settings)
    assert retrieve(reader, "质检中心党支部书记赵宇", k=3)[0].dense_rank is not None
    holder = LockHolder(hash_settings.index_dir, "chroma.lock")  # another process writing Chroma
    box: dict = {}
    searching = threading.Thread(target=lambda: box.update(hits=retrieve(reader, "质检中心党支部书记赵宇", k=3)))
    searching.start()
    searching.join(3)
    assert searching.is_alive() and "hits" not in box  # it waits: no search while Chroma is written
    holder.release()
    searching.join(30)
    assert box["hits"][0].chunk.doc_id == SEED_IDS[0] and box["hits"][0].dense_rank is not None


def test_reader_catches_up_with_keyword_saved_after_the_last_commit(hash_settings, seed_copy, tmp_path,
                                                                     monkeypatch):
    """A reader that refreshes in the middle of another writer's ingest (BM25 on disk still behind
    the store) picks up the keyword index the writer saves at the end, although no commit follows."""
    import assistant.storage.library

    writer = Index.open(hash_settings, create=True)
    writer.ingest([seed_copy, write(tmp_path / "new", "x.txt", Y_REPORT)])
    # x.txt is replaced: after a removal BM25 is rebuilt at most every KEYWORD_SAVE_EVERY seconds, so a
    # commit can be ahead of the saved keyword index for a while.
    monkeypatch.setattr(assistant.storage.library, "KEYWORD_SAVE_EVERY", 3600.0)
    writer._keyword_saved = time.monotonic()
    reader = Index.open(hash_settings)
    assert retrieve(reader, "质检中心党支部书记赵宇", k=3)
    real_save = writer._save_keyword
    looked = []

    def save_keyword(force=False):
        if force and "深海" in writer.store.text("x.txt") and not looked:
            # x.txt is committed and this is the writer's last step: BM25 on disk is still behind.
            looked.append(reader.refresh())
            retrieve(reader, "深海探测器耐压壳体攻关", k=3)
        real_save(force)

    writer._save_keyword = save_keyword
    writer.ingest([write(tmp_path / "new", "x.txt", X_REPORT)])
    assert looked == [True]
    reader.refresh()
    assert set(reader.keyword.ids) == reader.store.chunk_ids()
    hits = retrieve(reader, "深海探测器耐压壳体攻关", k=3)
    assert hits[0].chunk.doc_id == "x.txt" and hits[0].keyword_rank is not None


def test_a_commit_is_found_by_keyword_at_once_without_reading_the_library_again(hash_settings, seed_copy, tmp_path,
                                                                               monkeypatch):
    """Each commit adds its chunks to the saved BM25 as a segment: a reader's next refresh finds them by
    keyword (the delay is the commit's: at most BATCH_SECONDS or BATCH_CHUNKS after the file is read), and
    adding files to a library reads none of its other chunks. A removal rebuilds it from the store."""
    writer = Index.open(hash_settings, create=True)
    writer.ingest([seed_copy])
    reader = Index.open(hash_settings)
    assert retrieve(reader, "质检中心党支部书记赵宇", k=3)
    monkeypatch.setattr(library, "BATCH_CHUNKS", 1)  # a commit a file
    read_all = []
    real_all_words = writer.store.all_words
    monkeypatch.setattr(writer.store, "all_words", lambda: read_all.append(1) or real_all_words())
    real_commit, found = writer._commit, {}

    def commit(batch, *args):
        again = real_commit(batch, *args)
        assert reader.refresh()
        for prep in batch:
            question = {"x.txt": "深海探测器耐压壳体攻关", "y.txt": "稀土催化剂中试放大",
                        "z.txt": "超导量子芯片党员攻关岗"}[prep.path.name]
            hits = [h for h in retrieve(reader, question, k=3) if h.keyword_rank is not None]
            found[prep.path.name] = hits[0].chunk.doc_id if hits else None
        return again

    monkeypatch.setattr(writer, "_commit", commit)
    new = write(write(write(tmp_path / "new", "x.txt", X_REPORT), "y.txt", Y_REPORT), "z.txt", Z_REPORT)
    writer.ingest([new])
    assert found == {"x.txt": "x.txt", "y.txt": "y.txt", "z.txt": "z.txt"}
    assert read_all == []  # three short files beside five reports: less than REBUILD_TAIL_SHARE, no rebuild
    assert len(writer.keyword.segments) == 3 and not writer.keyword_behind()
    assert set(KeywordIndex(writer.keyword.dir).reloaded().ids) == writer.store.chunk_ids()

    writer.remove("y.txt")
    assert read_all == [1] and writer.keyword.segments == ()
    reader.refresh()
    assert set(reader.keyword.ids) == reader.store.chunk_ids()
    assert all(h.chunk.doc_id != "y.txt" for h in retrieve(reader, "稀土催化剂中试放大", k=3))


def test_a_writer_never_adds_a_segment_to_a_base_another_process_replaced(hash_settings, seed_copy, tmp_path,
                                                                           monkeypatch):
    """Another process rebuilt BM25 without committing (the start of its ingest, a reader): the writer's
    next commit adds its segment to that base, never to its own replaced (and here deleted) one."""
    from assistant.storage import keyword

    monkeypatch.setattr(keyword, "STALE_AFTER", -1)  # replaced files go at once
    writer = Index.open(hash_settings, create=True)
    writer.ingest([seed_copy])
    other = Index.open(hash_settings)
    with other.writing():
        other._rebuild_keyword()
    assert not (writer.keyword.dir / writer.keyword.folder).exists()
    writer.ingest([write(tmp_path / "new", "x.txt", X_REPORT)])
    saved = KeywordIndex(writer.keyword.dir).reloaded()
    assert saved is not None and saved.folder == other.keyword.folder and len(saved.segments) == 1
    assert set(saved.ids) == writer.store.chunk_ids()


# --- (c) a writer never writes back a stale view


def test_writer_that_opened_before_another_commit_does_not_write_back_a_stale_view(hash_settings, seed_copy,
                                                                                     tmp_path):
    a = Index.open(hash_settings, create=True)
    a.ingest([seed_copy])
    assert retrieve(a, "质检中心党支部书记赵宇", k=3)[0].dense_rank is not None  # A's Chroma is loaded
    done = cli(hash_settings.index_dir, "ingest", write(tmp_path / "x", "x.txt", X_REPORT))  # process B
    assert done.returncode == 0, done.stderr
    report = a.ingest([write(tmp_path / "y", "y.txt", Y_REPORT)])  # A, without a refresh first
    assert report.added == ["y.txt"]
    for doc, q in (("x.txt", "深海探测器耐压壳体攻关"), ("y.txt", "稀土催化剂中试放大")):  # A's own view
        hit = retrieve(a, q, k=1)[0]
        assert hit.chunk.doc_id == doc and hit.dense_rank is not None and hit.keyword_rank is not None
    view = assert_fresh_view_consistent(hash_settings.index_dir)
    assert {"x.txt", "y.txt"} <= set(view["docs"])
    a.close()
    fresh = Index.open(hash_settings)
    store = assert_consistent(fresh)
    for doc, q in (("x.txt", "深海探测器耐压壳体攻关"), ("y.txt", "稀土催化剂中试放大")):
        ids = {c.chunk_id for c in fresh.store.doc_chunks(doc)}
        assert ids and ids <= store
        hit = retrieve(fresh, q, k=1)[0]
        assert hit.chunk.doc_id == doc and hit.dense_rank is not None and hit.keyword_rank is not None


def test_duplicate_whose_original_is_removed_meanwhile_is_not_committed_empty(hash_settings, seed_copy, tmp_path,
                                                                               monkeypatch):
    """A file found to repeat document D (so neither chunked nor embedded), D removed by another
    writer before the commit: the file must not become a document without chunks."""
    index = Index.open(hash_settings, create=True)
    index.ingest([seed_copy])
    other = Index.open(hash_settings)
    copies = tmp_path / "copies"
    copies.mkdir()
    shutil.copyfile(seed_copy / SEED_IDS[0], copies / "副本.txt")
    real_decide = library.decide
    calls = []

    def decide(p, records):
        d = real_decide(p, records)
        if not calls:  # the first look, outside the write lock: another writer removes D now
            calls.append(d)
            other.remove(SEED_IDS[0])
        return d

    monkeypatch.setattr(library, "decide", decide)
    index.ingest([copies])
    assert calls[0].action == "duplicate"
    counts = index.store.chunk_counts()
    assert all(counts.get(d, 0) > 0 for d in index.store.metas()), counts
    monkeypatch.undo()
    report = index.ingest([copies])
    assert report.added == ["副本.txt"] or report.unchanged == ["副本.txt"]
    assert retrieve(index, "质检中心党支部书记赵宇", k=1)[0].chunk.doc_id == "副本.txt"
    assert_consistent(index)


# --- (d) two ingests at the same time


def reports(folder: Path, first: int, n: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if len(r["text"]) > 10000][first : first + n]
    for r in rows:
        year = (r.get("date") or "2000")[:4]
        (folder / f"{r['id']}.txt").write_text(f"{r['title']}\n时间：{year}-03-05\n{r['text']}\n", encoding="utf-8")
    return folder


@pytest.mark.parametrize("existing", [False, True], ids=["new-index", "existing-index"])
def test_two_ingests_of_different_folders_at_once(tmp_path, existing):
    if not CORPUS.exists():
        pytest.skip(f"corpus not found at {CORPUS}")
    index_dir = tmp_path / "index"
    if existing:
        assert cli(index_dir, "ingest", write(tmp_path / "z", "z.txt", Z_REPORT)).returncode == 0
    one = reports(tmp_path / "one", 0, 2)
    two = reports(tmp_path / "two", 2, 2)
    for name in SEED_IDS[:2]:
        shutil.copy(SEEDS / name, one / name)
    for name in SEED_IDS[2:]:
        shutil.copy(SEEDS / name, two / name)
    cmd = [sys.executable, "-m", "assistant", "--index", str(index_dir), "ingest"]
    procs = [subprocess.Popen(cmd + [str(folder)], cwd=ROOT, env=cli_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for folder in (one, two)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    index = Index.open(Settings(index_dir=index_dir, model=model_spec("hash")))
    expected = {f.name for f in one.iterdir()} | {f.name for f in two.iterdir()} | ({"z.txt"} if existing else set())
    assert set(index.store.metas()) == expected
    assert_consistent(index)
    assert_fresh_view_consistent(index_dir)
    index.close()


def test_many_openers_of_a_new_index_at_once(tmp_path):
    """Processes (here: threads with connections of their own) that open a new index at the same
    moment all get a working store; none fails half-way through creating the schema."""
    from assistant.storage.store import DocStore

    for attempt in range(10):
        path = tmp_path / f"index{attempt}" / "store.sqlite3"
        barrier = threading.Barrier(6)
        errors = []

        def open_it():
            try:
                barrier.wait(10)
                DocStore(path).close()
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=open_it) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, f"attempt {attempt}: {errors[0]!r}"
        store = DocStore(path)
        assert store.records() == {} and store.generation() == 0
        store.close()


OPENER = r"""
import sys, time
from pathlib import Path
from assistant.storage.library import Index
from assistant.core.settings import Settings, model_spec
base, rounds = Path(sys.argv[1]), int(sys.argv[2])
print("ready", flush=True)
for r in range(rounds):
    go = base / f"go{r}"
    while not go.exists():
        time.sleep(0.002)
    try:
        index = Index.open(Settings(index_dir=base / f"index{r}", model=model_spec("hash")), create=True)
        assert index.vectorstore is not None
        index.vectorstore._collection.count()
        print("ok", r, flush=True)
    except Exception as exc:
        print("FAIL", r, type(exc).__name__, str(exc).splitlines()[0][:200], flush=True)
"""


def test_processes_creating_a_new_index_at_the_same_moment(tmp_path):
    """Several processes (a web server starting, a CLI ingest) open a new index at the same moment:
    every one gets the store and Chroma, none fails on the other's half-created tables."""
    rounds, procs = 8, 4
    opened = [subprocess.Popen([sys.executable, "-c", OPENER, str(tmp_path), str(rounds)], cwd=ROOT, env=cli_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(procs)]
    for p in opened:
        assert p.stdout.readline().strip() == "ready"
    for r in range(rounds):
        (tmp_path / f"go{r}").touch()
        time.sleep(1.0)
    outs = [p.communicate(timeout=120) for p in opened]
    lines = [line for out, _ in outs for line in out.splitlines() if line.startswith(("ok", "FAIL"))]
    failed = [line for line in lines if line.startswith("FAIL")]
    assert not failed and len(lines) == rounds * procs, failed[:3] or [err[-1500:] for _, err in outs]


# --- (e) threads


def test_threads_retrieve_while_the_main_thread_ingests_and_removes(hash_settings, seed_copy, tmp_path):
    index = Index.open(hash_settings, create=True)
    index.ingest([seed_copy])
    questions = ["质检中心党支部书记赵宇", "深海探测器耐压壳体攻关", "稀土催化剂中试放大", "兰州化物所四同",
                 "光栅室党支部创先争优", "超导量子芯片党员攻关岗", "新址建设"]
    stop = threading.Event()
    errors: list[BaseException] = []
    counts = [0] * 8

    def reader(n):
        while not stop.is_set():
            try:
                for h in retrieve(index, questions[(n + counts[n]) % len(questions)], k=5):
                    assert h.chunk.doc_id == h.meta.doc_id and h.chunk.text
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
                return
            counts[n] += 1

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    try:
        folder = tmp_path / "new"
        for round_ in range(3):
            write(folder, "x.txt", X_REPORT + f"第{round_}轮补充说明。\n")
            write(folder, "y.txt", Y_REPORT)
            index.ingest([folder])
            write(folder, "z.txt", Z_REPORT)
            (folder / "y.txt").unlink()
            index.ingest([folder])
            index.remove("x.txt")
            index.remove(SEED_IDS[round_])
            index.ingest([seed_copy])  # brings the seed back
            time.sleep(0.2)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert not errors, repr(errors[:3])
    assert min(counts) > 0, counts
    assert len(index.store._conns) >= 9  # every thread had a connection of its own
    assert_consistent(index)
    assert_fresh_view_consistent(hash_settings.index_dir)
    for doc in index.store.metas():  # nothing stale is cached
        row = index.store.db.execute("SELECT text FROM docs WHERE doc_id=?", (doc,)).fetchone()
        assert index.store.text(doc) == row[0]


class _Rows:
    def __init__(self, rows):
        self.rows = rows

    def fetchone(self):
        return self.rows[0] if self.rows else None

    def fetchall(self):
        return list(self.rows)

    def __iter__(self):
        return iter(self.rows)


class PausingConnection:
    """A thread's SQLite connection that stops right after the first query containing ``needle``
    has read its rows, until told to go on: lets a test put another thread's commit exactly there."""

    def __init__(self, conn, needle: str):
        self._conn, self.needle = conn, needle
        self.reached, self.go = threading.Event(), threading.Event()

    def execute(self, sql, *args):
        cur = self._conn.execute(sql, *args)
        if self.needle in sql and not self.reached.is_set():
            rows = cur.fetchall()
            self.reached.set()
            assert self.go.wait(60)
            return _Rows(rows)
        return cur

    def __getattr__(self, name):
        return getattr(self._conn, name)

    def __enter__(self):
        return self._conn.__enter__()

    def __exit__(self, *exc):
        return self._conn.__exit__(*exc)


@pytest.mark.parametrize("what", ["text", "metas"])
def test_a_read_overtaken_by_a_commit_does_not_leave_stale_cache(hash_settings, seed_copy, tmp_path, what):
    """Thread T reads a document's text (or the metas) from the store; before T caches it, the main
    thread commits a change and reads the new value. T's older value must not replace it."""
    index = Index.open(hash_settings, create=True)
    index.ingest([seed_copy])
    doc = SEED_IDS[0]
    needle = "SELECT text FROM docs" if what == "text" else "SELECT doc_id, meta FROM docs"
    index.store._cache_gen = -1  # T reads from the database, not from a cache
    box = {}
    installed = threading.Event()

    def reader():
        box["conn"] = index.store._local.conn = PausingConnection(index.store.db, needle)  # T's own, pausing
        installed.set()
        try:
            box["value"] = index.store.text(doc) if what == "text" else index.store.metas()
        except BaseException as exc:  # noqa: BLE001
            box["error"] = exc

    t = threading.Thread(target=reader)
    t.start()
    assert installed.wait(30)
    conn = box["conn"]
    assert conn.reached.wait(30)
    # T holds the old value. The main thread commits a change and reads the new one.
    if what == "text":
        target = seed_copy / doc
        target.write_text(target.read_text(encoding="utf-8") + "\n补记：质检中心党支部新设光学计量党员示范岗。\n",
                          encoding="utf-8")
        assert index.ingest([target]).updated == [doc]
        assert "光学计量党员示范岗" in index.store.text(doc)
    else:
        assert index.ingest([write(tmp_path / "new", "x.txt", X_REPORT)]).added == ["x.txt"]
        assert "x.txt" in index.store.metas()
    conn.go.set()
    t.join(30)
    assert "error" not in box, box.get("error")
    # The main thread (and every thread) still sees the committed state.
    if what == "text":
        assert "光学计量党员示范岗" in index.store.text(doc)
        for c in index.store.doc_chunks(doc):
            assert c.text == index.store.text(doc)[c.start : c.end]
        hit = retrieve(index, "光学计量党员示范岗", k=1)[0]
        assert "光学计量党员示范岗" in hit.chunk.text
    else:
        assert "x.txt" in index.store.metas()
        assert retrieve(index, "深海探测器耐压壳体攻关", k=1)[0].chunk.doc_id == "x.txt"


def test_retrieve_racing_a_remove_of_a_retrieved_document(hash_settings, seed_copy):
    index = Index.open(hash_settings, create=True)
    index.ingest([seed_copy])
    other = Index.open(hash_settings)  # another writer (as another process would)
    real_chunks = index.store.chunks

    def chunks(ids):
        out = real_chunks(ids)
        if SEED_IDS[0] in {c.doc_id for c in out.values()} and SEED_IDS[0] in other.store.metas():
            other.remove(SEED_IDS[0])  # committed right after the reader read the chunks
        return out

    index.store.chunks = chunks
    hits = retrieve(index, "质检中心党支部书记赵宇", k=5)  # the removed document is left out, no KeyError
    assert hits and all(h.meta.doc_id == h.chunk.doc_id != SEED_IDS[0] for h in hits)


def test_two_ingests_of_two_files_of_one_name_at_once_add_both(hash_settings, tmp_path, monkeypatch):
    """Issue 19, defect 5: a/名单.txt and b/名单.txt (different reports) ingested by two writers at once.
    The second writer commits 名单.txt while the first is embedding its own 名单.txt, which then takes
    名单-2.txt under the write lock. Before, the first said "changed by another ingest at the same
    time; ingest it again" and left its file out."""
    a, b = write(tmp_path / "a", "名单.txt", X_REPORT), write(tmp_path / "b", "名单.txt", Y_REPORT)
    first = Index.open(hash_settings, create=True)
    second = Index.open(hash_settings)
    real_embed = first._embed
    interleaved = []

    def embed_while_the_other_commits(*args, **kwargs):
        if not interleaved:  # the other writer runs to the end while this one embeds
            interleaved.append(second.ingest([b]))
        return real_embed(*args, **kwargs)

    monkeypatch.setattr(first, "_embed", embed_while_the_other_commits)
    report = first.ingest([a])
    assert interleaved[0].added == ["名单.txt"]
    assert report.added == ["名单-2.txt"] and report.skipped == [], report.skipped
    assert [(p, d, t) for p, d, t in report.renamed] == [(a / "名单.txt", "名单-2.txt", "名单.txt")]
    assert "深海探测器" in first.store.text("名单-2.txt") and "稀土催化" in first.store.text("名单.txt")
    assert_consistent(first)
    for doc, q in (("名单-2.txt", "深海探测器耐压壳体攻关"), ("名单.txt", "稀土催化剂中试放大")):
        assert retrieve(first, q, k=1)[0].chunk.doc_id == doc
    assert first.ingest([a, b]).unchanged == ["名单-2.txt", "名单.txt"]


def test_threads_reopening_chroma_at_once_do_not_trip_over_each_other(hash_settings, seed_copy):
    # Every thread that sees another's commit reopens Chroma. Chroma keeps one system per path in a
    # dict all clients share; without one reopen at a time a thread found the path gone between
    # Chroma's insert and lookup (KeyError on the path, or a half-started client): 67 of 90 here.
    index = Index.open(hash_settings, create=True)
    index.ingest([seed_copy])
    total = index.store.chunk_total()
    errors: list[str] = []

    def reopen():
        for _ in range(15):
            try:
                assert index.vectors.open(index.embedder, fresh=True)._collection.count() == total
            except Exception as exc:  # noqa: BLE001 - collected for the assertion below
                errors.append(repr(exc))

    threads = [threading.Thread(target=reopen) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:3]
    index.close()
