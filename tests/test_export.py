from docx import Document

from assistant.answer.drafting import draft_points
from assistant.answer.precedents import find_precedents
from assistant.app.export import export, to_markdown


def test_points_export_markdown_and_docx(seed_index, tmp_path):
    a = draft_points(seed_index, "请为党支部书记起草关于“以学促做”的发言要点")
    md = to_markdown(a)
    assert md.startswith("# 发言要点：") and "## 出处" in md
    assert f"1. **{a.points[0].heading}**" in md
    written = export(a, docx=str(tmp_path / "p.docx"), md=str(tmp_path / "p.md"))
    assert [p.name for p in written] == ["p.md", "p.docx"]
    doc = Document(str(tmp_path / "p.docx"))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert a.points[0].heading in text and "出处" in text
    assert all(f"[{c.n}] 《{c.title}》" in text for c in a.citations)


def test_precedents_export_has_a_table(seed_index, tmp_path):
    a = find_precedents(seed_index, "有哪些单位开展过群众评议？")
    export(a, docx=str(tmp_path / "r.docx"))
    table = Document(str(tmp_path / "r.docx")).tables[0]
    assert [c.text for c in table.rows[0].cells] == ["单位", "时间", "做法", "出处"]
    assert len(table.rows) == len(a.rows) + 1
