"""Routing accuracy: the labelled examples (assistant/data/routing_examples.txt) leave-one-out, and
a held-out file of requests written by someone who never saw the examples, by the patterns alone and
as routed (routing.route: the patterns, then the nearest examples). Prints aggregates only (never a request), and
the accuracy at each margin for the leave-one-out runs (how ROUTE_MARGIN was chosen).

    .venv/bin/python bench/eval_routing.py [--heldout FILE.jsonl]   # lines {"request": …, "job": …}
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.answer import routing  # noqa: E402
from assistant.core.settings import Settings  # noqa: E402
from assistant.storage.embedding import load_embedder  # noqa: E402

JOBS = tuple(routing.REGISTRY)


def figures(pairs: list[tuple[str, str]]) -> dict:
    """{accuracy, per job: {got: count}} of (expected, got) pairs."""
    conf = Counter(pairs)
    ok = sum(v for (a, b), v in conf.items() if a == b)
    return {"accuracy": round(ok / max(1, len(pairs)), 3), "n": len(pairs),
            "by_job": {job: {g: conf[(job, g)] for g in JOBS} for job in JOBS}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--heldout", help="JSON lines with request and job")
    args = ap.parse_args()
    embedder = load_embedder(Settings().model)
    labelled = routing.examples()
    out: dict = {"examples": len(labelled), "route_margin": routing.ROUTE_MARGIN}
    # Leave one out: each example routed by a router built from all the others.
    loo = []
    for i, (job, request) in enumerate(labelled):
        router = routing.Router(embedder, labelled[:i] + labelled[i + 1 :])
        loo.append((job, *router.nearest(request), routing.route_by_patterns(request)))
    out["leave_one_out_patterns"] = figures([(job, pat) for job, _, _, pat in loo])
    out["leave_one_out_by_margin"] = {
        m: figures([(job, pat if pat != "qa" else got if margin >= m else "qa") for job, got, margin, pat in loo])["accuracy"]
        for m in (0.0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.08, 1.0)}
    if args.heldout:
        rows = [json.loads(line) for line in Path(args.heldout).read_text(encoding="utf-8").splitlines() if line.strip()]
        out["heldout_patterns"] = figures([(r["job"], routing.route_by_patterns(r["request"])) for r in rows])
        out["heldout_routed"] = figures([(r["job"], routing.route(r["request"], "qa", embedder))
                                                        for r in rows])
    print(json.dumps(out, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
