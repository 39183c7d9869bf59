"""The web page in a real browser: `assistant serve` (real e5 model, real Chroma, real Gradio
server) on a free loopback port, driven by Debian's Chromium through Playwright.

Timings are printed and written to test-artifacts/browser-timings.json (figures, not assertions:
these machines are shared and noisy). Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import ROOT, SEEDS
from openai_server import OpenAIServer, quote_first_source
from scans import degrade, set_pages
from served import Served

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path(os.environ.get("ASSISTANT_TEST_CHROMIUM", "/usr/bin/chromium"))
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--lang=zh-CN"]
ARTIFACTS = ROOT / "test-artifacts"
TIMINGS: dict[str, float] = {}
Q = "哈焊所各支部一共申报了多少个争创“党员创新示范岗”小组？"


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS, headless=True)
        yield b
        b.close()
    (ARTIFACTS / "browser-timings.json").write_text(json.dumps(TIMINGS, indent=1), encoding="utf-8")
    print("\nbrowser timings (s): " + ", ".join(f"{k} {v:.2f}" for k, v in TIMINGS.items()))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The real thing on an empty index: seeds are ingested (real model) before the page opens."""
    ARTIFACTS.mkdir(exist_ok=True)
    s = Served(tmp_path_factory.mktemp("served") / "index", {}, ARTIFACTS / "serve.log")
    TIMINGS["serve_to_ready_empty_index"] = s.ready_seconds
    yield s
    s.stop()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN", accept_downloads=True)
    pg = context.new_page()
    pg.goto(server.url)
    pg.wait_for_selector("#question textarea", timeout=60_000)
    pg.wait_for_function("() => document.querySelector('#status').innerText.includes('文档')",
                         timeout=60_000)  # the library is filled in after the page loads
    yield pg
    context.close()


_WATCH = """(n) => {
  if (window.__obs) window.__obs.disconnect();  // the previous question's watcher
  window.__t = {click: performance.now()};
  const obs = window.__obs = new MutationObserver(() => {
    const bots = document.querySelectorAll('#chatbot [data-testid="bot"]');
    if (bots.length <= n) return;
    const last = bots[bots.length - 1];
    const text = last.innerText.replace('▍', '').trim();
    if (!window.__t.first && text && !text.includes('正在检索')) window.__t.first = performance.now();
    if (!window.__t.full && last.querySelector('.sources, .refused, .error')) window.__t.full = performance.now();
  });
  obs.observe(document.querySelector('#chatbot'), {subtree: true, childList: true, characterData: true});
}"""


def ask(pg, question: str, mode: str = "问答") -> dict:
    """Type a question, send it, wait for the full answer; returns in-page timings (ms after the click)."""
    pg.get_by_label(mode, exact=True).check()
    n = pg.locator('#chatbot [data-testid="bot"]').count()
    pg.fill("#question textarea", question)
    pg.evaluate(_WATCH, n)
    pg.click("#send")
    pg.wait_for_function("() => window.__t && window.__t.full", timeout=120_000)
    t = pg.evaluate("window.__t")
    return {"first": (t["first"] - t["click"]) / 1000, "full": (t["full"] - t["click"]) / 1000}


def last_answer(pg):
    return pg.locator('#chatbot [data-testid="bot"]').last


def test_ask_shows_the_answer_with_clickable_sources(page):
    t = ask(page, Q)
    TIMINGS["qa_first_token"], TIMINGS["qa_full_answer"] = t["first"], t["full"]
    answer = last_answer(page)
    assert "10个" in answer.inner_text()
    summary = answer.locator("details.src-1 summary")
    assert "创先争优做表率服务大局创佳绩" in summary.inner_text() and "2012-11-05" in summary.inner_text()
    assert not answer.locator("details.src-1").evaluate("d => d.open")
    answer.locator("a.cite-1").first.click()
    page.wait_for_function("() => document.querySelector('#chatbot details.src-1').open")
    assert "10个" in answer.locator("details.src-1 mark").inner_text()
    status = page.inner_text("#status")
    assert docs_in(status) >= 5 and "multilingual-e5-small" in status and "语义检索：已开启" in status
    page.screenshot(path=str(ARTIFACTS / "qa.png"), full_page=True)


def test_each_browser_has_its_own_conversation(browser, server, page):
    ask(page, "光栅室党支部创先争优活动领导小组的组长是谁？")
    other = browser.new_context(locale="zh-CN").new_page()
    other.goto(server.url)
    other.wait_for_selector("#question textarea", timeout=60_000)
    assert other.locator('#chatbot [data-testid="bot"]').count() == 0
    ask(other, "那副组长呢？")  # a follow-up with nothing before it in this browser
    assert "理解为" not in last_answer(other).inner_text()
    ask(page, "那副组长呢？")
    assert "理解为" in last_answer(page).inner_text() and "冯树龙" in last_answer(page).inner_text()
    page.click("#clear")
    page.wait_for_function("() => document.querySelectorAll('#chatbot [data-testid=\"bot\"]').length === 0")
    other.context.close()


def test_talking_points_render_as_a_list_and_download(page, tmp_path):
    t = ask(page, "请为党支部书记起草关于“以学促做”的发言要点", mode="起草发言要点")
    TIMINGS["points_full_answer"] = t["full"]
    items = last_answer(page).locator("ol.points > li")
    assert 3 <= items.count() <= 7
    first_heading = items.first.locator("strong").inner_text()
    page.wait_for_selector("#download-docx", state="visible")
    with page.expect_download() as dl:
        page.click("#download-docx")
    path = tmp_path / dl.value.suggested_filename
    dl.value.save_as(path)
    assert path.suffix == ".docx" and path.name.startswith("起草发言要点")
    from docx import Document

    assert any(first_heading in p.text for p in Document(str(path)).paragraphs)
    with page.expect_download() as dl:
        page.click("#download-md")
    md = tmp_path / dl.value.suggested_filename
    dl.value.save_as(md)
    assert first_heading in md.read_text(encoding="utf-8")
    page.screenshot(path=str(ARTIFACTS / "points.png"), full_page=True)


def test_precedents_render_as_a_table(page):
    ask(page, "有哪些单位组织过党建知识竞赛？", mode="查找先例做法")
    table = last_answer(page).locator("table.precedents")
    assert table.locator("th").all_inner_texts() == ["单位", "时间", "做法", "出处"]
    assert table.locator("tbody tr").count() >= 2 and table.locator("a.cite").count() >= 2


def _upload(page, paths, choice: str | None = None):
    """Upload through the page (files, or Playwright FilePayloads); answer the replace question with
    ``choice`` when it is asked; wait for the background ingest's report (the page's timer brings it)."""
    page.get_by_role("tab", name="文档库").click()
    page.set_input_files("#upload input[type=file]", [p if isinstance(p, dict) else str(p) for p in paths])
    page.wait_for_timeout(500)
    # Compare the reports themselves (Gradio lays a "processing" overlay over the component meanwhile).
    text = "(id) => { const r = document.querySelector('#' + id + ' .upload-report'); return r ? r.innerText : ''; }"
    changed = ("([id, before]) => { const r = document.querySelector('#' + id + ' .upload-report');"
               " return r && r.innerText !== before; }")
    report, job = page.evaluate(text, "library-report"), page.evaluate(text, "job")
    page.click("#upload-btn")
    page.wait_for_function(changed, arg=["library-report", report], timeout=120_000)
    first = page.evaluate(text, "library-report")
    if choice:
        page.wait_for_selector("#confirm-replace", state="visible", timeout=30_000)
        page.click({"replace": "#confirm-replace", "new": "#confirm-new", "cancel": "#confirm-cancel"}[choice])
        page.wait_for_function(changed, arg=["library-report", first], timeout=30_000)
        if choice == "cancel":
            return page.evaluate(text, "library-report")
    page.wait_for_function(changed, arg=["job", job], timeout=300_000)
    return first + "\n" + page.evaluate(text, "job")


def docs_in(status: str) -> int:
    return int(re.search(r"文档 (\d+) 篇", status).group(1))


def test_upload_then_find_it_in_the_library(page, tmp_path):
    before = docs_in(page.inner_text("#status"))
    good = tmp_path / "党史学习教育总结.txt"
    good.write_text("测试所党委关于党史学习教育的总结\n\n测试所党委组织开展“红色家书诵读”活动，共有36名党员参加。",
                    encoding="utf-8")
    bad = tmp_path / "扫描件.pdf"
    bad.write_bytes(b"%PDF-1.4")
    photo = tmp_path / "照片.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0")  # an image is read by OCR; these four bytes are no image
    video = tmp_path / "录像.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42")
    report = _upload(page, [good, bad, photo, video])
    assert "后台导入" in report and "不支持 .mp4" in report
    assert "党史学习教育总结.txt：已导入" in report and "扫描件.pdf：文件已损坏" in report and "照片.jpg：文件已损坏" in report
    page.wait_for_function("() => document.querySelector('#library').innerText.includes('党史学习教育总结.txt')")
    assert "扫描件.pdf" not in page.inner_text("#library")
    assert docs_in(page.inner_text("#status")) == before + 1
    page.screenshot(path=str(ARTIFACTS / "library.png"), full_page=True)
    page.get_by_role("tab", name="问答").click()
    ask(page, "红色家书诵读活动有多少名党员参加？")
    assert "36名党员" in last_answer(page).inner_text()


def test_a_scanned_page_uploaded_is_answered_and_its_quote_shown_boxed_on_the_scan(page, tmp_path):
    notice = "扫描单位党委\n扫描单位党委组织开展了“红船精神”主题党日活动，共有42名党员参加，参观了南湖革命纪念馆。"
    scan = tmp_path / "扫描通知.png"
    degrade(set_pages(notice, dpi=150)[0].image, skew=1.0, noise=0.002).save(scan)
    report = _upload(page, [scan])
    assert "扫描通知.png：已导入" in report, report
    page.get_by_role("tab", name="问答").click()
    ask(page, "扫描单位党委组织开展了什么主题党日活动？")
    answer = last_answer(page)
    assert "红船精神" in answer.inner_text()
    source = answer.locator("details.src", has_text="扫描通知").first
    source.locator("summary").click()
    figure = source.locator("figure.scan img")
    figure.wait_for(state="visible", timeout=10_000)
    size = figure.evaluate("img => [img.naturalWidth, img.naturalHeight, img.complete]")
    assert size[2] and size[0] > 500 and 0 < size[1] < size[0], size  # a band of the page, decoded and shown
    assert "扫描原件第 1 页" in source.inner_text()
    page.screenshot(path=str(ARTIFACTS / "scan-region.png"), full_page=True)


def test_a_same_named_upload_asks_before_replacing(page, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    (a / "支部通知.txt").write_text("甲所党支部\n\n甲所党支部组织党员观看红色电影《长津湖》。", encoding="utf-8")
    (b / "支部通知.txt").write_text("乙所党支部\n\n乙所党支部组织党员到养老院开展志愿服务。", encoding="utf-8")
    assert "已导入" in _upload(page, [a / "支部通知.txt"])
    assert "已取消" in _upload(page, [b / "支部通知.txt"], choice="cancel")
    report = _upload(page, [b / "支部通知.txt"], choice="new")
    assert "支部通知-2.txt：已导入" in report
    page.wait_for_function("() => document.querySelector('#library').innerText.includes('支部通知-2.txt')")
    page.screenshot(path=str(ARTIFACTS / "confirm.png"), full_page=True)
    page.get_by_role("tab", name="问答").click()
    ask(page, "甲所党支部组织党员观看了什么电影？")
    assert "长津湖" in last_answer(page).inner_text()


def test_a_cli_ingest_and_remove_beside_the_server_show_on_the_page(page, server, tmp_path):
    """Another process changes the library: the open page shows it within seconds, no reload."""
    doc = tmp_path / "命令行导入.txt"
    doc.write_text("命令行单位党委\n\n命令行单位党委开展了“银杏树下”读书分享会。", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env["ASSISTANT_INDEX_DIR"] = str(server.index_dir)
    run = [sys.executable, "-m", "assistant"]
    subprocess.run([*run, "ingest", str(doc)], env=env, cwd=ROOT, check=True, capture_output=True, timeout=300)
    t0 = time.perf_counter()
    page.get_by_role("tab", name="文档库").click()
    page.wait_for_function("() => document.querySelector('#library').innerText.includes('命令行导入.txt')",
                           timeout=30_000)
    TIMINGS["cli_ingest_seen_by_page"] = time.perf_counter() - t0
    page.get_by_role("tab", name="问答").click()
    ask(page, "命令行单位党委开展了什么读书分享会？")
    assert "银杏树下" in last_answer(page).inner_text()
    subprocess.run([*run, "remove", "命令行导入.txt"], env=env, cwd=ROOT, check=True, capture_output=True,
                   timeout=300)
    page.get_by_role("tab", name="文档库").click()
    page.wait_for_function("() => !document.querySelector('#library').innerText.includes('命令行导入.txt')",
                           timeout=30_000)
    page.get_by_role("tab", name="问答").click()
    ask(page, "命令行单位党委开展了什么读书分享会？")
    assert "银杏树下" not in last_answer(page).inner_text()


class Beacon:
    """A loopback HTTP server that counts every request: a document's image pointing here must not load."""

    def __init__(self):
        hits = self.hits = []

        class H(BaseHTTPRequestHandler):
            def do_GET(self):
                hits.append(self.path)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"


def test_a_hostile_document_runs_and_loads_nothing(page, tmp_path):
    beacon = Beacon()
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    doc = tmp_path / "恶意文档.md"
    doc.write_text(
        "# 钓鱼单位党支部<script>window.__pwned=1;alert(1)</script>\n\n"
        f"钓鱼单位党支部开展了<img src=x onerror=\"window.__pwned=2\">网络安全学习活动。![图]({beacon.url}/md.png)\n\n"
        f"<img src=\"{beacon.url}/html.png\"> 钓鱼单位党支部共有7名党员参加网络安全学习活动。",
        encoding="utf-8")
    assert "已导入" in _upload(page, [doc])
    page.locator("#view-pick input").click()
    page.get_by_role("option", name="恶意文档.md").click()
    page.wait_for_function("() => document.querySelector('#viewer').innerText.includes('钓鱼单位')")
    assert "<script>" in page.inner_text("#viewer")  # shown as text
    page.get_by_role("tab", name="问答").click()
    ask(page, f"钓鱼单位党支部开展了什么学习活动？<img src={beacon.url}/q.png onerror=alert(3)>")
    text = last_answer(page).inner_text()
    assert "网络安全学习活动" in text
    page.wait_for_timeout(1000)
    assert page.evaluate("window.__pwned") is None and dialogs == [] and beacon.hits == []
    assert page.locator(f"img[src^='{beacon.url}']").count() == 0
    page.screenshot(path=str(ARTIFACTS / "hostile.png"), full_page=True)


def test_llm_answers_stream_into_the_page(browser, tmp_path):
    """With an LLM configured (a local server speaking the OpenAI protocol, 30 ms between pieces), the
    reply appears piece by piece, then is replaced by the checked answer with its sources."""
    with OpenAIServer() as llm:
        llm.script.piece_delay = 0.03
        llm.script.replies.append(quote_first_source)
        s = Served(tmp_path / "index", {"ASSISTANT_EMBED_MODEL": "hash", "ASSISTANT_LLM_BASE_URL": llm.base_url,
                                        "ASSISTANT_LLM_MODEL": "scripted", "ASSISTANT_LLM_JUDGE": "0"},
                   tmp_path / "serve.log")
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
            pg = context.new_page()
            pg.goto(s.url)
            pg.wait_for_selector("#question textarea", timeout=60_000)
            pg.wait_for_function("() => document.querySelector('#status').innerText.includes('大模型 scripted')",
                                 timeout=60_000)
            pg.evaluate("""() => { window.__seen = new Set();
              new MutationObserver(() => { const s = document.querySelector('#chatbot .streaming');
                if (s) window.__seen.add(s.innerText); }).observe(document.querySelector('#chatbot'),
                {subtree: true, childList: true, characterData: true}); }""")
            t = ask(pg, Q)
            seen = pg.evaluate("[...window.__seen].filter(t => !t.includes('正在检索'))")
            assert len(seen) >= 3  # several partial replies were on screen before the final answer
            assert last_answer(pg).locator("details.src-1").count() == 1
            TIMINGS["llm_first_token"], TIMINGS["llm_full_answer"] = t["first"], t["full"]
            pg.screenshot(path=str(ARTIFACTS / "llm-stream.png"), full_page=True)
            context.close()
        finally:
            s.stop()


def test_login_is_required_when_assistant_auth_is_set(browser, tmp_path):
    s = Served(tmp_path / "index", {"ASSISTANT_EMBED_MODEL": "hash", "ASSISTANT_AUTH": "secretary:dangjian-2026"},
               tmp_path / "serve.log")
    try:
        from urllib.request import urlopen

        public = urlopen(s.url, timeout=30).read().decode("utf-8")  # what anyone sees before logging in
        for seed in SEEDS.glob("*.txt"):
            assert seed.name not in public and seed.stem not in public
        for org in ("哈尔滨焊接研究所", "兰州化物所党委", "长春光机所质检中心党支部", "软件研究所", "光栅室党支部"):
            assert org not in public
        context = browser.new_context(locale="zh-CN")
        pg = context.new_page()
        pg.goto(s.url)
        pg.wait_for_selector("input[type=password]", timeout=60_000)
        assert pg.locator("#question").count() == 0  # nothing of the app before logging in
        pg.locator("input[type=text]").first.fill("secretary")
        pg.fill("input[type=password]", "wrong")
        pg.keyboard.press("Enter")
        pg.wait_for_timeout(1500)
        assert pg.locator("#question").count() == 0
        pg.locator("input[type=text]").first.fill("secretary")
        pg.fill("input[type=password]", "dangjian-2026")
        pg.keyboard.press("Enter")
        pg.wait_for_selector("#question textarea", timeout=60_000)
        context.close()
    finally:
        s.stop()


# --- upload names the page must cope with (issue 19, defects 3 and 6)

@pytest.fixture(scope="module")
def served_in_cache(tmp_path_factory):
    """A server whose working directory holds Gradio's upload cache, as when it is started from /tmp or
    from / (a service): Gradio then refuses to pass on an uploaded file whose name starts with a dot."""
    root = tmp_path_factory.mktemp("cwd")
    seeds = root / "seeds"
    seeds.mkdir()
    first = sorted(SEEDS.glob("*.txt"))[0]
    (seeds / first.name).write_bytes(first.read_bytes())
    s = Served(root / "index", {"ASSISTANT_EMBED_MODEL": "hash", "GRADIO_TEMP_DIR": str(root / "gradio-cache")},
               root / "serve.log", seeds=seeds, cwd=root)
    yield s
    s.stop()


def test_upload_names_with_dots_and_twins_are_kept(browser, served_in_cache):
    """Names with leading dots reach the page's function (as _隐藏.txt …) and are ingested; before,
    Gradio refused them with InvalidPathError and the page gave no reason. Two files of one name in
    one upload are both kept (名单.txt, 名单-2.txt)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    page = context.new_page()
    page.goto(served_in_cache.url)
    page.wait_for_selector("#question textarea", timeout=60_000)
    page.wait_for_function("() => document.querySelector('#status').innerText.includes('文档')", timeout=60_000)
    dotted = [{"name": name, "mimeType": "text/plain", "buffer": f"{u}单位党支部\n\n{u}单位党支部开展了“三会一课”学习。".encode()}
              for name, u in ((".隐藏.txt", "戊"), ("..\\..\\y.txt", "辛"))]
    report = _upload(page, dotted)
    assert "2 个文件已开始在后台导入" in report and report.count("已导入") == 2, report
    names = {p.name for p in (served_in_cache.index_dir / "uploads").iterdir() if p.is_file()}
    assert "_隐藏.txt" in names and not any(n.startswith(".") for n in names), names
    twins = [{"name": "名单.txt", "mimeType": "text/plain", "buffer": f"{u}单位党支部\n\n{u}单位党支部推选了{n}名优秀党员。".encode()}
             for u, n in (("己", "三"), ("庚", "四"))]
    report = _upload(page, twins)
    assert "2 个文件已开始在后台导入" in report and report.count("已导入") == 2, report
    assert (served_in_cache.index_dir / "uploads" / "名单-2.txt").is_file()
    context.close()
