"""Issue-3 bars through the real CLI on a QA set: the share of gold documents cited by the talking
points (`--mode points`, talking_points items) and the share of gold documents that appear as
precedent rows (`--mode precedents`, precedent items), plus whether every quote is verbatim.

    .venv/bin/python bench/eval_modes.py [--dev ../shared/eval/qa_dev.jsonl] [--index DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.evaluation import load_items  # noqa: E402
from assistant.store import DocStore  # noqa: E402


def run_mode(exe, env, mode, items):
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as f:
        for it in items:
            f.write(json.dumps({"question": it["question"]}, ensure_ascii=False) + "\n")
    out = subprocess.run([*exe, "ask", "--questions", f.name, "--json", "--mode", mode], env=env, cwd=ROOT,
                         capture_output=True, text=True, check=True)
    return [json.loads(line) for line in out.stdout.splitlines()]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dev", default=str(ROOT.parent / "shared" / "eval" / "qa_dev.jsonl"))
    ap.add_argument("--index", help="use this existing index instead of building a fresh one")
    args = ap.parse_args()
    items = load_items(Path(args.dev))
    index_dir = Path(args.index) if args.index else Path(tempfile.mkdtemp(prefix="eval-modes-"))
    env = dict(os.environ, ASSISTANT_INDEX_DIR=str(index_dir))
    exe = [sys.executable, "-m", "assistant"]
    if not args.index:
        subprocess.run([*exe, "ingest", str(ROOT / "seeds")], env=env, check=True, cwd=ROOT, capture_output=True)
    store = DocStore(index_dir / "store.sqlite3")
    summary = {}
    for mode, kind, key in (("points", "talking_points", "points"), ("precedents", "precedent", "rows")):
        subset = [i for i in items if i["kind"] == kind]
        rows = run_mode(exe, env, mode, subset)
        shares, verbatim, total, sizes = [], 0, 0, []
        for it, row in zip(subset, rows):
            cited = {c["doc_id"] for c in row["citations"]}
            shares.append(len(cited & set(it["gold_docs"])) / len(it["gold_docs"]))
            sizes.append(len(row.get(key, [])))
            for c in row["citations"]:
                total += 1
                verbatim += store.text(c["doc_id"])[c["start"] : c["end"]] == c["quote"]
        summary[mode] = {"items": len(subset), "gold_doc_share": round(sum(shares) / len(shares), 4),
                         "per_item": [round(x, 2) for x in shares], f"{key}_per_item": sizes,
                         "citations_verbatim": f"{verbatim}/{total}", "generator": rows[0]["generator"]}
    print(json.dumps(summary, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
