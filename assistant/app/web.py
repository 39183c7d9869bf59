"""The web page's handlers: ``WebApp`` holds them as plain methods over the index (tested without a
browser): asking in the three jobs, the library's table, upload with its confirmation and background
ingest, removal, the document viewer. ``page.build_ui`` lays them out with Gradio; ``server.serve``
starts it. All text from documents and users reaches the page through ``render``, escaped.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from ..answer.conversation import Conversation
from ..answer.jobs import BY_LABEL, QA, get
from ..answer.pipeline import Request, ask
from ..answer.question import strip_controls
from ..answer.retrieval import Filters, parse_date_bound
from ..core.errors import AssistantError, Unreadable
from ..core.schema import PAGED_KINDS, Answer, content_hash
from ..ingest.loading import CONVERTED_SUFFIXES, SCAN_SUFFIXES, bad_name, display, free_name, read_file
from ..storage.pg_store import StoreUnavailable, where
from .downloads import DownloadDir
from .export import export
from .ingest_jobs import JobRunner
from .render import answer_html, esc, esc_lines, ocr_note, question_html, streaming_html
from .scan_view import scan_regions

log = logging.getLogger(__name__)

UPLOAD_FORMATS = "Word（.docx/.doc/.wps）、PDF（扫描页自动识别）、网页（.html/.htm）、文本（.txt/.md）、扫描件或照片（.jpg/.png/.tif）"
INTERNAL_ERROR = "出错了：这个问题没能回答（详细原因已写入服务端日志）。请换个问法再试，或联系管理员。"
STORE_DOWN = "文档库服务器（PostgreSQL）暂时连接不上：请稍后再试。已导入的文档不会丢失。"


def _error(message: str) -> dict:
    return {"role": "assistant", "content": f'<p class="error">{esc(message)}</p>'}


@dataclass
class PendingUpload:
    """Uploaded files waiting for the user to say what to do about same-named documents."""

    staged: list[Path]
    conflicts: dict[str, str]  # staged file name → the document an upload of that name would replace


@dataclass
class Session:
    """One browser tab's state: its conversation, the messages on its page, its uploads."""

    conversation: Conversation | None = None
    messages: list[dict] = field(default_factory=list)
    last: Answer | None = None
    jobs: list[str] = field(default_factory=list)  # its background ingest jobs, newest last
    pending: PendingUpload | None = None
    seen: int = -1  # the index generation its library view shows


def _report(lines: list[str], when: float | None = None) -> str:
    """An upload report, stamped with its time (so a user can tell one upload's report from the next)."""
    stamp = time.strftime("%H:%M:%S", time.localtime(when))
    return f'<ul class="upload-report"><li class="when">{stamp}</li>' + "".join(lines) + "</ul>"


def _date_bound(value: str, label: str) -> str:
    try:
        return parse_date_bound((value or "").strip(), label)
    except AssistantError:
        raise AssistantError(f"{label}“{value.strip()}”无法识别，请写成 2012 或 2012-06-30 的形式。")


def reason_zh(kind: str, detail: dict, english: str = "") -> str:
    """Why a file cannot be ingested, in Chinese, from ``loading.Unreadable``'s kind and detail."""
    d = detail or {}
    if kind == "type":
        return f"不支持 {d.get('suffix') or '无扩展名'} 文件。可上传：{UPLOAD_FORMATS}。"
    if kind == "empty":
        return "文件是空的。"
    if kind == "size":
        if d.get("width"):
            return f"图片太大（{d['width']} × {d['height']} 像素），请用 300 dpi 重新扫描或缩小后再上传。"
        if d.get("pages"):
            return f"文件共 {d['pages']} 页，超过上限，请拆分后再上传。"
        limit = d.get("limit", 0)
        shown = f"{limit / 1048576:.0f} MB" if limit >= 1048576 else f"{limit // 1024} KB"
        return f"文件超过 {shown} 的上限（或文字过多），请拆分后再上传。"
    if kind == "no_text":
        if d.get("format", "").lstrip(".") in ("jpg", "jpeg", "png", "bmp", "webp", "tif", "tiff") or d.get("pages"):
            return "文字识别（OCR）没有在图片里找到文字（照片、图画，或扫描太淡、太模糊？），请用 300 dpi 重新清晰扫描后再上传。"
        return "文件里没有可读的文字。"
    if kind == "encrypted":
        return "文件有密码保护，请去掉密码后再上传。"
    if kind == "corrupt":
        return "文件已损坏或格式不对，无法打开，请用原程序另存一份再上传。"
    if kind == "converter":
        return (f"服务器上缺少读取 {d.get('suffix', '.doc')} 的转换程序（antiword、catdoc 或 LibreOffice），"
                "请联系管理员安装，或另存为 .docx 后上传。")
    if kind == "timeout":
        return "文件转换超时，请另存为 .docx 或 .txt 后再上传。"
    if kind == "name":
        return "文件名不是 UTF-8 编码，请改名后再上传。"
    if kind == "garbled":
        return "文件内容无法识别为正常文字（文件可能已损坏，或与扩展名不符），请用原程序打开，另存为 .docx 或 UTF-8 文本后再上传。"
    if kind in ("binary", "encoding"):
        return "无法识别为文本（需为 UTF-8、GB18030/GBK 或 Big5 编码的文字），请另存为 UTF-8 文本后再上传。"
    return f"未导入（{english}）。" if english else "未导入。"


class WebApp:
    def __init__(self, index, llm=None, max_upload_bytes: int | None = None, download_dir: Path | None = None):
        self.index = index
        self.llm = llm
        self.upload_dir = Path(index.dir) / "uploads"
        self.max_upload_bytes = max_upload_bytes or index.settings.max_file_bytes
        self.max_scan_bytes = max_upload_bytes or max(self.max_upload_bytes, index.settings.max_scan_bytes)
        self.downloads = DownloadDir(Path(download_dir) if download_dir else Path(index.dir) / "exports")
        self.jobs = JobRunner(index.settings, on_done=self._tidy, store=index.store if index.store.shared else None)
        self._last_docs: list = []
        self.store_down = ""  # why the shared store's server cannot be reached, while it cannot

    def close(self) -> None:
        self.jobs.close()
        self.downloads.close()

    # --- what the page shows about the index (always the latest committed state: no lock)
    def _docs(self):
        """The documents, or — while the shared store's server cannot be reached — the last ones seen."""
        try:
            self.index.refresh()
            self._last_docs = self.index.documents()
            self.store_down = ""
        except StoreUnavailable as exc:
            log.warning("%s", exc)
            self.store_down = str(exc)
        return self._last_docs

    def status_html(self) -> str:
        docs = self._docs()
        chunks = sum(n for _, n in docs)
        if self.index.dense:
            dense = "语义检索：已开启（语义 + 关键词混合检索）"
            missing = self.index.incomplete() if not self.store_down else []
            if missing:
                dense += f"，{len(missing)} 篇文档尚未完成向量化（仅关键词可检索）"
        else:
            dense = f"语义检索：未开启，仅关键词检索（{esc(self.index.dense_error or '向量模型不可用')}）"
        generator = (f"回答方式：大模型 {esc(self.llm.model)}（每条引用都经核对）" if self.llm
                     else "回答方式：摘录式（逐句引用原文，未配置大模型）")
        store = (f"Chroma 服务器 {esc(self.index.settings.chroma_url)}" if self.index.remote else "本地 Chroma")
        parts = [f"文档 {len(docs)} 篇", f"分块 {chunks} 个", f"向量模型：{esc(self.index.settings.model.name)}",
                 f"向量库：{store}",
                 dense, generator]
        if self.index.store.shared:
            parts.insert(2, f"文档库：PostgreSQL 服务器 {esc(where(self.index.settings.database_url.get_secret_value()))}")
        if self.store_down:
            parts.insert(0, f'<b class="warn">{STORE_DOWN}</b>')
        running = self.jobs.running()
        if running:
            parts.append(f"后台导入中：{sum(len(j.files) for j in running)} 个文件")
        return '<div class="status">' + " ｜ ".join(parts) + "</div>"

    def org_choices(self) -> list[str]:
        return sorted({m.org for m, _ in self._docs() if m.org})

    def doc_ids(self) -> list[str]:
        return [m.doc_id for m, _ in self._docs()]

    def library_rows(self) -> list[list]:
        docs = self._docs()
        rows = []
        for m, n in sorted(docs, key=lambda d: (d[0].date or "0", d[0].doc_id), reverse=True):
            date = (m.date or "日期不详") + ("（推断）" if m.date_inferred and m.date else "")
            pages = f"，{len(m.pages) + 1} 页" if m.kind in PAGED_KINDS else ""
            ocr = f"，{ocr_note(m)}" if m.ocr_pages else ""
            rows.append([m.doc_id, m.title, m.org or "未知单位", date, m.author or "", f"{n}（{m.kind}{pages}{ocr}）"])
        return rows

    def generation(self) -> int:
        return self.index.store.generation()

    def document_html(self, doc_id: str | None) -> str:
        if not doc_id:
            return '<div class="viewer empty">选择一篇文档查看清洗后的全文。</div>'
        self.index.refresh()
        metas = self.index.store.metas()
        text = self._text_of(doc_id) if doc_id in metas else None
        if text is None:
            return '<div class="viewer empty">这篇文档已不在文档库中。</div>'
        m = metas[doc_id]
        head = f"《{esc(m.title)}》 · {esc(m.org or '未知单位')} · {esc(m.date or '日期不详')}"
        return f'<div class="viewer"><div class="viewer-title">{head}</div><div class="viewer-text">{esc_lines(text)}</div></div>'

    def _scans_of(self, c) -> list[tuple[int, str]]:
        return scan_regions(self.index.store, c)

    def _text_of(self, doc_id: str) -> str | None:
        try:
            return self.index.store.text(doc_id)
        except Exception:  # noqa: BLE001 - a document removed meanwhile: show the quote alone
            return None

    # --- the chat
    def ask(self, question: str, mode_label: str, orgs: list[str] | None, since: str, until: str,
            session: Session | None, doc_number: str = "") -> Iterator[tuple[list[dict], Session, Answer | None]]:
        """Yields (messages, session, final answer or None while it is still coming). ``doc_number``: only the
        official document of this 发文字号."""
        session = session or Session()
        question = strip_controls(question)
        if not question:
            yield list(session.messages), session, None
            return
        session.messages = session.messages + [{"role": "user", "content": question_html(question)}]
        try:
            limit = self.index.settings.max_question_chars
            if len(question) > limit:
                raise AssistantError(f"问题有 {len(question)} 个字，太长了；请控制在 {limit} 字以内。")
            if not any(ch.isalnum() for ch in question):
                raise AssistantError("问题里没有文字（只有标点或符号），请输入一个完整的问题。")
            number = strip_controls(doc_number or "")
            filters = Filters(orgs=tuple(orgs or ()), since=_date_bound(since, "起始日期"),
                              until=_date_bound(until, "截止日期"), doc_numbers=(number,) if number else ())
        except AssistantError as exc:
            session.messages.append(_error(str(exc)))
            yield list(session.messages), session, None
            return
        mode = BY_LABEL.get(mode_label, QA).name
        conv = session.conversation or Conversation(index=self.index, llm=self.llm)
        session.conversation = conv
        session.messages.append({"role": "assistant", "content": streaming_html("正在检索…")})
        yield list(session.messages), session, None

        partial = ""
        try:
            reply = ask(self.index, Request(question=question, mode=mode, filters=filters), conversation=conv,
                        llm=self.llm)
            for piece in reply:
                partial += piece
                session.messages[-1] = {"role": "assistant", "content": streaming_html(partial)}
                yield list(session.messages), session, None
            final = reply.answer()
        except StoreUnavailable as exc:
            log.warning("%s", exc)
            session.messages[-1] = _error(STORE_DOWN)
            yield list(session.messages), session, None
            return
        except AssistantError as exc:
            session.messages[-1] = _error(str(exc))
            yield list(session.messages), session, None
            return
        except Exception:  # noqa: BLE001 - the page says so instead of hanging on 「正在检索…」
            log.exception("answering %r failed", question)
            session.messages[-1] = _error(INTERNAL_ERROR)
            yield list(session.messages), session, None
            return
        understood = ""
        if reply.standalone != reply.question:
            understood = f'<p class="understood">（理解为：{esc(reply.standalone)}）</p>'
        session.messages[-1] = {"role": "assistant", "content": understood + answer_html(final, self._text_of, self._scans_of)}
        session.last = final
        yield list(session.messages), session, final

    def clear(self, session: Session | None) -> Session:
        session = session or Session()
        if session.conversation is not None:
            session.conversation.clear()
        session.messages, session.last = [], None
        return session

    def export(self, ans: Answer | None) -> tuple[str | None, str | None]:
        """(docx path, md path) of an answer, or (None, None) when there is nothing to save. The files
        live in a folder of their own that is swept an hour later."""
        if ans is None or ans.refused:
            return None, None

        folder = self.downloads.new_folder()
        stem = f"{get(ans.mode).label}-{time.strftime('%Y%m%d-%H%M%S')}"
        docx, md = str(folder / f"{stem}.docx"), str(folder / f"{stem}.md")
        export(ans, docx=docx, md=md)
        return docx, md

    # --- the document library
    def check_upload(self, path: Path) -> str | None:
        """Why this uploaded file cannot be ingested (in Chinese), or None when it can. Text files get
        every check of ``loading.read_file`` here; converted formats are checked by the ingest job."""
        if path.name.startswith((".", "~$")):
            return f"{path.name}：文件名不能以“.”或“~$”开头，请改名后再上传。"
        if bad_name(path):
            return f"{display(path.name)}：{reason_zh('name', {})}"
        try:
            if path.suffix.lower() in CONVERTED_SUFFIXES:
                size = path.stat().st_size
                if size == 0:
                    raise Unreadable("empty", "is empty")
                limit = self.max_scan_bytes if path.suffix.lower() in SCAN_SUFFIXES else self.max_upload_bytes
                if size > limit:
                    raise Unreadable("size", "too large", size=size, limit=limit)
            else:
                read_file(path, self.max_upload_bytes)
        except Unreadable as exc:
            return f"{path.name}：{reason_zh(exc.kind, exc.detail)}"
        except OSError as exc:
            return f"{path.name}：无法读取（{exc.strerror or exc}）。"
        return None

    def upload(self, paths: list[str] | None, session: Session | None = None) -> tuple[str, Session]:
        """Check uploaded files and stage the good ones. When a staged file would replace a document
        uploaded before under the same name, ask first (``session.pending``); otherwise start the
        background ingest at once. Refused files never touch the index."""
        session = session or Session()
        paths = [Path(p) for p in (paths or [])]
        if not paths:
            return f'<div class="upload-report">请先选择要上传的文件（{UPLOAD_FORMATS}）。</div>', session
        lines, staged = [], []
        stage_dir = self.upload_dir / ".staging" / uuid.uuid4().hex[:12]
        for p in paths:
            problem = self.check_upload(p)
            if problem:
                lines.append(f'<li class="refused">✗ {esc(problem)}</li>')
                continue
            stage_dir.mkdir(parents=True, exist_ok=True)
            dest = stage_dir / free_name(p.name, lambda n: (stage_dir / n).exists())  # 名单.txt, 名单-2.txt
            shutil.copyfile(p, dest)
            staged.append(dest)
        if not staged:
            return _report(lines), session
        conflicts = {}
        for f in staged:
            target = self.upload_dir / f.name
            record = self.index.store.record_at(str(target.resolve()))
            if record and target.is_file() and target.read_bytes() != f.read_bytes():
                conflicts[f.name] = record.doc_id
        if conflicts:
            session.pending = PendingUpload(staged=staged, conflicts=conflicts)
            names = "、".join(f"{esc(n)}（将替换文档 {esc(d)}）" for n, d in conflicts.items())
            lines.append(f'<li class="ask">? 文档库中已有同名的上传文档且内容不同：{names}。'
                         "请选择“替换原文档”“作为新文档导入”或“取消”。</li>")
            return _report(lines), session
        return self._launch(staged, "new", session, lines), session

    def confirm(self, choice: str, session: Session | None) -> tuple[str, Session]:
        """The user's answer about same-named documents: replace | new | cancel."""
        session = session or Session()
        pending, session.pending = session.pending, None
        if pending is None:
            return '<div class="upload-report">没有等待确认的上传。</div>', session
        if choice == "cancel":
            shutil.rmtree(pending.staged[0].parent, ignore_errors=True)
            return '<div class="upload-report">已取消，文档库没有任何改动。</div>', session
        return self._launch(pending.staged, choice, session, []), session

    def _launch(self, staged: list[Path], choice: str, session: Session, lines: list[str]) -> str:
        """Move staged files into uploads/ (``replace``: over the same-named upload; ``new``: under a
        free name when the name holds other content) and ingest them in the background."""
        self.upload_dir.mkdir(parents=True, exist_ok=True)
        final = []
        for f in staged:
            target = self.upload_dir / f.name
            if target.exists() and choice != "replace" and target.read_bytes() != f.read_bytes():
                target = self.upload_dir / free_name(f.name, lambda n: (self.upload_dir / n).exists())
            os.replace(f, target)
            final.append(target)
        shutil.rmtree(staged[0].parent, ignore_errors=True)
        job = self.jobs.start(final)
        session.jobs.append(job.id)
        lines.append(f'<li class="ok">… {len(final)} 个文件已开始在后台导入，可以继续提问；导入完成后会在这里报告。</li>')
        return _report(lines)

    def job_html(self, session: Session | None) -> str:
        """The progress bar of this tab's latest upload, or its report when it is done."""
        job = self.jobs.get(session.jobs[-1]) if session and session.jobs else None
        if job is None:
            return ""
        if not job.finished:
            label = {"read": "读取文档", "ocr": "文字识别（页）", "embed": "向量化"}.get(job.stage, "准备中")
            count = f" {job.done}/{job.total}" if job.total else ""
            pct = round(100 * job.fraction())
            return (f'<div class="job"><progress max="100" value="{pct}"></progress> {pct}% · {label}{count}'
                    f"（后台导入 {len(job.files)} 个文件，可以继续提问）</div>")
        return self._job_report(job)

    def _job_report(self, job) -> str:
        if job.report is None:
            return _report(['<li class="refused">✗ 导入失败（详细原因已写入服务端日志），'
                            "文档库中原有的文档不受影响。</li>"], job.finished_at)
        r = job.report
        counts = {m.doc_id: n for m, n in self._docs()}
        renamed = {x["doc_id"]: x for x in r["renamed"]}
        lines = []
        for doc_id in r["added"]:
            note = ""
            if doc_id in renamed:
                note = f"（文件名与已有文档 {esc(renamed[doc_id]['taken_by'])} 相同，已作为新文档导入，不影响原文档）"
            lines.append(f'<li class="ok">✓ {esc(doc_id)}：已导入，{counts.get(doc_id, 0)} 个分块{note}。</li>')
        for doc_id in r["updated"]:
            lines.append(f'<li class="ok">✓ {esc(doc_id)}：已替换为新内容，{counts.get(doc_id, 0)} 个分块。</li>')
        for doc_id in r["unchanged"]:
            lines.append(f'<li class="ok">✓ {esc(doc_id)}：与库中文档相同，未重复导入。</li>')
        for d in r["duplicates"]:
            lines.append(f'<li class="ok">✓ {esc(d["name"])}：内容与文档库中的 {esc(d["of"])} 相同，未重复导入。</li>')
        for sk in r["skipped"]:
            lines.append(f'<li class="refused">✗ {esc(sk["name"])}：{esc(reason_zh(sk["kind"], sk["detail"], sk["reason"]))}</li>')
        return _report(lines, job.finished_at)

    def _tidy(self, job) -> None:
        """When a job ends: uploads it refused, or that repeat a document, are not kept."""
        if job.report is None:
            return
        for item in job.report["skipped"] + job.report["duplicates"]:
            f = Path(item["path"])
            if f.resolve().parent == self.upload_dir.resolve() and self.index.store.record_at(str(f.resolve())) is None:
                f.unlink(missing_ok=True)

    def resume_uploads(self) -> int:
        """Uploads whose ingest never committed (the server or its job was stopped): ingest them
        now, in the background. Returns how many."""
        if not self.upload_dir.is_dir():
            return 0
        def committed(f: Path) -> bool:
            record = self.index.store.record_at(str(f.resolve()))
            return record is not None and record.content_hash == content_hash(f.read_bytes().hex())

        pending = [f for f in sorted(self.upload_dir.iterdir()) if f.is_file() and not f.name.startswith(".")
                   and not committed(f)]
        if pending:
            self.jobs.start(pending)
        return len(pending)

    def remove(self, doc_id: str | None) -> str:
        if not doc_id:
            return '<div class="upload-report">请先在下拉框中选择要删除的文档。</div>'
        record = self.index.store.record_of(doc_id)
        try:
            n = self.index.remove(doc_id)
        except AssistantError:
            return f'<div class="upload-report">文档库中没有 {esc(doc_id)}，可能已被删除。</div>'
        stored = Path(record.path) if record and record.path else None
        if stored and stored.parent == self.upload_dir.resolve() and stored.is_file():
            stored.unlink()  # the uploaded copy goes too; files ingested from elsewhere are not touched
        return (f'<div class="upload-report">已删除 {esc(doc_id)}（{n} 个分块），'
                "它不会再出现在任何回答中。</div>")
