"""The web page's handlers, called as functions (no browser): chat, modes, filters, conversation,
downloads, uploads and removal, status line. The page itself is tested in test_browser.py."""

import os
import tempfile
import time
from pathlib import Path

import pytest
from conftest import SEEDS
from openai_server import OpenAIServer, quote_first_source
from test_render import tags

from assistant.app.page import build_ui
from assistant.app.server import parse_auth
from assistant.app.web import WebApp
from assistant.core.errors import AssistantError
from assistant.core.settings import LLMConfig
from assistant.storage.library import Index

Q = "光栅室党支部创先争优活动领导小组的组长是谁？"


@pytest.fixture
def web(hash_settings, tmp_path):
    index = Index.open(hash_settings, create=True)
    index.ingest([SEEDS])
    app = WebApp(index, max_upload_bytes=64 * 1024, download_dir=tmp_path / "downloads")
    yield app
    app.close()
    index.close()


def final(app, question, mode="问答", orgs=None, since="", until="", session=None):
    steps = list(app.ask(question, mode, orgs or [], since, until, session))
    messages, session, ans = steps[-1]
    return steps, messages, session, ans


def test_status_line_tells_the_truth(web):
    status = web.status_html()
    docs = web.index.documents()
    assert f"文档 {len(docs)} 篇" in status and f"分块 {sum(n for _, n in docs)} 个" in status
    assert "向量模型：hash" in status and "语义检索：已开启" in status and "摘录式" in status
    web.llm = LLMConfig(base_url="http://127.0.0.1:9/v1", model="qwen-test")
    assert "大模型 qwen&#45;test" in web.status_html()


def test_a_question_streams_a_placeholder_then_the_cited_answer(web):
    steps, messages, session, ans = final(web, Q)
    assert len(steps) == 2 and "正在检索" in steps[0][0][-1]["content"] and steps[0][2] is None
    assert not ans.refused and "巴音贺希格" in ans.answer
    html = messages[-1]["content"]
    assert "cite cite-1" in html and "details class=\"src src-1\"" in html and ans.citations[0].title in html
    assert messages[0]["role"] == "user" and "组长是谁" in messages[0]["content"]
    assert (web.index.dir / "answers.jsonl").read_text(encoding="utf-8").count(Q) == 1


def test_follow_ups_use_the_conversation_and_clear_forgets_it(web):
    _, _, session, _ = final(web, Q)
    _, messages, session, ans = final(web, "那副组长呢？", session=session)
    assert "冯树龙" in ans.answer and "理解为" in messages[-1]["content"] and len(messages) == 4
    session = web.clear(session)
    assert session.messages == [] and session.conversation.turns == []
    _, messages, _, _ = final(web, "那副组长呢？", session=session)
    assert "理解为" not in messages[-1]["content"]


def test_sessions_do_not_share_state(web):
    _, _, a, _ = final(web, Q)
    _, _, b, _ = final(web, "质检中心有多少名党员？")
    assert len(a.messages) == 2 and len(b.messages) == 2 and a.conversation is not b.conversation
    assert "组长" not in b.messages[0]["content"]


def test_bad_input_gets_a_chinese_message_and_no_answer(web):
    _, messages, _, ans = final(web, Q, since="去年")
    assert ans is None and "起始日期“去年”无法识别" in messages[-1]["content"]
    _, messages, _, ans = final(web, "问" * 600)
    assert ans is None and "请控制在 500 字以内" in messages[-1]["content"]
    steps = list(web.ask("   ", "问答", [], "", "", None))
    assert steps[-1][0] == [] and steps[-1][2] is None


def test_filters_limit_the_sources(web):
    org = "哈尔滨焊接研究所"
    assert org in web.org_choices()
    _, _, _, ans = final(web, "有哪些单位组织过党建知识竞赛？", mode="查找先例做法", orgs=[org])
    assert ans.rows and {c.org for c in ans.citations} == {org}
    _, _, _, ans = final(web, "有哪些单位组织过党建知识竞赛？", mode="查找先例做法", since="2013")
    assert ans.citations and all(c.date >= "2013" for c in ans.citations)


def test_talking_points_render_as_a_list_and_download(web):
    _, messages, _, ans = final(web, "请为党支部书记起草关于“以学促做”的发言要点", mode="起草发言要点")
    assert ans.mode == "points" and 3 <= len(ans.points) <= 7
    assert messages[-1]["content"].count("<li>") == len(ans.points)
    docx, md = web.export(ans)
    assert docx.endswith(".docx") and md.endswith(".md")
    from docx import Document

    paragraphs = [p.text for p in Document(docx).paragraphs]
    assert any(ans.points[0].heading in p for p in paragraphs)
    assert ans.points[0].heading in open(md, encoding="utf-8").read()
    refused = final(web, "2035年的党建规划是什么？")[3]
    assert refused.refused and web.export(refused) == (None, None)


def test_llm_replies_stream_piece_by_piece_then_are_checked(web):
    with OpenAIServer() as server:
        server.script.replies.append(quote_first_source)
        web.llm = LLMConfig(base_url=server.base_url, model="scripted", timeout=5, judge=False)
        steps, messages, _, ans = final(web, Q)
    partial = [s for s in steps if s[2] is None and "cursor" in s[0][-1]["content"] and "正在检索" not in s[0][-1]["content"]]
    assert len(partial) >= 2  # the reply arrived in pieces, each shown as it came
    assert ans.generator == "llm:scripted" and ans.citations and ans.citations[0].verified
    assert "cursor" not in messages[-1]["content"] and "src-1" in messages[-1]["content"]


def upload(web, paths, session=None, choice=None):
    """Upload like the page does: check and stage, answer the replace question if asked, then wait
    for the background job; returns (first report, final job report, session)."""
    first, session = web.upload([str(p) for p in paths], session)
    if choice is not None:
        assert session.pending is not None, first
        first, session = web.confirm(choice, session)
    if session.jobs:
        web.jobs.wait(session.jobs[-1], timeout=120)
    return first, web.job_html(session), session


def test_upload_ingests_good_files_and_refuses_bad_ones_clearly(web, tmp_path):
    before = {m.doc_id: n for m, n in web.index.documents()}
    up = tmp_path / "up"
    up.mkdir()
    good = up / "知识竞赛通知.txt"
    good.write_text("测试单位党支部关于开展党史知识竞赛的通知\n\n测试单位党支部于2021年3月组织全体党员参加党史知识竞赛，共有42名党员参赛。",
                    encoding="utf-8")
    gbk = up / "gbk.md"
    gbk.write_bytes("# 某所党委\n\n某所党委开展了主题党日活动，共有十八名党员参加。".encode("gb18030"))
    bad = {
        up / "report.pdf": b"%PDF-1.4 binary",  # passes the quick check, refused by the converter in the job
        up / "photo.jpg": b"\xff\xd8\xff\xe0",  # an image, read by OCR in the job: not an image at all
        up / "video.mp4": b"\x00\x00\x00\x18ftypmp42",
        up / "empty.txt": b"",
        up / "big.txt": "党".encode() * 30000,
        up / "binary.txt": bytes(range(256)) * 4,
        up / seed_name(before): b"",  # same name as an indexed report, but empty: must not touch it
    }
    for path, data in bad.items():
        path.write_bytes(data)
    first, done, session = upload(web, [good, gbk, *bad])
    assert first.count('class="refused"') == 5 and "后台导入" in first
    assert "不支持 .mp4" in first and "文件是空的" in first and "超过 64 KB 的上限" in first
    assert "无法识别为文本" in first
    assert done.count('class="ok"') == 2 and "report.pdf：文件已损坏" in done and "photo.jpg：文件已损坏" in done, done
    after = {m.doc_id: n for m, n in web.index.documents()}
    assert set(after) == set(before) | {"知识竞赛通知.txt", "gbk.md"}
    assert all(after[d] == n for d, n in before.items())  # nothing already indexed was disturbed
    assert "知识竞赛通知.txt" in [r[0] for r in web.library_rows()] and (web.upload_dir / "gbk.md").exists()
    assert not (web.upload_dir / "report.pdf").exists()  # a refused upload is not kept
    _, _, _, ans = final(web, "测试单位党支部党史知识竞赛有多少名党员参赛？")
    assert ans.citations and ans.citations[0].doc_id == "知识竞赛通知.txt"
    assert web.upload([])[0].count("请先选择") == 1


def test_a_same_named_upload_is_never_replaced_without_asking(web, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    (a / "通知.txt").write_text("甲单位党支部\n\n甲单位党支部开展了红色观影活动。", encoding="utf-8")
    (b / "通知.txt").write_text("乙单位党支部\n\n乙单位党支部开展了植树志愿活动。", encoding="utf-8")
    upload(web, [a / "通知.txt"])
    first, _, session = upload(web, [b / "通知.txt"])
    assert session.pending and "请选择" in first and "通知.txt" in first
    assert "红色观影" in web.index.store.text("通知.txt")  # nothing happened yet
    _, done, session = upload(web, [b / "通知.txt"], choice="new")
    assert "已导入" in done and "通知-2.txt" in web.doc_ids()
    assert "红色观影" in web.index.store.text("通知.txt") and "植树" in web.index.store.text("通知-2.txt")
    (b / "通知.txt").write_text("乙单位党支部\n\n乙单位党支部开展了清明祭扫活动。", encoding="utf-8")
    _, done, _ = upload(web, [b / "通知.txt"], choice="replace")
    assert "已替换" in done and "清明祭扫" in web.index.store.text("通知.txt")
    first, _, session = upload(web, [a / "通知.txt"], choice="cancel")
    assert "已取消" in first and "清明祭扫" in web.index.store.text("通知.txt")


def test_two_files_of_one_name_in_one_upload_are_both_kept(web, tmp_path):
    """Issue 19, defect 3: two different 名单.txt from two folders in one upload. Both are ingested,
    as the CLI does (名单.txt and 名单-2.txt); before, staging the second over the first lost one
    and the launch crashed."""
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    (a / "名单.txt").write_text("丙单位党支部\n\n丙单位党支部推选了三名优秀党员。", encoding="utf-8")
    (b / "名单.txt").write_text("丁单位党支部\n\n丁单位党支部推选了五名入党积极分子。", encoding="utf-8")
    first, done, session = upload(web, [a / "名单.txt", b / "名单.txt"])
    assert "2 个文件已开始在后台导入" in first and done.count('class="ok"') == 2, done
    assert {"名单.txt", "名单-2.txt"} <= set(web.doc_ids())
    texts = {web.index.store.text("名单.txt"), web.index.store.text("名单-2.txt")}
    assert any("三名优秀党员" in t for t in texts) and any("五名入党积极分子" in t for t in texts)
    assert (web.upload_dir / "名单.txt").is_file() and (web.upload_dir / "名单-2.txt").is_file()
    assert not list((web.upload_dir / ".staging").glob("*/*"))  # nothing left half-staged


def test_the_same_report_under_another_name_is_not_indexed_twice(web, tmp_path):
    copy = tmp_path / "副本.txt"
    copy.write_bytes((SEEDS / seed_name({m.doc_id: 0 for m, _ in web.index.documents()})).read_bytes())
    n = len(web.doc_ids())
    _, done, _ = upload(web, [copy])
    assert "相同，未重复导入" in done and len(web.doc_ids()) == n and not (web.upload_dir / "副本.txt").exists()


def test_questions_are_answered_while_an_upload_is_being_ingested(web, tmp_path):
    big = tmp_path / "长文.txt"
    big.write_text("长文单位党委\n\n" + "长文单位党委组织党员开展学习活动，交流心得体会。\n" * 800, encoding="utf-8")
    first, session = web.upload([str(big)], None)
    job = web.jobs.get(session.jobs[-1])
    answered = 0
    while not job.finished:
        _, _, _, ans = final(web, Q)
        assert not ans.refused and "巴音贺希格" in ans.answer
        answered += 1
    assert answered >= 1 and job.report and job.report["added"] == ["长文.txt"]
    assert "长文.txt" in web.doc_ids()  # seen at once, without a restart


def seed_name(docs):
    return sorted(docs)[0]


def test_remove_deletes_everywhere_and_is_never_retrieved_again(web, tmp_path):
    f = tmp_path / "独有文档.txt"
    f.write_text("独有单位党支部\n\n独有单位党支部开展了紫藤花读书会活动，每月一次。", encoding="utf-8")
    upload(web, [f])
    assert "独有文档.txt" in web.doc_ids()
    msg = web.remove("独有文档.txt")
    assert "已删除" in msg and "独有文档.txt" not in web.doc_ids() and not (web.upload_dir / "独有文档.txt").exists()
    _, _, _, ans = final(web, "紫藤花读书会是哪个单位开展的？")
    assert all(c.doc_id != "独有文档.txt" for c in ans.citations)
    assert all(h.chunk.doc_id != "独有文档.txt" for h in ans.hits)
    assert "没有" in web.remove("独有文档.txt") and "请先" in web.remove(None)


def test_document_text_is_shown_escaped(web, tmp_path):
    f = tmp_path / "xss.txt"
    f.write_text('恶意单位党支部<script>window.pwned=1</script>\n\n恶意单位党支部开展了<img src=x onerror="window.pwned=2">'
                 "网页安全学习活动。![远程](http://203.0.113.9/a.png)", encoding="utf-8")
    upload(web, [f])
    page = web.document_html("xss.txt")
    assert {t for t, _ in tags(page)} == {"div", "br"} and "&lt;script&gt;" in page
    _, messages, _, ans = final(web, "恶意单位党支部开展了什么学习活动？")
    assert ans.citations and {t for t, _ in tags(messages[-1]["content"])} <= {
        "div", "p", "a", "details", "summary", "mark", "br", "span", "strong"}  # strong: the short answer's own
    assert "已不在" in web.document_html("nope.txt")


def test_auth_setting():
    assert parse_auth("") is None and parse_auth("书记:p:w") == ("书记", "p:w")
    with pytest.raises(AssistantError, match="user:password"):
        parse_auth("nopassword")


def test_the_page_builds(web):
    demo = build_ui(web)
    ids = {getattr(b, "elem_id", None) for b in demo.blocks.values()}
    assert {"chatbot", "question", "send", "clear", "mode", "orgs", "since", "until", "library", "upload",
            "remove-pick", "download-docx", "download-md", "status"} <= ids


def test_an_unexpected_failure_is_a_message_not_a_hang(web):
    web.index.store.db.close()  # the database is gone (disk unplugged, say)
    _, messages, _, ans = final(web, Q)
    assert ans is None and "出错了" in messages[-1]["content"] and "正在检索" not in messages[-1]["content"]


def test_uploads_a_stopped_server_never_committed_are_resumed(web, tmp_path):
    web.upload_dir.mkdir(parents=True, exist_ok=True)
    (web.upload_dir / "半途.txt").write_text("续传单位党支部\n\n续传单位党支部开展了“书香机关”读书活动。", encoding="utf-8")
    (web.upload_dir / "坏.docx").write_bytes(b"PK\x03\x04broken")  # refused again, then not kept
    assert web.resume_uploads() == 2
    for job in list(web.jobs._jobs.values()):
        web.jobs.wait(job.id, timeout=120)
    assert "半途.txt" in web.doc_ids() and not (web.upload_dir / "坏.docx").exists()
    assert web.resume_uploads() == 0  # nothing left to do


def test_a_drafting_request_typed_into_qa_goes_to_talking_points_and_says_so(web):
    _, messages, _, ans = final(web, "帮我写几条支部开展“以学促做”、发挥党员先锋模范作用的发言要点")
    assert ans.mode == "points" and ans.asked_mode == "qa" and ans.points
    assert "按「起草发言要点」作答" in messages[-1]["content"]
    _, messages, _, ans = final(web, "哪些单位开展过群众评议？都是怎么做的？")
    assert ans.mode == "precedents" and ans.rows and "按「查找先例做法」作答" in messages[-1]["content"]
    _, messages, _, ans = final(web, Q)  # a plain question stays with 问答, and nothing is said about jobs
    assert ans.mode == "qa" and not ans.asked_mode and "作答（" not in messages[-1]["content"]


def test_exports_live_in_one_folder_under_the_index(web, tmp_path):
    """Issue 19, defect 7: each start made a new temporary directory for exports, and a server killed
    with kill -9 left it behind for good. Exports now go to index/exports/, where the next start
    sweeps what a killed server left."""
    tmp = Path(tempfile.gettempdir())
    before = set(tmp.glob("assistant-downloads-*"))
    app = WebApp(web.index)  # as `assistant serve` makes it
    *_, ans = final(app, Q)
    docx, md = app.export(ans)
    app.jobs.close()
    assert Path(docx).parent.parent == Path(web.index.dir) / "exports" and Path(md).is_file()
    assert set(tmp.glob("assistant-downloads-*")) == before
    old = time.time() - 7200  # app is never closed: killed. Its folder ages past the hour …
    os.utime(Path(docx).parent, (old, old))
    again = WebApp(web.index)  # … and the next start sweeps it
    assert not Path(docx).exists()
    again.close()
