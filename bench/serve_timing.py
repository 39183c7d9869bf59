"""Time from `assistant serve` to a page that answers, with an empty index (seeds ingested first) and
with an existing one, against the command line doing the same work in the same run.

For each case: start `assistant serve` on a free loopback port; "ready" is when it prints its URL;
"answering" is when Debian's Chromium has opened the page, asked a seed question and shown the
answer with its sources. The baselines are cold CLI processes: `assistant ingest seeds/` followed
by `assistant ask` (empty index), and `assistant ask` alone (existing index).

    .venv/bin/python bench/serve_timing.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
Q = "哈焊所各支部一共申报了多少个争创“党员创新示范岗”小组？"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def env_for(index_dir: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    return dict(env, ASSISTANT_INDEX_DIR=str(index_dir), PYTHONUNBUFFERED="1")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_until_answered(index_dir: Path, browser) -> tuple[float, float]:
    """(seconds to the ready line, seconds to an answer shown in the browser), from process start."""
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "assistant", "serve", "--port", str(port), "--seeds", str(SEEDS)],
                            cwd=ROOT, env=env_for(index_dir), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    try:
        url = ""
        for line in proc.stdout:
            m = re.search(r"ready at (http://\S+/)", line)
            if m:
                url = m.group(1)
                break
        if not url:
            raise SystemExit("assistant serve did not start")
        ready = time.perf_counter() - t0
        page = browser.new_page()
        page.goto(url)
        page.fill("#question textarea", Q)
        page.click("#send")
        page.wait_for_selector("#chatbot .sources", timeout=120_000)
        answered = time.perf_counter() - t0
        page.close()
        return ready, answered
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def cli(index_dir: Path, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "assistant", *args], cwd=ROOT, env=env_for(index_dir), check=True,
                   capture_output=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    rows: dict[str, list[float]] = {k: [] for k in ("empty_ready", "empty_answered", "cli_ingest_ask",
                                                     "existing_ready", "existing_answered", "cli_ask")}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        for run in range(args.runs):
            with tempfile.TemporaryDirectory() as tmp:
                index_dir = Path(tmp) / "index"
                ready, answered = serve_until_answered(index_dir, browser)
                rows["empty_ready"].append(ready)
                rows["empty_answered"].append(answered)
                ready, answered = serve_until_answered(index_dir, browser)
                rows["existing_ready"].append(ready)
                rows["existing_answered"].append(answered)
                t = time.perf_counter()
                cli(index_dir, "ask", Q)
                rows["cli_ask"].append(time.perf_counter() - t)
            with tempfile.TemporaryDirectory() as tmp:
                index_dir = Path(tmp) / "index"
                t = time.perf_counter()
                cli(index_dir, "ingest", str(SEEDS))
                cli(index_dir, "ask", Q)
                rows["cli_ingest_ask"].append(time.perf_counter() - t)
            print(f"run {run + 1}: " + ", ".join(f"{k} {v[-1]:.1f}s" for k, v in rows.items()), flush=True)
        browser.close()
    med = {k: statistics.median(v) for k, v in rows.items()}
    print(f"\nmedian of {args.runs} runs (seconds from process start)")
    print("| case | serve: ready | serve: answered in browser | CLI baseline | ratio answered/CLI |")
    print("|---|---|---|---|---|")
    print(f"| empty index (seeds ingested first) | {med['empty_ready']:.1f} | {med['empty_answered']:.1f} | "
          f"{med['cli_ingest_ask']:.1f} (ingest + ask) | {med['empty_answered'] / med['cli_ingest_ask']:.2f} |")
    print(f"| existing index | {med['existing_ready']:.1f} | {med['existing_answered']:.1f} | "
          f"{med['cli_ask']:.1f} (ask) | {med['existing_answered'] / med['cli_ask']:.2f} |")


if __name__ == "__main__":
    main()
