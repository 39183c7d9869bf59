"""Real Word, PDF, web-page and legacy .doc files, made here, go through the whole pipeline: they are
ingested beside the seeds, questions about them are answered with quotes that are exactly the
cleaned text at their offsets, and the citation says on which page (PDF) or under which heading
(Word) the quote sits — on the command line, on the page and in the exports."""

from __future__ import annotations

import pytest
from conftest import SEEDS
from formats import can_make_pdf, make_doc, make_docx, make_html, make_pdf, make_scanned_pdf, soffice

from assistant.answer.answering import answer
from assistant.app.export import to_markdown
from assistant.app.render import answer_html
from assistant.storage.library import Index

pytestmark = pytest.mark.skipif(not can_make_pdf(), reason="cannot write CJK PDFs here (make converters)")


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    from assistant.core.settings import Settings, model_spec

    root = tmp_path_factory.mktemp("formats")
    docs = root / "docs"
    docs.mkdir()
    make_docx(docs / "支部工作总结.docx", "青藤研究所第三党支部2023年工作总结", [
        ("一、组织建设", ["青藤研究所第三党支部全年召开支部委员会会议12次，发展预备党员2名。"]),
        ("二、学习教育", ["支部开展“每周一学”活动，全年集中学习48次。",
                          "支部书记讲专题党课4次，党员撰写心得体会56篇。"]),
        ("## （一）特色活动", ["支部与地方社区联合举办“科技进社区”活动，服务群众300余人次。"]),
    ], table=[["月份", "活动"], ["3月", "植树节义务劳动"], ["7月", "红色教育基地参观"]])
    make_pdf(docs / "党委简报.pdf", [
        ["玉泉研究所党委关于开展主题教育的工作简报。",
         "玉泉研究所党委坚持把理论学习贯穿主题教育始终，组织读书班三期，覆盖全体处级以上干部共计八十六人。"],
        ["在调查研究方面，玉泉研究所党委班子成员深入一线开展调研，形成调研报告十一篇，"
         "梳理出需要解决的问题二十三项并逐项建立台账。"],
        [],
        ["在检视整改方面，玉泉研究所党委建立问题清单、责任清单和任务清单，已完成整改事项十九项。"],
    ])
    make_scanned_pdf(docs / "扫描件.pdf", pages=2)
    make_html(docs / "新闻.html", "松涛研究所党委举办党史知识竞赛", "2021-06-18", [
        "6月16日，松涛研究所党委举办庆祝建党100周年党史知识竞赛，来自9个党支部的27名选手参赛。",
        "经过必答、抢答和风险题三个环节的激烈角逐，第二党支部代表队获得一等奖。",
        "所党委书记为获奖队伍颁奖，并勉励大家学党史、悟思想、办实事、开新局。",
    ])
    legacy = make_doc(docs / "旧制度.doc", "白桦研究所党支部三会一课制度", [
        ("一、支部党员大会", ["白桦研究所党支部党员大会每季度召开一次，由支部委员会召集。"]),
    ]) if soffice() else None
    settings = Settings(index_dir=root / "index", model=model_spec("hash"))
    index = Index.open(settings, create=True)
    report = index.ingest([SEEDS, docs])
    yield index, report, legacy is not None
    index.close()


def ask(index, question):
    a = answer(index, question)
    assert not a.refused, (question, a.reason)
    for c in a.citations:
        assert index.store.text(c.doc_id)[c.start:c.end] == c.quote  # exact, always
    return a


def test_every_format_is_ingested_and_a_scan_without_text_is_refused(library):
    index, report, has_doc = library
    expected = {"支部工作总结.docx", "党委简报.pdf", "新闻.html"} | ({"旧制度.doc"} if has_doc else set())
    assert expected <= set(report.added)
    refused = {s.path.name: s for s in report.skipped}
    assert refused["扫描件.pdf"].kind == "no_text" and "OCR" in refused["扫描件.pdf"].reason
    kinds = {m.doc_id: m.kind for m in index.store.metas().values()}
    assert kinds["支部工作总结.docx"] == "docx" and kinds["党委简报.pdf"] == "pdf" and kinds["新闻.html"] == "html"


def test_word_answers_cite_the_heading(library):
    index, _, _ = library
    a = ask(index, "青藤研究所第三党支部全年集中学习了多少次？")
    c = next(c for c in a.citations if "48次" in c.quote)
    assert c.doc_id == "支部工作总结.docx" and c.heading.endswith("二、学习教育")
    meta = index.store.metas()["支部工作总结.docx"]
    assert meta.title == "青藤研究所第三党支部2023年工作总结"
    text = index.store.text("支部工作总结.docx")
    assert "页眉" not in text and "3月 | 植树节义务劳动" in text  # header out, table rows in
    a = ask(index, "青藤研究所第三党支部和社区联合举办了什么活动？")
    assert any("科技进社区" in c.quote and "特色活动" in c.heading for c in a.citations)


def test_pdf_answers_cite_the_page(library):
    index, _, _ = library
    a = ask(index, "玉泉研究所党委形成了多少篇调研报告？")
    c = next(c for c in a.citations if "十一篇" in c.quote)
    assert c.doc_id == "党委简报.pdf" and c.page == 2
    assert "梳理出需要解决的问题二十三项" in index.store.text("党委简报.pdf")  # the line wrap was joined
    a = ask(index, "玉泉研究所党委已完成整改事项多少项？")
    assert next(c for c in a.citations if "十九项" in c.quote).page == 4  # page 3 is blank and still counted
    text = index.store.text("党委简报.pdf")
    assert "- 1 -" not in text and text.count("工作简报") <= 1  # page numbers and running heads dropped
    html = answer_html(a, index.store.text)
    assert "第4页" in html
    assert "第4页" in to_markdown(a)


def test_web_page_answers_come_from_the_article_not_the_navigation(library):
    index, _, _ = library
    a = ask(index, "松涛研究所党史知识竞赛哪个代表队获得一等奖？")
    assert any(c.doc_id == "新闻.html" and "第二党支部" in c.quote for c in a.citations)
    meta = index.store.metas()["新闻.html"]
    assert meta.title == "松涛研究所党委举办党史知识竞赛" and meta.date == "2021-06-18"
    text = index.store.text("新闻.html")
    assert "版权所有" not in text and "ICP备" not in text and "当前位置" not in text


def test_legacy_doc_through_a_real_converter(library):
    index, _, has_doc = library
    if not has_doc:
        pytest.skip("LibreOffice is not installed to make a .doc (make converters)")
    a = ask(index, "白桦研究所党支部的党员大会由哪个机构召集？")
    assert any(c.doc_id == "旧制度.doc" and "支部委员会召集" in c.quote for c in a.citations)
