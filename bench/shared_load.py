"""Two page servers sharing one library (store on PostgreSQL, vectors on a Chroma server), under load,
with an upload on one of them.

Starts a throwaway PostgreSQL cluster and a Chroma server (scripts/servers.py), then two real
`assistant serve` processes with directories of their own (the seeds ingested by the first). --users
users per server ask the dev questions in a loop for --seconds (through the page's queue protocol, as
bench/load_test.py drives it). After --upload-after seconds a new report is uploaded through server
A's page; a watcher tab on server B asks about it every 0.2 s. Printed: requests, errors and p50/p95
per server; when A's background ingest finished (its row in the shared ingest_jobs table); and how
long after that, and after the report's commit (its row's ingested_at), B first answered from it. A benchmark: it prints figures and asserts
nothing.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/shared_load.py [--users 10] [--seconds 60] [--upload-after 15]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from servers import Chroma, Postgres, free_port  # noqa: E402

from assistant.storage.pg_store import PgStore  # noqa: E402
from bench.load_test import Page, Server, Tab, Tally, questions  # noqa: E402

NEW_DOC = ("深海所第一党支部工作简报\n来源：深海所第一党支部\n发布时间：2024-03-05\n\n"
           "支部组织党员开展万米深潜器耐压壳体焊接攻关，十二名党员组成突击队连续奋战四十天。\n")
NEW_QUESTION = "深海所第一党支部组织多少名党员组成突击队？"
CLEAR_EVERY = 5  # questions a user asks before pressing 清空对话


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=10, help="users per server")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--upload-after", type=float, default=15)
    ap.add_argument("--json")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="shared-load-"))
    pg, ch = Postgres(), Chroma()
    env = {"ASSISTANT_DATABASE_URL": pg.url, "ASSISTANT_CHROMA_URL": ch.url}
    servers = []
    try:
        for name in ("a", "b"):  # one after the other: the first ingests the seeds into the empty library
            s = Server(work / name, free_port(), work / f"{name}.log", extra_env=env)
            s.start()
            servers.append(s)
        pages = [Page(s.url) for s in servers]
        qs = questions()
        tallies = [Tally(), Tally()]
        t_end = time.monotonic() + args.seconds

        def user(k: int, side: int) -> None:
            tab = Tab(pages[side])
            i = k
            while time.monotonic() < t_end:
                q = qs[i % len(qs)]
                i += 1
                tallies[side].add(tab.ask(q["q"], q["mode"]), q["mode"])
                if i % CLEAR_EVERY == 0:
                    tab.clear()  # not timed: keeps the chat the page sends back about the same size
            tab.close()

        seen = {}

        def uploader() -> None:
            time.sleep(args.upload_after)
            doc = work / "深海所简报.txt"
            doc.write_text(NEW_DOC, encoding="utf-8")
            seen["clicked"] = time.time()
            res, _ = Tab(pages[0]).upload(doc)
            seen["upload_ok"] = res.ok

        def watcher() -> None:
            tab = Tab(pages[1])
            while time.monotonic() < t_end + 120 and "answered" not in seen:
                if "clicked" in seen:
                    res = tab.ask(NEW_QUESTION)
                    if res.ok and "十二名" in res.html:
                        seen["answered"] = time.time()
                        break
                time.sleep(0.2)

        threads = [threading.Thread(target=user, args=(k, side)) for side in (0, 1) for k in range(args.users)]
        threads += [threading.Thread(target=uploader), threading.Thread(target=watcher)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        store = PgStore(pg.url)
        jobs = store.jobs()
        committed = store._one("SELECT extract(epoch FROM ingested_at::timestamptz) FROM docs WHERE doc_id = ?",
                               ("深海所简报.txt",))
        store.close()
    finally:
        for s in servers:
            s.stop()
        ch.close()
        pg.close()
    out = {"users_per_server": args.users, "seconds": args.seconds,
           "servers": {name: tallies[side].summary() for side, name in enumerate(("a", "b"))}}
    finished = [j for j in jobs if j["finished"]]
    out["ingest_job"] = finished[-1] if finished else (jobs[-1] if jobs else None)
    if finished and "answered" in seen:
        out["visible_after_job_finished_s"] = round(seen["answered"] - finished[-1]["finished_at"], 2)
    if "answered" in seen:
        out["visible_after_upload_click_s"] = round(seen["answered"] - seen["clicked"], 2)
    if "answered" in seen and committed:  # the document's row was written in the commit (the server's clock)
        out["visible_after_commit_s"] = round(seen["answered"] - float(committed[0]), 2)
    print(json.dumps(out, ensure_ascii=False, indent=1, default=str))
    if args.json:
        Path(args.json).write_text(json.dumps(out, ensure_ascii=False, indent=1, default=str) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
