import re

from assistant.app.render import answer_html, esc, passage, question_html, source_html, with_markers
from assistant.core.schema import Answer, Citation, Point, Row, ShortAnswer

HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)"> ![x](http://203.0.113.9/a.png) [a](javascript:1) $x$'


def test_esc_leaves_no_markup_or_markdown_syntax():
    out = esc(HOSTILE)
    for bad in ("<", ">", "![", "](", "http:", "$"):
        assert bad not in out
    # It still shows the same characters: unescaping the entities gives the input back.
    import html

    assert html.unescape(out) == HOSTILE


def test_markers_become_links_and_text_around_them_is_escaped():
    out = with_markers("共申报了10个<b>小组</b>。[1][12]")
    assert out.count('class="cite cite-1"') == 1 and 'class="cite cite-12"' in out
    assert "<b>" not in out and "&lt;b&gt;" in out


def tags(markup: str) -> list[tuple[str, list]]:
    from html.parser import HTMLParser

    found = []

    class P(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, attrs))

    P().feed(markup)
    return found


def test_question_is_escaped():
    assert tags(question_html(HOSTILE)) == [("div", [("class", "q")])]


def test_passage_is_whole_sentences_around_the_quote_within_its_paragraph():
    text = "标题\n第一句很长的开头。第二句在前面。这是被引用的句子。后面一句话。再后面一句。\n下一段。"
    start = text.index("这是被引用的句子。")
    end = start + len("这是被引用的句子。")
    before, quote, after = passage(text, start, end, context=12)
    assert quote == "这是被引用的句子。"
    assert before == "第二句在前面。"  # the sentence before that would pass the 12-character window
    assert after == "后面一句话。再后面一句。"
    assert "标题" not in before and "下一段" not in after


def test_source_shows_title_org_date_and_highlights_the_exact_quote():
    text = "前一句。共申报了10个小组。后一句。"
    start = text.index("共申报")
    c = Citation(n=2, doc_id="d.txt", title="创先争优<b>", date="2012-11-05", org="哈焊所", quote="共申报了10个小组。",
                 start=start, end=start + 10)
    out = source_html(c, text)
    assert {t for t, _ in tags(out)} == {"details", "summary", "div", "mark"}
    assert 'class="src src-2"' in out and "创先争优&lt;b&gt;" in out and "哈焊所" in out and "2012&#45;11&#45;05" in out
    assert re.search(r"前一句。<mark>共申报了10个小组。</mark>后一句。", out)


def test_source_without_its_document_shows_the_quote_alone():
    c = Citation(n=1, doc_id="gone.txt", title="t", date="", org="", quote="引用。", start=5, end=8)
    out = source_html(c, None)
    assert "<mark>引用。</mark>" in out and "日期不详" in out and "未知单位" in out


def _answer(**kw):
    base = dict(question="q", answer="句一。[1]", refused=False, dense=True,
                citations=[Citation(1, "d.txt", "标题", "2010", "单位", "句一。", 0, 3)])
    base.update(kw)
    return Answer(**base)


def test_answer_html_per_mode():
    text = {"d.txt": "句一。"}.get
    qa = answer_html(_answer(), text)
    assert "<p>句一。<a" in qa and "details class=\"src src-1\"" in qa
    points = answer_html(_answer(mode="points", points=[Point("要点<i>", "句一。[1]", (1,))]), text)
    assert '<ol class="points"><li><strong>要点&lt;i&gt;</strong>' in points
    rows = answer_html(_answer(mode="precedents", rows=[Row("单位", "", "做法", (1,))]), text)
    assert "<th>单位</th><th>时间</th><th>做法</th><th>出处</th>" in rows and "日期不详" in rows
    refused = answer_html(_answer(answer="文档中没有找到相关信息", refused=True, citations=[]), text)
    assert 'class="refused"' in refused and "src-" not in refused
    warned = answer_html(_answer(notice="大模型调用失败（超时）", unsupported=["瞎编的一句"]), text)
    assert "超时" in warned and "瞎编的一句" in warned


def test_short_answer_opens_the_answer_and_is_set_off_inside_its_quote():
    text = "前一句。组长：巴音贺希格<b>，副组长：冯树龙。"
    start = text.index("组长")
    quote = text[start:]
    c = Citation(1, "d.txt", "标题", "2010", "单位", quote, start, len(text))
    at = text.index("巴音贺希格<b>")
    ans = _answer(answer=f"巴音贺希格<b>[1]\n{quote}[1]", citations=[c],
                  short_answer=ShortAnswer("巴音贺希格<b>", 1, at, at + 8))
    out = answer_html(ans, {"d.txt": text}.get)
    assert '<p class="short-answer">巴音贺希格&lt;b&gt;<a' in out
    assert re.search(r'<mark>组长：<strong class="answer-span">巴音贺希格&lt;b&gt;</strong>，副组长：冯树龙。</mark>', out)
    # A span outside the quote (a stale offset) is not drawn.
    stray = _answer(answer=f"{quote}[1]", citations=[c], short_answer=ShortAnswer("前一句", 1, 0, 3))
    assert "answer-span" not in answer_html(stray, {"d.txt": text}.get)


def test_refusal_that_says_what_is_missing_lists_related_sources():
    c = Citation(1, "d.txt", "标题", "2010", "单位", "句一。", 0, 3, related=True)
    ans = _answer(answer="文档中没有写明纪检委员是谁。相关原文：\n句一。[1]", refused=True, citations=[c],
                  missing="纪检委员是谁")
    out = answer_html(ans, {"d.txt": "句一。"}.get)
    assert "<p class=\"refused\">文档中没有写明纪检委员是谁。相关原文：</p>" in out
    assert '<p class="related">句一。<a class="cite cite-1"' in out
    assert "相关原文（不足以回答，点击展开）" in out and "来源（点击展开原文）" not in out
    assert ans.only_related and not _answer(answer="", refused=True).only_related


def test_a_source_from_a_scan_shows_the_boxed_band_of_its_page_under_the_quote():
    c = Citation(n=1, doc_id="s.pdf", title="扫描件", date="2012", org="哈焊所", quote="共申报了10个小组。", start=0, end=9,
                 page=3)
    url = "data:image/png;base64,iVBORw0KGgo="
    html = source_html(c, "共申报了10个小组。", scans=[(3, url)])
    assert f'<img src="{url}" alt="扫描原件第 3 页">' in html and "扫描原件第 3 页（框出所引的行）" in html
    assert html.index("<mark>") < html.index("<figure") < html.index("</details>")
    ans = Answer(question="q", answer="共申报了10个小组[1]。", refused=False, dense=True, citations=[c])
    assert url in answer_html(ans, lambda d: None, lambda cited: [(3, url)] if cited is c else [])
    assert "<figure" not in answer_html(ans, lambda d: None)
