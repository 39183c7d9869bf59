"""`assistant serve` in a child process on a free loopback port, for tests that need the real server."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import ROOT, SEEDS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """`assistant serve` in a child process; ``url`` once it says it is ready. ``env_extra`` adds
    ASSISTANT_* settings (the caller's own are dropped); ``cwd`` is where the server runs."""

    def __init__(self, index_dir: Path, env_extra: dict, log: Path, seeds: Path = SEEDS, cwd: Path = ROOT):
        self.port = free_port()
        self.index_dir = index_dir
        env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
        env.update(ASSISTANT_INDEX_DIR=str(index_dir), PYTHONUNBUFFERED="1", **env_extra)
        self.log = log
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "assistant", "serve", "--port", str(self.port), "--seeds", str(seeds)],
            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=open(log, "w"), text=True)
        self.url = ""
        self.ready_seconds = 0.0
        deadline = time.time() + 600
        for line in self.proc.stdout:
            m = re.search(r"ready at (http://\S+/)", line)
            if m:
                self.url = m.group(1)
                self.ready_seconds = time.perf_counter() - self.t0
                break
            if time.time() > deadline:
                break
        if not self.url:
            self.stop()
            pytest.fail(f"assistant serve did not start:\n{log.read_text()}")
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def kill(self) -> None:
        """kill -9: no clean-up of any kind runs."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=20)
