"""Quality of the product on a QA set, measured through the real CLI.

Builds a fresh index from seeds/ (unless --index names an existing one), runs
`assistant ask --questions FILE --json` once for all questions, and prints doc recall@5,
evidence hit@5 (and its strict form), evidence coverage@5, refusals, and whether every citation
quote equals cleaned_text[start:end].

    .venv/bin/python bench/eval_quality.py [--dev ../shared/eval/qa_dev.jsonl] [--index DIR]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.answer.evaluation import Scores, load_items  # noqa: E402
from assistant.storage.store import DocStore  # noqa: E402
from bench.cli_run import CLI, parser  # noqa: E402


def main() -> int:
    ap = parser(__doc__)
    ap.add_argument("--verbose", action="store_true", help="print each item")
    args = ap.parse_args()
    items = load_items(Path(args.dev))
    cli = CLI(args.index)
    rows = cli.ask_all(items, "--k", "5")
    store = DocStore(cli.index_dir / "store.sqlite3")
    scores = Scores()
    for it, row in zip(items, rows):
        top = row["retrieved"][:5]  # byline chunks added for questions about a report come after rank 5
        scores.add_retrieval(it, [r["doc_id"] for r in top], [r["text"] for r in top])
        scores.add_answer(it, row["refused"])
        for c in row["citations"]:
            scores.citations += 1
            scores.citations_verbatim += store.text(c["doc_id"])[c["start"] : c["end"]] == c["quote"]
        if args.verbose:
            print(it["id"], it["kind"], "REFUSED" if row["refused"] else "", row["answer"].replace("\n", " | ")[:160])
    summary = scores.summary()
    summary["dense"] = all(r["dense"] for r in rows)
    summary["questions"] = len(rows)
    summary["misses"] = scores.misses
    print(json.dumps(summary, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
