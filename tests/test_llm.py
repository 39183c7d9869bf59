"""The real local LLM: llama-cpp-python's OpenAI-compatible server with Qwen2.5-Coder 0.5B (a test
fixture, scripts/llm.py), driven through the command line as users do, with a counting proxy in
front of it. Skipped when llama-cpp-python or the model is missing (`make install-llm`); in CI they
must run. A 0.5B model on one CPU thread takes 30–120 s an answer, so there are few calls; each one's
timings (prompt and generated tokens, llama.cpp's own milliseconds) go to test-artifacts/llm/timings.jsonl.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import ROOT, dev_items

from assistant.core.schema import MARKER

pytestmark = [pytest.mark.llm, pytest.mark.slow]

LLM_SCRIPT = ROOT / "scripts" / "llm.py"
ALIAS = "qwen2.5-coder-0.5b"
ARTIFACTS = ROOT / "test-artifacts" / "llm"
READY_SECONDS = 120
ASK_SECONDS = 600  # the CLI's whole run: model load, retrieval, one LLM call of at most ASSISTANT_LLM_TIMEOUT


def _unavailable(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI must run the llm tests: .ci/run should `make install-llm`)")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str  # http://127.0.0.1:PORT (no /v1)
    log: Path

    def perf(self, offset: int) -> dict:
        """llama.cpp's timings printed since byte ``offset`` of the server log (the last request's)."""
        text = self.log.read_bytes()[offset:].decode("utf-8", "replace")
        out = {}
        m = re.findall(r"prompt eval time =\s*([\d.]+) ms /\s*(\d+) tokens", text)
        if m:
            out["prompt_ms"], out["prompt_tokens"] = float(m[-1][0]), int(m[-1][1])
        m = re.findall(r"\beval time =\s*([\d.]+) ms /\s*(\d+) runs", text)
        if m:
            out["eval_ms"], out["eval_tokens"] = float(m[-1][0]), int(m[-1][1])
        return out


@pytest.fixture(scope="session")
def llm_server(tmp_path_factory):
    """`scripts/llm.py serve` on a free loopback port, as users start it; stopped at the end."""
    if importlib.util.find_spec("llama_cpp") is None:
        _unavailable("llama-cpp-python is not installed: run `make install-llm` (or `make llm`)")
    r = subprocess.run([sys.executable, str(LLM_SCRIPT), "path"], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        _unavailable(f"the test model is not fetched ({r.stderr.strip()}): run `make install-llm`")
    (ARTIFACTS / "timings.jsonl").unlink(missing_ok=True)
    port = _free_port()
    log = tmp_path_factory.mktemp("llm") / "server.log"
    started = time.monotonic()
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, str(LLM_SCRIPT), "serve", "--port", str(port)], cwd=ROOT,
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the LLM server exited with {proc.returncode}:\n{log.read_text('utf-8', 'replace')[-3000:]}")
            try:
                with urllib.request.urlopen(url + "/v1/models", timeout=5) as resp:
                    models = json.load(resp)
                break
            except OSError:
                if time.monotonic() - started > READY_SECONDS:
                    pytest.fail(f"the LLM server did not answer /v1/models within {READY_SECONDS} s:\n"
                                f"{log.read_text('utf-8', 'replace')[-3000:]}")
                time.sleep(0.5)
        assert [m["id"] for m in models["data"]] == [ALIAS]
        _artifact({"event": "server ready", "seconds": round(time.monotonic() - started, 2)})
        yield Server(url=url, log=log)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=15)


@dataclass
class Proxy:
    """Forwards everything to the server unchanged (streamed responses as they arrive) and counts."""

    url: str
    requests: list = field(default_factory=list)  # (method, path, JSON body or None)

    @property
    def chats(self) -> list:
        return [body for method, path, body in self.requests if path.startswith("/v1/chat/completions")]


def _proxy_handler(upstream: str, proxy: Proxy):
    target = urlsplit(upstream)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _forward(self):
            data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body = json.loads(data) if data else None
            except ValueError:
                body = None
            proxy.requests.append((self.command, self.path, body))
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            conn = http.client.HTTPConnection(target.hostname, target.port, timeout=900)
            try:
                conn.request(self.command, self.path, body=data or None, headers=headers)
                resp = conn.getresponse()
                self.send_response(resp.status, resp.reason)
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "server", "date"):
                        self.send_header(k, v)
                self.send_header("Connection", "close")
                self.end_headers()
                while piece := resp.read1(65536):  # streamed (SSE) pieces pass through as they arrive
                    self.wfile.write(piece)
                    self.wfile.flush()
            finally:
                conn.close()

        do_GET = do_POST = _forward

    return Handler


@pytest.fixture(scope="session")
def _proxy_server(llm_server):
    proxy = Proxy(url="")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _proxy_handler(llm_server.url, proxy))
    httpd.daemon_threads = True
    proxy.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield proxy
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def proxy(_proxy_server):
    _proxy_server.requests.clear()
    return _proxy_server


def _artifact(record: dict) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with (ARTIFACTS / "timings.jsonl").open("a", encoding="utf-8") as f:
        f.write(json.dumps(record, ensure_ascii=False) + "\n")


def ask(index_dir: Path, proxy: Proxy, mode: str, question: str) -> dict:
    env = dict(os.environ, ASSISTANT_LLM_BASE_URL=proxy.url + "/v1", ASSISTANT_LLM_MODEL=ALIAS,
               ASSISTANT_LLM_TIMEOUT="300", ASSISTANT_INDEX_DIR=str(index_dir), HF_HUB_OFFLINE="1")
    env.pop("ASSISTANT_LLM_API_KEY", None)
    r = subprocess.run([sys.executable, "-m", "assistant", "ask", "--json", "--mode", mode, question], cwd=ROOT,
                       env=env, capture_output=True, text=True, timeout=ASK_SECONDS)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    return json.loads(r.stdout)


def first_question(kind: str) -> str:
    return next(i["question"] for i in dev_items() if i["kind"] == kind)


def check_citations(data: dict, index) -> None:
    """Every citation quotes the cleaned text verbatim; every marker names a listed citation."""
    listed = {c["n"] for c in data["citations"]}
    for c in data["citations"]:
        assert index.store.text(c["doc_id"])[c["start"] : c["end"]] == c["quote"], c
    assert {int(n) for n in MARKER.findall(data["answer"])} <= listed, (data["answer"], sorted(listed))
    for part in data.get("points", []) + data.get("rows", []):
        assert set(part["citations"]) <= listed, part


@pytest.mark.parametrize("mode,kind", [("qa", "fact"), ("points", "talking_points"), ("precedents", "precedent")])
def test_answer_from_the_real_model(llm_server, proxy, real_index, mode, kind):
    question = first_question(kind)
    offset = llm_server.log.stat().st_size
    started = time.monotonic()
    data = ask(real_index.dir, proxy, mode, question)
    seconds = time.monotonic() - started
    perf = llm_server.perf(offset)
    sent = proxy.chats[0]["messages"] if proxy.chats else []
    _artifact({"mode": mode, "question": question, "seconds": round(seconds, 1), "generator": data["generator"],
               "notice": data.get("notice", ""), "prompt_chars": sum(len(m["content"]) for m in sent), **perf,
               "citations": len(data["citations"]), "unsupported": len(data["unsupported"]),
               "checks": data.get("checks", {}),
               "answer": data["answer"]})
    assert len(proxy.chats) == 1, proxy.requests
    assert proxy.chats[0]["model"] == ALIAS
    if data["generator"].startswith("llm:"):
        assert data["generator"] == f"llm:{ALIAS}" and (data["answer"].strip() or data["refused"]), data
    else:  # the model failed (timeout, broken stream, nothing verifiable…): the extractive answer, saying so
        assert data["generator"] == "extractive" and "大模型" in data.get("notice", ""), data
    assert data["mode"] == mode
    check_citations(data, real_index)


@pytest.mark.parametrize("question", ["火星上的党支部书记是谁？", "2035年的党费收缴标准是多少？"],
                         ids=["mars", "party-dues-2035"])
def test_out_of_corpus_question_is_refused_without_asking_the_model(llm_server, proxy, real_index, question):
    data = ask(real_index.dir, proxy, "qa", question)
    # Only sentences close to the question, marked related, when it says what is missing (2035年…).
    assert data["refused"] is True and all(c["related"] for c in data["citations"])
    assert bool(data["citations"]) == bool(data.get("missing"))
    assert proxy.chats == []
