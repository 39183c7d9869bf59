"""bench/haystack.py: the benchmark haystack is reproducible, nested, counted as the ingest counts,
keeps the seeds unique and gives every recombined report the metadata its header states."""

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.core.chinese import sentence_spans  # noqa: E402
from assistant.ingest.cleaning import clean  # noqa: E402
from assistant.ingest.loading import decode  # noqa: E402
from assistant.ingest.steps import text_hash  # noqa: E402
from bench import haystack  # noqa: E402

pytestmark = pytest.mark.skipif(not haystack.CORPUS.exists(), reason=f"corpus not found at {haystack.CORPUS}")
TARGET = 9000  # the seeds and the 87 reports make about 8,100 chunks: this adds some recombined reports


def files(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("hay")
    return out, haystack.build(out, TARGET)


def test_reaches_the_target_and_stops_there(built):
    out, m = built
    counts = [f["chunks"] for f in m["files"]]
    assert m["total_chunks"] == sum(counts) >= TARGET > sum(counts[:-1])
    assert [f["name"] for f in m["files"]] == sorted(p.name for p in out.glob("*.txt"))  # the ingest's order
    assert sum(f["name"].startswith("hay-") for f in m["files"]) >= 5


def test_same_arguments_same_bytes_whatever_the_workers(built, tmp_path):
    out, m = built
    again = haystack.build(tmp_path, TARGET, workers=2)
    assert again["sha256"] == m["sha256"]
    assert files(tmp_path) == files(out)  # manifest.json included


def test_a_smaller_haystack_is_a_prefix(built, tmp_path):
    out, m = built
    small = haystack.build(tmp_path, 1500)
    n = small["total_files"]
    assert small["files"] == m["files"][:n] and small["total_chunks"] >= 1500
    big = files(out)
    assert all(big[name] == data for name, data in files(tmp_path).items() if name != "manifest.json")


def test_seeds_are_copied_byte_for_byte_first(built):
    out, m = built
    seeds = sorted(haystack.SEEDS.glob("*.txt"))
    assert [f["name"] for f in m["files"][: len(seeds)]] == [p.name for p in seeds]
    assert all((out / p.name).read_bytes() == p.read_bytes() for p in seeds)


def test_no_seed_sentence_in_a_recombined_report(built):
    out, _ = built
    seed_sentences = set()
    for p in haystack.SEEDS.glob("*.txt"):
        text = clean(decode(p.read_bytes())[0], p.name).text
        seed_sentences |= {s.text.strip() for s in sentence_spans(text) if len(s.text.strip()) >= 12}
    assert len(seed_sentences) > 100
    for p in out.glob("hay-*.txt"):
        text = p.read_text(encoding="utf-8")
        assert not [s for s in seed_sentences if s in text], p.name


def test_recombined_metadata_is_what_the_cleaner_reads(built):
    out, m = built
    orgs = set(haystack.unit_names(0))
    for p in out.glob("hay-*.txt"):
        head = p.read_text(encoding="utf-8").split("\n")[:3]
        assert head[1].startswith("发布单位：") and head[2].startswith("发布日期：")
        meta = clean(p.read_text(encoding="utf-8"), p.name).meta
        assert (meta.title, meta.org, meta.date) == (head[0], head[1][5:], head[2][5:])
        assert meta.org in orgs and "2015-01-01" <= meta.date <= "2025-12-31" and not meta.date_inferred


def test_recombined_reports_mix_2_to_4_reports_and_all_texts_differ(built):
    out, _ = built
    srcs = haystack.sources(haystack.load_reports(haystack.CORPUS.read_bytes()))
    orgs = haystack.unit_names(0)
    for p in out.glob("hay-*.txt"):
        runs, _, text = haystack.recombined(int(p.stem[4:]), 0, srcs, orgs)
        assert text.encode() == p.read_bytes()
        assert 2 <= len({src for src, _, _ in runs}) == len(runs) <= 4
    hashes = [text_hash(clean(decode(p.read_bytes())[0], p.name).text) for p in out.glob("*.txt")]
    assert len(set(hashes)) == len(hashes)  # the ingest would skip a repeat


def test_unit_names_are_distinct_and_seeded():
    names = haystack.unit_names(0)
    assert len(set(names)) == len(names) == haystack.N_ORGS
    assert names == haystack.unit_names(0) != haystack.unit_names(1)


def test_cli_refuses_a_non_empty_dir_unless_forced(tmp_path, capsys):
    (tmp_path / "old.txt").write_text("旧文件", encoding="utf-8")
    assert haystack.main(["--out", str(tmp_path), "--chunks", "20", "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert "not empty" in err and err.count("\n") == 1
    assert haystack.main(["--out", str(tmp_path), "--chunks", "20", "--workers", "1", "--force"]) == 0
    assert "chunks" in capsys.readouterr().out
    assert not (tmp_path / "old.txt").exists()
    m = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert m["total_chunks"] >= 20 and m["arguments"]["seed"] == 0
