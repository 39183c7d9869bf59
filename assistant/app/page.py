"""The page: ``build_ui`` lays out the handlers of ``web.WebApp`` with Gradio (the chat with its
three jobs and filters, the document library with upload, removal and the viewer), with the page's
CSS and the script that opens a citation's source when its marker is clicked."""

from __future__ import annotations

from ..answer.jobs import BY_LABEL, QA
from .web import UPLOAD_FORMATS, Session, WebApp

# Seconds between the page's checks for its upload's progress and for other users' changes to the library: each
# is one query of the store's generation when nothing changed (0.011 ms in SQLite, measured over 1,000 calls on the
# seeds' index), so the page follows within 2 s.
REFRESH_EVERY = 2.0
LIBRARY_HEADERS = ["文档", "标题", "单位", "日期", "作者", "分块数（格式）"]
EXAMPLES = [
    "哈焊所各支部一共申报了多少个争创“党员创新示范岗”小组？",
    "光栅室党支部创先争优活动领导小组的组长是谁？",
    "请为党支部书记起草关于“以学促做”的发言要点",
    "有哪些单位组织过党建知识竞赛？",
]

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
figure.scan {margin: 0.3em 0;}
figure.scan img {width: 100% !important; max-width: 100% !important; height: auto !important;
                 max-height: none !important; border: 1px solid var(--border-color-primary); border-radius: 0 !important;}
figure.scan figcaption {font-size: 0.85em; color: var(--body-text-color-subdued);}
.src-meta {font-size: 0.8em; color: var(--body-text-color-subdued);}
.refused {font-weight: bold;}
.related {color: var(--body-text-color-subdued);}
.short-answer {font-size: 1.1em; font-weight: bold;}
.passage mark strong.answer-span {background: #f59e0b; font-weight: bold;}
.error {color: #b91c1c;}
.notice, .unsupported {color: #b45309; font-size: 0.9em;}
.routed {color: #1d4ed8; font-size: 0.9em;}
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
    """The page. Nothing about the library is in the page as built (with a login, Gradio serves the
    page and its API description before login): every list and table is filled by ``demo.load`` and
    the timer, which need a login; and every event is private (no API description at all)."""
    import gradio as gr

    private = {"api_visibility": "private"}

    def hidden():
        return gr.update(value=None, visible=False), gr.update(value=None, visible=False)

    def on_ask(question, mode_label, orgs, since, until, number, session):
        final = None
        for messages, session, final in app.ask(question, mode_label, orgs, since, until, session, number):
            yield messages, session, "", *hidden()
        docx, md = app.export(final)
        if docx:
            yield (session.messages, session, "", gr.update(value=docx, visible=True),
                   gr.update(value=md, visible=True))

    def on_clear(session):
        session = app.clear(session)
        return [], session, *hidden()

    def library(session):
        """Everything on the page that shows the library, as of now."""
        session = session or Session()
        session.seen = app.generation()
        ids = app.doc_ids()
        return (app.library_rows(), gr.update(choices=app.org_choices()), gr.update(choices=ids),
                gr.update(choices=ids), app.status_html(), session)

    def on_upload(paths, session):
        report, session = app.upload(paths, session)
        asking = session.pending is not None
        return report, session, None, gr.update(visible=asking), app.job_html(session)

    def on_confirm(choice):
        def run(session):
            report, session = app.confirm(choice, session)
            return report, session, gr.update(visible=False), app.job_html(session)
        return run

    def on_remove(doc_id, session):
        return app.remove(doc_id), *library(session)

    def on_tick(session):
        """Every few seconds: this tab's upload progress, and the library when anyone changed it."""
        session = session or Session()
        job = app.job_html(session)
        if app.generation() == session.seen:  # the status line still changes as background imports end
            return (job, *(gr.skip() for _ in range(4)), app.status_html(), session)
        return (job, *library(session))

    with gr.Blocks(title="党建知识助手", delete_cache=(1800, 3600)) as demo:
        session = gr.State(None)
        gr.HTML("<h2 style='margin:0'>党建知识助手</h2>")
        status = gr.HTML("", elem_id="status")
        with gr.Tabs():
            with gr.Tab("问答", id="chat"):
                with gr.Row():
                    with gr.Column(scale=3):
                        mode = gr.Radio(list(BY_LABEL), value=QA.label, label="功能", elem_id="mode")
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
                        orgs = gr.Dropdown([], multiselect=True, label="单位或发文机关（可多选）", elem_id="orgs")
                        since = gr.Textbox(label="起始日期", placeholder="如 2010 或 2012-06-30", elem_id="since")
                        until = gr.Textbox(label="截止日期", placeholder="如 2016-12-31", elem_id="until")
                        number = gr.Textbox(label="文号（公文）", placeholder="如 国办发〔2016〕12号", elem_id="doc-number")
                        gr.HTML("<div class='status'>问答：逐句引用原文回答；起草发言要点：3–7 条要点，可下载 Word；"
                                "查找先例做法：列出各单位的相关做法。追问（如“那兰州化物所呢？”）会结合上文理解。</div>")
            with gr.Tab("文档库", id="library"):
                table = gr.Dataframe([], headers=LIBRARY_HEADERS, interactive=False, wrap=True,
                                     elem_id="library", column_widths=["20%", "36%", "16%", "11%", "7%", "10%"])
                with gr.Row():
                    with gr.Column():
                        files = gr.File(label=f"上传文档：{UPLOAD_FORMATS}，单个不超过 {app.max_upload_bytes // 1048576} MB"
                                              f"（扫描件 {app.max_scan_bytes // 1048576} MB）",
                                        file_count="multiple", type="filepath", elem_id="upload")
                        upload_btn = gr.Button("导入所选文件", variant="primary", elem_id="upload-btn")
                    with gr.Column():
                        remove_pick = gr.Dropdown([], value=None, label="删除文档", elem_id="remove-pick")
                        remove_btn = gr.Button("删除所选文档", variant="stop", elem_id="remove-btn")
                report = gr.HTML(elem_id="library-report")
                with gr.Row(visible=False, elem_id="confirm") as confirm_row:
                    replace_btn = gr.Button("替换原文档", variant="stop", elem_id="confirm-replace")
                    new_btn = gr.Button("作为新文档导入", variant="primary", elem_id="confirm-new")
                    cancel_btn = gr.Button("取消", elem_id="confirm-cancel")
                job = gr.HTML(elem_id="job")
                view_pick = gr.Dropdown([], value=None, label="查看全文", elem_id="view-pick")
                viewer = gr.HTML(app.document_html(None), elem_id="viewer")
        timer = gr.Timer(REFRESH_EVERY)

        lib_outputs = [table, orgs, remove_pick, view_pick, status, session]
        ask_outputs = [chatbot, session, box, docx_btn, md_btn]
        ask_inputs = [box, mode, orgs, since, until, number, session]
        # Enter and the button share one queue: at most four answers at a time in all.
        box.submit(on_ask, ask_inputs, ask_outputs, concurrency_id="ask", **private)
        send.click(on_ask, ask_inputs, ask_outputs, concurrency_id="ask", **private)
        clear.click(on_clear, [session], [chatbot, session, docx_btn, md_btn], **private)
        chatbot.clear(on_clear, [session], [chatbot, session, docx_btn, md_btn], **private)  # the chat's own 🗑
        upload_btn.click(on_upload, [files, session], [report, session, files, confirm_row, job], **private)
        for btn, choice in ((replace_btn, "replace"), (new_btn, "new"), (cancel_btn, "cancel")):
            btn.click(on_confirm(choice), [session], [report, session, confirm_row, job], **private)
        remove_btn.click(on_remove, [remove_pick, session], [report, *lib_outputs], **private)
        view_pick.change(app.document_html, [view_pick], [viewer], **private)
        timer.tick(on_tick, [session], [job, *lib_outputs], show_progress="hidden", **private)
        demo.load(library, [session], lib_outputs, **private)
    return demo
