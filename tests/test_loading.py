import codecs
import json
import random

import pytest
from conftest import ROOT, SEEDS

from assistant.core.chinese import language_share
from assistant.core.errors import AssistantError, Unreadable
from assistant.ingest.cleaning import clean
from assistant.ingest.loading import LANGUAGE_SHARE_MIN, decode, read_file


def _seed_text(prefix):
    return next(SEEDS.glob(f"{prefix}_*.txt")).read_text(encoding="utf-8")


def test_gbk_copy_of_a_seed_ingests_to_the_same_text(tmp_path):
    text = _seed_text("002")
    ref = clean(text, "002.txt")
    gbk = tmp_path / "002.txt"
    gbk.write_bytes(text.replace("\xa0", " ").encode("gbk"))
    raw = read_file(gbk, 10**7)
    assert raw.encoding == "gb18030"
    assert clean(raw.text, "002.txt").text == ref.text


def test_gb18030_with_nbsp_and_bom_variants(tmp_path):
    text = _seed_text("000")
    ref = clean(text, "000.txt").text
    for name, data in [
        ("gb18030.txt", text.encode("gb18030")),
        ("bom.txt", codecs.BOM_UTF8 + text.encode("utf-8")),
    ]:
        p = tmp_path / name
        p.write_bytes(data)
        assert clean(read_file(p, 10**7).text, "000.txt").text == ref


def test_big5_traditional_seed(tmp_path):
    text = clean(_seed_text("003"), "003.txt").text
    big5_safe = "".join(ch for ch in text if ch.isascii() or ch.encode("big5", errors="ignore"))
    p = tmp_path / "003.txt"
    p.write_bytes(big5_safe.encode("big5"))
    raw = read_file(p, 10**7)
    assert raw.encoding == "big5"
    assert raw.text == big5_safe
    assert "同謀劃、同部署、同檢查、同考核" in raw.text


def test_bad_files_are_refused_with_a_reason(tmp_path):
    cases = {
        "empty.txt": b"",
        "blank.txt": b"   \n\n ",
        "binary.txt": b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR" * 10,
        "image.png": b"\x89PNG",
    }
    for name, data in cases.items():
        p = tmp_path / name
        p.write_bytes(data)
        with pytest.raises(AssistantError):
            read_file(p, 10**7)
    with pytest.raises(AssistantError, match="NUL"):
        decode(b"abc\x00def")


def test_real_reports_read_as_language():
    """The language check passes every real report with a wide margin (LANGUAGE_SHARE_MIN is 0.6):
    the seeds (traditional and pinyin artefacts included) and the 87 official reports."""
    texts = {p.name: p.read_text(encoding="utf-8") for p in SEEDS.glob("*.txt")}
    corpus = ROOT.parent / "shared" / "corpora" / "govreports.jsonl"
    if corpus.exists():
        for line in corpus.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            texts[row["id"]] = row["text"]
    scores = {name: language_share(text)[0] for name, text in texts.items()}
    assert len(scores) >= 5
    assert min(scores.values()) > LANGUAGE_SHARE_MIN + 0.25, sorted(scores.items(), key=lambda x: x[1])[:3]


def test_random_characters_are_not_language(tmp_path):
    rnd = random.Random(5)
    noise = "".join(chr(rnd.randint(0x3400, 0x9FFF)) for _ in range(400))
    assert language_share(noise)[0] < LANGUAGE_SHARE_MIN
    assert language_share("This is an English report about branch work.")[0] == 1.0
    p = tmp_path / "噪声.md"
    p.write_text(noise, encoding="utf-8")
    with pytest.raises(Unreadable, match="random characters") as caught:
        read_file(p, 10**6)
    assert caught.value.kind == "garbled"
    short = tmp_path / "短.txt"  # too short to judge: kept
    short.write_text("龘靐齉", encoding="utf-8")
    assert read_file(short, 10**6).text == "龘靐齉"
