"""The same index code against a real Chroma server (`chroma run --path …` on a loopback port,
selected with ASSISTANT_CHROMA_URL): the real embedding model, answers identical to a local
index, writes seen by other processes at once, reconciliation when the server lost vectors, and a
server that is down reported in one line (asking falls back to keywords; writing refuses)."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import SEEDS, dev_items

from assistant.answer.retrieval import retrieve
from assistant.core.settings import Settings
from assistant.storage.library import Index

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from servers import Chroma, free_port  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def chroma_server():
    server = Chroma()
    yield server.url
    server.close()


def cli(env, *args, timeout=600):
    return subprocess.run([sys.executable, "-m", "assistant", *args], env=env, capture_output=True, text=True,
                          encoding="utf-8", timeout=timeout, cwd=Path(__file__).resolve().parents[1])


def env_for(index_dir, url="", collection="chunks"):
    env = dict(os.environ, ASSISTANT_INDEX_DIR=str(index_dir), ASSISTANT_CHROMA_COLLECTION=collection)
    env.pop("ASSISTANT_CHROMA_URL", None)
    if url:
        env["ASSISTANT_CHROMA_URL"] = url
    return env


@pytest.fixture(scope="module")
def both(chroma_server, tmp_path_factory):
    """The seeds ingested by the CLI twice: vectors in index/chroma/ and on the server."""
    local, remote = tmp_path_factory.mktemp("local"), tmp_path_factory.mktemp("remote")
    for d, url in ((local, ""), (remote, chroma_server)):
        out = cli(env_for(d, url), "ingest", str(SEEDS))
        assert out.returncode == 0, out.stderr
        assert "dense + keyword" in out.stdout
    assert not (remote / "chroma").exists()  # the vectors are on the server, not beside the store
    return local, remote


def test_the_same_questions_get_the_same_answers_from_the_server(both, chroma_server, tmp_path):
    local, remote = both
    qfile = tmp_path / "q.jsonl"
    qfile.write_text("\n".join(json.dumps({"question": i["question"]}, ensure_ascii=False) for i in dev_items()),
                     encoding="utf-8")
    runs = []
    for d, url in ((local, ""), (remote, chroma_server)):
        out = cli(env_for(d, url), "ask", "--questions", str(qfile), "--json", "--no-route")
        assert out.returncode == 0, out.stderr
        rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
        runs.append([{k: r[k] for k in ("answer", "refused", "citations")} | {
            "retrieved": [x["chunk_id"] for x in r["retrieved"]]} for r in rows])
    assert len(runs[0]) == len(dev_items()) and all(r["retrieved"] for r in runs[0])
    assert runs[0] == runs[1]


def test_another_process_writes_and_this_one_sees_it_at_once(both, chroma_server, tmp_path):
    _, remote = both
    index = Index.open(Settings(index_dir=remote, chroma_url=chroma_server))
    before = index.vectorstore._collection.count()
    doc = tmp_path / "新增.txt"
    doc.write_text("深海所第一党支部工作简报\n来源：深海所第一党支部\n发布时间：2024-03-05\n\n"
                   "支部组织党员开展万米深潜器耐压壳体焊接攻关，十二名党员组成突击队连续奋战四十天。", encoding="utf-8")
    out = cli(env_for(remote, chroma_server), "ingest", str(doc))
    assert out.returncode == 0, out.stderr
    # The other process embedded it (an ingest whose model failed to load commits keyword-only and still exits 0).
    assert "dense + keyword" in out.stdout, out.stdout + out.stderr
    assert index.vectorstore._collection.count() > before

    hits = retrieve(index, "万米深潜器耐压壳体焊接攻关突击队", k=3)
    shown = [(h.chunk.doc_id, h.dense_rank, h.keyword_rank) for h in hits]
    assert hits[0].chunk.doc_id == "新增.txt" and hits[0].dense_rank is not None, shown
    out = cli(env_for(remote, chroma_server), "remove", "新增.txt")
    assert out.returncode == 0, out.stderr
    assert all(h.chunk.doc_id != "新增.txt" for h in retrieve(index, "万米深潜器耐压壳体焊接攻关突击队", k=5))
    assert index.vectorstore._collection.count() == before
    index.close()


def test_vectors_the_server_lost_are_reported_and_restored(chroma_server, tmp_path):
    d = tmp_path / "idx"
    env = env_for(d, chroma_server, collection="reconcile")
    assert cli(env, "ingest", str(SEEDS)).returncode == 0
    index = Index.open(Settings(index_dir=d, chroma_url=chroma_server, chroma_collection="reconcile"))
    col = index.vectorstore._collection
    total = col.count()
    lost = sorted(col.get(include=[])["ids"])[:7]
    col.delete(ids=lost)
    col.add(ids=["stray-1"], embeddings=[[0.1] * 384], documents=["一条没有文档的向量"], metadatas=[{"doc_id": "gone"}])
    out = cli(env, "docs")
    assert "lacks 6 chunks' vectors" in out.stdout  # 7 lost, 1 stray: the counts differ by 6
    out = cli(env, "ingest", str(SEEDS))
    assert out.returncode == 0, out.stderr
    assert "finished" in out.stderr  # the documents whose vectors were lost were embedded again
    ids = set(col.get(include=[])["ids"])
    assert len(ids) == total and set(lost) <= ids and "stray-1" not in ids
    assert "lacks" not in cli(env, "docs").stdout
    index.close()


def test_a_server_that_is_down_is_one_line_and_changes_nothing(both, tmp_path):
    local, remote = both
    copy = tmp_path / "copy"
    shutil.copytree(remote, copy)
    dead = f"http://127.0.0.1:{free_port()}"
    env = env_for(copy, dead)
    t0 = time.time()
    out = cli(env, "ask", "哈尔滨焊接研究所组织了什么知识竞赛？", timeout=120)
    assert out.returncode == 0 and time.time() - t0 < 60
    assert "does not answer" in out.stderr and "keyword retrieval only" in out.stderr
    assert "Traceback" not in out.stderr
    doc = tmp_path / "x.txt"
    doc.write_text("某单位党支部工作简报\n\n支部组织学习。", encoding="utf-8")
    from assistant.storage.store import DocStore

    def state():
        store = DocStore(copy / "store.sqlite3")
        try:
            return store.generation(), store.chunk_counts()
        finally:
            store.close()

    before = state()
    out = cli(env, "ingest", str(doc))
    assert out.returncode == 1 and "does not answer" in out.stderr and "chroma run" in out.stderr
    assert "Traceback" not in out.stderr
    assert state() == before and "x.txt" not in before[1]


def test_another_index_cannot_take_over_a_collection(both, chroma_server, tmp_path):
    _, remote = both
    owner = Index.open(Settings(index_dir=remote, chroma_url=chroma_server))
    before = owner.vectorstore._collection.count()
    doc = tmp_path / "别的.txt"
    doc.write_text("另一个党支部工作简报\n\n支部组织党员开展主题党日活动。", encoding="utf-8")
    out = cli(env_for(tmp_path / "other-index", chroma_server), "ingest", str(doc))  # same collection name
    assert out.returncode == 1 and "holds another index's vectors" in out.stderr and "ASSISTANT_CHROMA_COLLECTION" in out.stderr
    assert owner.vectorstore._collection.count() == before
    owner.close()
