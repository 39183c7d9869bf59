"""Build real test files (.docx, .pdf, scanned .pdf, .html, .doc) at test time, so no binary
fixtures are committed. Shared by the converter tests and any test that ingests such formats.

PDFs are written with fpdf2 and a TrueType CJK font (WenQuanYi Micro Hei, Debian's
``fonts-wqy-microhei``): pypdf extracts its text back exactly. The Noto CJK fonts that are often
present are CFF-based OpenType; fpdf2 embeds them with a CMap encoding that pypdf reads one byte at a
time, so every character comes back with a NUL before it (``cjk_cff_font`` finds one, to test that
the converter copes)."""

from __future__ import annotations

import html
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

# TrueType (glyf-outline) CJK fonts fpdf2 can embed and pypdf reads back exactly, best first.
_TRUETYPE_CJK = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)
_CFF_CJK = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
)
PDF_NEEDS = "pip install fpdf2 and apt-get install fonts-wqy-microhei (make converters)"


def cjk_truetype_font() -> str | None:
    return next((f for f in _TRUETYPE_CJK if Path(f).is_file()), None)


def cjk_cff_font() -> str | None:
    return next((f for f in _CFF_CJK if Path(f).is_file()), None)


def can_make_pdf() -> bool:
    try:
        import fpdf  # noqa: F401
    except ImportError:
        return False
    return cjk_truetype_font() is not None


# ---------------------------------------------------------------------------------------------- docx

def make_docx(path: Path, title: str, sections: list[tuple[str, list[str]]],
              table: list[list[str]] | None = None) -> Path:
    """A Word file: Title paragraph, then per section a Heading 1 and its paragraphs (a section
    heading that starts with "## " is a Heading 2), then the table (first row = header), if any.
    The core properties carry the title, and the page header a line that is not body text."""
    import docx

    d = docx.Document()
    d.core_properties.title = title
    d.sections[0].header.paragraphs[0].text = "页眉：内部资料 注意保存"
    d.sections[0].footer.paragraphs[0].text = "页脚：第 1 页"
    d.add_paragraph(title, style="Title")
    for heading, paragraphs in sections:
        if heading.startswith("## "):
            d.add_heading(heading[3:], level=2)
        else:
            d.add_heading(heading, level=1)
        for p in paragraphs:
            d.add_paragraph(p)
    if table:
        t = d.add_table(rows=len(table), cols=len(table[0]))
        t.style = "Table Grid"
        for r, row in enumerate(table):
            for c, cell in enumerate(row):
                t.cell(r, c).text = cell
    path = Path(path)
    d.save(path)
    return path


# ----------------------------------------------------------------------------------------------- pdf

def make_pdf(path: Path, pages: list[list[str]], font: str | None = None, page_number: str | None = "- {n} -",
             running_header: str | None = "中国科学院某研究所党委 工作简报", width: float = 110) -> Path:
    """A text PDF: each page's paragraphs wrapped into a ``width`` mm column (so sentences break
    across lines), ``running_header`` at the top and ``page_number`` (a format with {n} and {total})
    at the bottom of every page. An empty list is a blank page, without header or number."""
    from fpdf import FPDF

    font = font or cjk_truetype_font()
    if font is None:
        raise RuntimeError(f"no TrueType CJK font for fpdf2; {PDF_NEEDS}")
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(False)
    pdf.add_font("cjk", "", font, collection_font_number=0)
    pdf.set_font("cjk", size=12)
    for number, paragraphs in enumerate(pages, 1):
        pdf.add_page()
        if not paragraphs:
            continue
        if running_header:
            pdf.set_xy(20, 12)
            pdf.cell(0, 8, running_header)
        pdf.set_xy(20, 30)
        for para in paragraphs:
            pdf.multi_cell(width, 8, para, new_x="LMARGIN", new_y="NEXT")
            pdf.set_x(20)
            pdf.ln(4)
        if page_number:
            pdf.set_xy(90, 280)
            pdf.cell(30, 8, page_number.format(n=number, total=len(pages)), align="C")
    path = Path(path)
    pdf.output(str(path))
    return path


def make_scanned_pdf(path: Path, pages: int = 2) -> Path:
    """An image-only PDF (what a scanner produces): each page one raster picture of "text" strokes."""
    from PIL import Image, ImageDraw

    images = []
    for n in range(pages):
        im = Image.new("RGB", (620, 877), "white")
        draw = ImageDraw.Draw(im)
        for row in range(20):
            y = 60 + row * 36
            draw.rectangle([60, y, 560 - (row * 37 + n * 11) % 180, y + 14], fill="black")
        images.append(im)
    path = Path(path)
    images[0].save(path, "PDF", save_all=True, append_images=images[1:], resolution=72.0)
    return path


def make_encrypted_pdf(path: Path, source: Path, user_password: str = "secret") -> Path:
    """``source`` encrypted with pypdf (an empty ``user_password`` opens without asking)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(source))
    writer.encrypt(user_password, owner_password="owner-" + (user_password or "x"), algorithm="AES-128")
    path = Path(path)
    with path.open("wb") as f:
        writer.write(f)
    return path


# ---------------------------------------------------------------------------------------------- html

NAV = ["首页", "机构概况", "党建工作", "科研动态", "人才队伍", "合作交流", "创新文化", "信息公开"]
SIDEBAR = ["我所召开2016年度党风廉政建设工作会议", "研究所举办青年科技论坛第十二期",
           "所领导走访慰问离退休老同志", "我所获批国家重点研发计划项目两项", "研究所组织开展安全生产大检查"]
FOOTER = ["版权所有 ©2016 中国科学院某某研究所 京ICP备05002857号",
          "地址：北京市海淀区中关村北一条15号 邮编：100190", "电话：010-82543000 传真：010-82543001"]


def make_html(path: Path, title: str, date: str, paragraphs: list[str], encoding: str = "utf-8",
              site: str = "中国科学院某某研究所", url: str = "http://www.example.ac.cn/djgz/201605/t20160513_1.html") -> Path:
    """A Chinese institute news page as such sites are built: header with navigation bar,
    breadcrumb, the article (title, 发布时间：DATE, paragraphs), a sidebar of other news and a
    footer with 版权所有/ICP备/地址/电话. ``encoding="gb18030"`` writes GBK bytes declared as gb2312."""
    e = html.escape
    charset = "gb2312" if encoding.lower() in ("gb18030", "gbk", "gb2312") else encoding
    nav = "\n".join(f'      <li><a href="/{i}/">{e(n)}</a></li>' for i, n in enumerate(NAV))
    side = "\n".join(f'        <li><a href="/djgz/{i}.html">{e(s)}</a><span>2016-0{i + 1}-1{i}</span></li>'
                     for i, s in enumerate(SIDEBAR))
    body = "\n".join(f"        <p style=\"text-indent:2em\">{e(p)}</p>" for p in paragraphs)
    foot = "\n".join(f"    <p>{e(f)}</p>" for f in FOOTER)
    page = f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
  <meta charset="{charset}">
  <title>{e(title)}--{e(site)}</title>
  <meta name="keywords" content="党建工作,{e(site)}">
  <link rel="canonical" href="{e(url)}">
  <script type="text/javascript">var _hmt = _hmt || []; window.onload = function() {{ menu(); }};</script>
  <style>body {{ font-family: SimSun; }} .nav li {{ float: left; }}</style>
</head>
<body>
  <div class="header">
    <div class="logo"><a href="/"><img src="/images/logo.png" alt="{e(site)}"></a></div>
    <div class="search"><form action="/search"><input name="q" value="请输入关键字"><button>搜索</button></form></div>
    <ul class="nav">
{nav}
    </ul>
  </div>
  <div class="main">
    <div class="position">当前位置：<a href="/">首页</a> &gt; <a href="/djgz/">党建工作</a> &gt; 正文</div>
    <div class="content-left">
      <div class="article">
        <h1 class="title">{e(title)}</h1>
        <div class="info">发布时间：{e(date)}　　来源：综合办公室　　【字体：<a>大</a> <a>中</a> <a>小</a>】</div>
        <div class="TRS_Editor">
{body}
        </div>
        <div class="print">【<a href="javascript:window.print()">打印本页</a>】【<a href="javascript:window.close()">关闭窗口</a>】</div>
      </div>
    </div>
    <div class="content-right">
      <h3>相关新闻</h3>
      <ul class="news-list">
{side}
      </ul>
    </div>
  </div>
  <div class="footer">
{foot}
  </div>
</body>
</html>
"""
    path = Path(path)
    path.write_bytes(page.encode(encoding))
    return path


# ----------------------------------------------------------------------------------------------- doc

def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def make_doc(path: Path, title: str, sections: list[tuple[str, list[str]]],
             table: list[list[str]] | None = None, timeout: float = 120.0) -> Path | None:
    """A real Word 97-2003 .doc: a .docx made by ``make_docx`` converted by LibreOffice.
    None when LibreOffice is not installed (``make converters`` installs it)."""
    program = soffice()
    if program is None:
        return None
    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="make-doc-") as tmp:
        tmp_path = Path(tmp)
        src = make_docx(tmp_path / (path.stem + ".docx"), title, sections, table)
        out = tmp_path / "out"
        subprocess.run([program, f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}", "--headless",
                        "--convert-to", "doc", "--outdir", str(out), str(src)],
                       check=True, capture_output=True, stdin=subprocess.DEVNULL, timeout=timeout,
                       env={**os.environ, "HOME": str(tmp_path)})
        shutil.move(str(out / (path.stem + ".doc")), path)
    return path
