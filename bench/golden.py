"""Every answer to the dev, near-miss and own question sets in all three jobs, written to a JSON file
or compared with one: the check that a restructure changed no behaviour.

For each set and each job (问答 qa, 发言要点 points, 先例检索 precedents) the questions go through one
real `assistant ask --questions … --json --mode JOB` process. What is kept of an answer: the job that
answered, refused, the answer text, the short answer, what is missing, and every citation's document,
offsets, quote and role.

    .venv/bin/python bench/golden.py [--index DIR] --out golden.json
    .venv/bin/python bench/golden.py [--index DIR] --compare golden.json [--set NAME=FILE …]

Without --index a fresh index is built from seeds/ (answers depend on the index: compare against
the same one the golden file was recorded from). bench/golden/answers.json is the record of an index
of seeds/ with the default model: made before the package was split into rooms (commit f7339a1), and
recorded again when the int8 model came to quantise each token on its own (commit 6f8f825: 61 of 372
answers cite other supporting sentences; no answer was refused or answered that was not before):

    .venv/bin/python bench/golden.py --compare bench/golden/answers.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.answer.evaluation import load_items  # noqa: E402
from bench.cli_run import CLI, DEV, ROOT, parser  # noqa: E402

SETS = {
    "dev": DEV,
    "near_miss": ROOT / "tests" / "data" / "near_miss.jsonl",
    "own_twins": ROOT / "tests" / "data" / "own_twins.jsonl",
    "holdout": ROOT / "tests" / "data" / "holdout.jsonl",
}
JOBS = ("qa", "points", "precedents")


def kept(row: dict) -> dict:
    """What of one `--json` answer must not change."""
    return {
        "job": row.get("mode"),
        "refused": row.get("refused"),
        "answer": row.get("answer"),
        "short_answer": row.get("short_answer"),
        "missing": row.get("missing"),
        "citations": [[c["doc_id"], c["start"], c["end"], c["quote"], bool(c.get("related")), c.get("page"), c.get("heading")]
                      for c in row.get("citations", [])],
        "error": row.get("error"),
    }


def record(cli: CLI, sets: dict[str, Path]) -> dict:
    out: dict[str, dict] = {}
    for name, path in sets.items():
        items = load_items(path)
        for job in JOBS:
            rows = cli.ask_all(items, "--mode", job)
            for n, (item, row) in enumerate(zip(items, rows)):
                out[f"{name}/{item.get('id', n)}/{job}"] = {"question": item["question"], **kept(row)}
            print(f"{name} {job}: {len(rows)} answers", file=sys.stderr)
    return out


def compare(golden: dict, now: dict) -> int:
    same = [k for k in golden if now.get(k) == golden[k]]
    changed = [k for k in golden if k in now and now[k] != golden[k]]
    missing = [k for k in golden if k not in now]
    print(f"identical {len(same)}/{len(golden)}; changed {len(changed)}; not answered now {len(missing)}")
    for key in changed:
        fields = [f for f in golden[key] if golden[key][f] != now[key].get(f)]
        print(f"  changed {key}: {', '.join(fields)}  {golden[key]['question']}")
    for key in missing:
        print(f"  not answered now: {key}")
    return 0 if not changed and not missing else 1


def main() -> int:
    ap = parser(__doc__)
    ap.add_argument("--out", help="write the answers to this JSON file")
    ap.add_argument("--compare", help="compare the answers with this JSON file")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=FILE",
                    help="a further question set (JSON lines with a question field)")
    args = ap.parse_args()
    if not args.out and not args.compare:
        ap.error("give --out FILE or --compare FILE")
    sets = dict(SETS, dev=Path(args.dev))
    for spec in args.set:
        name, _, file = spec.partition("=")
        sets[name] = Path(file)
    now = record(CLI(args.index), sets)
    if args.out:
        Path(args.out).write_text(json.dumps(now, ensure_ascii=False, indent=0, sort_keys=True) + "\n",
                                  encoding="utf-8")
        print(f"wrote {len(now)} answers to {args.out}", file=sys.stderr)
    return compare(json.loads(Path(args.compare).read_text(encoding="utf-8")), now) if args.compare else 0


if __name__ == "__main__":
    sys.exit(main())
