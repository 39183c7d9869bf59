"""``assistant serve``: the index opened (seeds/ ingested first when it is empty), the model loaded and
warmed, the page launched on 127.0.0.1 unless told otherwise, with the security middleware, until
Ctrl+C or SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Callable

from starlette.middleware import Middleware

from ..answer.generation import chat_model
from ..answer.routing import warm_router
from ..core.errors import AssistantError
from ..storage.library import Index
from .console import progress_bar
from .page import CSS, JS, build_ui
from .security import LoginThrottle, SecurityHeaders, UploadNames
from .web import WebApp


def parse_auth(value: str) -> tuple[str, str] | None:
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise AssistantError("ASSISTANT_AUTH must look like user:password (both non-empty)")
    return user, password


def check_port(host: str, port: int) -> None:
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
        warm_router(index.embedder)  # the labelled requests embedded now, not in a user's first question
    else:
        print(f"warning: dense retrieval is off ({index.dense_error}); keyword retrieval only", file=out)
    return index


def serve(settings, host: str = "127.0.0.1", port: int = 7860, share: bool = False, seeds: Path | None = None,
          llm=None, auth: tuple[str, str] | None = None, ready: Callable[[str], None] | None = None) -> None:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home from the server
    # uvicorn (which Gradio starts with its defaults) believes X-Forwarded-For from the addresses in
    # FORWARDED_ALLOW_IPS, 127.0.0.1 and ::1 unless set: any local process, or a client's forged header
    # passed on by a proxy that does not overwrite it, could then pose as any address and slip past the
    # login throttle. Only the proxies the administrator names are believed; none by default.
    os.environ["FORWARDED_ALLOW_IPS"] = ",".join(settings.proxy_list)
    t0 = time.perf_counter()
    check_port(host, port)  # before the slow start, not after it
    index = prepare_index(settings, seeds)
    import gradio as gr

    if llm is not None:
        chat_model(llm, streaming=True)  # import the client now, not on the first question (nothing is sent)
    app = WebApp(index, llm=llm)
    resumed = app.resume_uploads()
    if resumed:
        print(f"resuming {resumed} uploaded file(s) whose ingest did not finish (in the background)", flush=True)
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
                    auth_message="党建知识助手：请登录（连续输错 5 次后需等待几分钟再试）", prevent_thread_lock=True, quiet=True, ssr_mode=False,
                    show_error=False, footer_links=[], max_file_size=2 * app.max_scan_bytes,
                    app_kwargs={"middleware": [Middleware(SecurityHeaders), Middleware(LoginThrottle),
                                                       Middleware(UploadNames)]},
                    theme=theme, css=CSS, js=JS)
    except OSError:
        raise AssistantError(f"port {port} on {host} is in use; choose another with --port")
    url = f"http://{'[' + host + ']' if ':' in host else host}:{demo.server_port}/"
    print(f"党建知识助手 is ready at {url} ({time.perf_counter() - t0:.1f} s after start; Ctrl+C stops it)",
          flush=True)
    if ready:
        ready(url)

    def stop(signum, frame):  # SIGTERM (kill, systemd, docker stop) ends the server like Ctrl+C does
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        demo.block_thread()
    except KeyboardInterrupt:
        pass
    finally:
        demo.close()
        app.close()
        index.close()
