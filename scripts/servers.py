#!/usr/bin/env python3
"""The library on real servers, on this machine (stdlib only): a PostgreSQL cluster made with Debian's
initdb and pg_ctl, a Chroma server (`chroma run`), and page servers (`assistant serve`) sharing them.

    .venv/bin/python scripts/servers.py up [--dir servers] [--pages 2] [--port 7860]

`up` keeps the cluster and the vectors under --dir (made on first use), starts --pages page servers on
consecutive ports, each with a directory of its own, and stops everything on Ctrl+C. The tests use
the same classes for throwaway servers on free loopback ports. As root, the cluster runs as the
`postgres` user that Debian's package creates: PostgreSQL refuses to run as root."""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

CHROMA = Path(sys.executable).parent / "chroma"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_bin(name: str) -> str | None:
    """A PostgreSQL server program (Debian keeps them out of PATH, under /usr/lib/postgresql/N/bin)."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def _as_server_user(argv: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


class Postgres:
    """A PostgreSQL cluster in ``root`` (a new temporary directory when None; made there on first use):
    ``url`` to connect; ``stop``/``start`` to take it away and back."""

    def __init__(self, root: Path | None = None, port: int | None = None) -> None:
        initdb, self.pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
        if not initdb or not self.pg_ctl:
            raise RuntimeError("PostgreSQL's initdb/pg_ctl not found: `make postgres` (apt-get install postgresql)")
        self.root = Path(root).resolve() if root else Path(tempfile.mkdtemp(prefix="assistant-pg-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self.data = self.root / "data"
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self.port = port or free_port()
        if not (self.data / "PG_VERSION").exists():
            subprocess.run(_as_server_user([initdb, "-D", str(self.data), "-A", "trust", "-U", "assistant", "-E",
                                            "UTF8", "--no-locale"]), check=True, capture_output=True)
        self.url = f"postgresql://assistant@127.0.0.1:{self.port}/postgres"
        self.start()

    def start(self, durable: bool = False) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=200"
        options += "" if durable else " -c fsync=off"  # throwaway test clusters need not survive a power cut
        subprocess.run(_as_server_user([self.pg_ctl, "-D", str(self.data), "-o", options, "-l",
                                        str(self.root / "log"), "-w", "-t", "60", "start"]),
                       check=True, capture_output=True)

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(_as_server_user([self.pg_ctl, "-D", str(self.data), "-m", mode, "-w", "stop"]),
                       capture_output=True)

    def close(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def postgres():
    server = Postgres()
    try:
        yield server
    finally:
        server.close()


class Chroma:
    """A Chroma server (`chroma run`) keeping its data in ``path`` (a new temporary directory when None)."""

    def __init__(self, path: Path | None = None, port: int | None = None) -> None:
        self.port = port or free_port()
        self.path = Path(path) if path else Path(tempfile.mkdtemp(prefix="assistant-chroma-"))
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen([str(CHROMA), "run", "--path", str(self.path), "--host", "127.0.0.1", "--port",
                                      str(self.port)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/api/v2/heartbeat", timeout=2):
                    return
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    self.proc.kill()
                    raise RuntimeError(f"chroma run did not start on {self.url}")
                time.sleep(0.3)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
            self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.path, ignore_errors=True)


@contextmanager
def chroma():
    server = Chroma()
    try:
        yield server
    finally:
        server.close()


def up(args) -> int:
    base = Path(args.dir).resolve()
    pg = Postgres(base / "postgres", port=args.pg_port)
    pg.stop()
    pg.start(durable=True)
    ch = Chroma(base / "chroma", port=args.chroma_port)
    env = dict(os.environ, ASSISTANT_DATABASE_URL=pg.url, ASSISTANT_CHROMA_URL=ch.url)
    pages = []
    try:
        for i in range(args.pages):
            port = args.port + i
            pages.append(subprocess.Popen([sys.executable, "-m", "assistant", "--index", str(base / f"page-{i + 1}"),
                                           "serve", "--port", str(port)], env=env))
            print(f"page server {i + 1}: http://127.0.0.1:{port}/", flush=True)
        print(f"PostgreSQL: {pg.url} (data in {pg.data}); Chroma: {ch.url} (data in {ch.path}); Ctrl+C stops all",
              flush=True)
        while all(p.poll() is None for p in pages):
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        for p in pages:
            p.terminate()
        for p in pages:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        ch.stop()
        pg.stop()
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    u = sub.add_parser("up", help="start PostgreSQL, Chroma and the page servers; Ctrl+C stops them")
    u.add_argument("--dir", default="servers", help="where the cluster, the vectors and the pages' files live")
    u.add_argument("--pages", type=int, default=2, help="page servers to start")
    u.add_argument("--port", type=int, default=7860, help="the first page server's port (the others follow)")
    u.add_argument("--pg-port", type=int, default=55432)
    u.add_argument("--chroma-port", type=int, default=58000)
    args = ap.parse_args()
    return up(args)


if __name__ == "__main__":
    sys.exit(main())
