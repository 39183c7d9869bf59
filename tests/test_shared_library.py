"""The library on real servers: a throwaway PostgreSQL cluster (Debian's initdb/pg_ctl, loopback port)
holding the store, a Chroma server (`chroma run`) holding the vectors, and several processes with
directories of their own sharing them: what one writes the others answer from; the write lock is a
PostgreSQL advisory lock that a killed holder gives up; a kill -9 in the middle of an ingest loses
nothing and leaves no duplicates; a server that is down is one clear line. Two real `assistant
serve` page servers share one library through the page's own upload."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, SEEDS

from assistant.answer.pipeline import Request, answer
from assistant.core.errors import AssistantError
from assistant.core.settings import Settings, model_spec
from assistant.storage.library import Index
from assistant.storage.pg_store import GENERATION_TTL, PgStore

sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "bench"))
from servers import Chroma, Postgres, free_port, pg_bin  # noqa: E402

pytestmark = pytest.mark.slow

NEW_DOC = ("深海所第一党支部工作简报\n来源：深海所第一党支部\n发布时间：2024-03-05\n\n"
           "支部组织党员开展万米深潜器耐压壳体焊接攻关，十二名党员组成突击队连续奋战四十天。\n")
NEW_QUESTION = "深海所第一党支部组织多少名党员组成突击队？"


@pytest.fixture(scope="module")
def servers():
    if not pg_bin("initdb"):
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL's initdb is missing: `make postgres` installs it")
        pytest.skip("PostgreSQL's server programs are not installed (make postgres)")
    pg, ch = Postgres(), Chroma()
    yield pg, ch
    ch.close()
    pg.close()


def fresh_database(pg: Postgres) -> str:
    """A new empty database on the cluster (one library per test)."""
    name = f"lib_{time.time_ns()}"
    subprocess.run([pg_bin("psql"), pg.url, "-qc", f"CREATE DATABASE {name}"], check=True, capture_output=True)
    return pg.url.rsplit("/", 1)[0] + "/" + name


def settings(tmp_path: Path, url: str, chroma: str, name: str) -> Settings:
    return Settings(index_dir=tmp_path / name, model=model_spec("hash"), database_url=url, chroma_url=chroma,
                    chroma_collection=name.split("-")[0] + str(abs(hash(url)) % 10**8))


def env_for(index_dir: Path, url: str, chroma: str, collection: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(ASSISTANT_INDEX_DIR=str(index_dir), ASSISTANT_DATABASE_URL=url, ASSISTANT_CHROMA_URL=chroma,
               ASSISTANT_CHROMA_COLLECTION=collection, ASSISTANT_EMBED_MODEL="hash", HF_HUB_OFFLINE="1",
               PYTHONPATH=str(ROOT))
    return env


def cli(env: dict, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assistant", *args], env=env, capture_output=True, text=True,
                          encoding="utf-8", timeout=timeout, cwd=ROOT)


def start_pages(tmp_path: Path, url: str, chroma: str, collection: str) -> tuple[dict, dict]:
    """Two real page servers (a, b), each with a directory of its own, sharing the library: their
    processes and their pages (bench/load_test.py's client of the page's queue protocol)."""
    from load_test import Page

    procs, pages = {}, {}
    for name in ("a", "b"):
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "assistant", "serve", "--port", str(port), "--seeds", str(SEEDS)],
                                env=env_for(tmp_path / name, url, chroma, collection), cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        procs[name] = proc
        for line in proc.stdout:
            if "ready at" in line:
                break
        else:
            stop_pages(procs)
            pytest.fail(f"page server {name} did not start")
        pages[name] = Page(f"http://127.0.0.1:{port}/")
    return procs, pages


def stop_pages(procs: dict) -> None:
    for proc in procs.values():
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
    for proc in procs.values():
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def test_the_store_keeps_its_tables_counter_log_and_jobs_on_the_server(servers):
    pg, _ = servers
    store = PgStore(fresh_database(pg))
    try:
        assert store.generation() == 0 and store.index_id() == store.index_id()
        store.set_meta("k", "1")
        store.set_meta("k", "2")
        assert store.get_meta("k") == "2"
        store.add_copy("/a.txt", "d1", "h1")
        store.add_copy("/b.txt", "d1", "h2")
        store.add_copy("/a.txt", "d1", "h3")  # the same path again: replaced, not added
        assert store.copies("d1") == [("/a.txt", "h3"), ("/b.txt", "h2")]
        store.log_answer({"question": "谁？", "refused": True})
        assert store.answers(1) == [{"question": "谁？", "refused": True}]
        job = {"id": "j1", "server": "a:1", "files": ["x.txt"], "stage": "embed", "done": 3, "total": 9,
               "report": None, "error": "", "finished": False, "started": 1.0, "finished_at": 0.0}
        store.put_job(job)
        store.put_job(job | {"stage": "done", "done": 9, "finished": True, "report": {"added": ["x.txt"]}})
        assert [(j["stage"], j["done"], j["report"]) for j in store.jobs()] == [("done", 9, {"added": ["x.txt"]})]
        assert store.jobs(running_only=True) == []
    finally:
        store.close()


def test_what_one_process_writes_the_others_answer_from_and_a_removal_is_gone_for_all(servers, tmp_path):
    pg, ch = servers
    url = fresh_database(pg)
    a = Index.open(settings(tmp_path, url, ch.url, "a"), create=True)
    b = Index.open(settings(tmp_path, url, ch.url, "b").with_(chroma_collection=a.settings.chroma_collection))
    try:
        assert a.ingest([SEEDS]).total_docs == 5
        first = answer(b, Request("光栅室党支部创先争优活动领导小组的组长是谁？"), log=False)
        assert not first.refused and "巴音贺希格" in first.answer
        doc = tmp_path / "新增.txt"
        doc.write_text(NEW_DOC, encoding="utf-8")
        a.ingest([doc])
        time.sleep(GENERATION_TTL)
        got = answer(b, Request(NEW_QUESTION), log=False)  # b's own keyword files are rebuilt from the store
        assert not got.refused and "十二名" in got.answer and got.citations[0].doc_id == "新增.txt"
        assert not (tmp_path / "b" / "store.sqlite3").exists()
        a.remove("新增.txt")
        time.sleep(GENERATION_TTL)  # what b read of the change counter stands this long at most
        gone = answer(b, Request(NEW_QUESTION), log=False)
        assert all(c.doc_id != "新增.txt" for c in gone.citations) and all(
            h.chunk.doc_id != "新增.txt" for h in gone.hits)
        answer(b, Request("质检中心有多少名党员？"))  # logged in the shared store, seen from a
        assert a.store.answers(1)[0]["question"] == "质检中心有多少名党员？"
    finally:
        a.close()
        b.close()


HOLD_LOCK = """
import sys, time
from assistant.storage.pg_store import GENERATION_TTL, PgStore
with PgStore(sys.argv[1]).locked() as got:
    print("locked" if got else "busy", flush=True)
    time.sleep(600)
"""


def test_the_write_lock_is_given_up_when_its_holder_is_killed(servers):
    pg, _ = servers
    url = fresh_database(pg)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, url], stdout=subprocess.PIPE, text=True,
                              env=dict(os.environ, PYTHONPATH=str(ROOT)))
    store = PgStore(url)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with store.locked(blocking=False) as got:
            assert not got  # another process holds it
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        deadline = time.time() + 30
        while True:  # the server notices the dead connection and drops its locks
            with store.locked(blocking=False) as got:
                if got:
                    break
            assert time.time() < deadline, "the killed holder's advisory lock was never released"
            time.sleep(0.1)
    finally:
        holder.kill()
        store.close()


def test_a_kill_9_in_the_middle_of_an_ingest_loses_nothing_and_duplicates_nothing(servers, tmp_path):
    pg, ch = servers
    url = fresh_database(pg)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    lines = (ROOT.parent / "shared" / "corpora" / "govreports.jsonl").read_text(encoding="utf-8").splitlines()[:30]
    for n, line in enumerate(lines):
        rec = json.loads(line)
        (corpus / f"report-{n:02d}.txt").write_text(rec.get("title", f"报告{n}") + "\n\n" + rec["text"], encoding="utf-8")
    collection = f"kill{time.time_ns() % 10**8}"
    env_a = env_for(tmp_path / "a", url, ch.url, collection)
    env_b = env_for(tmp_path / "b", url, ch.url, collection)
    assert cli(env_b, "ingest", str(SEEDS)).returncode == 0

    writer = subprocess.Popen([sys.executable, "-m", "assistant", "ingest", "--progress-json", str(corpus)], env=env_a,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    committed = 0
    for line in writer.stdout:  # kill it once it has committed some files and not all
        msg = json.loads(line)
        if msg.get("stage") == "embed" and msg["done"] > 0:
            committed += 1
            if committed == 3:
                break
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)

    asked = cli(env_b, "ask", "光栅室党支部创先争优活动领导小组的组长是谁？", "--json")  # b keeps answering
    assert asked.returncode == 0 and "巴音贺希格" in json.loads(asked.stdout)["answer"]
    again = cli(env_b, "ingest", str(corpus))  # the next ingest, from the other process, completes
    assert again.returncode == 0, again.stderr

    index = Index.open(Settings(index_dir=tmp_path / "b", model=model_spec("hash"), database_url=url,
                                chroma_url=ch.url, chroma_collection=collection))
    try:
        records = index.store.records()
        assert len(records) == 5 + len(lines)  # every file once
        ids = index.store.chunk_ids()
        in_chroma = index.chroma_ids()
        assert len(in_chroma) == len(set(in_chroma)) and set(in_chroma) == ids  # no duplicate, none missing
        assert not index.incomplete()
    finally:
        index.close()


def test_a_server_that_is_down_is_one_clear_line_and_loses_nothing(servers, tmp_path):
    pg, ch = servers
    dead = f"postgresql://assistant@127.0.0.1:{free_port()}/postgres"
    out = cli(env_for(tmp_path / "x", dead, ch.url, "down"), "ask", "质检中心有多少名党员？")
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "cannot reach the PostgreSQL server" in out.stderr
    assert "unset ASSISTANT_DATABASE_URL" in out.stderr

    url = fresh_database(pg)
    collection = f"down{time.time_ns() % 10**8}"
    env = env_for(tmp_path / "y", url, ch.url, collection)
    assert cli(env, "ingest", str(SEEDS)).returncode == 0
    ch.stop()  # the vectors' server goes away: questions fall back to keywords, with a warning
    try:
        asked = cli(env, "ask", "光栅室党支部创先争优活动领导小组的组长是谁？", "--json")
        assert asked.returncode == 0 and "巴音贺希格" in json.loads(asked.stdout)["answer"]
        assert "keyword" in asked.stderr and "Traceback" not in asked.stderr
    finally:
        ch.start()
    pg.stop()  # the store's server goes away: one line, and the library is still there when it is back
    try:
        down = cli(env, "docs")
        assert down.returncode == 1 and "cannot reach the PostgreSQL server" in down.stderr
        assert "Traceback" not in down.stderr
        with pytest.raises(AssistantError, match="cannot reach the PostgreSQL server"):
            PgStore(url)
    finally:
        pg.start()
    docs = cli(env, "docs")
    assert docs.returncode == 0 and docs.stdout.count(".txt") >= 5


def test_a_document_uploaded_through_one_page_server_is_answered_by_another(servers, tmp_path):
    from load_test import Tab

    pg, ch = servers
    procs, pages = start_pages(tmp_path, fresh_database(pg), ch.url, f"pages{time.time_ns() % 10**8}")
    try:
        doc = tmp_path / "深海所简报.txt"
        doc.write_text(NEW_DOC, encoding="utf-8")
        uploader, asker = Tab(pages["a"]), Tab(pages["b"])
        assert asker.ask("光栅室党支部创先争优活动领导小组的组长是谁？").ok
        result, _ = uploader.upload(doc)
        assert result.ok, result.error
        deadline = time.time() + 120
        while True:  # the upload is ingested in the background on server a; server b answers from it
            res = asker.ask(NEW_QUESTION)
            assert res.ok, res.error
            if "十二名" in res.html:
                break
            assert time.time() < deadline, "server b never answered from the document uploaded through server a"
            time.sleep(0.5)
    finally:
        stop_pages(procs)


def test_the_page_says_when_the_store_server_is_down_and_answers_again_when_it_is_back(servers, tmp_path):
    from assistant.app.web import STORE_DOWN, WebApp

    pg, ch = servers
    url = fresh_database(pg)
    index = Index.open(settings(tmp_path, url, ch.url, "web"), create=True)
    index.ingest([SEEDS])
    app = WebApp(index, download_dir=tmp_path / "downloads")
    question = "光栅室党支部创先争优活动领导小组的组长是谁？"
    try:
        assert "PostgreSQL 服务器" in app.status_html() and len(app.doc_ids()) == 5
        pg.stop()
        try:
            *_, (messages, _, ans) = list(app.ask(question, "问答", [], "", "", None))
            assert ans is None and STORE_DOWN in messages[-1]["content"]
            assert STORE_DOWN in app.status_html() and len(app.doc_ids()) == 5  # the last list seen
        finally:
            pg.start()
        *_, (messages, _, ans) = list(app.ask(question, "问答", [], "", "", None))
        assert ans is not None and "巴音贺希格" in ans.answer
        assert STORE_DOWN not in app.status_html()
    finally:
        app.close()
        index.close()


def test_a_page_server_killed_during_an_upload_leaves_the_other_answering_and_no_duplicates(servers, tmp_path):
    from load_test import Tab, descendants

    pg, ch = servers
    url = fresh_database(pg)
    collection = f"killpage{time.time_ns() % 10**8}"
    report = tmp_path / "长报告.txt"  # long enough that its ingest is still running when the server dies
    lines = (ROOT.parent / "shared" / "corpora" / "govreports.jsonl").read_text(encoding="utf-8").splitlines()[:12]
    report.write_text("长篇工作报告汇编\n\n" + "\n".join(json.loads(line)["text"] for line in lines), encoding="utf-8")
    procs, pages = start_pages(tmp_path, url, ch.url, collection)
    try:
        result, _ = Tab(pages["a"]).upload(report)
        assert result.ok, result.error
        store = PgStore(url)
        try:
            deadline = time.time() + 300
            while True:  # until server a's ingest child is embedding the report
                jobs = store.jobs(running_only=True)
                if jobs and jobs[0]["stage"] == "embed":
                    break
                assert time.time() < deadline and not any(j["finished"] for j in store.jobs()), \
                    "the upload finished before it could be interrupted"
                time.sleep(0.05)
            doomed = [procs["a"].pid, *descendants(procs["a"].pid)]  # the server and its ingest child (a session
            for pid in doomed:                                          # of its own): the machine dies, say
                os.kill(pid, signal.SIGKILL)
            procs["a"].wait(timeout=30)
            assert "长报告.txt" not in store.records()  # nothing half-written

            asker = Tab(pages["b"])
            res = asker.ask("光栅室党支部创先争优活动领导小组的组长是谁？")  # b keeps answering
            assert res.ok and "巴音贺希格" in res.html
            again, _ = asker.upload(report)  # the next ingest, through the other server, completes
            assert again.ok, again.error
            deadline = time.time() + 600
            while not [j for j in store.jobs() if j["finished"] and j["server"].endswith(f":{procs['b'].pid}")]:
                assert time.time() < deadline, "the second upload never finished"
                time.sleep(0.5)
            assert "长报告.txt" in store.records()
            index = Index.open(Settings(index_dir=tmp_path / "check", model=model_spec("hash"), database_url=url,
                                        chroma_url=ch.url, chroma_collection=collection))
            try:
                assert len(index.store.records()) == 6  # the seeds and the report, once each
                in_chroma = index.chroma_ids()
                assert len(in_chroma) == len(set(in_chroma)) and set(in_chroma) == index.store.chunk_ids()
                assert not index.incomplete()
            finally:
                index.close()
        finally:
            store.close()
    finally:
        stop_pages(procs)
