"""What each named threshold does: every question of the dev, near-miss, own and holdout sets asked in
one process with the threshold as it is, then again with it set lower and higher, one threshold at a
time. Printed per setting: how many of the answers change (answer text, refusal or any citation), and
the refusals that go right or wrong (unanswerable refused, answerable answered).

    .venv/bin/python bench/thresholds.py [--index DIR] [--job qa] [--only NAME …] [--try module.NAME=v1,v2 …]

Without --index a fresh index is built from seeds/. This is the measurement behind the thresholds'
comments: a threshold whose change moves nothing on these sets is marked so, not claimed as tuned.
The sets have been looked at while tuning (they are dev sets): a change that looks better here is a
hypothesis for a blind set, not a result.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.answer.evaluation import load_items  # noqa: E402
from assistant.answer.pipeline import Request, ask  # noqa: E402
from assistant.core.settings import Settings  # noqa: E402
from assistant.storage.library import Index  # noqa: E402

SETS = {
    "dev": ROOT.parent / "shared" / "eval" / "qa_dev.jsonl",
    "near_miss": ROOT / "tests" / "data" / "near_miss.jsonl",
    "own_twins": ROOT / "tests" / "data" / "own_twins.jsonl",
    "holdout": ROOT / "tests" / "data" / "holdout.jsonl",
}
# (module, name, the values tried besides its own): below and above it.
DEFAULT = [
    ("assistant.answer.answering", "SUPPORT_THRESHOLD", (0.15, 0.25)),
    ("assistant.answer.answering", "GOOD_SHARE", (0.6, 0.8)),
    ("assistant.answer.answering", "QUOTE_SHARE", (0.75, 0.95)),
    ("assistant.answer.answering", "SPREAD_QUOTE_SHARE", (0.5, 0.7)),
    ("assistant.answer.answering", "BONUS_AMONG", (0.4, 0.6)),
    ("assistant.answer.answering", "BYLINE_BONUS", (0.2, 0.4)),
    ("assistant.answer.answering", "TYPE_BONUS", (0.1, 0.2)),
    ("assistant.answer.answering", "QUANTITY_BONUS", (0.1, 0.2)),
    ("assistant.answer.answering", "ANSWERING_FLOOR", (0.4, 0.6)),
    ("assistant.answer.answering", "PARAGRAPH_BEFORE", (80, 160)),
    ("assistant.answer.answering", "NEIGHBOUR_CREDIT", (0.5, 0.7)),
    ("assistant.answer.answering", "CONTEXT_CREDIT", (0.5, 0.7)),
    ("assistant.answer.answering", "DOC_CREDIT", (0.2, 0.4)),
    ("assistant.answer.answering", "SYNONYM_CREDIT", (0.7, 0.9)),
    ("assistant.answer.answering", "LOOK_FURTHER", (1, 3)),
]


def kept(ans) -> dict:
    return {"refused": ans.refused, "answer": ans.answer,
            "citations": [(c.doc_id, c.start, c.end) for c in ans.citations]}


def answerable(item: dict) -> bool:
    if "answerable" in item:
        return bool(item["answerable"])
    return item.get("kind") != "unanswerable" and bool(item.get("gold_docs"))


def run(index, items: list[tuple[str, dict]], job: str) -> dict[str, dict]:
    out = {}
    for key, item in items:
        reply = ask(index, Request(question=item["question"], mode=job), log=False)
        out[key] = {**kept(reply.answer()), "answerable": answerable(item)}
    return out


def tally(now: dict, base: dict) -> dict:
    changed = [k for k in base if {x: now[k][x] for x in ("refused", "answer", "citations")}
               != {x: base[k][x] for x in ("refused", "answer", "citations")}]
    return {
        "changed": len(changed),
        "unanswerable_refused": sum(r["refused"] for r in now.values() if not r["answerable"]),
        "unanswerable": sum(not r["answerable"] for r in now.values()),
        "answerable_answered": sum(not r["refused"] for r in now.values() if r["answerable"]),
        "answerable": sum(r["answerable"] for r in now.values()),
    }


def parse_try(spec: str) -> tuple[str, str, tuple]:
    target, _, values = spec.partition("=")
    module, _, name = target.rpartition(".")
    return module, name, tuple(json.loads(v) for v in values.split(","))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", type=Path, help="an index of seeds/ (default: built fresh)")
    ap.add_argument("--job", default="qa", choices=("qa", "points", "precedents"))
    ap.add_argument("--only", nargs="*", default=[], help="names of the default list to try")
    ap.add_argument("--try", dest="tries", nargs="*", default=[], help="module.NAME=v1,v2 (JSON values)")
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    args = ap.parse_args()

    settings = Settings.from_env()
    if args.index is None:
        settings = settings.with_(index_dir=Path(tempfile.mkdtemp(prefix="thresholds-")))
        index = Index.open(settings, create=True)
        index.ingest([ROOT / "seeds"])
    else:
        index = Index.open(settings.with_(index_dir=args.index))
    index.refresh()
    items = [(f"{name}/{item.get('id', n)}", item) for name, path in SETS.items() if path.exists()
             for n, item in enumerate(load_items(path))]
    tries = [parse_try(t) for t in args.tries] or [t for t in DEFAULT if not args.only or t[1] in args.only]

    t0 = time.perf_counter()
    base = run(index, items, args.job)
    first = tally(base, base)
    print(f"{len(items)} questions, job {args.job}, {time.perf_counter() - t0:.0f} s a pass")
    print(f"as it is: unanswerable refused {first['unanswerable_refused']}/{first['unanswerable']}, "
          f"answerable answered {first['answerable_answered']}/{first['answerable']}")
    rows = []
    for module_name, name, values in tries:
        module = importlib.import_module(module_name)
        own = getattr(module, name)
        for value in values:
            setattr(module, name, value)
            try:
                t = tally(run(index, items, args.job), base)
            finally:
                setattr(module, name, own)
            rows.append({"name": f"{module_name.rsplit('.', 1)[1]}.{name}", "own": own, "tried": value, **t})
            print(f"{rows[-1]['name']:34} {own!s:>6} → {value!s:<6} changed {t['changed']:3}/{len(items)}  "
                  f"unanswerable refused {t['unanswerable_refused']}/{t['unanswerable']} "
                  f"({t['unanswerable_refused'] - first['unanswerable_refused']:+d}), answerable answered "
                  f"{t['answerable_answered']}/{t['answerable']} ({t['answerable_answered'] - first['answerable_answered']:+d})",
                  flush=True)
    if args.json:
        args.json.write_text(json.dumps({"base": first, "rows": rows}, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
