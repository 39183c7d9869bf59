"""What the CLI-level evaluations share: a dev-set argument parser, an index (fresh from seeds/ or
an existing one) and one `assistant ask --questions … --json` process for a list of items."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT.parent / "shared" / "eval" / "qa_dev.jsonl"


def parser(doc: str) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dev", default=str(DEV))
    ap.add_argument("--index", help="use this existing index instead of building a fresh one")
    return ap


class CLI:
    """The real command line against one index directory."""

    def __init__(self, index: str | None):
        self.index_dir = Path(index) if index else Path(tempfile.mkdtemp(prefix="eval-index-"))
        self.env = dict(os.environ, ASSISTANT_INDEX_DIR=str(self.index_dir))
        if not index:
            self.run("ingest", str(ROOT / "seeds"))

    def run(self, *args: str) -> str:
        out = subprocess.run([sys.executable, "-m", "assistant", *args], env=self.env, cwd=ROOT,
                             capture_output=True, text=True, check=True)
        return out.stdout

    def ask_all(self, items: list[dict], *flags: str) -> list[dict]:
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as f:
            for it in items:
                f.write(json.dumps({"question": it["question"]}, ensure_ascii=False) + "\n")
        return [json.loads(line) for line in self.run("ask", "--questions", f.name, "--json", *flags).splitlines()]
