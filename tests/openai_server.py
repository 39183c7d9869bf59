"""A local HTTP server on loopback that speaks the OpenAI chat-completions protocol (streaming and
not) and returns scripted replies, for driving the real langchain-openai client in tests."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Script:
    """What the server does next: a reply text, or a failure ("500", "timeout", "broken", "empty")."""

    def __init__(self):
        self.replies: list = []  # strings, or callables that make the reply from the request body
        self.requests: list[dict] = []
        self.piece_delay = 0.0  # seconds between streamed pieces

    def next(self, body: dict) -> str:
        reply = self.replies.pop(0) if self.replies else "文档中没有找到相关信息"
        return reply(body) if callable(reply) else reply


def make_handler(script: Script, delay: float):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output quiet
            pass

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            script.requests.append(body)
            reply = script.next(body)
            if reply in ("500", "401"):
                self._json(int(reply), {"error": {"message": "scripted failure", "type": "scripted"}})
                return
            if reply == "timeout":
                time.sleep(delay)
                reply = "太迟了[1]"
            if body.get("stream"):
                self._stream(reply)
            else:
                content = "" if reply == "empty" else reply
                self._json(200, {"id": "cmpl-1", "object": "chat.completion", "created": 0, "model": body.get("model"),
                                 "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                              "finish_reason": "stop"}]})

        def _json(self, status, payload):
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _stream(self, reply):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            pieces = [] if reply == "empty" else [reply[i : i + 4] for i in range(0, len(reply), 4)]
            if reply == "broken":
                pieces = ["第一句"]
            for p in pieces:
                time.sleep(script.piece_delay)
                chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "m",
                         "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]}
                self.wfile.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
                self.wfile.flush()
            if reply == "broken":
                self.wfile.write(b"data: {\"id\": \"c1\", \"choices\": [{\"delta\": {\"content\n\n")
                self.wfile.flush()
                self.connection.close()
                return
            done = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "m",
                    "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
            self.wfile.write(f"data: {json.dumps(done)}\n\ndata: [DONE]\n\n".encode())
            self.wfile.flush()

    return Handler


class OpenAIServer:
    def __init__(self, delay: float = 3.0):
        self.script = Script()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(self.script, delay))
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def quote_first_source(body: dict) -> str:
    """A scripted reply that a careful model could give: the longest sentence of source [1], cited [1]."""
    import re

    prompt = body["messages"][-1]["content"]
    block = prompt.split("[1] ", 1)[1].split("\n", 1)[1].split("\n\n[2] ", 1)[0]
    sentences = [s for s in re.findall(r"[^。！？\n]+[。！？]", block) if len(s) >= 8]
    return (max(sentences, key=len) if sentences else block[:40]) + "[1]"
