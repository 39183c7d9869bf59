"""The converters on real files made at test time: Word (.docx, and .doc/.wps through antiword,
catdoc and LibreOffice), PDF (text, scanned, encrypted) and Chinese web pages (UTF-8 and GBK)."""

import io
import os
import shutil
import time
import zipfile
from pathlib import Path

import pytest
from formats import (
    FOOTER,
    NAV,
    PDF_NEEDS,
    SIDEBAR,
    can_make_pdf,
    cjk_cff_font,
    make_doc,
    make_docx,
    make_encrypted_pdf,
    make_html,
    make_pdf,
    make_scanned_pdf,
    soffice,
)

from assistant.core.errors import Unreadable
from assistant.ingest import legacy_word, pdf
from assistant.ingest.converted import Converted, plain
from assistant.ingest.converters import convert

needs_pdf = pytest.mark.skipif(not can_make_pdf(), reason=f"cannot write Chinese PDFs here: {PDF_NEEDS}")

TITLE = "研究所2016年党建工作总结"
SECTIONS = [
    ("一、基本情况", ["全所共有党员312名，其中在职党员208名，离退休党员104名。",
                     "党委下设14个党支部，2016年发展新党员6名。"]),
    ("## （一）组织建设", ["加强支部建设，规范组织生活，落实“三会一课”制度。"]),
    ("二、主要工作", ["深入开展“两学一做”学习教育，\n全年组织集中学习12次。"]),
]
TABLE = [["支部", "党员数", "书记"], ["第一支部", "23", "张明"], ["第二支部", "19", "李华"]]

ARTICLE = [
    "5月12日，研究所党委召开“两学一做”学习教育动员部署会，所领导班子成员、各党支部书记及全体党员共150余人参加会议。",
    "会上，党委书记传达了中央和中国科学院党组关于开展“两学一做”学习教育的通知精神，并对研究所学习教育工作进行了全面部署。",
    "他强调，全体党员要把学习党章党规、学习系列讲话作为基础，把做合格党员作为落脚点，切实增强政治意识、大局意识、核心意识和看齐意识。",
    "所长在讲话中指出，要把学习教育与科研工作紧密结合，以学促做，推动研究所“一三五”规划的全面落实。",
    "会议要求，各党支部要结合实际制定学习计划，确保学习教育取得实效。",
]
HTML_TITLE = "研究所召开“两学一做”学习教育动员部署会"

PDF_PAGES = [
    ["一、总体要求",
     "全所各党支部要认真学习贯彻党的二十大精神，把学习教育同推动科研工作紧密结合起来，切实把学习成果转化为推动研究所高质量发展的强大动力。",
     "Party branches should combine study with research work and turn the results into real progress."],
    ["二、主要任务", "加强基层党组织建设，规范组织生活，落实“三会一课”制度，不断提高基层党组织的组织力。",
     "各支部要结合实际制定学习计划。"],
    [],
    ["三、工作要求", "各党支部书记是第一责任人，要亲自部署、亲自推动，确保各项任务落到实处，并按时报送工作总结。"],
]


def squash(text):
    return " ".join(text.split())


def unreadable(path, data=None, **kw) -> Unreadable:
    with pytest.raises(Unreadable) as info:
        convert(path, path.read_bytes() if data is None else data, **kw)
    assert str(info.value) and "\n" not in str(info.value)
    return info.value


# ------------------------------------------------------------------------------------------- docx

def test_docx_paragraphs_headings_and_table_in_order(tmp_path):
    path = make_docx(tmp_path / "总结.docx", TITLE, SECTIONS, TABLE)
    conv = convert(path, path.read_bytes())
    assert conv.kind == "docx" and conv.title == TITLE and conv.pages == 0 and conv.date == ""
    assert conv.text.split("\n") == [
        TITLE,
        "# 一、基本情况",
        SECTIONS[0][1][0],
        SECTIONS[0][1][1],
        "## （一）组织建设",
        SECTIONS[1][1][0],
        "# 二、主要工作",
        "深入开展“两学一做”学习教育，",  # a line break inside the paragraph (w:br) is a line break
        "全年组织集中学习12次。",
        "支部 | 党员数 | 书记",
        "第一支部 | 23 | 张明",
        "第二支部 | 19 | 李华",
    ]
    assert "页眉" not in conv.text and "页脚" not in conv.text  # header/footer are not body text


def test_docx_heading_styles_by_name_base_style_and_outline_level(tmp_path):
    import docx
    from docx.enum.style import WD_STYLE_TYPE
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    d = docx.Document()
    d.core_properties.title = "属性里的标题"
    assert d.styles["TOC Heading"].base_style.name == "Heading 1"
    d.add_paragraph("目录", style="TOC Heading")
    toc = d.styles.add_style("toc 1", WD_STYLE_TYPE.PARAGRAPH)
    d.add_paragraph("一、总体要求\t1", style=toc)
    official = d.styles.add_style("公文一级标题", WD_STYLE_TYPE.PARAGRAPH)
    official.base_style = d.styles["Heading 1"]
    d.add_paragraph("一、总体要求", style=official)
    d.add_paragraph("正文第一段。")
    d.add_paragraph("（一）指导思想", style=d.styles.add_style("标题 2", WD_STYLE_TYPE.PARAGRAPH))
    p = d.add_paragraph("1. 坚持党的领导")
    lvl = OxmlElement("w:outlineLvl")
    lvl.set(qn("w:val"), "2")
    p._p.get_or_add_pPr().append(lvl)
    d.add_paragraph("")
    d.add_paragraph("   ")
    d.add_paragraph("正文第二段。")
    cells = d.add_table(rows=2, cols=3)
    cells.cell(0, 0).merge(cells.cell(0, 1)).text = "合并单元格"
    cells.cell(0, 2).text = "右"
    cells.cell(1, 0).text, cells.cell(1, 1).text = "左", "中"
    path = tmp_path / "styles.docx"
    d.save(path)
    conv = convert(path, path.read_bytes())
    assert conv.text.split("\n") == ["# 一、总体要求", "正文第一段。", "## （一）指导思想", "### 1. 坚持党的领导",
                                     "正文第二段。", "合并单元格 | 右", "左 | 中"]
    assert conv.title == "属性里的标题"  # no Title paragraph: the core properties' title


@pytest.mark.parametrize("core, first, heading, title", [
    ("", "关于开展主题党日活动的通知", "Heading 1", "关于开展主题党日活动的通知"),  # opens with a level-1 heading
    ("", "关于开展主题党日活动的通知", "Normal", ""),  # a bold first line: left to the cleaner
    ("文档1", "关于开展主题党日活动的通知", "Normal", ""),  # a stock core title is no title
    ("Microsoft Word - 通知.doc", "通知", "Normal", ""),
    ("关于开展主题党日活动的通知", "各党支部：", "Normal", "关于开展主题党日活动的通知"),
])
def test_docx_title_sources(tmp_path, core, first, heading, title):
    import docx

    d = docx.Document()
    d.core_properties.title = core
    d.add_paragraph(first, style=heading).runs[0].bold = True
    d.add_paragraph("各党支部：经研究决定开展主题党日活动。")
    d.add_heading("一、活动时间", level=1)
    path = tmp_path / "notice.docx"
    d.save(path)
    assert convert(path, path.read_bytes()).title == title


def test_broken_docx_files_are_corrupt(tmp_path):
    path = tmp_path / "x.docx"
    assert unreadable(path, os.urandom(4096)).kind == "corrupt"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("hello.txt", "not a word document")
    err = unreadable(path, buf.getvalue())
    assert err.kind == "corrupt" and err.detail["format"] == ".docx" and "word/document.xml" in str(err)
    good = make_docx(tmp_path / "good.docx", TITLE, SECTIONS).read_bytes()
    broken = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as src, zipfile.ZipFile(broken, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            dst.writestr(item, data[: len(data) // 2] if item.filename == "word/document.xml" else data)
    assert unreadable(path, broken.getvalue()).kind == "corrupt"  # truncated XML
    assert unreadable(path, good[: len(good) // 2]).kind == "corrupt"  # truncated zip


def test_password_protected_docx_is_encrypted(tmp_path):
    # Word saves a password-protected .docx as an OLE container with EncryptionInfo/EncryptedPackage
    # streams; this is its header and directory names, enough for the check.
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504) + "EncryptionInfo".encode("utf-16-le") + bytes(100) + \
        "EncryptedPackage".encode("utf-16-le") + os.urandom(2048)
    err = unreadable(tmp_path / "secret.docx", ole)
    assert err.kind == "encrypted" and "password" in str(err)


# -------------------------------------------------------------------------------------------- pdf

@needs_pdf
@pytest.mark.parametrize("numbering", ["- {n} -", "第 {n} 页 共 {total} 页", "{n}/{total}", "{n}"])
def test_pdf_text_round_trips_with_pages_joined_lines_and_no_running_lines(tmp_path, numbering):
    import pypdf

    path = make_pdf(tmp_path / "brief.pdf", PDF_PAGES, page_number=numbering)
    raw = [p.extract_text() for p in pypdf.PdfReader(path).pages]
    assert PDF_PAGES[0][1] not in raw[0]  # the long sentence really is wrapped over lines in the PDF
    conv = convert(path, path.read_bytes())
    assert conv.kind == "pdf" and conv.pages == 4
    pages = conv.text.split("\f")
    assert conv.text.count("\f") == len(PDF_PAGES) - 1
    for got, want in zip(pages, PDF_PAGES):
        assert [squash(line) for line in got.split("\n") if line.strip()] == want
    assert "工作简报" not in conv.text  # the running header
    assert not any(line.strip().isdigit() or "页" in line for line in conv.text.replace("\f", "\n").split("\n"))


@needs_pdf
def test_pdf_lines_are_joined_cjk_without_space_latin_with_one(tmp_path):
    cjk = "坚持把政治建设摆在首位，" * 6 + "推动全面从严治党向纵深发展。"
    latin = "The institute holds a study session for all party members every month in the main hall."
    path = make_pdf(tmp_path / "wrap.pdf", [[cjk, latin]], width=60, running_header=None, page_number=None)
    import pypdf

    raw = pypdf.PdfReader(path).pages[0].extract_text().split("\n")
    assert len(raw) > 6 and cjk not in raw and latin not in raw
    assert convert(path, path.read_bytes()).text.split("\n") == [cjk, latin]


@needs_pdf
def test_pdf_with_a_cff_font_whose_text_pypdf_reads_with_nuls(tmp_path):
    font = cjk_cff_font()
    if font is None:
        pytest.skip("no CFF-based CJK font (fonts-noto-cjk) here")
    import pypdf

    path = make_pdf(tmp_path / "noto.pdf", [PDF_PAGES[1]], font=font, running_header=None)
    assert "\x00" in pypdf.PdfReader(path).pages[0].extract_text()
    assert [squash(ln) for ln in convert(path, path.read_bytes()).text.split("\n")] == PDF_PAGES[1]


def test_a_scanned_pdf_whose_pictures_hold_no_text_is_refused_after_ocr(tmp_path):
    err = unreadable(make_scanned_pdf(tmp_path / "scan.pdf", pages=2))  # black bars, no characters
    assert err.kind == "no_text" and err.detail["pages"] == 2 and "OCR finds no text" in str(err)


@needs_pdf
def test_encrypted_pdfs(tmp_path):
    plain_pdf = make_pdf(tmp_path / "plain.pdf", PDF_PAGES[:2])
    locked = make_encrypted_pdf(tmp_path / "locked.pdf", plain_pdf, "secret")
    err = unreadable(locked)
    assert err.kind == "encrypted" and "password" in str(err)
    open_ = make_encrypted_pdf(tmp_path / "open.pdf", plain_pdf, "")  # empty user password: opens without one
    assert convert(open_, open_.read_bytes()).text == convert(plain_pdf, plain_pdf.read_bytes()).text


@needs_pdf
def test_broken_huge_and_slow_pdfs(tmp_path, monkeypatch):
    path = make_pdf(tmp_path / "doc.pdf", PDF_PAGES)
    data = path.read_bytes()
    assert unreadable(path, b"%PDF-1.7\n" + os.urandom(3000)).kind == "corrupt"
    assert unreadable(path, b"<html>not a pdf</html>").kind == "corrupt"
    err = unreadable(path, data, timeout=0)
    assert err.kind == "timeout"
    monkeypatch.setattr(pdf, "MAX_PDF_PAGES", 3)
    err = unreadable(path, data)
    assert err.kind == "size" and err.detail["pages"] == 4 and "split" in str(err)


# ------------------------------------------------------------------------------------------- html

def _check_page(conv: Converted):
    lines = conv.text.split("\n")
    assert lines[0] == HTML_TITLE and conv.title == HTML_TITLE
    assert conv.date == "2016-05-13" and conv.kind == "html"
    assert conv.org == "中国科学院某某研究所"
    assert conv.source == "http://www.example.ac.cn/djgz/201605/t20160513_1.html"
    assert "发布时间：2016-05-13" in lines[1]  # the dateline stays: a metadata question cites it
    assert [ln for ln in lines if ln in ARTICLE] == ARTICLE
    assert len(lines) == len(ARTICLE) + 2
    for chrome in ["版权所有", "ICP备", "首页", "当前位置", "地址：", "电话：", "相关新闻", "搜索", *NAV, *SIDEBAR, *FOOTER]:
        assert chrome not in conv.text, chrome


def test_html_news_page_keeps_the_article_and_drops_the_chrome(tmp_path):
    path = make_html(tmp_path / "news.html", HTML_TITLE, "2016-05-13", ARTICLE)
    _check_page(convert(path, path.read_bytes()))


def test_gbk_html_is_decoded(tmp_path):
    path = make_html(tmp_path / "news.htm", HTML_TITLE, "2016-05-13", ARTICLE, encoding="gb18030")
    data = path.read_bytes()
    assert b'charset="gb2312"' in data
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    _check_page(convert(path, data))
    undeclared = data.replace(b'<meta charset="gb2312">', b"")  # no charset: UTF-8 fails, GB18030 is next
    assert convert(path, undeclared).text == convert(path, data).text


def test_old_table_layout_page_with_br_paragraphs(tmp_path):
    links = "".join(f'<a href="/{i}/">{n}</a> | ' for i, n in enumerate(NAV))
    page = f"""<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">
<title>关于开展主题党日活动的通知_中国科学院某某研究所</title></head><body>
<table width="980"><tr><td>{links}</td></tr><tr><td><table>
<tr><td align="center"><b>关于开展主题党日活动的通知</b></td></tr>
<tr><td>日期：2016年5月13日 点击：35次</td></tr>
<tr><td>各党支部：<br>　　为深入学习贯彻党的精神，经党委研究决定，在全所开展主题党日活动，现将有关事项通知如下。<br>
　　一、活动时间<br>　　2016年5月至6月，各支部结合实际安排。<br>　　二、活动内容<br>
　　组织党员参观革命教育基地，重温入党誓词，开展专题学习讨论。<br>　　所党委<br>　　2016年5月13日</td></tr>
<tr><td><table border="1"><tr><th>支部</th><th>时间</th></tr><tr><td>第一支部</td><td>5月20日</td></tr></table></td></tr>
</table></td></tr><tr><td>版权所有 中国科学院某某研究所 京ICP备05002857号</td></tr></table></body></html>"""
    conv = convert(tmp_path / "old.html", page.encode("gb18030"))
    assert conv.title == "关于开展主题党日活动的通知" and conv.org == "中国科学院某某研究所"
    assert conv.date == "2016-05-13"
    assert conv.text.split("\n") == [
        "关于开展主题党日活动的通知", "日期：2016年5月13日 点击：35次", "各党支部：",
        "为深入学习贯彻党的精神，经党委研究决定，在全所开展主题党日活动，现将有关事项通知如下。",
        "一、活动时间", "2016年5月至6月，各支部结合实际安排。", "二、活动内容",
        "组织党员参观革命教育基地，重温入党誓词，开展专题学习讨论。", "所党委", "2016年5月13日",
        "支部 | 时间", "第一支部 | 5月20日"]


def test_html_date_only_when_the_page_states_one(tmp_path):
    path = make_html(tmp_path / "nodate.html", HTML_TITLE, "", ARTICLE, url="http://www.example.ac.cn/djgz/a.html")
    html = path.read_text(encoding="utf-8").replace("发布时间：", "")
    conv = convert(path, html.encode("utf-8"))
    assert conv.date == ""  # not a sidebar date, not the ©2016 of the footer, not today
    assert [ln for ln in conv.text.split("\n") if ln in ARTICLE] == ARTICLE


def test_navigation_only_page_has_no_text(tmp_path):
    links = "".join(f'<li><a href="/{i}/">{n}</a></li>' for i, n in enumerate(NAV + SIDEBAR))
    page = f"<html><head><title>首页</title></head><body><ul>{links}</ul><div class='footer'>{FOOTER[0]}</div></body></html>"
    err = unreadable(tmp_path / "index.html", page.encode())
    assert err.kind == "no_text"


# ------------------------------------------------------------------------------------- .doc / .wps

@pytest.fixture(scope="session")
def doc_file(tmp_path_factory):
    if soffice() is None:
        pytest.skip("LibreOffice is not installed (make converters) to make a .doc")
    return make_doc(tmp_path_factory.mktemp("doc") / "总结.doc", TITLE, SECTIONS, TABLE)


def _only(monkeypatch, name):
    """Let the converters see only one program."""
    which = shutil.which
    monkeypatch.setattr(legacy_word.shutil, "which", lambda cmd: which(cmd) if cmd == name else None)


@pytest.mark.parametrize("program", ["antiword", "catdoc", "soffice"])
def test_doc_through_each_real_converter(doc_file, monkeypatch, program):
    if shutil.which(program) is None:
        pytest.skip(f"{program} is not installed (make converters)")
    _only(monkeypatch, program)
    conv = convert(doc_file, doc_file.read_bytes())
    assert conv.kind == "doc"
    lines = [ln for ln in conv.text.split("\n") if ln]
    assert lines[0] == TITLE
    for para in [*SECTIONS[0][1], *SECTIONS[1][1], "一、基本情况", "（一）组织建设", "全年组织集中学习12次。"]:
        assert para in lines
    assert lines.index("一、基本情况") < lines.index(SECTIONS[0][1][0]) < lines.index("（一）组织建设")
    for row in TABLE[1:]:
        assert all(cell in conv.text for cell in row)
    if program == "antiword":
        assert "第一支部 | 23 | 张明" in lines


def test_wps_is_read_by_catdoc_or_libreoffice(doc_file, tmp_path):
    if not (shutil.which("catdoc") or soffice()):
        pytest.skip("neither catdoc nor LibreOffice is installed (make converters)")
    wps = tmp_path / "总结.wps"
    shutil.copy(doc_file, wps)  # WPS saves Word-compatible files under .wps
    conv = convert(wps, wps.read_bytes())
    assert conv.kind == "wps" and TITLE in conv.text and SECTIONS[0][1][0] in conv.text


def test_doc_without_any_converter_says_what_to_install(doc_file, tmp_path, monkeypatch):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    err = unreadable(doc_file)
    assert err.kind == "converter" and err.detail["suffix"] == ".doc"
    assert "antiword" in str(err) and "apt-get install" in str(err)
    wps = tmp_path / "a.wps"
    shutil.copy(doc_file, wps)
    err = unreadable(wps)
    assert err.kind == "converter" and err.detail["suffix"] == ".wps" and "catdoc" in str(err)


def _fake(bin_dir: Path, name: str, script: str) -> None:
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + script + "\n")
    path.chmod(0o755)


def test_hanging_converter_times_out(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    # The child keeps the output pipe open: killing only the shell would leave us waiting for it.
    _fake(bin_dir, "antiword", "/bin/sleep 30 &\nwait")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    doc = tmp_path / "slow.doc"
    doc.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(2048))
    start = time.monotonic()
    err = unreadable(doc, timeout=1)
    assert err.kind == "timeout" and time.monotonic() - start < 5


def test_failing_converters_fall_through_and_output_is_normalised(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    _fake(bin_dir, "antiword", "echo 'I am not a Word document.' >&2; exit 1")
    _fake(bin_dir, "catdoc", r"printf '标题\r\n第一段\v第二段\f第三段\001\177\r\r\r\r第四段\342\200\250第五段\n'")
    monkeypatch.setenv("PATH", str(bin_dir))
    doc = tmp_path / "x.doc"
    doc.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(2048))
    assert convert(doc, doc.read_bytes()).text == "标题\n第一段\n第二段\n第三段\n\n第四段\n第五段"
    _fake(bin_dir, "catdoc", "echo 'catdoc: broken file, giving up' >&2; exit 2")
    err = unreadable(doc)
    assert err.kind == "corrupt" and "catdoc: broken file, giving up" in str(err)


def test_misnamed_word_files_are_read_by_their_content(doc_file, tmp_path):
    as_doc = tmp_path / "really-docx.doc"
    as_doc.write_bytes(make_docx(tmp_path / "a.docx", TITLE, SECTIONS).read_bytes())
    assert convert(as_doc, as_doc.read_bytes()).text.startswith(TITLE + "\n# 一、基本情况")
    if shutil.which("antiword") or shutil.which("catdoc") or soffice():
        as_docx = tmp_path / "really-doc.docx"
        as_docx.write_bytes(doc_file.read_bytes())
        assert SECTIONS[0][1][0] in convert(as_docx, as_docx.read_bytes()).text


def test_plain_normalises_control_characters():
    raw = "a\r\nb\rc\vd\u2028e\u2029f\x85g\x00h\x07i\x1bj\x7fk\x9fl\ufffem\uffffn\fo\tp\n\n\n\n  q  \n"
    assert plain(raw) == "a\nb\nc\nd\ne\nf\ngh" + "ijklmn\no\tp\n\nq"
