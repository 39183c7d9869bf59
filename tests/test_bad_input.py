"""Bad input, table-driven: every file or question below gets a clear one-line message (English on
the command line, Chinese on the page), never a traceback, and leaves the index — documents, chunk
ids in the store, Chroma and BM25 — and the answers to three seed questions exactly as they were."""

from __future__ import annotations

import os
import random
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
from conftest import SEED_IDS, SEEDS
from formats import can_make_pdf, make_encrypted_pdf, make_pdf, make_scanned_pdf

from assistant.answer.answering import answer
from assistant.app import cli
from assistant.app.web import WebApp
from assistant.core.settings import Settings, model_spec
from assistant.storage.keyword import KeywordIndex
from assistant.storage.library import Index

SEED_QUESTIONS = [
    "哈焊所各支部一共申报了多少个争创“党员创新示范岗”小组？",
    "光栅室党支部创先争优活动领导小组的组长是谁？",
    "兰州化物所的党建和业务工作“四同”是哪四个？",
]


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    """The seeds indexed once (hash embedder, real Chroma); every case must leave it as it is."""
    root = tmp_path_factory.mktemp("bad-input")
    settings = Settings(index_dir=root / "index", model=model_spec("hash"))
    index = Index.open(settings, create=True)
    index.ingest([SEEDS])
    yield index
    index.close()


def snapshot(index: Index) -> dict:
    index.refresh()
    saved = KeywordIndex(index.keyword.dir)
    saved.load()
    return {
        "docs": {r.doc_id: (r.raw_hash, r.path, r.dense) for r in index.store.records().values()},
        "store": sorted(index.store.chunk_ids()),
        "chroma": sorted(index.chroma_ids()),
        "bm25": sorted(saved.ids),
        "answers": [(a.answer, [(c.doc_id, c.start, c.end) for c in a.citations])
                    for a in (answer(index, q) for q in SEED_QUESTIONS)],
    }


@pytest.fixture(scope="module")
def baseline(lib):
    return snapshot(lib)


# --------------------------------------------------------------------------- the command line

@dataclass
class Case:
    name: str
    make: Callable[[Path], list[str]]  # builds its input under a temp dir; returns the CLI arguments
    code: int  # expected exit code
    message: str  # expected in the one-line message (stderr, or stdout for answers)


def write(name: str, data: bytes | str):
    def make(tmp: Path) -> Path:
        p = tmp / name
        p.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
        return p
    return make


def ingest(make) -> Callable[[Path], list[str]]:
    return lambda tmp: ["ingest", str(make(tmp))]


def ask_with(questions_file) -> Callable[[Path], list[str]]:
    return lambda tmp: ["ask", "--questions", str(questions_file(tmp)), "--json"]


def _zip_without_document(tmp: Path) -> Path:
    p = tmp / "半个文档.docx"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
    return p


def _non_utf8_name(tmp: Path) -> Path:
    p = Path(os.fsdecode(bytes(tmp) + b"/" + "党支部通知".encode("gbk") + b".txt"))
    p.write_text("某单位党支部\n某单位党支部开展了读书活动。", encoding="utf-8")
    return p


def _folder_with(files: dict[str, bytes]):
    def make(tmp: Path) -> Path:
        d = tmp / "folder"
        d.mkdir()
        for name, data in files.items():
            (d / name).write_bytes(data)
        return d
    return make


def _link_loop(tmp: Path) -> Path:
    d = tmp / "loop"
    d.mkdir()
    (d / "self").symlink_to(d, target_is_directory=True)
    return d


def _oversize(tmp: Path) -> Path:
    p = tmp / "太大.txt"
    with open(p, "wb") as f:
        f.truncate(21 * 1024 * 1024)  # sparse: over the 20 MB limit without writing 21 MB
    return p


def _scanned(tmp: Path) -> Path:
    return make_scanned_pdf(tmp / "扫描件.pdf", pages=2)


def _blank_png(tmp: Path) -> Path:
    from PIL import Image

    p = tmp / "空白页.png"
    Image.new("L", (1240, 1754), 255).save(p)  # an A4 page at 150 dpi with nothing on it
    return p


def _broken_tiff(tmp: Path) -> Path:
    from PIL import Image, ImageDraw

    pages = []
    for n in range(2):
        im = Image.new("L", (1240, 1754), 255)
        ImageDraw.Draw(im).rectangle([100, 100 + n * 50, 1100, 1600], fill=n * 40)
        pages.append(im)
    whole = tmp / "whole.tif"
    pages[0].save(whole, save_all=True, append_images=pages[1:])
    data = whole.read_bytes()
    p = tmp / "扫描件.tif"
    p.write_bytes(data[: len(data) * 2 // 3])  # the second page's strip is cut off
    whole.unlink()
    return p


def _bomb_png(tmp: Path) -> Path:
    from PIL import Image

    p = tmp / "巨图.png"
    Image.new("1", (20000, 20000), 1).save(p)  # a few hundred KB that would decode to 400 million pixels
    return p


def _encrypted(tmp: Path) -> Path:
    src = make_pdf(tmp / "原件.pdf", [["某所党委开展了保密教育。"]])
    return make_encrypted_pdf(tmp / "加密.pdf", src)


def _duplicate_seed(tmp: Path) -> Path:
    p = tmp / "另一个名字.txt"
    shutil.copyfile(SEEDS / SEED_IDS[0], p)
    return p


def _seed_in_gbk(tmp: Path) -> Path:
    p = tmp / "转码副本.txt"
    p.write_bytes((SEEDS / SEED_IDS[2]).read_text(encoding="utf-8").replace("\n", "\r\n").encode("gb18030"))
    return p


OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the header of a Word 97-2003 / WPS file


def _random_cjk(n: int) -> bytes:
    """Random CJK and Hangul characters in UTF-8, with line breaks: what a broken conversion saved as
    text looks like. It decodes, so only the language check can refuse it."""
    rnd = random.Random(7)
    chars = [chr(rnd.choice([rnd.randint(0x3400, 0x9FFF), rnd.randint(0xAC00, 0xD7A3)])) for _ in range(n)]
    return "\n".join("".join(chars[i:i + 40]) for i in range(0, n, 40)).encode("utf-8")


def _questions(data: bytes):
    return write("questions.jsonl", data)


def _q(text: str) -> bytes:
    return ('{"question": "%s"}\n' % text).encode("utf-8")


CLI_CASES = [
    Case("empty .txt", ingest(write("空.txt", b"")), 1, "is empty"),
    Case("blank .txt", ingest(write("空白.txt", "  \n\t\n  ")), 1, "has no text"),
    Case("NUL bytes", ingest(write("二进制.txt", b"\x00\x01\x02" * 200)), 1, "binary"),
    Case("random bytes", ingest(write("乱码.txt", bytes(range(1, 256)) * 20)), 1, "save it as UTF-8"),
    Case("only boilerplate", ingest(write("页脚.txt", "版权所有 ©2016 某研究所\n京ICP备05002857号\n地址：北京市\n")), 1,
         "no text left"),
    Case("damaged .jpg", ingest(write("照片.jpg", b"\xff\xd8\xff\xe0" * 10)), 1, "is not an image that can be read"),
    Case("image with no text", ingest(_blank_png), 1, "OCR finds no text"),
    Case("truncated multi-page .tif", ingest(_broken_tiff), 1, "damaged image"),
    Case("20,000 × 20,000 image (decompression bomb)", ingest(_bomb_png), 1, "million pixels"),
    Case(".mp3", ingest(write("讲话.mp3", b"ID3\x03")), 1, "unsupported file type .mp3"),
    Case("no suffix", ingest(write("README", "text")), 1, "unsupported file type (none)"),
    Case(".exe", ingest(write("setup.exe", b"MZ\x90\x00")), 1, "unsupported file type .exe"),
    Case(".zip", ingest(write("材料.zip", b"PK\x03\x04")), 1, "unsupported file type .zip"),
    Case(".xlsx", ingest(write("名单.xlsx", b"PK\x03\x04")), 1, "unsupported file type .xlsx"),
    Case("random .docx", ingest(write("坏.docx", os.urandom(2048))), 1, "docx"),
    Case("zip posing as .docx", ingest(_zip_without_document), 1, "docx"),
    Case("random .pdf", ingest(write("坏.pdf", b"%PDF-1.4\n" + os.urandom(1024))), 1, "pdf"),
    Case("truncated .pdf", ingest(write("截断.pdf", b"%PDF-1.7\n1 0 obj\n<<")), 1, "pdf"),
    Case("scanned .pdf with no text in its pictures", ingest(_scanned), 1, "OCR finds no text"),
    Case("encrypted .pdf", ingest(_encrypted), 1, "password"),
    Case("navigation-only .html", ingest(write("导航.html", "<html><body><nav><a href='/'>首页</a> <a href='/x'>党建工作</a>"
                                                         "</nav></body></html>")), 1, "no"),
    Case("empty .html", ingest(write("空网页.htm", "<html><head></head><body></body></html>")), 1, "no"),
    Case("random .doc", ingest(write("旧文档.doc", os.urandom(4096))), 1, "doc"),
    Case("random .wps", ingest(write("金山.wps", os.urandom(4096))), 1, "wps"),
    # A magic header and random bytes behind it (issue 19): LibreOffice "reads" such a .doc as UTF-16 text.
    Case("OLE header + random .doc", ingest(write("乱码.doc", OLE + random.Random(1).randbytes(60000))), 1,
         "random characters"),
    Case("OLE header + random .wps", ingest(write("乱码.wps", OLE + random.Random(2).randbytes(60000))), 1,
         "random characters"),
    Case("zip header + random .docx", ingest(write("乱码.docx", b"PK\x03\x04" + random.Random(3).randbytes(60000))), 1,
         "docx"),
    Case("PDF header + random .pdf", ingest(write("乱码.pdf", b"%PDF-1.7\n" + random.Random(4).randbytes(60000))), 1,
         "pdf"),
    Case("random CJK .txt in UTF-8", ingest(write("乱码.txt", _random_cjk(5000))), 1, "random characters"),
    Case(".doc and no converter", ingest(write("旧.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + os.urandom(2000))), 1, "antiword"),
    Case("over 20 MB", ingest(_oversize), 1, "over the"),
    Case("file name not UTF-8", ingest(_non_utf8_name), 1, "not valid UTF-8"),
    Case("folder holding a non-UTF-8 name", lambda tmp: ["ingest", str(_non_utf8_name(tmp).parent)], 1,
         "not valid UTF-8"),
    Case("path does not exist", lambda tmp: ["ingest", str(tmp / "没有这个文件夹")], 1, "path does not exist"),
    Case("empty folder", ingest(_folder_with({})), 1, "no files to ingest were found"),
    Case("folder of unsupported files", ingest(_folder_with({"a.mp3": b"x", "b.mp4": b"y"})), 1,
         "none of the files could be ingested"),
    Case("symlink loop", ingest(_link_loop), 1, "no files to ingest were found"),
    Case("a seed under another name", ingest(_duplicate_seed), 0, "not indexed twice"),
    Case("a seed re-encoded as GB18030", ingest(_seed_in_gbk), 0, "not indexed twice"),
    Case("a seed again, same path", lambda tmp: ["ingest", str(SEEDS / SEED_IDS[1])], 0, "1 unchanged"),
    Case("empty question", lambda tmp: ["ask", ""], 1, "question is empty"),
    Case("blank question", lambda tmp: ["ask", "   \t "], 1, "question is empty"),
    Case("control characters only", lambda tmp: ["ask", "\x01\x02\x7f"], 1, "question is empty"),
    Case("punctuation only", lambda tmp: ["ask", "？？？！！"], 1, "no words"),
    Case("600-character question", lambda tmp: ["ask", "党" * 600], 1, "characters long"),
    Case("bad --since", lambda tmp: ["ask", "党员人数", "--since", "2020-13-45"], 1, "is not a date"),
    Case("bad --until", lambda tmp: ["ask", "党员人数", "--until", "去年"], 1, "is not a date"),
    Case("--k 0", lambda tmp: ["ask", "党员人数", "--k", "0"], 2, "--k must be between 1 and 50"),
    Case("--k 1000", lambda tmp: ["ask", "党员人数", "--k", "1000"], 2, "--k must be between 1 and 50"),
    Case("questions file missing", lambda tmp: ["ask", "--questions", str(tmp / "无.jsonl")], 1, "does not exist"),
    Case("questions file empty", ask_with(_questions(b"")), 1, "is empty"),
    Case("questions file binary", ask_with(_questions(b"\x00\xff\x00\xfe" * 100)), 1, "not text"),
    Case("questions file a folder", lambda tmp: ["ask", "--questions", str(tmp)], 1, "is a folder"),
    Case("questions line not JSON", ask_with(_questions(b"{question: oops}\n")), 1, "is not a JSON object"),
    Case("questions line without question", ask_with(_questions(b'{"q": "x"}\n')), 1, "is not a JSON object"),
    Case("questions line with question null", ask_with(_questions(b'{"question": null}\n')), 1, "questions.jsonl:1:"),
    Case("questions line with a number", ask_with(_questions(_q("党员人数") + b'{"question": 123}\n')), 1,
         'questions.jsonl:2: "question" is 123, not text'),
    Case("questions line with a list", ask_with(_questions(b'{"question": ["a"]}\n')), 1, "not text"),
    Case("questions line a bare number", ask_with(_questions(b'123\n')), 1, "is not a JSON object"),
    Case("questions file in GBK", ask_with(_questions(_q(SEED_QUESTIONS[1]).decode().encode("gbk"))), 0, "巴音贺希格"),
    Case("questions file in UTF-16", ask_with(_questions(_q(SEED_QUESTIONS[1]).decode().encode("utf-16"))), 0,
         "巴音贺希格"),
    Case("questions file with a BOM", ask_with(_questions(b"\xef\xbb\xbf" + _q(SEED_QUESTIONS[1]))), 0, "巴音贺希格"),
    Case("question with a script tag", lambda tmp: ["ask", "<script>alert(1)</script>光栅室党支部组长是谁？"], 0, "巴音贺希格"),
    Case("remove unknown document", lambda tmp: ["remove", "没有这篇.txt"], 1, "No document"),
    Case("--docx into a missing folder", lambda tmp: ["ask", SEED_QUESTIONS[1], "--docx", str(tmp / "无此目录" / "a.docx")],
         1, "cannot write"),
]


def _needs_office(case: Case) -> bool:
    return case.name.startswith("OLE header") and not shutil.which("soffice")


def _run(lib: Index, case: Case, tmp: Path, capsys, monkeypatch) -> tuple[int, str]:
    monkeypatch.setenv("ASSISTANT_EMBED_MODEL", "hash")
    if "no converter" in case.name:
        monkeypatch.setenv("PATH", str(tmp))  # no antiword, catdoc or soffice on it
    args = case.make(tmp)
    code = cli.main(["--index", str(lib.dir), *args])
    out, err = capsys.readouterr()
    return code, out + err


@pytest.mark.parametrize("case", CLI_CASES, ids=[c.name for c in CLI_CASES])
def test_cli_bad_input(case, lib, baseline, tmp_path, capsys, monkeypatch):
    if case.name in ("scanned .pdf with no text in its pictures", "encrypted .pdf") and not can_make_pdf():
        pytest.skip("cannot make a PDF here (make converters)")
    if _needs_office(case):
        pytest.skip("LibreOffice is not installed (make converters)")
    code, output = _run(lib, case, tmp_path, capsys, monkeypatch)
    assert "Traceback" not in output
    assert code == case.code, output
    assert case.message in output, output
    errors = [ln for ln in output.splitlines() if ln.startswith("error:")]
    assert len(errors) <= 1 and all(len(e) < 400 for e in errors)  # one line, and a readable one
    assert snapshot(lib) == baseline


def test_there_are_at_least_forty_bad_inputs():
    assert len(CLI_CASES) + len(PAGE_CASES) >= 40


# --------------------------------------------------------------------------- the page (Chinese)

PAGE_CASES = [
    ("upload .mp4", "视频.mp4", b"\x00\x00\x00\x18ftypmp42", "不支持 .mp4"),
    ("upload damaged .jpg", "照片.jpg", b"\xff\xd8\xff", "文件已损坏"),
    ("upload empty", "空.txt", b"", "文件是空的"),
    ("upload oversize", "大.txt", "党".encode() * 30000, "上限"),
    ("upload binary", "二进制.txt", b"\x00\x01" * 500, "无法识别为文本"),
    ("upload hidden name", ".隐藏.txt", "某支部开展了活动。".encode(), "文件名不能以"),
    ("upload random .docx", "坏.docx", b"PK\x03\x04" + bytes(500), "文件已损坏"),
    ("upload image with no text", "空白页.png", None, "没有在图片里找到文字"),
    ("upload random CJK .txt", "乱码.txt", _random_cjk(5000), "无法识别为正常文字"),
    ("upload OLE header + random .doc", "乱码.doc", OLE + random.Random(1).randbytes(60000), "无法识别为正常文字"),
    ("upload seed copy", "副本.txt", (SEEDS / SEED_IDS[3]).read_bytes(), "相同，未重复导入"),
]


@pytest.fixture(scope="module")
def web(lib, tmp_path_factory):
    app = WebApp(lib, max_upload_bytes=64 * 1024, download_dir=tmp_path_factory.mktemp("downloads"))
    yield app
    app.close()


@pytest.mark.parametrize("case", PAGE_CASES, ids=[c[0] for c in PAGE_CASES])
def test_page_bad_upload(case, web, lib, baseline, tmp_path):
    name, filename, data, message = case
    path = tmp_path / filename
    if data is None:
        _blank_png(tmp_path)  # an A4 page scanned blank
    elif "OLE" in name and not shutil.which("soffice"):
        pytest.skip("LibreOffice is not installed (make converters)")
    else:
        path.write_bytes(data)
    first, session = web.upload([str(path)], None)
    report = first
    if session.jobs:
        web.jobs.wait(session.jobs[-1], timeout=120)
        report += web.job_html(session)
    assert message in report, report
    assert snapshot(lib) == baseline
    assert not any(p.name == filename for p in web.upload_dir.glob("*"))  # a refused upload is not kept


@pytest.mark.parametrize("question, since, message", [
    ("党" * 501, "", "太长了"),
    ("？？！", "", "没有文字"),
    (SEED_QUESTIONS[0], "2012-99-01", "无法识别"),
])
def test_page_bad_question(question, since, message, web, lib, baseline):
    *_, (messages, _, ans) = list(web.ask(question, "问答", [], since, "", None))
    assert ans is None and message in messages[-1]["content"]
    assert snapshot(lib) == baseline
