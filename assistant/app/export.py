"""Export an answer — above all a set of talking points — as Markdown or Word (.docx), with the
sources as an endnote list (title, organisation, date, the quoted sentence)."""

from __future__ import annotations

import re
from pathlib import Path

from ..answer.jobs import get
from ..core.errors import AssistantError
from ..core.schema import Answer

# Characters XML 1.0 (so Word) cannot hold: C0 controls but tab/newline/CR, and the non-characters.
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_safe(text: str) -> str:
    """A form feed or vertical tab (pdftotext, Word) becomes a line break; other controls go."""
    return _NOT_XML.sub("", text.replace("\f", "\n").replace("\v", "\n"))


def _source_line(c) -> str:
    where = f"（{c.where}）" if c.where else ""
    number = f"（{c.doc_number}）" if c.doc_number else ""
    return f"[{c.n}] 《{c.title}》{number}，{c.org or '未知单位'}，{c.date or '日期不详'}{where}：“{c.quote}”"


def to_markdown(ans: Answer) -> str:
    lines = [f"# {get(ans.mode).title}：{ans.question}", ""]
    if ans.refused:
        lines.append(ans.answer)
    elif get(ans.mode).layout == "points" and ans.points:
        lines += [f"{i}. **{p.heading}**：{p.text}" for i, p in enumerate(ans.points, 1)]
    else:
        lines.append(ans.answer)
    if ans.citations:
        lines += ["", "## 出处", ""] + [f"- {_source_line(c)}" for c in ans.citations]
    return "\n".join(lines) + "\n"


def to_docx(ans: Answer, path: Path) -> None:
    from docx import Document

    x = _xml_safe  # every text that comes from a report or a question
    doc = Document()
    doc.add_heading(x(f"{get(ans.mode).title}：{ans.question}"), level=1)
    if ans.refused:
        doc.add_paragraph(x(ans.answer))
    elif get(ans.mode).layout == "points" and ans.points:
        for p in ans.points:
            para = doc.add_paragraph(style="List Number")
            para.add_run(x(p.heading) + "：").bold = True
            para.add_run(x(p.text))
    elif get(ans.mode).layout == "table" and ans.rows:
        table = doc.add_table(rows=1, cols=4)
        table.style = "Table Grid"
        for cell, label in zip(table.rows[0].cells, ("单位", "时间", "做法", "出处")):
            cell.text = label
        for r in ans.rows:
            cells = table.add_row().cells
            cells[0].text, cells[1].text = x(r.org), r.date or "日期不详"
            cells[2].text = x(r.practice) + "".join(f"[{n}]" for n in r.citations)
            cells[3].text = "、".join(f"[{n}]" for n in r.citations)
    else:
        for line in x(ans.answer).split("\n"):
            doc.add_paragraph(line)
    if ans.citations:
        doc.add_heading("出处", level=2)
        for c in ans.citations:
            doc.add_paragraph(x(_source_line(c)))
    doc.save(str(path))


def export(ans: Answer, docx: str | None = None, md: str | None = None) -> list[Path]:
    written = []
    try:
        if md:
            Path(md).write_text(to_markdown(ans), encoding="utf-8")
            written.append(Path(md))
        if docx:
            to_docx(ans, Path(docx))
            written.append(Path(docx))
    except OSError as exc:
        raise AssistantError(f"cannot write {exc.filename}: {exc.strerror}; choose a folder you can write to")
    return written
