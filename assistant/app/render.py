"""Answers as HTML for the web page: the answer with clickable [n] markers, and under it one
expandable source per citation (title · organisation · date, the quoted sentence highlighted inside
its passage).

Everything that comes from a document or a user is escaped here — HTML *and* Markdown — because
the chat component renders Markdown: a document line such as ``![x](http://host/a.png)`` or
``<img onerror=…>`` must show as text and load nothing. The markup this module writes itself is
the only markup on the page.
"""

from __future__ import annotations

import html
from typing import Callable

from ..answer.jobs import get
from ..core.chinese import sentence_spans
from ..core.schema import MARKER, Answer, Citation, ShortAnswer

# Characters that start Markdown, LaTeX or autolink syntax; written as numeric entities, which
# Markdown shows as the character and never parses as syntax.
_MD = {c: f"&#{ord(c)};" for c in "\\`*_{}[]()#+-!|~$:>"}
LOW_PAGES_SHOWN = 5  # low-confidence pages named in a document's line of the library; the rest are "…"
_CONTEXT_CHARS = 160  # passage shown around a quote, each side (snapped to sentence boundaries)


def esc(text: str) -> str:
    """Text → HTML that shows exactly that text, with no Markdown, HTML, LaTeX or link syntax left."""
    out = html.escape(text, quote=True)
    return "".join(_MD.get(ch, ch) for ch in out)


def esc_lines(text: str) -> str:
    return "<br>".join(esc(line) for line in text.split("\n"))


def _marker(n: int) -> str:
    return f'<a class="cite cite-{n}" href="#" title="查看来源 {n}">[{n}]</a>'


def with_markers(text: str) -> str:
    """Escape ``text`` and turn its [n] markers into links to source n."""
    out, pos = [], 0
    for m in MARKER.finditer(text):
        out.append(esc(text[pos:m.start()]))
        out.append(_marker(int(m.group(1))))
        pos = m.end()
    out.append(esc(text[pos:]))
    return "".join(out)


def question_html(question: str) -> str:
    return f'<div class="q">{esc_lines(question)}</div>'


def passage(doc_text: str, start: int, end: int, context: int = _CONTEXT_CHARS) -> tuple[str, str, str]:
    """(before, quote, after): the quote with whole sentences around it, within its paragraph."""
    para_start = doc_text.rfind("\n", 0, start) + 1
    para_end = doc_text.find("\n", end)
    para_end = len(doc_text) if para_end < 0 else para_end
    spans = sentence_spans(doc_text, para_start, para_end)
    lo = start
    for s in reversed([s for s in spans if s.end <= start]):
        if start - s.start > context:
            break
        lo = s.start
    hi = end
    for s in (s for s in spans if s.start >= end):
        if s.end - end > context:
            break
        hi = s.end
    return doc_text[lo:start], doc_text[start:end], doc_text[end:hi]


def source_html(c: Citation, doc_text: str | None, span: ShortAnswer | None = None,
                scans: list[tuple[int, str]] = ()) -> str:
    """One source: its header and the quote highlighted in its passage; ``span`` (the short answer,
    when it stands in this quote) is set off inside the highlight; ``scans`` ((page, image URL) of the
    scanned page bands holding the quote, its lines boxed) under it."""
    number = f" · {esc(c.doc_number)}" if c.doc_number else ""
    head = f"[{c.n}] 《{esc(c.title)}》{number} · {esc(c.org or '未知单位')} · {esc(c.date or '日期不详')}"
    if c.where:
        head += f' <span class="where">（{esc(c.where)}）</span>'

    if doc_text is not None and doc_text[c.start:c.end] == c.quote:
        before, quote, after = passage(doc_text, c.start, c.end)
    else:
        before, quote, after = "", c.quote, ""
    marked = esc_lines(quote)
    if span is not None and span.n == c.n and c.start <= span.start < span.end <= c.end:
        a, b = span.start - c.start, span.end - c.start
        marked = (f'{esc_lines(quote[:a])}<strong class="answer-span">{esc_lines(quote[a:b])}</strong>'
                  f'{esc_lines(quote[b:])}')
    body = f"{esc_lines(before)}<mark>{marked}</mark>{esc_lines(after)}"
    flag = "" if c.verified else '<span class="unverified">（未核实）</span>'
    figures = "".join(f'<figure class="scan"><img src="{html.escape(url, quote=True)}" alt="扫描原件第 {page} 页">'
                      f"<figcaption>扫描原件第 {page} 页（框出所引的行）</figcaption></figure>" for page, url in scans)
    return (f'<details class="src src-{c.n}"><summary>{head}{flag}</summary>'
            f'<div class="passage">{body}</div>{figures}'
            f'<div class="src-meta">{esc(c.doc_id)} · 第 {c.start}–{c.end} 字</div></details>')


def _body(ans: Answer) -> str:
    if ans.refused:
        first, *related = ans.answer.split("\n")
        return f'<p class="refused">{esc(first)}</p>' + "".join(
            f'<p class="related">{with_markers(line)}</p>' for line in related if line.strip())
    layout = get(ans.mode).layout
    if layout == "points" and ans.points:
        items = "".join(f"<li><strong>{esc(p.heading)}</strong>：{with_markers(p.text)}</li>" for p in ans.points)
        return f'<ol class="points">{items}</ol>'
    if layout == "table" and ans.rows:
        head = "<tr><th>单位</th><th>时间</th><th>做法</th><th>出处</th></tr>"
        rows = "".join(
            f"<tr><td>{esc(r.org or '未知单位')}</td><td>{esc(r.date or '日期不详')}</td>"
            f"<td>{with_markers(r.practice)}</td><td>{''.join(_marker(n) for n in r.citations)}</td></tr>"
            for r in ans.rows
        )
        return f'<table class="precedents"><thead>{head}</thead><tbody>{rows}</tbody></table>'
    lines = [line for line in ans.answer.split("\n") if line.strip()]
    short = f'<p class="short-answer">{with_markers(lines.pop(0))}</p>' if ans.short_answer and lines else ""
    return short + "".join(f"<p>{with_markers(line)}</p>" for line in lines)


def answer_html(ans: Answer, text_of: Callable[[str], str | None],
                scans_of: Callable[[Citation], list[tuple[int, str]]] | None = None) -> str:
    """The whole assistant message: notice, answer, unsupported sentences, sources (with the bands of
    scanned pages ``scans_of`` gives for a citation)."""
    parts = ['<div class="answer">']
    if ans.asked_mode:
        parts.append(f'<p class="routed">按「{esc(get(ans.mode).label)}」作答（问题是在请求这项工作；'
                     f'如只想问答，请换个问法）</p>')
    if ans.notice:
        parts.append(f'<p class="notice">{esc(ans.notice)}</p>')
    parts.append(_body(ans))
    for sentence in ans.unsupported:
        parts.append(f'<p class="unsupported">⚠ 未找到资料支持，已去掉引用：{esc(sentence)}</p>')
    if ans.citations:
        title = "相关原文（不足以回答，点击展开）" if ans.only_related else "来源（点击展开原文）"
        parts.append(f'<div class="sources"><div class="sources-title">{title}</div>')
        parts += [source_html(c, text_of(c.doc_id), ans.short_answer, scans_of(c) if scans_of else [])
                  for c in ans.citations]
        parts.append("</div>")
    elif ans.refused and ans.hits:
        parts.append('<details class="nearest"><summary>最接近的段落（不足以回答）</summary>')
        for h in ans.hits[:3]:
            parts.append(f'<div class="passage">《{esc(h.meta.title)}》：{esc_lines(h.chunk.text[:160])}…</div>')
        parts.append("</details>")
    parts.append("</div>")
    return "".join(parts)


def streaming_html(partial: str) -> str:
    """A reply still arriving: shown as plain escaped text (its citations are not checked yet)."""
    return f'<div class="answer streaming">{esc_lines(partial)}<span class="cursor">▍</span></div>'


def ocr_note(meta) -> str:
    """What OCR read of a document, for the library's lists: 「OCR 12 页，3 页低置信（第 2、5、7 页）」; "" when none."""
    if not meta.ocr_pages:
        return ""
    note = f"OCR {len(meta.ocr_pages)} 页"
    if meta.low_confidence:
        shown = "、".join(map(str, meta.low_confidence[:LOW_PAGES_SHOWN])) + ("…" if len(meta.low_confidence) > LOW_PAGES_SHOWN else "")
        note += f"，{len(meta.low_confidence)} 页低置信（第 {shown} 页，请对照原件核对）"
    return note
