"""The web page: ``assistant serve`` starts a Gradio app over the index.

``WebApp`` holds the handlers as plain methods (tested without a browser); ``build_ui`` lays them
out with Gradio; ``serve`` opens the index (ingesting seeds/ first when it is empty), loads the
model, and launches on 127.0.0.1 unless told otherwise. All text from documents and users reaches
the page through ``render``, escaped.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from .conversation import Conversation
from .errors import AssistantError
from .loading import Unreadable, read_file
from .render import MODE_LABELS, answer_html, esc, esc_lines, question_html, streaming_html
from .retrieval import Filters, parse_date_bound
from .schema import Answer

log = logging.getLogger(__name__)

MODE_BY_LABEL = {label: mode for mode, label in MODE_LABELS.items()}
LIBRARY_HEADERS = ["文件", "标题", "单位", "日期", "作者", "分块数"]
EXAMPLES = [
    "哈焊所各支部一共申报了多少个争创“党员创新示范岗”小组？",
    "光栅室党支部创先争优活动领导小组的组长是谁？",
    "请为党支部书记起草关于“以学促做”的发言要点",
    "有哪些单位组织过党建知识竞赛？",
]
INTERNAL_ERROR = "出错了：这个问题没能回答（详细原因已写入服务端日志）。请换个问法再试，或联系管理员。"
# Content-Security-Policy: images, media and fonts only from this server, no plugins, no framing
# by other sites — a remote image slipped into a document could not load even if escaping failed.
CSP = ("img-src 'self' data: blob:; media-src 'self' data: blob:; font-src 'self' data:; object-src 'none'; "
       "base-uri 'self'; frame-ancestors 'self'; form-action 'self'")


def _error(message: str) -> dict:
    return {"role": "assistant", "content": f'<p class="error">{esc(message)}</p>'}


@dataclass
class Session:
    """One browser tab's state: its conversation and the messages on its page."""

    conversation: Conversation | None = None
    messages: list[dict] = field(default_factory=list)
    last: Answer | None = None


def _date_bound(value: str, label: str) -> str:
    try:
        return parse_date_bound((value or "").strip(), label)
    except AssistantError:
        raise AssistantError(f"{label}“{value.strip()}”无法识别，请写成 2012 或 2012-06-30 的形式。")


class WebApp:
    def __init__(self, index, llm=None, max_upload_bytes: int | None = None, download_dir: Path | None = None):
        self.index = index
        self.llm = llm
        self.lock = threading.RLock()  # one writer (upload/remove) at a time; answers wait for it
        self.upload_dir = Path(index.dir) / "uploads"
        self.max_upload_bytes = max_upload_bytes or index.settings.max_file_bytes
        self.download_dir = Path(download_dir or tempfile.mkdtemp(prefix="assistant-downloads-"))

    # --- what the page shows about the index
    def status_html(self) -> str:
        with self.lock:
            docs = self.index.documents()
        chunks = sum(n for _, n in docs)
        if self.index.dense:
            dense = "语义检索：已开启（语义 + 关键词混合检索）"
        else:
            dense = f"语义检索：未开启，仅关键词检索（{esc(self.index.dense_error or '向量模型不可用')}）"
        generator = (f"回答方式：大模型 {esc(self.llm.model)}（每条引用都经核对）" if self.llm
                     else "回答方式：摘录式（逐句引用原文，未配置大模型）")
        parts = [f"文档 {len(docs)} 篇", f"分块 {chunks} 个", f"向量模型：{esc(self.index.settings.model.name)}",
                 dense, generator]
        return '<div class="status">' + " ｜ ".join(parts) + "</div>"

    def org_choices(self) -> list[str]:
        with self.lock:
            return sorted({m.org for m, _ in self.index.documents() if m.org})

    def doc_ids(self) -> list[str]:
        with self.lock:
            return [m.doc_id for m, _ in self.index.documents()]

    def library_rows(self) -> list[list]:
        with self.lock:
            docs = self.index.documents()
        rows = []
        for m, n in sorted(docs, key=lambda d: (d[0].date or "0", d[0].doc_id), reverse=True):
            date = (m.date or "日期不详") + ("（推断）" if m.date_inferred and m.date else "")
            rows.append([m.doc_id, m.title, m.org or "未知单位", date, m.author or "", n])
        return rows

    def document_html(self, doc_id: str | None) -> str:
        if not doc_id:
            return '<div class="viewer empty">选择一篇文档查看清洗后的全文。</div>'
        with self.lock:
            metas = self.index.store.metas()
            if doc_id not in metas:
                return '<div class="viewer empty">这篇文档已不在文档库中。</div>'
            text = self.index.store.text(doc_id)
        m = metas[doc_id]
        head = f"《{esc(m.title)}》 · {esc(m.org or '未知单位')} · {esc(m.date or '日期不详')}"
        return f'<div class="viewer"><div class="viewer-title">{head}</div><div class="viewer-text">{esc_lines(text)}</div></div>'

    def _text_of(self, doc_id: str) -> str | None:
        try:
            return self.index.store.text(doc_id)
        except Exception:  # noqa: BLE001 - a document removed meanwhile: show the quote alone
            return None

    # --- the chat
    def ask(self, question: str, mode_label: str, orgs: list[str] | None, since: str, until: str,
            session: Session | None) -> Iterator[tuple[list[dict], Session, Answer | None]]:
        """Yields (messages, session, final answer or None while it is still coming)."""
        session = session or Session()
        question = (question or "").strip()
        if not question:
            yield list(session.messages), session, None
            return
        session.messages = session.messages + [{"role": "user", "content": question_html(question)}]
        try:
            limit = self.index.settings.max_question_chars
            if len(question) > limit:
                raise AssistantError(f"问题有 {len(question)} 个字，太长了；请控制在 {limit} 字以内。")
            filters = Filters(orgs=tuple(orgs or ()), since=_date_bound(since, "起始日期"),
                              until=_date_bound(until, "截止日期"))
        except AssistantError as exc:
            session.messages.append(_error(str(exc)))
            yield list(session.messages), session, None
            return
        mode = MODE_BY_LABEL.get(mode_label, "qa")
        conv = session.conversation or Conversation(index=self.index, llm=self.llm)
        session.conversation = conv
        conv.mode = mode
        session.messages.append({"role": "assistant", "content": streaming_html("正在检索…")})
        yield list(session.messages), session, None

        options = {"filters": filters}
        if mode == "qa":
            options["k"] = self.index.settings.top_k
        try:
            with self.lock:
                standalone, ans = conv.extractive(question, **options)
        except AssistantError as exc:
            session.messages[-1] = _error(str(exc))
            yield list(session.messages), session, None
            return
        except Exception:  # noqa: BLE001 - the page says so instead of hanging on 「正在检索…」
            log.exception("answering %r failed", question)
            session.messages[-1] = _error(INTERNAL_ERROR)
            yield list(session.messages), session, None
            return
        final = ans
        if self.llm is not None:
            from .generation import stream_answer

            partial = ""
            for item in stream_answer(self.index, ans, self.llm):
                if isinstance(item, str):
                    partial += item
                    session.messages[-1] = {"role": "assistant", "content": streaming_html(partial)}
                    yield list(session.messages), session, None
                else:
                    final = item
        conv.remember(question, standalone, final)
        self.index.record(final)
        understood = ""
        if standalone != question:
            understood = f'<p class="understood">（理解为：{esc(standalone)}）</p>'
        session.messages[-1] = {"role": "assistant", "content": understood + answer_html(final, self._text_of)}
        session.last = final
        yield list(session.messages), session, final

    def clear(self, session: Session | None) -> Session:
        session = session or Session()
        if session.conversation is not None:
            session.conversation.clear()
        session.messages, session.last = [], None
        return session

    def export(self, ans: Answer | None) -> tuple[str | None, str | None]:
        """(docx path, md path) of an answer, or (None, None) when there is nothing to save."""
        if ans is None or ans.refused:
            return None, None
        from .export import export

        self.download_dir.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(dir=self.download_dir))
        stem = f"{MODE_LABELS.get(ans.mode, '问答')}-{time.strftime('%Y%m%d-%H%M%S')}"
        docx, md = str(folder / f"{stem}.docx"), str(folder / f"{stem}.md")
        export(ans, docx=docx, md=md)
        return docx, md

    # --- the document library
    def check_upload(self, path: Path) -> str | None:
        """Why this uploaded file cannot be ingested (in Chinese), or None when it can: the same
        checks as ingest (``loading.read_file``), with the upload size limit."""
        if path.name.startswith("."):
            return f"{path.name}：文件名不能以“.”开头，请改名后再上传。"
        try:
            read_file(path, self.max_upload_bytes)
        except Unreadable as exc:
            d = exc.detail
            if exc.kind == "type":
                reason = f"不支持 {d['suffix'] or '无扩展名'} 文件，只能上传 .txt 或 .md 文本文件。"
            elif exc.kind == "empty":
                reason = "文件是空的。"
            elif exc.kind == "size":
                reason = f"文件大小 {d['size'] / 1048576:.1f} MB，超过 {d['limit'] / 1048576:.1f} MB 的上限，请拆分后再上传。"
            elif exc.kind == "no_text":
                reason = "文件里没有文字。"
            else:  # binary, encoding
                reason = "无法识别为文本（需为 UTF-8、GB18030/GBK 或 Big5 编码的文字），请另存为 UTF-8 文本后再上传。"
            return f"{path.name}：{reason}"
        return None

    def upload(self, paths: list[str] | None, progress: Callable[[float, str], None] | None = None) -> str:
        """Check, store and ingest uploaded files; returns an HTML report. Files that fail a check
        are refused one by one and never touch the index."""
        paths = [Path(p) for p in (paths or [])]
        if not paths:
            return '<div class="upload-report">请先选择要上传的 .txt 或 .md 文件。</div>'
        lines, accepted = [], []
        for p in paths:
            problem = self.check_upload(p)
            if problem:
                lines.append(f'<li class="refused">✗ {esc(problem)}</li>')
            else:
                accepted.append(p)
        if accepted:
            self.upload_dir.mkdir(parents=True, exist_ok=True)
            stored = []
            for p in accepted:
                dest = self.upload_dir / p.name
                shutil.copyfile(p, dest)
                stored.append(dest)

            def report(stage: str, done: int, total: int) -> None:
                if progress and total:
                    label = "读取文档" if stage == "read" else "向量化"
                    progress(done / total, f"{label} {done}/{total}")

            try:
                with self.lock:
                    result = self.index.ingest(stored, progress=report)
            except Exception:  # noqa: BLE001 - e.g. the disk is full; what was indexed before stays
                log.exception("ingesting uploads failed")
                lines.append('<li class="refused">✗ 导入失败（详细原因已写入服务端日志），'
                             "文档库中原有的文档不受影响。</li>")
                return '<ul class="upload-report">' + "".join(lines) + "</ul>"
            counts = {m.doc_id: n for m, n in self.index.documents()}
            for doc_id in result.added:
                lines.append(f'<li class="ok">✓ {esc(doc_id)}：已导入，{counts.get(doc_id, 0)} 个分块。</li>')
            for doc_id in result.updated:
                lines.append(f'<li class="ok">✓ {esc(doc_id)}：已更新，{counts.get(doc_id, 0)} 个分块。</li>')
            for doc_id in result.unchanged:
                lines.append(f'<li class="ok">✓ {esc(doc_id)}：与库中文档相同，未重复导入。</li>')
            for s in result.skipped:
                lines.append(f'<li class="refused">✗ {esc(s.path.name)}：未导入（{esc(s.reason)}）。</li>')
                if s.path.parent == self.upload_dir and s.path.name not in counts:
                    s.path.unlink(missing_ok=True)
        return '<ul class="upload-report">' + "".join(lines) + "</ul>"

    def remove(self, doc_id: str | None) -> str:
        if not doc_id:
            return '<div class="upload-report">请先在下拉框中选择要删除的文档。</div>'
        try:
            with self.lock:
                n = self.index.remove(doc_id)
        except AssistantError:
            return f'<div class="upload-report">文档库中没有 {esc(doc_id)}，可能已被删除。</div>'
        stored = self.upload_dir / doc_id
        if stored.is_file():
            stored.unlink()
        return (f'<div class="upload-report">已删除 {esc(doc_id)}（{n} 个分块），'
                "它不会再出现在任何回答中。</div>")


# --------------------------------------------------------------------------------------- the page

CSS = """
.status {font-size: 0.9em; color: var(--body-text-color-subdued); padding: 4px 0;}
.answer p {margin: 0.2em 0;}
a.cite {text-decoration: none; font-size: 0.8em; vertical-align: super; padding: 0 1px; cursor: pointer;}
.sources {margin-top: 0.8em; border-top: 1px solid var(--border-color-primary); padding-top: 0.4em;}
.sources-title {font-size: 0.85em; color: var(--body-text-color-subdued);}
details.src, details.nearest {margin: 0.3em 0; font-size: 0.92em;}
details.src summary {cursor: pointer;}
details.src.flash {outline: 2px solid #d97706; border-radius: 4px; transition: outline 0.3s;}
.passage {padding: 0.4em 0.6em; margin: 0.3em 0; border-left: 3px solid var(--border-color-primary);}
.passage mark {background: #fde68a; color: inherit; padding: 0 2px;}
.src-meta {font-size: 0.8em; color: var(--body-text-color-subdued);}
.refused {font-weight: bold;}
.error {color: #b91c1c;}
.notice, .unsupported {color: #b45309; font-size: 0.9em;}
.understood {color: var(--body-text-color-subdued); font-size: 0.9em;}
table.precedents {border-collapse: collapse; width: 100%;}
table.precedents th, table.precedents td {border: 1px solid var(--border-color-primary); padding: 4px 6px; vertical-align: top;}
table.precedents td:nth-child(1) {min-width: 6em;}
table.precedents td:nth-child(2), table.precedents td:nth-child(4) {white-space: nowrap;}
.streaming .cursor {animation: blink 1s steps(2) infinite;}
@keyframes blink {50% {opacity: 0;}}
.upload-report {list-style: none; padding-left: 0;}
.upload-report .refused {color: #b91c1c; font-weight: normal;}
.viewer-title {font-weight: bold; margin-bottom: 0.5em;}
.viewer-text {max-height: 480px; overflow-y: auto; line-height: 1.7;}
"""

# Clicking a marker opens the matching source under the same answer, scrolls to it and flashes it.
JS = """
() => {
  document.addEventListener('click', (e) => {
    const a = e.target.closest ? e.target.closest('a.cite') : null;
    if (!a) return;
    e.preventDefault();
    const m = /cite-(\\d+)/.exec(a.className);
    const msg = a.closest('.message-content') || document;
    const d = m && msg.querySelector('details.src-' + m[1]);
    if (!d) return;
    d.open = true;
    d.scrollIntoView({block: 'nearest', behavior: 'smooth'});
    d.classList.remove('flash'); void d.offsetWidth; d.classList.add('flash');
  });
}
"""


def build_ui(app: WebApp):
    import gradio as gr

    def hidden():
        return gr.update(value=None, visible=False), gr.update(value=None, visible=False)

    def on_ask(question, mode_label, orgs, since, until, session):
        final = None
        for messages, session, final in app.ask(question, mode_label, orgs, since, until, session):
            yield messages, session, "", *hidden()
        docx, md = app.export(final)
        if docx:
            yield (session.messages, session, "", gr.update(value=docx, visible=True),
                   gr.update(value=md, visible=True))

    def on_clear(session):
        session = app.clear(session)
        return [], session, *hidden()

    def library_outputs(report: str):
        ids = app.doc_ids()
        return (report, app.library_rows(), gr.update(choices=app.org_choices()),
                gr.update(choices=ids, value=None), gr.update(choices=ids), app.status_html())

    def on_upload(paths, progress=gr.Progress()):
        report = app.upload(paths, progress=lambda frac, desc: progress(frac, desc=desc))
        return (*library_outputs(report), None)

    def on_remove(doc_id):
        return library_outputs(app.remove(doc_id))

    with gr.Blocks(title="党建知识助手") as demo:
        session = gr.State(None)
        gr.HTML("<h2 style='margin:0'>党建知识助手</h2>")
        status = gr.HTML(app.status_html(), elem_id="status")
        with gr.Tabs():
            with gr.Tab("问答", id="chat"):
                with gr.Row():
                    with gr.Column(scale=3):
                        mode = gr.Radio(list(MODE_BY_LABEL), value=MODE_LABELS["qa"], label="功能", elem_id="mode")
                        chatbot = gr.Chatbot(elem_id="chatbot", height=620, label="对话", latex_delimiters=[],
                                             feedback_options=None, buttons=[],
                                             placeholder="输入问题，例如：哈焊所各支部一共申报了多少个争创“党员创新示范岗”小组？"
                                                         "<br>每句回答都标有 [n]，点击即可查看原文出处。")
                        with gr.Row():
                            box = gr.Textbox(placeholder="在这里输入问题，回车发送", show_label=False, scale=6,
                                             elem_id="question", max_lines=4)
                            send = gr.Button("发送", variant="primary", scale=1, elem_id="send")
                            clear = gr.Button("清空对话", scale=1, elem_id="clear")
                        with gr.Row():
                            docx_btn = gr.DownloadButton("下载 Word（.docx）", visible=False, elem_id="download-docx")
                            md_btn = gr.DownloadButton("下载 Markdown（.md）", visible=False, elem_id="download-md")
                        gr.Examples(EXAMPLES, inputs=[box], label="示例问题")
                    with gr.Column(scale=1):
                        gr.HTML("<b>筛选</b>")
                        orgs = gr.Dropdown(app.org_choices(), multiselect=True, label="单位（可多选）", elem_id="orgs")
                        since = gr.Textbox(label="起始日期", placeholder="如 2010 或 2012-06-30", elem_id="since")
                        until = gr.Textbox(label="截止日期", placeholder="如 2016-12-31", elem_id="until")
                        gr.HTML("<div class='status'>问答：逐句引用原文回答；起草发言要点：3–7 条要点，可下载 Word；"
                                "查找先例做法：列出各单位的相关做法。追问（如“那兰州化物所呢？”）会结合上文理解。</div>")
            with gr.Tab("文档库", id="library"):
                table = gr.Dataframe(app.library_rows(), headers=LIBRARY_HEADERS, interactive=False, wrap=True,
                                     elem_id="library", column_widths=["20%", "38%", "16%", "11%", "8%", "7%"])
                with gr.Row():
                    with gr.Column():
                        files = gr.File(label=f"上传文档（.txt / .md，单个不超过 {app.max_upload_bytes // 1048576} MB）",
                                        file_count="multiple", type="filepath", elem_id="upload")
                        upload_btn = gr.Button("导入所选文件", variant="primary", elem_id="upload-btn")
                    with gr.Column():
                        remove_pick = gr.Dropdown(app.doc_ids(), value=None, label="删除文档", elem_id="remove-pick")
                        remove_btn = gr.Button("删除所选文档", variant="stop", elem_id="remove-btn")
                report = gr.HTML(elem_id="library-report")
                view_pick = gr.Dropdown(app.doc_ids(), value=None, label="查看全文", elem_id="view-pick")
                viewer = gr.HTML(app.document_html(None), elem_id="viewer")

        ask_outputs = [chatbot, session, box, docx_btn, md_btn]
        ask_inputs = [box, mode, orgs, since, until, session]
        box.submit(on_ask, ask_inputs, ask_outputs)
        send.click(on_ask, ask_inputs, ask_outputs)
        clear.click(on_clear, [session], [chatbot, session, docx_btn, md_btn])
        chatbot.clear(on_clear, [session], [chatbot, session, docx_btn, md_btn])  # the chat's own 🗑 button
        lib_outputs = [report, table, orgs, remove_pick, view_pick, status]
        upload_btn.click(on_upload, [files], [*lib_outputs, files])
        remove_btn.click(on_remove, [remove_pick], lib_outputs)
        view_pick.change(app.document_html, [view_pick], [viewer])
        def on_load():  # another tab may have changed the library since this page was built
            ids = app.doc_ids()
            return (app.status_html(), app.library_rows(), gr.update(choices=app.org_choices()),
                    gr.update(choices=ids), gr.update(choices=ids))

        demo.load(on_load, None, [status, table, orgs, remove_pick, view_pick])
    return demo


class SecurityHeaders:
    """ASGI middleware: the CSP above, no MIME sniffing, no referrer to other sites."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + [
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                ]
            await send(message)

        return await self.app(scope, receive, send_with_headers)


def parse_auth(value: str) -> tuple[str, str] | None:
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise AssistantError("ASSISTANT_AUTH must look like user:password (both non-empty)")
    return user, password


def check_port(host: str, port: int) -> None:
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as s:
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno == 98 or "in use" in str(exc):
                raise AssistantError(f"port {port} on {host} is in use; choose another with --port")
            raise AssistantError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); check --host")


def prepare_index(settings, seeds: Path | None, out=sys.stderr):
    """Open the index; when it holds no documents, ingest ``seeds`` first (progress on ``out``);
    then load the model and warm it up, so the first question is answered at full speed."""
    from .cli import progress_bar
    from .indexing import Index

    index = Index.open(settings, create=True)
    if not index.documents():
        if seeds is not None and seeds.is_dir():
            print(f"The index at {index.dir}/ is empty: ingesting {seeds}/ first …", file=out, flush=True)
            update, close = progress_bar()
            try:
                report = index.ingest([seeds], progress=update)
            finally:
                close()
            print(f"ingested {report.total_docs} documents, {report.total_chunks} chunks "
                  f"in {report.seconds:.1f} s", file=out, flush=True)
        else:
            print(f"The index is empty and {seeds}/ does not exist: upload documents in the 文档库 tab.",
                  file=out, flush=True)
    index.ensure_synced()
    if index.dense:
        index.embedder.embed_query("预热")
    else:
        print(f"warning: dense retrieval is off ({index.dense_error}); keyword retrieval only", file=out)
    return index


def serve(settings, host: str = "127.0.0.1", port: int = 7860, share: bool = False, seeds: Path | None = None,
          llm=None, auth: tuple[str, str] | None = None, ready: Callable[[str], None] | None = None) -> None:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home from the server
    t0 = time.perf_counter()
    check_port(host, port)  # before the slow start, not after it
    index = prepare_index(settings, seeds)
    import gradio as gr
    from starlette.middleware import Middleware

    if llm is not None:
        from .generation import chat_model

        chat_model(llm, streaming=True)  # import the client now, not on the first question (nothing is sent)
    app = WebApp(index, llm=llm)
    demo = build_ui(app)
    if host not in ("127.0.0.1", "localhost", "::1") and auth is None:
        print("warning: listening beyond this machine with no login; set ASSISTANT_AUTH=user:password",
              file=sys.stderr)
    if share:
        print("warning: --share publishes the page and every indexed document on a public link", file=sys.stderr)
    theme = gr.themes.Soft(font=["PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "sans-serif"],
                           font_mono=["Menlo", "Consolas", "monospace"])  # local fonts: nothing fetched
    try:
        demo.queue(default_concurrency_limit=4)
        demo.launch(server_name=host, server_port=port, share=share, auth=auth,
                    auth_message="党建知识助手：请登录", prevent_thread_lock=True, quiet=True, ssr_mode=False,
                    show_error=False, footer_links=[], max_file_size=4 * app.max_upload_bytes,
                    app_kwargs={"middleware": [Middleware(SecurityHeaders)]},
                    theme=theme, css=CSS, js=JS)
    except OSError:
        raise AssistantError(f"port {port} on {host} is in use; choose another with --port")
    url = f"http://{'[' + host + ']' if ':' in host else host}:{demo.server_port}/"
    print(f"党建知识助手 is ready at {url} ({time.perf_counter() - t0:.1f} s after start; Ctrl+C stops it)",
          flush=True)
    if ready:
        ready(url)
    try:
        demo.block_thread()
    except KeyboardInterrupt:
        pass
    finally:
        demo.close()
        index.close()
