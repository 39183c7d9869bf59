import json
import subprocess
import sys

import pytest
from conftest import ROOT, SEEDS

from assistant.app.cli import build_parser

COMMANDS = ["ingest", "ask", "chat", "docs", "remove", "serve"]


def run(args, env, **kw):
    return subprocess.run([sys.executable, "-m", "assistant", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=300, **kw)


def test_every_command_has_help(capsys):
    for argv in ([], *([c] for c in COMMANDS)):
        with pytest.raises(SystemExit) as exc:
            build_parser().parse_args([*argv, "--help"])
        assert exc.value.code == 0
        out = capsys.readouterr().out
        assert "usage: assistant" in out and len(out) > 150, argv


def test_help_is_fast_and_imports_nothing_heavy(cli_env):
    code = "import sys, assistant.app.cli as c; c.build_parser(); print(sorted(m for m in ('torch','chromadb','sentence_transformers','gradio') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=cli_env)
    assert out.stdout.strip() == "[]"


def test_clear_errors_without_tracebacks(cli_env, tmp_path):
    r = run(["ask", "质检中心有多少名党员？"], cli_env)
    assert r.returncode == 1 and "run `assistant ingest` first" in r.stderr and "Traceback" not in r.stderr
    r = run(["ingest", str(tmp_path / "nope")], cli_env)
    assert r.returncode == 1 and "does not exist" in r.stderr and "Traceback" not in r.stderr
    assert run(["ingest", str(SEEDS)], cli_env).returncode == 0
    r = run(["ask", ""], cli_env)
    assert r.returncode == 1 and "empty" in r.stderr and "Traceback" not in r.stderr
    r = run(["ask", "问" * 600], cli_env)
    assert r.returncode == 1 and "under 500" in r.stderr
    r = run(["ask", "党员", "--since", "去年"], cli_env)
    assert r.returncode == 1 and "YYYY-MM-DD" in r.stderr
    r = run(["remove", "nope.txt"], cli_env)
    assert r.returncode == 1 and "assistant docs" in r.stderr


def test_ingest_ask_docs_remove_round_trip(cli_env, tmp_path):
    r = run(["ingest", str(SEEDS)], cli_env)
    assert r.returncode == 0, r.stderr
    assert "5 added, 0 updated, 0 unchanged, 0 removed" in r.stdout
    r = run(["ingest", str(SEEDS)], cli_env)
    assert "0 added, 0 updated, 5 unchanged, 0 removed" in r.stdout

    r = run(["ask", "光栅室党支部创先争优活动领导小组的组长是谁？", "--json"], cli_env)
    data = json.loads(r.stdout)
    assert {"question", "answer", "refused", "dense", "citations", "retrieved"} <= set(data)
    assert data["dense"] is True and not data["refused"] and "巴音贺希格" in data["answer"]

    qfile = tmp_path / "q.jsonl"
    qs = ["光栅室党支部一共有多少名党员？", "哈焊所党支部分类定级，有几个支部评上了A级？"]
    qfile.write_text("\n".join(json.dumps({"question": q}, ensure_ascii=False) for q in qs), encoding="utf-8")
    r = run(["ask", "--questions", str(qfile), "--json"], cli_env)
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [row["question"] for row in rows] == qs
    assert rows[0]["refused"] and not rows[1]["refused"]

    r = run(["docs"], cli_env)
    assert "5 documents" in r.stdout and "兰州化物所党委" in r.stdout
    r = run(["remove", "004_8f3a7db46b5bda29.txt"], cli_env)
    assert r.returncode == 0 and "removed" in r.stdout
    r = run(["ask", "光栅室党支部创先争优活动领导小组的组长是谁？", "--json"], cli_env)
    data = json.loads(r.stdout)
    assert all(x["doc_id"] != "004_8f3a7db46b5bda29.txt" for x in data["retrieved"])
    assert "巴音贺希格" not in data["answer"]


def test_plain_output_lists_sources(cli_env):
    run(["ingest", str(SEEDS)], cli_env)
    r = run(["ask", "哈焊所质检所党支部跟哪个支部结成了互联共建友好支部？"], cli_env)
    assert r.returncode == 0
    assert "来源：" in r.stdout and "[1] 《创先争优做表率服务大局创佳绩》 · 哈尔滨焊接研究所 · 2012-11-05" in r.stdout


def test_one_shot_ask_applies_every_check(cli_env):
    """The first question of a process gets the same checks as later ones."""
    run(["ingest", str(SEEDS)], cli_env)
    r = run(["ask", "哈焊所的所长是谁？", "--json"], cli_env)
    assert json.loads(r.stdout)["refused"] is True


def test_modes_and_exports_from_the_command_line(cli_env, tmp_path):
    run(["ingest", str(SEEDS)], cli_env)
    r = run(["ask", "请起草关于发挥党员先锋模范作用的发言要点", "--mode", "points", "--json",
             "--md", str(tmp_path / "p.md"), "--docx", str(tmp_path / "p.docx")], cli_env)
    data = json.loads(r.stdout)
    assert data["mode"] == "points" and data["points"] and data["generator"] == "extractive"
    assert (tmp_path / "p.md").exists() and (tmp_path / "p.docx").stat().st_size > 1000
    r = run(["ask", "有哪些单位组织过知识竞赛？", "--mode", "precedents", "--json"], cli_env)
    assert json.loads(r.stdout)["rows"]
    r = run(["ask", "x", "--mode", "points", "--md", "/nonexistent-dir/p.md"], cli_env)
    assert r.returncode == 1 and "cannot write" in r.stderr and "Traceback" not in r.stderr


def test_serve_refuses_a_busy_port_at_once(cli_env):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = run(["serve", "--port", str(port)], cli_env)
    assert r.returncode == 1 and f"port {port} on 127.0.0.1 is in use" in r.stderr and "Traceback" not in r.stderr
    r = run(["serve", "--port", "70000"], cli_env)
    assert r.returncode == 1 and "1–65535" in r.stderr
    r = run(["serve"], dict(cli_env, ASSISTANT_AUTH="nopassword"))
    assert r.returncode == 1 and "user:password" in r.stderr


def test_a_progress_ingest_finishes_when_its_reader_goes_away(cli_env, tmp_path):
    """The web server reads `ingest --progress-json`; if it stops, the ingest still completes."""
    doc = tmp_path / "孤儿.txt"
    doc.write_text("孤儿单位党支部\n\n孤儿单位党支部开展了“红色家书”诵读活动。", encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "assistant", "ingest", "--progress-json", str(doc)],
                            env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    proc.stdout.close()  # the reader is gone before the first progress line
    assert proc.wait(timeout=180) == 0, proc.stderr.read().decode()
    out = subprocess.run([sys.executable, "-m", "assistant", "docs"], env=cli_env, capture_output=True, text=True,
                         cwd=ROOT)
    assert "孤儿.txt" in out.stdout


def test_short_answer_and_what_is_missing_from_the_command_line(cli_env):
    run(["ingest", str(SEEDS)], cli_env)
    data = json.loads(run(["ask", "光栅室创先争优活动领导小组的组长是谁？", "--json"], cli_env).stdout)
    sa = data["short_answer"]
    c = data["citations"][sa["n"] - 1]
    assert sa["text"] == "巴音贺希格" and data["answer"].startswith(f"巴音贺希格[{sa['n']}]\n")
    assert c["start"] <= sa["start"] < sa["end"] <= c["end"]
    assert c["quote"][sa["start"] - c["start"] : sa["end"] - c["start"]] == sa["text"] and not c["related"]
    # Something close, but not the answer: what is missing, then the closest sentences as related.
    r = run(["ask", "光栅室党支部的纪检委员是谁？"], cli_env)
    assert r.stdout.startswith("文档中没有写明纪检委员是谁。相关原文：\n") and "\n相关原文（不足以回答）：\n" in r.stdout
    assert "来源：" not in r.stdout
    data = json.loads(run(["ask", "光栅室党支部的纪检委员是谁？", "--json"], cli_env).stdout)
    assert data["refused"] is True and data["missing"] == "纪检委员是谁" and "short_answer" not in data
    assert data["citations"] and all(c["related"] for c in data["citations"])
    # Nothing close: a bare refusal.
    data = json.loads(run(["ask", "红烧肉怎么做才好吃？", "--json"], cli_env).stdout)
    assert data["refused"] is True and data["answer"] == "文档中没有找到相关信息" and not data["citations"]
    assert "missing" not in data
