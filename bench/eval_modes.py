"""Issue-3 bars through the real CLI on a QA set: the share of gold documents cited by the talking
points (`--mode points`, talking_points items) and the share of gold documents that appear as
precedent rows (`--mode precedents`, precedent items), plus whether every quote is verbatim.

    .venv/bin/python bench/eval_modes.py [--dev ../shared/eval/qa_dev.jsonl] [--index DIR]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.answer.evaluation import load_items  # noqa: E402
from assistant.storage.store import DocStore  # noqa: E402
from bench.cli_run import CLI, parser  # noqa: E402


def main() -> int:
    args = parser(__doc__).parse_args()
    items = load_items(Path(args.dev))
    cli = CLI(args.index)
    store = DocStore(cli.index_dir / "store.sqlite3")
    summary = {}
    for mode, kind, key in (("points", "talking_points", "points"), ("precedents", "precedent", "rows")):
        subset = [i for i in items if i["kind"] == kind]
        rows = cli.ask_all(subset, "--mode", mode)
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
