"""Build a reproducible benchmark haystack of at least N chunks, for retrieval and latency at scale.

    .venv/bin/python bench/haystack.py --out DIR --chunks 100000 [--corpus ../shared/corpora/govreports.jsonl]
                                       [--seed 0] [--workers 2] [--force]

DIR receives, in this order (which is also the order `assistant ingest DIR` reads them, by name):

1. the seed reports of seeds/, copied byte for byte (the dev questions are about them);
2. the corpus reports (87 government reports), by id, written as bench/benchmark.py's write_haystack
   does: ``gov_<id>.txt`` = title line, ``时间:<date>`` line, text;
3. recombined reports ``hay-NNNNNN.txt``: contiguous runs of paragraphs (blank-line separated blocks)
   from 2–4 different corpus reports, in shuffled order, under a header of their own::

       <title>
       发布单位：<organisation>
       发布日期：<YYYY-MM-DD>

   which assistant.ingest.cleaning.clean parses into DocMeta title/org/date (every file is checked: the
   build stops with an error if the cleaner reads anything else). Seeds are never a source, so a
   seed sentence stays in exactly one document and each dev question keeps its single gold report.

Files are added until the running chunk count reaches --chunks, counted exactly as an ingest into
a fresh index counts them: loading.decode, cleaning.clean, chunking.chunk with Settings()
chunk_tokens and overlap_sentences (ASSISTANT_* variables apply, as they do to the ingest); a file
whose cleaned text repeats an earlier one (the ingest would skip it as a duplicate) is not written.
(An index that already holds the seeds would take their copies here as duplicates: 116 chunks fewer.) Recombined report k depends only on --seed and k, so the output is
byte-identical for the same arguments and a smaller --chunks builds a prefix of a larger one
(1k ⊂ 10k ⊂ 100k). Counting runs in worker processes; results are consumed in order, so the
number of workers does not change the output. DIR/manifest.json records the arguments, each
file's chunk count, the total and a sha256 over all files (the ingest skips it: .json is not a
format it reads).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import itertools
import json
import os
import random
import re
import sys
import time
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.core.settings import Settings  # noqa: E402
from assistant.ingest.chunking import chunk  # noqa: E402
from assistant.ingest.cleaning import clean  # noqa: E402
from assistant.ingest.loading import decode  # noqa: E402
from assistant.ingest.steps import text_hash  # noqa: E402

SEEDS = ROOT / "seeds"
CORPUS = ROOT.parent / "shared" / "corpora" / "govreports.jsonl"
N_ORGS = 500
RUN_BLOCKS = (5, 40)  # paragraphs per run taken from one source report
FIRST_DAY, LAST_DAY = dt.date(2015, 1, 1).toordinal(), dt.date(2025, 12, 31).toordinal()

_PROVINCES = ("北京市 天津市 上海市 重庆市 河北省 山西省 辽宁省 吉林省 黑龙江省 江苏省 浙江省 安徽省 福建省 江西省 山东省 "
              "河南省 湖北省 湖南省 广东省 海南省 四川省 贵州省 云南省 陕西省 甘肃省 青海省 内蒙古自治区 "
              "广西壮族自治区 西藏自治区 宁夏回族自治区 新疆维吾尔自治区").split()
_CITIES = ("石家庄市 太原市 沈阳市 大连市 长春市 哈尔滨市 南京市 苏州市 无锡市 杭州市 宁波市 温州市 合肥市 福州市 厦门市 "
           "南昌市 济南市 青岛市 郑州市 洛阳市 武汉市 长沙市 广州市 深圳市 珠海市 南宁市 海口市 成都市 绵阳市 贵阳市 "
           "昆明市 西安市 兰州市 西宁市 银川市 呼和浩特市 乌鲁木齐市 拉萨市 唐山市 徐州市").split()
# "{}" becomes 厅 for a province, 局 for a city (a municipality's departments are 局 as well).
_DEPTS = ("发展和改革委员会 教育{} 科学技术{} 工业和信息化{} 民政{} 司法{} 财政{} 人力资源和社会保障{} 自然资源{} "
          "生态环境{} 住房和城乡建设{} 交通运输{} 水利{} 农业农村{} 商务{} 文化和旅游{} 卫生健康委员会 审计{} "
          "应急管理{} 统计局 市场监督管理局 机关事务管理局").split()
_GROUPS = ("中国电子科技集团公司", "中国航天科工集团", "中国船舶集团", "中国兵器工业集团", "中国航空工业集团")
_TOPICS = ("推动高质量发展", "深化改革开放", "优化营商环境", "科技创新", "乡村振兴", "生态环境保护", "民生保障",
           "基层党组织建设", "安全生产", "数字化转型", "人才队伍建设", "依法行政", "财政预算执行", "重大项目建设",
           "对口支援", "作风建设", "区域协调发展", "公共服务均等化", "防范化解重大风险", "创新驱动发展")
_TITLES = ("{org}关于{year}年{topic}工作情况的报告", "{org}{year}年{topic}工作总结", "{org}{year}年度工作报告（{topic}）",
           "关于{topic}有关情况的汇报——{org}", "{org}{year}年{topic}专题报告")


def cn_number(n: int) -> str:
    """1–99 in Chinese numerals: 7 → 七, 14 → 十四, 40 → 四十."""
    d = "零一二三四五六七八九"
    tens, ones = divmod(n, 10)
    return d[n] if n < 10 else (d[tens] if tens > 1 else "") + "十" + (d[ones] if ones else "")


def unit_names(seed: int) -> list[str]:
    """N_ORGS distinct organisations: province/city departments and numbered research institutes."""
    pool = [p + dep.format("局" if p.endswith("市") else "厅") for p in _PROVINCES for dep in _DEPTS]
    pool += [c + dep.format("局") for c in _CITIES for dep in _DEPTS]
    pool += [f"{g}第{cn_number(n)}研究所" for g in _GROUPS for n in range(1, 61)]
    return random.Random(f"{seed}-orgs").sample(pool, N_ORGS)


def paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


def load_reports(corpus_bytes: bytes) -> list[dict]:
    """The corpus reports in file name (id) order: the order the ingest reads them."""
    reports = [json.loads(ln) for ln in corpus_bytes.decode("utf-8").splitlines() if ln.strip()]
    return sorted(reports, key=lambda d: d["id"])


def sources(reports: list[dict]) -> list[list[str]]:
    """The paragraphs of each report: what recombined reports are made of."""
    return [b for b in (paragraphs(d["text"]) for d in reports) if b]


def recombined(k: int, seed: int, srcs: list[list[str]], orgs: list[str]):
    """Report k: (signature, intended (title, org, date), text). Depends only on seed and k."""
    rng = random.Random(f"{seed}-{k}")
    runs = []
    for src in rng.sample(range(len(srcs)), rng.randint(2, 4)):
        blocks = srcs[src]
        n = min(len(blocks), rng.randint(*RUN_BLOCKS))
        start = rng.randrange(len(blocks) - n + 1)
        runs.append((src, start, n))
    rng.shuffle(runs)
    org = rng.choice(orgs)
    date = dt.date.fromordinal(rng.randint(FIRST_DAY, LAST_DAY)).isoformat()
    title = rng.choice(_TITLES).format(org=org, year=date[:4], topic=rng.choice(_TOPICS))
    body = "\n\n".join(p for src, start, n in runs for p in srcs[src][start:start + n])
    return tuple(runs), (title, org, date), f"{title}\n发布单位：{org}\n发布日期：{date}\n\n{body}\n"


def candidates(reports: list[dict], seed: int):
    """Every file the haystack may hold, in order: (name, bytes, intended meta or None)."""
    for p in sorted(SEEDS.glob("*.txt")):
        yield p.name, p.read_bytes(), None
    for d in reports:  # as bench/benchmark.py's write_haystack (a missing date is left empty, not "None")
        yield f"gov_{d['id']}.txt", f"{d['title']}\n时间:{d.get('date') or ''}\n{d['text']}".encode(), None
    srcs, orgs, seen = sources(reports), unit_names(seed), set()
    for k in itertools.count():
        sig, meta, text = recombined(k, seed, srcs, orgs)
        if sig not in seen:
            seen.add(sig)
            yield f"hay-{k:06d}.txt", text.encode(), meta


def count(name: str, data: bytes, budget: int, overlap: int):
    """What the ingest makes of the file: (chunks, text hash, (title, org, date))."""
    text, _ = decode(data)
    doc = clean(text, name)
    return len(chunk(doc, budget, overlap)), text_hash(doc.text), (doc.meta.title, doc.meta.org, doc.meta.date)


def ordered_map(items, budget: int, overlap: int, workers: int):
    """Yield (item, count(item)) in input order; at most a few items per worker in flight."""
    if workers <= 1:
        for item in items:
            yield item, count(item[0], item[1], budget, overlap)
        return
    ex = ProcessPoolExecutor(workers)
    try:
        pending = deque()
        for item in items:
            pending.append((item, ex.submit(count, item[0], item[1], budget, overlap)))
            if len(pending) >= 4 * workers:
                item, fut = pending.popleft()
                yield item, fut.result()
        while pending:
            item, fut = pending.popleft()
            yield item, fut.result()
    finally:
        ex.shutdown(cancel_futures=True)


def build(out: Path, target: int, corpus: Path = CORPUS, seed: int = 0, workers: int = 1) -> dict:
    """Write the haystack into ``out`` (which must exist) and return the manifest."""
    settings = Settings()
    budget, overlap = settings.chunk_tokens, settings.overlap_sentences
    corpus_bytes = corpus.read_bytes()
    reports = load_reports(corpus_bytes)
    total, files, hashes, digest = 0, [], set(), hashlib.sha256()
    for (name, data, meta), (n, th, got) in ordered_map(candidates(reports, seed), budget, overlap, workers):
        if n == 0 or th in hashes:
            continue  # the ingest would skip it (no text, or a duplicate of an earlier file)
        if meta is not None and got != meta:
            raise SystemExit(f"haystack: the cleaner reads {got} from {name}, not {meta}; fix the header format")
        hashes.add(th)
        (out / name).write_bytes(data)
        digest.update(f"{name}\0{len(data)}\0".encode() + data)
        files.append({"name": name, "chunks": n})
        total += n
        if total >= target:
            break
    manifest = {
        "arguments": {"chunks": target, "seed": seed, "corpus": corpus.name,
                      "corpus_sha256": hashlib.sha256(corpus_bytes).hexdigest(),
                      "chunk_tokens": budget, "overlap_sentences": overlap},
        "files": files,
        "total_files": len(files),
        "total_chunks": total,
        "sha256": digest.hexdigest(),  # over name, length and bytes of each file, in file order
    }
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, type=Path, help="directory to write (created; must be empty)")
    ap.add_argument("--chunks", required=True, type=int, help="stop once the ingest would make this many chunks")
    ap.add_argument("--corpus", type=Path, default=CORPUS, help="JSON lines: id, title, date, source, text")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="counting processes (output unchanged)")
    ap.add_argument("--force", action="store_true", help="use a non-empty DIR, deleting its *.txt and manifest.json")
    args = ap.parse_args(argv)
    if args.chunks < 1:
        ap.error("--chunks must be at least 1")
    if args.out.exists() and not args.out.is_dir():
        print(f"haystack: {args.out} is not a directory", file=sys.stderr)
        return 2
    if args.out.exists() and any(args.out.iterdir()):
        if not args.force:
            print(f"haystack: {args.out} is not empty; pass --force to replace its .txt files", file=sys.stderr)
            return 2
        for p in [*args.out.glob("*.txt"), args.out / "manifest.json"]:
            p.unlink(missing_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    m = build(args.out, args.chunks, args.corpus, args.seed, args.workers)
    print(f"haystack: {m['total_files']} files, {m['total_chunks']} chunks (target {args.chunks}) in {args.out}, "
          f"{time.perf_counter() - t0:.1f}s, sha256 {m['sha256'][:12]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
