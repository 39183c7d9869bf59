"""Official documents (公文, GB/T 9704-2012): their parts found in a .txt, a Word file, a PDF and a scan
of the same sample, kept as metadata (the 版记 out of the body), shown with citations."""

from pathlib import Path

import pytest
from conftest import SEEDS
from formats import can_make_pdf, make_docx, make_pdf
from scans import save_pdf, set_pages

from assistant.answer.answering import answer
from assistant.app.render import source_html
from assistant.ingest.cleaning import _pages, clean, normalize
from assistant.ingest.converters import convert
from assistant.ingest.gongwen import iso, parse
from assistant.storage.library import Index

SAMPLE = Path(__file__).parent / "data" / "gongwen_sample.txt"
EXPECTED = {
    "title": "关于深入开展“两学一做”学习教育的实施方案",
    "doc_number": "示例所党发〔2016〕12号",
    "org": "中共示例研究所委员会",
    "date": "2016-04-08",  # 成文日期, written in Chinese numerals
    "recipients": "各党支部、各部门",
    "attachments": "“两学一做”学习教育安排表",
    "cc": "中国科学院直属机关党委，院党组办公室",
    "printed_by": "中共示例研究所委员会办公室",
    "printed": "2016-04-10",
}


def fields_found(meta) -> dict:
    return {k: getattr(meta, k) for k in EXPECTED if getattr(meta, k) == EXPECTED[k]}


@pytest.mark.parametrize("text,iso_date", [("二〇一六年四月八日", "2016-04-08"), ("二〇二〇年十二月三十一日", "2020-12-31"),
                                           ("2016年4月8日", "2016-04-08"), ("二〇一九年二月三十二日", ""),
                                           ("二〇一六年四月", "")])
def test_dates_in_chinese_numerals(text, iso_date):
    assert iso(text) == iso_date


def test_every_part_of_the_sample_is_found_and_the_record_leaves_the_body():
    doc = clean(SAMPLE.read_text(encoding="utf-8"), "公文.txt", path="/x/公文.txt", raw_hash="h", kind="txt")
    assert fields_found(doc.meta) == EXPECTED
    assert doc.text.startswith("关于深入开展“两学一做”学习教育的")  # the body starts at the title
    assert "抄送" not in doc.text and "印发" not in doc.text  # the 版记 is metadata only
    assert "二〇一六年四月八日" in doc.text and "各党支部每月至少召开一次专题学习会" in doc.text


def test_a_report_upwards_names_its_signer():
    lines = ["中共示例研究所委员会文件", "示例所党报〔2021〕3号　　　　签发人：王建国", "关于2020年度党建工作情况的报告",
             "院直属机关党委：", "现将我所2020年度党建工作情况报告如下。", "中共示例研究所委员会", "2021年1月15日"]
    g = parse(lines)
    assert g.number == "示例所党报〔2021〕3号" and g.signer == "王建国" and g.title == "关于2020年度党建工作情况的报告"
    assert g.recipients == "院直属机关党委" and g.written == "2021-01-15" and g.issuer == "中共示例研究所委员会"


def test_no_seed_and_no_government_report_is_read_as_an_official_document():
    for p in sorted(SEEDS.iterdir()):
        assert parse(_pages(normalize(p.read_text(encoding="utf-8")))[0]) is None, p.name


def _lines() -> list[str]:
    return SAMPLE.read_text(encoding="utf-8").splitlines()


def test_a_word_file_of_the_sample(tmp_path):
    lines = _lines()
    path = make_docx(tmp_path / "公文.docx", lines[0], [("", lines[1:])])
    conv = convert(path, path.read_bytes())
    doc = clean(conv.text, path.name, path=str(path), raw_hash="h", kind="docx")
    assert fields_found(doc.meta) == EXPECTED


@pytest.mark.skipif(not can_make_pdf(), reason="cannot make a PDF here (make converters)")
def test_a_pdf_of_the_sample(tmp_path):
    path = make_pdf(tmp_path / "公文.pdf", [_lines()], page_number=None, running_header=None, width=170)
    conv = convert(path, path.read_bytes())
    doc = clean(conv.text, path.name, path=str(path), raw_hash="h", kind="pdf")
    assert fields_found(doc.meta) == EXPECTED


@pytest.mark.slow
def test_a_scan_of_the_sample(tmp_path):
    scan = save_pdf([p.image for p in set_pages(SAMPLE.read_text(encoding="utf-8"), dpi=200)], tmp_path / "公文扫描件.pdf", 200)
    conv = convert(scan, scan.read_bytes())
    doc = clean(conv.text, scan.name, path=str(scan), raw_hash="h", kind="pdf")
    found = fields_found(doc.meta)
    assert len(found) >= len(EXPECTED) - 1, (found, doc.meta)  # OCR may misread one part; the rest must hold


def test_citations_show_the_document_number(hash_settings, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "公文.txt").write_bytes(SAMPLE.read_bytes())
    index = Index.open(hash_settings, create=True)
    index.ingest([tmp_path / "in"])
    a = answer(index, "示例所两学一做实施方案要求各党支部每月至少召开几次专题学习会？")
    c = a.citations[0]
    assert not a.refused and c.doc_id == "公文.txt" and c.doc_number == "示例所党发〔2016〕12号"
    assert "示例所党发〔2016〕12号" in source_html(c, index.store.text(c.doc_id))
    assert a.to_json()["citations"][0]["doc_number"] == "示例所党发〔2016〕12号"


@pytest.mark.parametrize("question", ["《关于深入开展“两学一做”学习教育的实施方案》是哪天印发的？", "示例所党发〔2016〕12号是哪天印发的？",
                                      "示例所党发[2016]12号什么时候下发的？", "两学一做实施方案的印发日期是哪天？"])
def test_the_day_an_official_document_was_issued_is_answered_from_its_own_dates(hash_settings, tmp_path, question):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "公文.txt").write_bytes(SAMPLE.read_bytes())
    index = Index.open(hash_settings, create=True)
    index.ingest([tmp_path / "in", SEEDS])
    a = answer(index, question)
    assert not a.refused and "2016年4月10日" in a.answer and "版记" in a.answer and "2016年4月8日" in a.answer
    c = a.citations[0]
    assert c.doc_id == "公文.txt" and c.quote == "二〇一六年四月八日" == index.store.text(c.doc_id)[c.start:c.end]
    written = answer(index, "示例所党发〔2016〕12号的成文日期是哪天？")
    assert "成文日期为2016年4月8日" in written.answer and "印发日期" not in written.answer


def test_filters_take_the_document_number_and_the_issuing_body(hash_settings, tmp_path):
    from assistant.answer.retrieval import Filters, allowed_docs

    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "公文.txt").write_bytes(SAMPLE.read_bytes())
    index = Index.open(hash_settings, create=True)
    index.ingest([tmp_path / "in", SEEDS])
    assert allowed_docs(index, Filters(doc_numbers=("示例所党发（2016）12号",))) == {"公文.txt"}
    assert allowed_docs(index, Filters(doc_numbers=("示例所党发〔2017〕12号",))) == set()
    assert allowed_docs(index, Filters(orgs=("中共示例研究所委员会",))) == {"公文.txt"}
    a = answer(index, "各党支部多久召开一次专题学习会？", filters=Filters(doc_numbers=("示例所党发〔2016〕12号",)))
    assert a.citations and {c.doc_id for c in a.citations} == {"公文.txt"}
