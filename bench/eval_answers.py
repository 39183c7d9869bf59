"""Answer quality through the real CLI on QA sets, extractive and — when an LLM is configured —
LLM side by side in one run: refusal accuracy (unanswerable refused, answerable answered), key-fact
coverage of the answers, citations verbatim (quote == cleaned_text[start:end]) and verified, the
job that answered (when the set says which one it expects), and per kind.

Sets: the dev set (unanswerable = kind "unanswerable") and tests/data/near_miss.jsonl (near-miss
twins: field "answerable"). Default-mode questions, as a user types them: drafting and precedent
requests must find their job by themselves.

    .venv/bin/python bench/eval_answers.py [--index DIR] [--llm] [--verbose]

--llm also runs every set with ASSISTANT_LLM_BASE_URL / ASSISTANT_LLM_MODEL from the environment
(--llm-every K: both runs on every K-th question, so they stay comparable).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.answer.evaluation import load_items  # noqa: E402
from assistant.core.chinese import fold, squash  # noqa: E402
from assistant.storage.store import DocStore  # noqa: E402
from bench.cli_run import CLI, ROOT, parser  # noqa: E402

NEAR_MISS = ROOT / "tests" / "data" / "near_miss.jsonl"


def answerable(item: dict) -> bool:
    return bool(item.get("answerable", item.get("kind") != "unanswerable" and item.get("gold_docs")))


def score(items: list[dict], rows: list[dict], store: DocStore, verbose: bool) -> dict:
    s = defaultdict(int)
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    gold: dict[str, list[float]] = defaultdict(list)
    wrong = []
    for it, row in zip(items, rows):
        ok_ans = answerable(it)
        refused = row.get("refused", True)
        right = refused != ok_ans
        if ok_ans:
            s["answerable"] += 1
            s["answered"] += not refused
            facts = it.get("key_facts") or []
            text = squash(fold(row.get("answer", "") + "".join(c["quote"] for c in row.get("citations", []))))
            s["facts"] += len(facts)
            s["facts_found"] += sum(squash(fold(f)) in text for f in facts) if not refused else 0
        else:
            s["unanswerable"] += 1
            s["refused"] += refused
        kind = it.get("kind", "")
        if ok_ans and it.get("gold_docs"):
            cited = {c["doc_id"] for c in row.get("citations", [])}
            gold[kind].append(len(cited & set(it["gold_docs"])) / len(it["gold_docs"]))
        by_kind[kind][0] += right
        by_kind[kind][1] += 1
        if it.get("expect_mode"):
            s["routed_total"] += 1
            s["routed_ok"] += row.get("mode") == it["expect_mode"]
        for c in row.get("citations", []):
            s["citations"] += 1
            s["verbatim"] += store.text(c["doc_id"])[c["start"] : c["end"]] == c["quote"]
            s["verified"] += bool(c.get("verified"))
        for key in ("sentences", "unsupported", "markers", "markers_kept"):
            s["llm_" + key] += row.get("checks", {}).get(key, 0)
        s["llm_answers"] += row.get("generator", "").startswith("llm:")
        s["llm_replies"] += bool(row.get("checks"))
        if not right:
            wrong.append(f"{it['id']} {'answerable' if ok_ans else 'unanswerable'} {kind}: {it['question']} → "
                         f"{'REFUSED ' + row.get('reason', '') if refused else row.get('answer', '')[:70]!r}")
        if verbose:
            print(it["id"], "ok " if right else "BAD", row.get("mode"), it["question"][:40], "→",
                  "REFUSED" if refused else row.get("answer", "").replace("\n", " | ")[:100])
    out = {
        "unanswerable_refused": f"{s['refused']}/{s['unanswerable']}",
        "answerable_answered": f"{s['answered']}/{s['answerable']}",
        "refusal_accuracy": round((s["refused"] + s["answered"]) / max(1, s["unanswerable"] + s["answerable"]), 3),
        "key_facts_found": f"{s['facts_found']}/{s['facts']}",
        "citations_verbatim": f"{s['verbatim']}/{s['citations']}",
        "citations_verified": f"{s['verified']}/{s['citations']}",
        "by_kind": {k: f"{v[0]}/{v[1]}" for k, v in sorted(by_kind.items())},
        "gold_reports_cited_by_kind": {k: round(sum(v) / len(v), 3) for k, v in sorted(gold.items())},
        "wrong": wrong,
    }
    if s["routed_total"]:
        out["job_routed"] = f"{s['routed_ok']}/{s['routed_total']}"
    if s["llm_replies"]:
        out["llm"] = {"replies": s["llm_replies"], "answers_from_llm": s["llm_answers"],
                      "generated_sentences_verified": f"{s['llm_sentences'] - s['llm_unsupported']}/{s['llm_sentences']}",
                      "citation_markers_removed": f"{s['llm_markers'] - s['llm_markers_kept']}/{s['llm_markers']}"}
    return out


def main() -> int:
    ap = parser(__doc__)
    ap.add_argument("--near-miss", default=str(NEAR_MISS))
    ap.add_argument("--llm", action="store_true", help="also answer with the configured LLM")
    ap.add_argument("--llm-every", type=int, default=1, metavar="K",
                    help="the LLM run answers every K-th question of each set (a small CPU model takes ~30 s a "
                         "question); the extractive run answers the same sample beside it")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    sets = {"dev": load_items(Path(args.dev)), "near_miss": load_items(Path(args.near_miss))}
    cli = CLI(args.index)
    store = DocStore(cli.index_dir / "store.sqlite3")
    runs = {"extractive": {k: v for k, v in cli.env.items() if not k.startswith("ASSISTANT_LLM_")}}
    if args.llm:
        if not (os.environ.get("ASSISTANT_LLM_BASE_URL") and os.environ.get("ASSISTANT_LLM_MODEL")):
            print("--llm needs ASSISTANT_LLM_BASE_URL and ASSISTANT_LLM_MODEL (make llm prints them)", file=sys.stderr)
            return 2
        runs["llm"] = dict(cli.env)
    if args.llm and args.llm_every > 1:
        sets = {name: items[:: args.llm_every] for name, items in sets.items()}
    report = {}
    for run, env in runs.items():
        cli.env = env
        for name, items in sets.items():
            t = time.perf_counter()
            rows = cli.ask_all(items)
            result = score(items, rows, store, args.verbose)
            result["seconds"] = round(time.perf_counter() - t, 1)
            report[f"{run}/{name}"] = result
    print(json.dumps(report, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
