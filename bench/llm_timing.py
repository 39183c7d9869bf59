"""Speed and verification of LLM answers through the command line, against a running
OpenAI-compatible server (for example `make llm`, or `.venv/bin/python scripts/llm.py serve`).

For one seed question, three cold CLI processes on the same index:
  1. `assistant ask` with no LLM configured (the extractive answer): the CLI's own cost;
  2. `assistant ask --stream` with the LLM: the first byte of stdout (the model's first token
     reaching the user) and the end of the process (the full, verified answer with its sources);
  3. `assistant ask --json` with the LLM, for the verification figures: the share of generated
     sentences that verify (not in `unsupported`) and the share of the reply's citation markers
     that verification removed. At temperature 0 the reply is the one streamed in 2 (checked;
     the server usually reuses the prompt it has just evaluated, so this run is cheaper).

    .venv/bin/python bench/llm_timing.py [--base-url URL] [--model NAME] [--index DIR] [--mode qa] [--question Q]

URL and model default to $ASSISTANT_LLM_BASE_URL / $ASSISTANT_LLM_MODEL, else the values
`scripts/llm.py serve` prints (http://127.0.0.1:8081/v1, qwen2.5-coder-0.5b). Without --index a
fresh index of seeds/ is built first (with the real embedding model; set HF_HUB_OFFLINE=1 offline).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "哈焊所各支部一共申报了多少个争创“党员创新示范岗”小组？"
MARKER = re.compile(r"\[(\d{1,3})\]")
# What `ask --stream` prints after the streamed reply (see assistant/app/cli.py).
AFTER_STREAM = re.compile(r"\n\n（(?:已核对引用|以下句子未找到资料支持)")


def env_for(index_dir: Path, base_url: str | None, model: str | None, timeout: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_LLM_")}
    env.update(ASSISTANT_INDEX_DIR=str(index_dir), PYTHONUNBUFFERED="1")
    if base_url:
        env.update(ASSISTANT_LLM_BASE_URL=base_url, ASSISTANT_LLM_MODEL=model, ASSISTANT_LLM_TIMEOUT=timeout)
    return env


def timed_run(args: list[str], env: dict) -> tuple[float | None, float, str, str]:
    """(seconds to the first byte on stdout, seconds to exit, stdout, stderr) of one CLI process."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, "-m", "assistant", *args], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL)
        first, out = None, bytearray()
        while piece := os.read(proc.stdout.fileno(), 4096):
            if first is None:
                first = time.perf_counter() - t0
            out += piece
        proc.wait()
        total = time.perf_counter() - t0
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    if proc.returncode != 0:
        sys.exit(f"error: `assistant {' '.join(args[:2])} …` exited with {proc.returncode}: {stderr.strip()[-500:]}")
    return first, total, out.decode("utf-8", "replace"), stderr


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base-url", default=os.environ.get("ASSISTANT_LLM_BASE_URL") or "http://127.0.0.1:8081/v1")
    ap.add_argument("--model", default=os.environ.get("ASSISTANT_LLM_MODEL") or "qwen2.5-coder-0.5b")
    ap.add_argument("--timeout", default=os.environ.get("ASSISTANT_LLM_TIMEOUT") or "300",
                    help="ASSISTANT_LLM_TIMEOUT for the CLI (seconds, default 300)")
    ap.add_argument("--index", help="an existing index (default: a fresh one of seeds/)")
    ap.add_argument("--mode", default="qa", choices=("qa", "points", "precedents"))
    ap.add_argument("--question", default=QUESTION)
    ap.add_argument("--page", action="store_true",
                    help="also time the web page: `assistant serve` on a fresh index, the question asked through "
                         "the page's own queue protocol (first streamed piece, full verified answer)")
    a = ap.parse_args()

    try:
        with urllib.request.urlopen(a.base_url.rstrip("/") + "/models", timeout=10) as resp:
            served = [m["id"] for m in json.load(resp)["data"]]
    except OSError as exc:
        sys.exit(f"error: no OpenAI-compatible server at {a.base_url} ({exc}); start one with `make llm`")
    print(f"server {a.base_url} serves {served}; model {a.model}; mode {a.mode}; question: {a.question}")

    if a.page:
        page_report(a)
    if a.index:
        return report(a, Path(a.index))
    with tempfile.TemporaryDirectory(prefix="llm-timing-index-") as tmp:
        t0 = time.perf_counter()
        timed_run(["ingest", str(ROOT / "seeds")], env_for(Path(tmp), None, None, a.timeout))
        print(f"built a fresh index of seeds/ in {time.perf_counter() - t0:.1f} s")
        return report(a, Path(tmp))


def report(a, index_dir: Path) -> int:
    """Run the three CLI processes against ``index_dir`` and print the table."""

    ask = ["ask", "--mode", a.mode, a.question]
    _, t_extractive, extractive_out, _ = timed_run(ask, env_for(index_dir, None, None, a.timeout))
    llm_env = env_for(index_dir, a.base_url, a.model, a.timeout)
    t_first, t_full, streamed, err = timed_run([*ask, "--stream"], llm_env)
    if "notice:" in err:
        print("the LLM failed; the extractive answer was given instead:", err.strip().splitlines()[-1])
    # What the model streamed: before the verified answer's trailer, or, when its reply did not verify,
    # before the extractive answer printed after it (the same text as the run without the LLM).
    cut = AFTER_STREAM.search(streamed)
    raw = streamed[: cut.start()] if cut else streamed.removesuffix(extractive_out)
    _, t_json, out, _ = timed_run([*ask, "--json"], llm_env)
    data = json.loads(out)

    checks = data.get("checks") or {"sentences": 0, "unsupported": 0, "markers": 0, "markers_kept": 0}
    # the pipeline's own counts of the reply it verified (absent when the model was not asked)
    n_sent, n_unsup = checks["sentences"], checks["unsupported"]
    raw_marks, kept_marks = checks["markers"], checks["markers_kept"]
    verified = n_sent - n_unsup
    if data["generator"] == "extractive":
        same = "n/a (the extractive answer was given)"
    else:
        squash = lambda t: "".join(MARKER.sub("", t).split())  # noqa: E731
        same = "yes" if squash(raw) == squash(data["answer"]) else "no (the figures mix two replies)"

    rows = [
        ("CLI ask, no LLM (extractive): whole run", f"{t_extractive:.1f} s"),
        ("CLI ask --stream: first byte of the answer", f"{t_first:.1f} s" if t_first is not None else "—"),
        ("CLI ask --stream: full verified answer (exit)", f"{t_full:.1f} s"),
        ("  of which the LLM after its first token", f"{t_full - (t_first or 0):.1f} s"),
        ("streamed reply", f"{len(raw)} characters"),
        ("CLI ask --json (same prompt again): whole run", f"{t_json:.1f} s"),
        ("generator", data["generator"] + (f" ({data['notice']})" if data.get("notice") else "")),
        ("generated sentences that verify", f"{verified}/{n_sent}" + (f" = {verified / n_sent:.0%}" if n_sent else "")),
        ("citation markers removed by verification",
         f"{raw_marks - kept_marks}/{raw_marks}" + (f" = {(raw_marks - kept_marks) / raw_marks:.0%}" if raw_marks else "")),
        ("citations listed (verbatim quotes)", str(len(data["citations"]))),
        ("--json reply is the streamed one", same),
    ]
    width = max(len(r[0]) for r in rows)
    print()
    print(f"| {'what'.ljust(width)} | value |")
    print(f"|{'-' * (width + 2)}|-------|")
    for k, v in rows:
        print(f"| {k.ljust(width)} | {v} |")
    print("\nwhat the model streamed:\n" + raw.strip())
    print("\nthe answer given (" + data["generator"] + "):\n" + data["answer"])
    for s in data["unsupported"]:
        print(f"  ⚠ 未核实：{s}")
    return 0


def page_report(a) -> None:
    """The same question on the web page: `assistant serve` with the LLM configured, asked through the
    page's queue (as a browser tab does); the first streamed piece of the model's reply, and the
    final message (the verified answer with its sources)."""
    sys.path.insert(0, str(ROOT))
    from bench.load_test import MODES, Page, Server, Tab, free_port

    with tempfile.TemporaryDirectory(prefix="llm-timing-page-") as tmp:
        server = Server(Path(tmp) / "index", free_port(), Path(tmp) / "server.log")
        server.env.update(ASSISTANT_LLM_BASE_URL=a.base_url, ASSISTANT_LLM_MODEL=a.model,
                          ASSISTANT_LLM_TIMEOUT=a.timeout)
        server.start()
        try:
            page = Page(server.url)
            tab = Tab(page, timeout=float(a.timeout) + 60)
            tab.open()
            fn_index, trigger = page.ask
            t0 = time.perf_counter()
            first = None
            r = tab.http.post(f"{page.prefix}/queue/join",
                              json={"data": [a.question, MODES[a.mode], [], "", "", "", None], "event_data": None,
                                    "fn_index": fn_index, "trigger_id": trigger, "session_hash": tab.session})
            r.raise_for_status()
            final = ""
            with tab.http.stream("GET", f"{page.prefix}/queue/data", params={"session_hash": tab.session}) as st:
                for line in st.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    msg = json.loads(line[5:])
                    text = json.dumps(msg.get("output", {}), ensure_ascii=False)
                    # The first update that shows the model's words: a streaming message past 「正在检索…」.
                    if first is None and msg.get("msg") == "process_generating" and "answer streaming" in text \
                            and "正在检索" not in text:
                        first = time.perf_counter() - t0
                    if msg.get("msg") == "process_completed":
                        final = text
                        break
            full = time.perf_counter() - t0
        finally:
            server.stop()
    verified = "src-1" in final or "sources" in final
    print(f"page (server ready in {server.ready_s:.1f} s): first streamed piece "
          f"{first:.1f} s" if first is not None else "page: no streamed piece seen", end="")
    print(f"; full answer {full:.1f} s; sources shown: {'yes' if verified else 'no'}; "
          f"LLM notice: {'yes' if '大模型' in final else 'no'}")


if __name__ == "__main__":
    sys.exit(main())
