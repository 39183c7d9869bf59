"""Load on the real web server: a second user asking while an upload is ingested, and N concurrent users.

Starts `python -m assistant --index TMP serve --port P --seeds seeds` (HF_HUB_OFFLINE=1, a fresh index,
so the seeds are ingested on first start) on a free 127.0.0.1 port and drives it through Gradio's queue
protocol with plain HTTP, the way the page does: the events are private (no API description, so
gradio_client refuses them), so the fn_index of each event is looked up in `GET /config` by its
trigger (the `send` button's click, the `upload-btn` click, …), then `POST /gradio_api/queue/join`
and `GET /gradio_api/queue/data` (server-sent events) until `process_completed`.

1. Second user during an upload. One client asks a fixed rotation of answerable dev questions
   sequentially for --baseline-seconds; then another tab uploads a Chinese text document of
   --upload-mb (government reports from ../shared/corpora/govreports.jsonl, concatenated, with a title
   line) through the page's upload event, and while the background `assistant ingest --progress-json`
   child runs the same client asks the same rotation for the same time. Latency = join → completed.
   The ingest is then followed to its end (progress every 30 s, up to --ingest-timeout).
2. --users concurrent users for --seconds, each its own session (tab), asking dev questions in a loop
   (mostly 问答, some 起草发言要点 / 查找先例做法). Errors = HTTP error, error/unexpected event, or a
   non-refused answer without a citation marker; refusals are counted apart.

Each tab presses 清空对话 after every --clear-every questions (not timed), so a tab's chat — which
the server sends back whole with every answer — stays about the same size in every phase.
A benchmark: it prints figures and asserts nothing. Results also go to bench/results/load_test.json.

    .venv/bin/python bench/load_test.py            # 20 users × 60 s, 2 MB upload, 40 s baseline
    .venv/bin/python bench/load_test.py --quick    # 4 users × 15 s, 0.3 MB upload, 15 s baseline
"""

from __future__ import annotations

import argparse
import html as htmllib
import json
import os
import platform
import random
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
DEV = ROOT.parent / "shared" / "eval" / "qa_dev.jsonl"
CORPUS = ROOT.parent / "shared" / "corpora" / "govreports.jsonl"
RESULTS = ROOT / "bench" / "results" / "load_test.json"
HOST = "127.0.0.1"  # the only address this script talks to
MODES = {"qa": "问答", "points": "起草发言要点", "precedents": "查找先例做法"}
KIND_MODE = {"fact": "qa", "cross_script": "qa", "metadata": "qa", "precedent": "precedents",
             "talking_points": "points"}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------- the server

def _ppid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2:].split()[1])


def group_members(pgid: int) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = Path(f"/proc/{d}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                out.append(int(d))
    return out


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            pp = _ppid(int(d))
            if pp is not None:
                children.setdefault(pp, []).append(int(d))
    out, todo = [], [root]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode("utf-8", "replace").split("\0")
    except OSError:
        return []


def _own_group() -> None:
    """In the server child before exec: its own session (our Ctrl+C is ours to handle, and stop() can end
    the whole group by its id), and SIGINT at its default even when this script was started with it
    ignored, so that `serve` gets KeyboardInterrupt and shuts down its ingest children itself."""
    os.setsid()
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def plain(html: str) -> str:
    """The text a page shows for some HTML."""
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", html or "")).split())


class Server:
    """`assistant serve` in its own process group; stop() ends it and every child it started."""

    def __init__(self, index_dir: Path, port: int, log_path: Path, extra_env: dict | None = None):
        self.index_dir, self.port, self.log_path = index_dir, port, log_path
        env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
        env.update(HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1", GRADIO_ANALYTICS_ENABLED="False", **(extra_env or {}))
        env.pop("GRADIO_SERVER_NAME", None)
        self.cmd = [sys.executable, "-m", "assistant", "--index", str(index_dir), "serve", "--port", str(port),
                    "--seeds", "seeds"]
        self.env = env
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.ready_s = 0.0
        self.lines: list[str] = []
        self.stopped_by = ""

    @property
    def command(self) -> str:
        return "HF_HUB_OFFLINE=1 " + shlex.join([os.path.relpath(self.cmd[0], ROOT), *self.cmd[1:]])

    def start(self, timeout: float = 600) -> None:
        t0 = time.perf_counter()
        self._log = open(self.log_path, "w", encoding="utf-8")
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=self._log, text=True, encoding="utf-8",
                                     preexec_fn=_own_group)
        found = threading.Event()

        def drain():
            for line in self.proc.stdout:
                self.lines.append(line)
                self._log.write(line)
                self._log.flush()
                m = re.search(r"ready at (http://\S+/)", line)
                if m and not found.is_set():
                    self.url = m.group(1)
                    found.set()
            found.set()

        threading.Thread(target=drain, daemon=True, name="server-stdout").start()
        if not found.wait(timeout) or not self.url:
            raise RuntimeError(f"assistant serve did not print its ready line; see {self.log_path}:\n"
                               + self.tail())
        if not self.url.startswith(f"http://{HOST}:{self.port}/"):
            raise RuntimeError(f"the server says it is at {self.url}, not on {HOST}:{self.port}")
        self.ready_s = time.perf_counter() - t0

    def tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def tree(self) -> list[int]:
        return [self.proc.pid, *descendants(self.proc.pid)] if self.proc and self.proc.poll() is None else []

    def rss(self) -> dict:
        pids = self.tree()
        per = {p: rss_mb(p) for p in pids}
        server = per.get(self.proc.pid, 0.0) if self.proc else 0.0
        return {"server_mb": round(server, 1), "children_mb": round(sum(per.values()) - server, 1),
                "total_mb": round(sum(per.values()), 1), "children": len(pids) - 1 if pids else 0}

    def ingest_children(self) -> list[int]:
        """The background `assistant ingest --progress-json` processes of this server (by parentage)."""
        out = []
        for p in descendants(self.proc.pid) if self.proc else []:
            c = cmdline(p)
            if "ingest" in c and "--progress-json" in c:
                out.append(p)
        return out

    def stop(self) -> None:
        """SIGINT first (serve's own shutdown terminates its ingest children), then the whole group."""
        if self.proc is None:
            return
        pgid = self.proc.pid  # setsid: the group id is the server's pid
        self.stopped_by = "already ended"
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGINT)
                self.proc.wait(timeout=20)
                self.stopped_by = "SIGINT"
            except subprocess.TimeoutExpired:
                self.stopped_by = "SIGTERM (SIGINT ignored for 20 s)"
            except ProcessLookupError:
                pass
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(pgid, sig)  # anything of this group still alive (an ingest child, say)
            except ProcessLookupError:
                break
            time.sleep(1.0)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self._log.close()


# ------------------------------------------------------------------------- the queue protocol

@dataclass
class Result:
    ok: bool
    seconds: float
    html: str = ""
    error: str = ""
    output: list | None = None


class Page:
    """What the page knows from /config: the fn_index and trigger of each event."""

    def __init__(self, base: str):
        self.base = base.rstrip("/")
        cfg = httpx.get(self.base + "/config", timeout=30).raise_for_status().json()
        self.prefix = cfg.get("api_prefix") or "/gradio_api"
        self.protocol = cfg.get("protocol")
        self.version = cfg.get("version")
        self.by_elem = {c["props"]["elem_id"]: c["id"] for c in cfg["components"] if c.get("props", {}).get("elem_id")}
        self.deps = cfg["dependencies"]

        def fn(elem_or_id, event):
            cid = self.by_elem[elem_or_id] if isinstance(elem_or_id, str) else elem_or_id
            for i, d in enumerate(self.deps):
                if [cid, event] in [list(t) for t in d["targets"]]:
                    return d.get("id", i), cid
            raise RuntimeError(f"no event {event} on {elem_or_id} in /config")

        self.ask = fn("send", "click")
        self.clear = fn("clear", "click")
        self.upload = fn("upload-btn", "click")
        self.tick = next(((d.get("id", i), t[0]) for i, d in enumerate(self.deps) for t in d["targets"]
                          if t[1] == "tick"), None)
        self.load = next(((d.get("id", i), t[0]) for i, d in enumerate(self.deps) for t in d["targets"]
                          if t[1] == "load"), None)
        ask_inputs = self.deps[self.ask[0]]["inputs"]
        if ask_inputs[0] != self.by_elem["question"] or ask_inputs[1] != self.by_elem["mode"]:
            raise RuntimeError(f"the send button's inputs are not [question, mode, …]: {ask_inputs}")


class Tab:
    """One browser tab: its own session_hash and HTTP connection."""

    def __init__(self, page: Page, timeout: float = 300):
        self.page = page
        self.session = uuid.uuid4().hex[:11]
        self.http = httpx.Client(base_url=page.base, timeout=httpx.Timeout(timeout, connect=10))

    def close(self) -> None:
        self.http.close()

    def call(self, fn: tuple[int, int], data: list) -> Result:
        fn_index, trigger = fn
        t0 = time.perf_counter()
        try:
            r = self.http.post(f"{self.page.prefix}/queue/join",
                               json={"data": data, "event_data": None, "fn_index": fn_index,
                                     "trigger_id": trigger, "session_hash": self.session})
            if r.status_code != 200:
                return Result(False, time.perf_counter() - t0, error=f"join HTTP {r.status_code}: {r.text[:200]}")
            event_id = r.json().get("event_id")
            with self.http.stream("GET", f"{self.page.prefix}/queue/data",
                                  params={"session_hash": self.session}) as s:
                if s.status_code != 200:
                    return Result(False, time.perf_counter() - t0, error=f"data HTTP {s.status_code}")
                for line in s.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    msg = json.loads(line[5:])
                    kind = msg.get("msg")
                    if kind == "unexpected_error":
                        return Result(False, time.perf_counter() - t0, error=f"unexpected_error: {msg.get('message')}")
                    if kind == "process_completed" and msg.get("event_id") in (event_id, None):
                        secs = time.perf_counter() - t0
                        out = msg.get("output") or {}
                        if not msg.get("success", False):
                            return Result(False, secs, error=f"error: {str(out.get('error') or out)[:200]}")
                        return Result(True, secs, output=out.get("data"))
                    if kind == "close_stream":
                        break
            return Result(False, time.perf_counter() - t0, error="stream ended without process_completed")
        except (httpx.HTTPError, ValueError) as exc:
            return Result(False, time.perf_counter() - t0, error=f"{type(exc).__name__}: {exc}"[:200])

    def ask(self, question: str, mode: str = "qa") -> Result:
        """The send button: [question, mode label, orgs, since, until, 文号, session (state: null)]."""
        r = self.page
        res = self.call(r.ask, [question, MODES[mode], [], "", "", "", None])
        if res.ok:
            res.html = last_answer(res.output)
        return res

    def clear(self) -> Result:
        return self.call(self.page.clear, [None])

    def open(self) -> Result:
        """What opening the page does: the load event fills the library lists and the status line."""
        return self.call(self.page.load, [None]) if self.page.load else Result(True, 0.0)

    def tick(self) -> Result:
        return self.call(self.page.tick, [None])

    def upload(self, path: Path) -> tuple[Result, float]:
        """The file box + 导入所选文件: POST /upload (multipart `files`), then the click with FileData."""
        t0 = time.perf_counter()
        with open(path, "rb") as f:
            r = self.http.post(f"{self.page.prefix}/upload", files=[("files", (path.name, f, "text/plain"))])
        r.raise_for_status()
        server_path = r.json()[0]
        upload_s = time.perf_counter() - t0
        data = [{"path": server_path, "orig_name": path.name, "size": path.stat().st_size, "mime_type": "text/plain",
                 "meta": {"_type": "gradio.FileData"}}]
        return self.call(self.page.upload, [data, None]), upload_s


def _text(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(_text(c) for c in content)
    if isinstance(content, dict):
        return str(content.get("text") or content.get("value") or "")
    return ""


def last_answer(output: list | None) -> str:
    """The last assistant message of the chatbot (the event's first output)."""
    messages = (output or [None])[0] or []
    for m in reversed(messages):
        if isinstance(m, dict) and m.get("role") == "assistant":
            return _text(m.get("content"))
    return ""


def classify(res: Result) -> str:
    """ok | refused | error (an answer that should cite and does not is an error)."""
    if not res.ok:
        return "error"
    if 'class="refused"' in res.html:
        return "refused"
    if "cite-" in res.html:
        return "ok"
    res.error = "answer without a citation: " + plain(res.html)[:150]
    return "error"


# ------------------------------------------------------------------------------ the material

def questions() -> list[dict]:
    items = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [{"q": it["question"], "mode": KIND_MODE[it["kind"]], "id": it["id"]}
            for it in items if it["kind"] in KIND_MODE]


def rotation(qs: list[dict], n: int = 8) -> list[dict]:
    return [q for q in qs if q["mode"] == "qa"][:n]


def build_document(mb: float, dest: Path) -> dict:
    """~mb MB of UTF-8: a title line, then whole government reports in corpus order, cut at a paragraph."""
    limit = int(mb * 1_000_000)
    title = f"政府工作报告汇编（负载测试用，约 {mb:g} MB）"
    parts, size, used = [title, ""], len(title.encode()) + 1, 0
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        for para in [f"{d['title']}", *(p for p in d["text"].split("\n") if p.strip())]:
            b = len(para.encode()) + 1
            if size + b > limit:
                break
            parts.append(para)
            size += b
        else:
            used += 1
            parts.append("")
            size += 1
            continue
        break
    text = "\n".join(parts)
    dest.write_text(text, encoding="utf-8")
    return {"file": dest.name, "bytes": dest.stat().st_size, "chars": len(text), "reports_whole": used}


def machine() -> dict:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    except OSError:
        nproc = str(os.cpu_count())
    mem = ""
    try:
        mem = f"{int(Path('/proc/meminfo').read_text().split()[1]) / 1048576:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    git = lambda *a: subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True).stdout.strip()  # noqa: E731
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return {"nproc": nproc, "cpu": model, "memory": mem, "python": platform.python_version(),
            "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
            "commit": git("rev-parse", "--short", "HEAD") + (" (+ uncommitted changes)" if dirty else "")}


# --------------------------------------------------------------------------------- the phases

@dataclass
class Tally:
    lat: list[float] = field(default_factory=list)  # every completed request (answers and refusals)
    ok: int = 0
    refused: int = 0
    errors: list[str] = field(default_factory=list)
    by_mode: dict = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, res: Result, mode: str) -> str:
        kind = classify(res)
        with self.lock:
            if res.ok:
                self.lat.append(res.seconds)
                self.by_mode.setdefault(mode, []).append(res.seconds)
            if kind == "ok":
                self.ok += 1
            elif kind == "refused":
                self.refused += 1
            else:
                self.errors.append(res.error)
        return kind

    def summary(self) -> dict:
        lat = self.lat
        out = {"requests": self.ok + self.refused + len(self.errors), "answered": self.ok, "refused": self.refused,
               "errors": len(self.errors), "p50_s": round(pct(lat, 50), 3), "p95_s": round(pct(lat, 95), 3),
               "max_s": round(max(lat), 3) if lat else None, "mean_s": round(statistics.fmean(lat), 3) if lat else None}
        out["by_mode"] = {m: {"n": len(v), "p50_s": round(pct(v, 50), 3), "p95_s": round(pct(v, 95), 3)}
                          for m, v in sorted(self.by_mode.items())}
        if self.errors:
            out["error_samples"] = sorted(set(self.errors))[:5]
        out["loadavg_1min_at_end"] = round(os.getloadavg()[0], 2)  # the machine is shared: how busy it was
        return out


def ask_for(tab: Tab, rot: list[dict], seconds: float, tally: Tally, clear_every: int,
            keep_going: callable = lambda: True) -> float:
    """One user asking the rotation sequentially until `seconds` pass (or keep_going() says stop)."""
    t0 = time.perf_counter()
    i = 0
    while time.perf_counter() - t0 < seconds and keep_going():
        q = rot[i % len(rot)]
        tally.add(tab.ask(q["q"], q["mode"]), q["mode"])
        i += 1
        if clear_every and i % clear_every == 0:
            tab.clear()
    return time.perf_counter() - t0


class IngestWatch(threading.Thread):
    """The uploading tab's page: its timer tick every 2 s (progress bar → report), and the server's
    `assistant ingest --progress-json` child found by parentage in /proc."""

    def __init__(self, server: Server, tab: Tab, t_click: float, timeout: float):
        super().__init__(daemon=True, name="ingest-watch")
        self.server, self.tab, self.t_click, self.timeout = server, tab, t_click, timeout
        self.seen_child = threading.Event()
        self.done = threading.Event()
        self.last_html = ""
        self.progress = ""
        self.child_gone_at: float | None = None
        self.report_at: float | None = None
        self.child_rss_peak = 0.0
        self.stop_flag = False
        self.stage = "start"
        self.stage_at: dict[str, float] = {}  # stage → seconds after the click when the page first showed it

    def running(self) -> bool:
        return not self.done.is_set()

    def run(self) -> None:
        last_print = time.perf_counter()
        while not self.stop_flag and time.perf_counter() - self.t_click < self.timeout:
            kids = self.server.ingest_children()
            now = time.perf_counter()
            if kids:
                self.seen_child.set()
                self.child_rss_peak = max(self.child_rss_peak, sum(rss_mb(p) for p in kids))
            elif self.seen_child.is_set() and self.child_gone_at is None:
                self.child_gone_at = now
            res = self.tab.tick() if self.tab.page.tick else Result(False, 0)
            if res.ok and res.output:
                html = res.output[0] if isinstance(res.output[0], str) else ""
                if html:
                    self.last_html = html
                m = re.search(r'value="(\d+)"></progress>\s*(\d+%[^（<]*)', self.last_html)
                if m:
                    self.progress = plain(m.group(2))
                    stage = "embed" if "向量化" in self.progress else "read" if "读取" in self.progress else "start"
                    self.stage_at.setdefault(stage, round(now - self.t_click, 1))
                    self.stage = stage
                if "upload-report" in self.last_html and self.report_at is None:
                    self.report_at = now
            if self.report_at is not None and not kids:
                if self.child_gone_at is None:
                    self.child_gone_at = now
                self.done.set()
                return
            if now - last_print >= 30:
                last_print = now
                log(f"  ingest: {now - self.t_click:5.0f} s after the click · {self.progress or 'starting'}"
                    f" · child {'running' if kids else 'not running'} · server tree RSS {self.server.rss()['total_mb']:.0f} MB")
            time.sleep(2.0)
        self.done.set()


def phase_upload(server: Server, page: Page, rot: list[dict], doc: Path, args) -> dict:
    log(f"phase 1 · baseline: one tab asks {len(rot)} questions in rotation for {args.baseline_seconds:g} s")
    asker = Tab(page)
    asker.open()
    base = Tally()
    base_s = ask_for(asker, rot, args.baseline_seconds, base, args.clear_every)
    b = base.summary()
    log(f"  baseline: {b['requests']} questions in {base_s:.1f} s · p50 {b['p50_s']:.3f} s · p95 {b['p95_s']:.3f} s"
        f" · errors {b['errors']} · refused {b['refused']} · load average {b['loadavg_1min_at_end']}")
    asker.clear()

    uploader = Tab(page)
    uploader.open()
    log(f"phase 1 · another tab uploads {doc.name} ({doc.stat().st_size / 1e6:.2f} MB)")
    t_click = time.perf_counter()
    res, upload_s = uploader.upload(doc)
    report = (res.output or [""])[0] if res.ok else ""
    if not res.ok or "后台导入" not in str(report):
        raise RuntimeError(f"the upload event did not start a background ingest: {res.error or report}")
    click_s = time.perf_counter() - t_click
    log(f"  file sent in {upload_s:.2f} s; the upload event answered in {click_s:.2f} s: "
        + plain(str(report))[:80])
    watch = IngestWatch(server, uploader, t_click, args.ingest_timeout)
    watch.start()
    if not watch.seen_child.wait(30):
        log("  warning: no `assistant ingest --progress-json` child seen within 30 s")

    def window(name: str) -> dict:
        tally = Tally()
        at = time.perf_counter() - t_click
        secs = ask_for(asker, rot, args.baseline_seconds, tally, args.clear_every, keep_going=watch.running)
        x = tally.summary()
        cut = secs < args.baseline_seconds - 0.5
        log(f"  {name}: {x['requests']} questions in {secs:.1f} s · p50 {x['p50_s']:.3f} s · p95 {x['p95_s']:.3f} s"
            f" · errors {x['errors']} · refused {x['refused']} · load average {x['loadavg_1min_at_end']}"
            + (" (the ingest finished first)" if cut else ""))
        return {**x, "seconds": round(secs, 1), "started_s_after_click": round(at, 1), "ingest_finished_first": cut}

    log(f"phase 1 · during the ingest: the same tab asks the same rotation for {args.baseline_seconds:g} s")
    d = window("right after the upload")
    e = None
    if watch.running() and watch.stage != "embed":
        # The first window mostly overlaps the child's start-up and reading; measure the embedding too.
        log("  waiting for the ingest's embedding stage (向量化) to measure it as well")
        while watch.running() and watch.stage != "embed":
            time.sleep(1.0)
        if watch.running():
            log(f"phase 1 · during the embedding stage: the same rotation for {args.baseline_seconds:g} s")
            e = window("during the embedding")
    asker.close()

    log(f"  waiting for the ingest to finish (up to {args.ingest_timeout / 60:.0f} min; progress every 30 s)")
    watch.join(args.ingest_timeout + 30)
    finished = watch.report_at is not None
    end = watch.child_gone_at or watch.report_at
    total = (end - t_click) if end else None
    html = plain(watch.last_html)
    chunks = re.search(r"已导入，(\d+) 个分块", watch.last_html)
    failed = "导入失败" in html or "✗" in html
    uploader.close()
    if finished:
        log(f"  ingest finished {total:.0f} s after the click: {html[:120]}")
    else:
        log(f"  ingest NOT finished after {args.ingest_timeout:.0f} s (last: {watch.progress})")
    ratio = lambda a, c: round(a / c, 2) if a and c else None  # noqa: E731
    return {
        "rotation": [q["id"] for q in rot],
        "baseline": {**b, "seconds": round(base_s, 1)},
        "during_ingest": d,
        "ratio_p50": ratio(d["p50_s"], b["p50_s"]), "ratio_p95": ratio(d["p95_s"], b["p95_s"]),
        "during_embedding": e,
        "ratio_embedding_p50": ratio(e["p50_s"], b["p50_s"]) if e else None,
        "ratio_embedding_p95": ratio(e["p95_s"], b["p95_s"]) if e else None,
        "upload": {"file_send_s": round(upload_s, 2), "event_s": round(click_s, 2),
                   "ingest_total_s": round(total, 1) if total else None, "finished": finished, "failed": failed,
                   "chunks": int(chunks.group(1)) if chunks else None, "report": html[:300],
                   "child_rss_peak_mb": round(watch.child_rss_peak, 1),
                   "stage_first_seen_s": watch.stage_at},
    }


def phase_users(server: Server, page: Page, qs: list[dict], args) -> dict:
    n, seconds = args.users, args.seconds
    log(f"phase 2 · {n} concurrent tabs × {seconds:g} s")
    tabs = [Tab(page) for _ in range(n)]
    for t in tabs:
        t.open()
    time.sleep(1.0)
    mem_before = server.rss()
    by_mode = {m: [q for q in qs if q["mode"] == m] for m in MODES}
    tally = Tally()
    peak = {"total_mb": mem_before["total_mb"]}
    stop = threading.Event()

    def sampler():
        while not stop.wait(1.0):
            r = server.rss()
            if r["total_mb"] > peak["total_mb"]:
                peak.update(r)

    def user(k: int, tab: Tab, t_end: float):
        rng = random.Random(1000 + k)
        i = 0
        while time.perf_counter() < t_end:
            x = rng.random()
            mode = "qa" if x < args.qa_share else "points" if x < args.qa_share + (1 - args.qa_share) / 2 else "precedents"
            q = rng.choice(by_mode[mode])
            tally.add(tab.ask(q["q"], mode), mode)
            i += 1
            if args.clear_every and i % args.clear_every == 0:
                tab.clear()

    threading.Thread(target=sampler, daemon=True, name="rss").start()
    t0 = time.perf_counter()
    threads = [threading.Thread(target=user, args=(k, t, t0 + seconds), daemon=True, name=f"user-{k}")
               for k, t in enumerate(tabs)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t0
    stop.set()
    time.sleep(1.0)
    mem_after = server.rss()
    if mem_after["total_mb"] > peak["total_mb"]:
        peak.update(mem_after)
    for t in tabs:
        t.close()
    s = tally.summary()
    s.update(wall_s=round(wall, 1), throughput_rps=round(s["requests"] / wall, 2), users=n, seconds=seconds,
             rss_before=mem_before, rss_after=mem_after, rss_peak=peak)
    log(f"  {s['requests']} requests in {wall:.1f} s ({s['throughput_rps']} req/s) · p50 {s['p50_s']} s"
        f" · p95 {s['p95_s']} s · max {s['max_s']} s · errors {s['errors']} · refused {s['refused']}"
        f" · load average {s['loadavg_1min_at_end']}")
    return s


def status_line(page: Page) -> str:
    tab = Tab(page)
    try:
        res = tab.open()
        for v in res.output or []:
            if isinstance(v, str) and 'class="status"' in v:
                return plain(v)
    finally:
        tab.close()
    return ""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--upload-mb", type=float, default=2.0)
    ap.add_argument("--baseline-seconds", type=float, default=40)
    ap.add_argument("--ingest-timeout", type=float, default=1800, help="seconds to wait for the upload's ingest")
    ap.add_argument("--qa-share", type=float, default=0.7, help="share of 问答 in phase 2 (the rest split evenly)")
    ap.add_argument("--clear-every", type=int, default=8, help="a tab presses 清空对话 after this many questions (0: never)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 4 users × 15 s, 0.3 MB, 15 s baseline")
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args()
    if args.quick:
        args.users, args.seconds, args.upload_mb, args.baseline_seconds = 4, 15, 0.3, 15
    command = shlex.join([os.path.relpath(sys.executable, ROOT) if sys.executable.startswith(str(ROOT)) else sys.executable,
                          os.path.relpath(__file__, ROOT) if __file__.startswith(str(ROOT)) else __file__, *sys.argv[1:]])

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    info = machine()
    log(f"machine: {info['nproc']} CPUs · {info['cpu']} · {info['memory']} · commit {info['commit']}"
        f" · load average {info['loadavg_at_start']}")
    log(f"command: {command}")
    tmp = Path(tempfile.mkdtemp(prefix="load-test-"))
    server = Server(tmp / "index", free_port(), tmp / "serve.log")
    results: dict = {"machine": info, "command": command, "server_command": server.command,
                     "options": {k: v for k, v in vars(args).items() if k != "out"}}
    try:
        doc = build_document(args.upload_mb, tmp / f"政府工作报告汇编-{args.upload_mb:g}MB.txt")
        results["document"] = doc
        log(f"document: {doc['file']} · {doc['bytes']:,} bytes · {doc['chars']:,} characters")
        log(f"starting: {server.command} (fresh index in {tmp}/index)")
        server.start()
        log(f"server ready in {server.ready_s:.1f} s at {server.url}")
        page = Page(server.url)
        log(f"gradio {page.version} · protocol {page.protocol} · api prefix {page.prefix} · "
            f"fn ask {page.ask[0]} (trigger {page.ask[1]}) · upload {page.upload[0]} · tick {page.tick and page.tick[0]}")
        results["server"] = {"ready_s": round(server.ready_s, 1), "gradio": page.version, "protocol": page.protocol,
                             "rss_idle": server.rss(), "status": status_line(page)}

        qs = questions()
        rot = rotation(qs)
        check = Tab(page)
        res = check.ask(rot[0]["q"])
        if classify(res) != "ok" or "cite-1" not in res.html:
            raise RuntimeError(f"the first answer has no citation: {res.error or res.html[:300]}")
        log(f"check: {rot[0]['q']} → {res.seconds:.2f} s, answer with cite-1 ✓")
        for q in rot[1:]:  # warm every path once, untimed
            check.ask(q["q"], q["mode"])
        check.close()

        results["upload_phase"] = phase_upload(server, page, rot, tmp / doc["file"], args)
        results["server"]["status_after_upload"] = status_line(page)
        results["users_phase"] = phase_users(server, page, qs, args)
    except KeyboardInterrupt:
        log("interrupted")
        results["interrupted"] = True
    except Exception as exc:  # noqa: BLE001 - a benchmark reports what broke, then cleans up
        log(f"failed: {type(exc).__name__}: {exc}")
        results["error"] = f"{type(exc).__name__}: {exc}"
        tail = server.tail()
        if tail:
            print("--- server log (tail) ---\n" + tail, flush=True)
    finally:
        log("stopping the server and its children")
        t_stop = time.perf_counter()
        server.stop()
        log(f"server stopped ({server.stopped_by}) in {time.perf_counter() - t_stop:.1f} s")
        left = group_members(server.proc.pid) if server.proc else []
        if left:
            log(f"warning: still running in the server's process group: {left}")
        shutil.rmtree(tmp, ignore_errors=True)
    report(results)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten: {os.path.relpath(out, ROOT) if str(out).startswith(str(ROOT)) else out}")
    return 1 if results.get("error") or results.get("interrupted") else 0


def report(r: dict) -> None:
    m = r["machine"]
    print(f"\n## Load test — {m['nproc']} CPUs ({m['cpu']}), {m['memory']}, commit {m['commit']}, "
          f"load average at start {m['loadavg_at_start']}")
    print(f"command: {r['command']}")
    print(f"server:  {r['server_command']} (fresh index; seeds ingested on first start)")
    s = r.get("server", {})
    if s:
        print(f"ready after {s.get('ready_s')} s · gradio {s.get('gradio')} ({s.get('protocol')}) · "
              f"idle RSS {s['rss_idle']['total_mb']} MB")
    up = r.get("upload_phase")
    if up:
        b, d, u = up["baseline"], up["during_ingest"], up["upload"]
        doc = r.get("document", {})
        print(f"\n### 1. A second user while a {doc.get('bytes', 0) / 1e6:.2f} MB document is ingested "
              f"(one tab, {len(up['rotation'])} questions in rotation)")
        print("| | questions | p50 | p95 | max | errors | refused | load avg (1 min) |")
        print("|---|---|---|---|---|---|---|---|")
        rows = [("no upload", b, None), ("ingest running, right after the upload", d, (up["ratio_p50"], up["ratio_p95"]))]
        if up.get("during_embedding"):
            rows.append(("ingest running, embedding stage", up["during_embedding"],
                         (up["ratio_embedding_p50"], up["ratio_embedding_p95"])))
        for name, x, ratio in rows:
            when = f", from {x['started_s_after_click']} s after the click" if "started_s_after_click" in x else ""
            print(f"| {name} ({x['seconds']} s{when}) | {x['requests']} | {x['p50_s']:.3f} s | {x['p95_s']:.3f} s | "
                  f"{x['max_s']} s | {x['errors']} | {x['refused']} | {x['loadavg_1min_at_end']} |")
            if ratio:
                print(f"| ↳ ratio to no upload (target ≤ 2×) | | {ratio[0]}× | {ratio[1]}× | | | | |")
        print(f"upload: file sent {u['file_send_s']} s, upload event answered {u['event_s']} s; background ingest "
              + (f"finished {u['ingest_total_s']} s after the click ({u['chunks']} chunks)" if u["finished"]
                 else "did NOT finish") + (" — FAILED" if u["failed"] else "")
              + f"; ingest child peak RSS {u['child_rss_peak_mb']} MB")
        if u.get("stage_first_seen_s"):
            print("ingest stages first shown on the page (s after the click): "
                  + ", ".join(f"{k} {v}" for k, v in u["stage_first_seen_s"].items()))
        if d.get("ingest_finished_first"):
            print("note: the ingest finished before the measuring window ended; only questions asked meanwhile count")
        if s.get("status_after_upload"):
            print(f"status after: {s['status_after_upload']}")
    us = r.get("users_phase")
    if us:
        print(f"\n### 2. {us['users']} concurrent users × {us['seconds']:g} s (each its own session)")
        print("| requests | answered | refused | errors | p50 | p95 | max | throughput | server RSS before → after (peak) | load avg |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        print(f"| {us['requests']} | {us['answered']} | {us['refused']} | {us['errors']} | {us['p50_s']} s | "
              f"{us['p95_s']} s | {us['max_s']} s | {us['throughput_rps']} req/s | "
              f"{us['rss_before']['total_mb']} → {us['rss_after']['total_mb']} MB ({us['rss_peak']['total_mb']} MB) | "
              f"{us['loadavg_1min_at_end']} |")
        for mode, x in us["by_mode"].items():
            print(f"  {MODES[mode]}: n={x['n']} p50 {x['p50_s']} s p95 {x['p95_s']} s")
        for e in us.get("error_samples", []):
            print(f"  error: {e}")
    for key in ("error", "interrupted"):
        if r.get(key):
            print(f"\n{key}: {r[key]}")


if __name__ == "__main__":
    sys.exit(main())
