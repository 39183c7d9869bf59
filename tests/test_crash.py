"""Crash safety: ``assistant ingest`` killed with SIGKILL at random moments (while files are read,
embedded, committed, removed, while BM25 is saved), the folder changing between kills; one ingest
run to completion afterwards leaves the store, Chroma and BM25 holding exactly the same chunks, and
right after each kill ``docs`` and ``ask`` still work (``ask`` without the write lock)."""

import fcntl
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, SEED_IDS, SEEDS
from test_sharing import assert_fresh_view_consistent

from assistant.answer.retrieval import retrieve
from assistant.core.schema import content_hash
from assistant.core.settings import Settings, model_spec
from assistant.storage.keyword import KeywordIndex
from assistant.storage.library import Index

pytestmark = pytest.mark.slow

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "govreports.jsonl"
KILLS = 10
SEED = 20240607
SEED_QUESTION = "质检中心党支部请了哪些人给党员讲党课、做技术讲座？"
EDIT_1 = "补充说明：本报告所述海上风电制氢示范工程由渤海湾党员突击队承建，首批机组已经并网发电。"
EDIT_2 = "再补充说明：青藏高原冻土观测站党支部牵头完成了全部四十二个自动观测点的建设任务。"
EDIT_3 = "另行说明：长江口滩涂湿地修复项目由青年党员志愿服务队承担巡护，累计清理外来物种一千二百亩。"


def env() -> dict:
    e = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    e.update(HF_HUB_OFFLINE="1", ASSISTANT_EMBED_MODEL="hash", ASSISTANT_LOG_ANSWERS="0")
    return e


def cli(index_dir: Path, *args, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assistant", "--index", str(index_dir), *map(str, args)], cwd=ROOT,
                          env=env(), capture_output=True, text=True, timeout=timeout)


def start_ingest(index_dir: Path, folder: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "assistant", "--index", str(index_dir), "ingest", str(folder)],
                            cwd=ROOT, env=env(), stdout=subprocess.DEVNULL, stderr=open(log, "w"))


def build_corpus(folder: Path, n: int = 15) -> dict[str, str]:
    """n long reports (a title line, a 时间 line, the text) plus the five seeds; returns file → text."""
    folder.mkdir(parents=True)
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts = {}
    for r in [r for r in rows if len(r["text"]) > 10000][:n]:
        year = (r.get("date") or "2000")[:4]
        name = f"{r['id']}.txt"
        texts[name] = f"{r['title']}\n时间：{year}-03-05\n{r['text']}\n"
        (folder / name).write_text(texts[name], encoding="utf-8")
    for name in SEED_IDS:
        shutil.copy(SEEDS / name, folder / name)
    return texts


def distinctive_sentences(name: str, texts: dict[str, str], n: int = 4) -> list[str]:
    """Long sentences of one report that no other report contains."""
    others = "\n".join(t for k, t in texts.items() if k != name)
    found = [s for s in re.split(r"(?<=[。！？])", texts[name]) if 25 <= len(s.strip()) <= 80]
    unique = [s.strip() for s in found if s.strip() not in others]
    assert len(unique) >= n
    return unique[:: max(1, len(unique) // n)][:n]


def store_state(index_dir: Path) -> tuple[int, int, set[str], set[str]]:
    """(generation, chunk count, documents, documents without vectors), read straight from SQLite."""
    db = sqlite3.connect(f"file:{index_dir / 'store.sqlite3'}?mode=ro", uri=True, timeout=30)
    try:
        gen = db.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
        n = db.execute("SELECT count(*) FROM chunks").fetchone()[0]
        docs = {r[0] for r in db.execute("SELECT doc_id FROM docs")}
        bare = {r[0] for r in db.execute("SELECT doc_id FROM docs WHERE dense != 'hash'")}
    finally:
        db.close()
    return int(gen[0]) if gen else 0, n, docs, bare


def check_readers_after_a_kill(index_dir: Path, label: str) -> None:
    """`docs` works; `ask` answers while another process holds the write lock, and writes nothing."""
    if not (index_dir / "store.sqlite3").exists():
        return  # killed before the index was created
    docs = cli(index_dir, "docs")
    assert docs.returncode == 0, f"{label}: docs failed: {docs.stderr[-2000:]}"
    before = store_state(index_dir)
    with open(index_dir / "write.lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # as a writer at work would
        try:
            t0 = time.monotonic()
            ask = cli(index_dir, "ask", SEED_QUESTION, "--json", timeout=90)
            took = time.monotonic() - t0
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
    assert ask.returncode == 0, f"{label}: ask failed: {ask.stderr[-2000:]}"
    ans = json.loads(ask.stdout.strip().splitlines()[-1])
    if SEED_IDS[0] in before[2]:
        assert not ans["refused"] and SEED_IDS[0] in {c["doc_id"] for c in ans["citations"]}, (label, ans["answer"])
    assert store_state(index_dir) == before, f"{label}: ask changed the index (it must not embed or commit)"
    print(f"  {label}: docs ok ({len(before[2])} documents, {len(before[3])} without vectors); "
          f"ask ok in {took:.1f}s with the write lock held elsewhere")


def test_ingest_killed_at_random_moments_leaves_a_consistent_index(tmp_path):
    if not CORPUS.exists():
        pytest.skip(f"corpus not found at {CORPUS}")
    t_start = time.monotonic()
    folder = tmp_path / "corpus"
    texts = build_corpus(folder)
    reports = sorted(n for n in texts)
    rng = random.Random(SEED)
    edited, edited_too = rng.sample(reports, 2)
    deleted, gone_sentences = "", []  # chosen after kill 4 among the reports the index holds by then

    # How long one full ingest takes, in a directory of its own.
    t0 = time.monotonic()
    measured = cli(tmp_path / "measure", "ingest", folder, timeout=300)
    full = time.monotonic() - t0
    assert measured.returncode == 0, measured.stderr[-2000:]
    print(f"\nfull ingest: {full:.1f}s, {store_state(tmp_path / 'measure')[1]} chunks")

    index_dir = tmp_path / "index"
    # Moments spread over the time a full ingest takes. Between kills the folder changes: most
    # reports are revised each time (so every ingest has updates to commit: new vectors in, the
    # document replaced, old vectors out), one is deleted (a removal), two get a new sentence.
    moments = [round(rng.uniform(0.05, 0.85) * full, 2) for _ in range(KILLS)]
    special = {2: (edited, EDIT_1), 6: (edited, EDIT_2), 8: (edited_too, EDIT_3)}
    added: dict[str, str] = {}  # report → its special sentence
    revision: dict[str, str] = {}  # report → its latest revision line
    ever: dict[str, list[str]] = {}  # report → every revision line it had
    interrupted, asked = 0, 0
    for i, moment in enumerate(moments, 1):
        proc = start_ingest(index_dir, folder, tmp_path / f"ingest{i}.log")
        try:
            rc = proc.wait(timeout=moment)
            what = f"finished first (rc {rc})"
            assert rc == 0, (tmp_path / f"ingest{i}.log").read_text()[-2000:]
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            what = "killed"
            interrupted += 1
        state = store_state(index_dir) if (index_dir / "store.sqlite3").exists() else (0, 0, set(), set())
        print(f"kill {i:2d} at {moment:5.2f}s: {what}; store holds {len(state[2])} documents, {state[1]} chunks, "
              f"{len(state[3])} without vectors")
        if what == "killed" and asked < 4:  # `ask` takes a few seconds: after the first four real kills
            check_readers_after_a_kill(index_dir, f"after kill {i}")
            asked += 1
        else:
            docs = cli(index_dir, "docs")
            assert docs.returncode == 0, docs.stderr[-2000:]
        if i == KILLS:
            break
        if i == 4:
            held = sorted(set(reports) & state[2] - {edited, edited_too}) or sorted(set(reports) - {edited, edited_too})
            deleted = rng.choice(held)
            gone_sentences = distinctive_sentences(deleted, texts)
            (folder / deleted).unlink()
            print(f"  then: delete {deleted} ({'in the index' if deleted in state[2] else 'not ingested yet'})")
        if i in special:
            added[special[i][0]] = special[i][1]
        alive = [n for n in reports if (folder / n).exists()]
        for name in rng.sample(alive, 8):
            revision[name] = f"（本报告第{i}次修订，修订编号{rng.randrange(10**6):06d}。）"
            ever.setdefault(name, []).append(revision[name])
        for name in alive:
            lines = [x for x in (added.get(name), revision.get(name)) if x]
            (folder / name).write_text(texts[name].rstrip("\n") + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
        print(f"  then: revised {sorted(n for n in alive if revision.get(n, '').startswith(f'（本报告第{i}次'))}"
              + (f"; {special[i][0]} gets a new sentence" if i in special else ""))
    assert asked >= 1 and interrupted >= 3, f"only {interrupted} of {KILLS} kills interrupted an ingest"

    final = cli(index_dir, "ingest", folder, timeout=300)
    assert final.returncode == 0, final.stderr[-3000:]
    print("final ingest:", final.stdout.strip().replace("\n", " | "))

    index = Index.open(Settings(index_dir=index_dir, model=model_spec("hash")))
    index.refresh()
    store = index.store.chunk_ids()
    dense = index.chroma_ids()
    disk = KeywordIndex(index.keyword.dir)
    assert disk.load()
    print(f"after the final ingest: {len(index.store.metas())} documents, {len(store)} chunks; "
          f"Chroma {len(dense)}, BM25 {len(index.keyword.ids)} (saved: {len(disk.ids)})")
    assert len(store) >= 1000
    assert len(dense) == len(set(dense)) and set(dense) == store
    assert len(index.keyword.ids) == len(set(index.keyword.ids)) and set(index.keyword.ids) == store
    assert len(disk.ids) == len(set(disk.ids)) and set(disk.ids) == store
    assert index.incomplete() == []
    assert set(index.store.metas()) == (set(texts) - {deleted}) | set(SEED_IDS)
    counts = index.store.chunk_counts()
    assert all(counts.get(d, 0) > 0 for d in index.store.metas())
    docs = cli(index_dir, "docs")
    assert docs.returncode == 0 and "INCOMPLETE" not in docs.stdout and "behind" not in docs.stdout, docs.stdout
    assert_fresh_view_consistent(index_dir)  # a new process: every vector Chroma lists is in its graph

    # The deleted report is never retrieved; the edited ones are, with their new text only.
    for sentence in gone_sentences:
        for h in retrieve(index, sentence, k=10):
            assert h.chunk.doc_id != deleted and sentence not in h.chunk.text, sentence
    for name, sentence in ((edited, EDIT_2), (edited_too, EDIT_3)):
        hit = retrieve(index, sentence, k=3)[0]
        assert hit.chunk.doc_id == name and sentence in hit.chunk.text, (name, hit.chunk.doc_id)
        assert sentence in index.store.text(name)
    assert EDIT_1 not in index.store.text(edited)
    assert all(EDIT_1 not in h.chunk.text for h in retrieve(index, EDIT_1, k=10))
    for name, lines in ever.items():  # every report holds its last revision, no earlier one
        if name == deleted:
            continue
        text = index.store.text(name)
        assert lines[-1] in text and not any(x in text for x in lines[:-1]), name
        assert index.store.records()[name].content_hash == content_hash((folder / name).read_bytes().hex())
    index.close()
    print(f"crash test took {time.monotonic() - t_start:.0f}s")
