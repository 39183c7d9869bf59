"""OCR figures: character accuracy, speed and memory, and the dev questions asked of scanned seeds.

    .venv/bin/python bench/ocr.py accuracy [--pages 2]      # 1 − CER at 150/300 dpi, clean and skewed+noisy
    .venv/bin/python bench/ocr.py speed --pages 300          # an N-page scanned PDF ingested: pages/min, peak RSS
    .venv/bin/python bench/ocr.py dev                        # dev set: index of scanned seeds vs of the text seeds

Pages are set at run time from the seeds (and, for accuracy, from ../shared/corpora/govreports.jsonl) in
WenQuanYi on A4 (tests/scans.py). 1 − CER compares the text shown with the text read, white space
ignored and full-/half-width forms made one (the seeds write ASCII commas a Chinese page shows full-width).
`speed` runs `assistant ingest` on the scan in a child process and reads its peak RSS (ru_maxrss) and its
RSS after each OCR'd page from /proc, so memory is shown to stay flat from the first page to the last.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from scans import cer, degrade, same_form, save_pdf, set_pages  # noqa: E402

from assistant.answer.evaluation import Scores, load_items  # noqa: E402
from assistant.ingest.ocr import read_image  # noqa: E402
from bench.cli_run import CLI  # noqa: E402

SEEDS = ROOT / "seeds"
CORPUS = ROOT.parent / "shared" / "corpora" / "govreports.jsonl"
DEV = ROOT.parent / "shared" / "eval" / "qa_dev.jsonl"
FAULTS = {"clean": {}, "skewed+noisy": {"skew": 2.0, "noise": 0.01}}


def texts() -> list[tuple[str, str]]:
    out = [(p.name, p.read_text(encoding="utf-8")) for p in sorted(SEEDS.iterdir())]
    if CORPUS.exists():
        rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
        out += [(r["id"], r["text"]) for r in rows[:3]]
    return out


def accuracy(args) -> dict:
    result = {}
    for dpi in (150, 300):
        for name, faults in FAULTS.items():
            accs, secs = [], []
            for n, (doc, text) in enumerate(texts()):
                for page in set_pages(text, dpi=dpi, max_pages=args.pages):
                    t0 = time.perf_counter()
                    read = read_image(degrade(page.image, seed=n, **faults))
                    secs.append(time.perf_counter() - t0)
                    accs.append(1 - cer(page.text, read.text))
            result[f"{dpi}dpi {name}"] = {"pages": len(accs), "accuracy_mean": round(statistics.mean(accs), 4),
                                          "accuracy_min": round(min(accs), 4),
                                          "seconds_per_page": round(statistics.median(secs), 2)}
            print(f"{dpi} dpi {name:13} {len(accs)} pages: 1−CER mean {statistics.mean(accs):.4f}, min {min(accs):.4f}, "
                  f"{statistics.median(secs):.1f} s/page", flush=True)
    return result


def _rss_sampler(pid: int, samples: list[int], stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    samples.append(int(line.split()[1]) // 1024)
        except OSError:
            return
        stop.wait(0.5)


def speed(args) -> dict:
    work = Path(tempfile.mkdtemp(prefix="ocr-speed-"))
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(SEEDS.iterdir()))
    once = [degrade(p.image, seed=n, skew=1.0, noise=0.002) for n, p in enumerate(set_pages(text, dpi=args.dpi))]
    pages = [once[n % len(once)] for n in range(args.pages)]  # the same pictures again: no more memory here
    scan = save_pdf(pages, work / f"扫描件{args.pages}页.pdf", args.dpi)
    del pages, once
    env = dict(os.environ, ASSISTANT_INDEX_DIR=str(work / "index"), HF_HUB_OFFLINE="1")
    cmd = [sys.executable, "-m", "assistant", "ingest", "--progress-json", str(scan)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    samples: list[int] = []
    stop = threading.Event()
    sampler = threading.Thread(target=_rss_sampler, args=(proc.pid, samples, stop), daemon=True)
    sampler.start()
    ocr_at: dict[int, tuple[float, int]] = {}
    last = None
    for line in proc.stdout:
        msg = json.loads(line)
        if msg.get("stage") == "ocr":
            ocr_at[msg["done"]] = (time.perf_counter() - t0, samples[-1] if samples else 0)
        elif "report" in msg:
            last = msg["report"]
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak, not every child's of this process
    proc.returncode = os.waitstatus_to_exitcode(status)
    stop.set()
    peak = usage.ru_maxrss // 1024
    done = sorted(ocr_at)
    ocr_seconds = ocr_at[done[-1]][0] - ocr_at[done[0]][0] if len(done) > 1 else 0
    marks = {n: ocr_at[n][1] for n in (1, 10, len(done) // 2, len(done)) if n in ocr_at}
    result = {"pages": args.pages, "dpi": args.dpi, "ocr_pages_reported": len(done), "pdf_mb": round(scan.stat().st_size / 2**20, 1),
              "rss_mb_max_sampled": max(samples, default=0),
              "pages_per_minute": round(60 * (len(done) - 1) / ocr_seconds, 2) if ocr_seconds else None,
              "total_seconds": round(time.perf_counter() - t0, 1), "peak_rss_mb": peak,
              "rss_mb_after_page": marks, "rc": proc.returncode,
              "added": (last or {}).get("added"), "chunks": (last or {}).get("total_chunks")}
    print(json.dumps(result, ensure_ascii=False), flush=True)
    return result


def dev(args) -> dict:
    work = Path(tempfile.mkdtemp(prefix="ocr-dev-"))
    scans = work / "scans"
    scans.mkdir()
    n_pages = 0
    for n, p in enumerate(sorted(SEEDS.iterdir())):
        pages = [degrade(x.image, seed=n + i, skew=1.0 if i % 2 else 0.0, noise=0.002)
                 for i, x in enumerate(set_pages(p.read_text(encoding="utf-8"), dpi=args.dpi))]
        n_pages += len(pages)
        save_pdf(pages, scans / f"{p.stem}.pdf", args.dpi)
    items = load_items(DEV)
    out = {}
    for name, folder in (("text seeds", SEEDS), ("scanned seeds", scans)):
        index = work / name.replace(" ", "-")
        env = dict(os.environ, ASSISTANT_INDEX_DIR=str(index), HF_HUB_OFFLINE="1")
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "assistant", "ingest", str(folder)], env=env, check=True,
                       stdout=subprocess.DEVNULL, cwd=ROOT)
        seconds = time.perf_counter() - t0
        rows = CLI(index).ask_all(items, "--k", "5")
        scores, width_blind = Scores(), Scores()
        for it, row in zip(items, rows):
            top = row["retrieved"][:5]
            gold = dict(it, gold_docs=[Path(g).stem + (".pdf" if folder == scans else ".txt") for g in it["gold_docs"]])
            scores.add_retrieval(gold, [r["doc_id"] for r in top], [r["text"] for r in top])
            scores.add_answer(gold, row["refused"])
            # the same with full- and half-width forms made one: a seed's ASCII comma is a page's "，" to OCR
            width_blind.add_retrieval(dict(gold, evidence=[same_form(e) for e in gold["evidence"]]),
                                      [r["doc_id"] for r in top], [same_form(r["text"]) for r in top])
        summary = width_blind.summary()
        out[name] = {**scores.summary(), "evidence_hit@5_width_blind": summary["evidence_hit@5"],
                     "evidence_coverage@5_width_blind": summary["evidence_coverage@5"], "ingest_seconds": round(seconds, 1)}
        print(name, json.dumps(out[name], ensure_ascii=False), flush=True)
    out["scanned pages"] = n_pages
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    a = sub.add_parser("accuracy")
    a.add_argument("--pages", type=int, default=1, help="pages of each text (5 seeds, 3 government reports)")
    s = sub.add_parser("speed")
    s.add_argument("--pages", type=int, default=20)
    s.add_argument("--dpi", type=int, default=150)
    d = sub.add_parser("dev")
    d.add_argument("--dpi", type=int, default=150)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    result = {"accuracy": accuracy, "speed": speed, "dev": dev}[args.what](args)
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
