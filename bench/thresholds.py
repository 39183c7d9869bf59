"""What each named threshold does: every question of the dev, near-miss, own and holdout sets asked in
one process with the threshold as it is, then again with it set lower and higher, one threshold at a
time. Printed per setting: how many of the answers change (answer text, refusal or any citation), and
the refusals that go right or wrong (unanswerable refused, answerable answered).

    .venv/bin/python bench/thresholds.py [--index DIR] [--only NAME …] [--try module.NAME=v1,v2 … [--job JOB]]

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
# (module, name, the values tried besides its own: below and above it, job asked). A threshold used by a job
# only (talking points, precedents) is tried with that job's questions.
_A, _S = "assistant.answer.answering", "assistant.answer.support"
_R, _N, _Q = "assistant.answer.answerability", "assistant.answer.needs", "assistant.answer.retrieval"
DEFAULT = [
    (_A, "SUPPORT_THRESHOLD", (0.15, 0.25), "qa"),
    (_A, "GOOD_SHARE", (0.6, 0.8), "qa"),
    (_A, "QUOTE_SHARE", (0.75, 0.95), "qa"),
    (_A, "SPREAD_QUOTE_SHARE", (0.5, 0.7), "qa"),
    (_S, "BONUS_AMONG", (0.4, 0.6), "qa"),
    (_S, "BYLINE_BONUS", (0.2, 0.4), "qa"),
    (_S, "TYPE_BONUS", (0.1, 0.2), "qa"),
    (_A, "QUANTITY_BONUS", (0.1, 0.2), "qa"),
    (_A, "ANSWERING_FLOOR", (0.4, 0.6), "qa"),
    (_A, "PARAGRAPH_BEFORE", (80, 160), "qa"),
    (_S, "NEIGHBOUR_CREDIT", (0.5, 0.7), "qa"),
    (_S, "CONTEXT_CREDIT", (0.5, 0.7), "qa"),
    (_S, "DOC_CREDIT", (0.2, 0.4), "qa"),
    (_S, "SYNONYM_CREDIT", (0.7, 0.9), "qa"),
    (_S, "BIGRAM_CREDIT", (0.6, 0.8), "qa"),
    (_A, "LOOK_FURTHER", (1, 3), "qa"),
    (_A, "ITEM_CHUNKS", (2, 4), "qa"),
    (_N, "LOCATIVE_REACH", (4, 8), "qa"),
    (_R, "COUNTED_REACH", (8, 16), "qa"),
    (_R, "APPOINTED_REACH", (6, 10), "qa"),
    (_R, "ROLE_AFTER_WINDOW", (4, 8), "qa"),
    (_R, "ROLE_BEFORE_WINDOW", (3, 7), "qa"),
    (_R, "NAME_RIGHT_BEFORE", (3, 5), "qa"),
    (_R, "DETERMINER_REACH", (2, 4), "qa"),
    (_N, "ASKED_PHRASE_MAX", (3, 5), "qa"),
    (_R, "ORG_NAME_MIN", (2, 4), "qa"),
    ("assistant.answer.reader", "NAME_AFTER_ROLE", (4, 8), "qa"),
    ("assistant.answer.reader", "NAME_BEFORE_ROLE", (2, 6), "qa"),
    ("assistant.answer.reader", "VENUE_MIN_CHARS", (2, 4), "qa"),
    (_Q, "POOL_PER_K", (2, 4), "qa"),
    (_Q, "QUOTED_AT_MOST", (0.4, 0.6), "qa"),
    (_Q, "SINGLES_OUT_SHARE", (0.05, 0.2), "qa"),
    (_Q, "EXHAUSTIVE_FLOOR", (0.4, 0.6), "precedents"),
    ("assistant.answer.drafting", "POINT_SHARE", (0.35, 0.55), "points"),
    ("assistant.answer.drafting", "SIMILAR_SHARE", (0.4, 0.6), "points"),
    ("assistant.answer.drafting", "MIN_POINT_CHARS", (6, 10), "points"),
    ("assistant.answer.drafting", "BARE_LABEL_MAX", (12, 20), "points"),
    ("assistant.answer.drafting", "NEAR_CHARS", (40, 80), "points"),
    ("assistant.answer.precedents", "CUT", (0.4, 0.6), "precedents"),
    ("assistant.answer.precedents", "PER_ORG", (1, 3), "precedents"),
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


def parse_try(spec: str, job: str) -> tuple[str, str, tuple, str]:
    target, _, values = spec.partition("=")
    module, _, name = target.rpartition(".")
    return module, name, tuple(json.loads(v) for v in values.split(",")), job


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", type=Path, help="an index of seeds/ (default: built fresh)")
    ap.add_argument("--job", default="qa", choices=("qa", "points", "precedents"), help="the job of --try")
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
    tries = [parse_try(t, args.job) for t in args.tries] or [t for t in DEFAULT if not args.only or t[1] in args.only]

    bases: dict[str, tuple[dict, dict]] = {}
    rows = []
    for module_name, name, values, job in tries:
        if job not in bases:
            t0 = time.perf_counter()
            base = run(index, items, job)
            bases[job] = base, tally(base, base)
            first = bases[job][1]
            print(f"{len(items)} questions, job {job}, {time.perf_counter() - t0:.0f} s a pass; as it is: unanswerable "
                  f"refused {first['unanswerable_refused']}/{first['unanswerable']}, answerable answered "
                  f"{first['answerable_answered']}/{first['answerable']}", flush=True)
        base, first = bases[job]
        module = importlib.import_module(module_name)
        own = getattr(module, name)
        for value in values:
            setattr(module, name, value)
            try:
                t = tally(run(index, items, job), base)
            finally:
                setattr(module, name, own)
            rows.append({"name": f"{module_name.rsplit('.', 1)[1]}.{name}", "job": job, "own": own, "tried": value, **t})
            print(f"{rows[-1]['name']:34} {own!s:>6} → {value!s:<6} changed {t['changed']:3}/{len(items)}  "
                  f"unanswerable refused {t['unanswerable_refused']}/{t['unanswerable']} "
                  f"({t['unanswerable_refused'] - first['unanswerable_refused']:+d}), answerable answered "
                  f"{t['answerable_answered']}/{t['answerable']} ({t['answerable_answered'] - first['answerable_answered']:+d})",
                  flush=True)
    if args.json:
        args.json.write_text(json.dumps({"base": {j: b[1] for j, b in bases.items()}, "rows": rows}, ensure_ascii=False,
                                        indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
