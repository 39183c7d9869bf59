"""Optional LLM generation over any OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp server,
DeepSeek, Qwen/DashScope…), configured by ASSISTANT_LLM_BASE_URL / _MODEL / _API_KEY.

The extractive pipeline decides first: if it refuses, the LLM is never called. Otherwise the
retrieved chunks are packed (numbered, within a token budget, inside <资料>…</资料>) into the
prompt files, and every citation in the reply is checked: a marker must name a supplied source and
its sentence must be supported by that source (IDF-weighted word containment on folded text). Bad
markers are removed and their sentences listed as unsupported. Any failure of the model — timeout,
HTTP error, broken stream, empty reply — gives the extractive answer instead, marked as such.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from typing import Callable, Iterator

from langchain_core.messages import HumanMessage, SystemMessage

from ..core.chinese import fold, sentence_spans, words
from ..core.prompts import render
from ..core.schema import MARKER, Answer, Citation, Hit
from ..core.settings import LLMConfig
from ..ingest.chunking import count_tokens
from .answerability import missing
from .answering import REFUSAL
from .citing import cite
from .jobs import get
from .needs import needs

log = logging.getLogger(__name__)

MIN_VERIFIED_SHARE = 0.5  # an LLM reply is shown only if at least half its sentences are backed by their source
SUPPORT_MIN = 0.3  # IDF-weighted share of a sentence's words found in the source it cites. On the dev
# set the gold answers score ≥ 0.33 (p10 0.77) against their own source, ≤ 0.27 (p95 0.16) against other reports
# An unmarked sentence of the reply this long or longer is a claim that needs a source; a shorter one is a
# connective or a label (「具体如下：」 has 5 characters, 「主要做法有：」 6). Set by hand.
CLAIM_MIN_CHARS = 8
# A generated sentence: up to 。！？ or a line break, with the markers that follow the stop (「…。[2]」).
_STRUCTURE = re.compile(r"[|｜\s\-:：]*(单位|时间|做法|出处|[|｜\s\-:：])*")  # table rules and headers
_GEN_SENTENCE = re.compile(r"[^。！？!?\n]+(?:[。！？!?]+[”’」』）)]*)?(?:[ \t]*\[\d{1,3}\])*")


def chat_model(cfg: LLMConfig, streaming: bool = False):
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(model=cfg.model, base_url=cfg.base_url, api_key=cfg.api_key or "not-needed",
                      timeout=cfg.timeout, max_retries=0, streaming=streaming, temperature=0,
                      # `max_tokens` in the body: what llama.cpp, vLLM and Ollama read (LangChain would send
                      # OpenAI's newer `max_completion_tokens`, which they ignore).
                      extra_body={"max_tokens": cfg.max_tokens})


def pack_sources(hits: list[Hit], budget: int = 3000) -> tuple[str, dict[int, Hit]]:
    """Number the chunks [1]…[n] with title, organisation and date, within ``budget`` tokens."""
    parts, used, sources = [], 0, {}
    for n, h in enumerate(hits, 1):
        body = h.chunk.text.replace("<资料>", "＜资料＞").replace("</资料>", "＜/资料＞")
        block = f"[{n}] 《{h.meta.title}》（{h.meta.org or '未知单位'}，{h.meta.date or '日期不详'}）\n{body}"
        cost = count_tokens(block)
        if parts and used + cost > budget:
            break
        parts.append(block)
        sources[n] = h
        used += cost
    return "\n\n".join(parts), sources


def support(sentence: str, source: str, idf: Callable[[str], float]) -> float:
    """IDF-weighted share of the sentence's words that the source contains: the distinctive words
    (names, numbers, the practice itself) count, the domain's everyday vocabulary hardly does."""
    ws = set(words(sentence))
    total = sum(idf(w) for w in ws)
    if not total:
        return 0.0
    src = fold(source).lower()
    return sum(idf(w) for w in ws if w in src) / total


def _best_quote(hit: Hit, sentence: str, doc_text: str, idf) -> tuple[int, int, str]:
    """The sentence of the cited chunk that best matches what the answer says (verbatim, with offsets)."""
    spans = sentence_spans(doc_text, hit.chunk.start, hit.chunk.end)
    best = max(spans, key=lambda s: support(sentence, s.text, idf))
    return best.start, best.end, best.text


def verify(reply: str, sources: dict[int, Hit], index) -> tuple[str, list[Citation], list[str]]:
    """Keep the markers that name a supplied source that supports their sentence; drop the rest.
    Returns (checked text, line structure kept; citations with ``verified``; unsupported sentences)."""
    lines, citations, unsupported, seen = [], [], [], set()
    for line in reply.split("\n"):
        out = []
        for unit in _GEN_SENTENCE.findall(line):
            marks = [int(m) for m in MARKER.findall(unit)]
            body = MARKER.sub("", unit).strip()
            if not body:
                continue
            if not marks:
                if len(body) >= CLAIM_MIN_CHARS and body != REFUSAL and not _STRUCTURE.fullmatch(body):
                    unsupported.append(body)  # a claim with no source
                out.append(body)
                continue
            kept = []
            for n in dict.fromkeys(marks):
                hit = sources.get(n)
                if hit is None or support(body, hit.chunk.text, index.keyword.idf) < SUPPORT_MIN:
                    continue
                kept.append(n)
                if n not in seen:
                    seen.add(n)
                    start, end, quote = _best_quote(hit, body, index.store.text(hit.chunk.doc_id), index.keyword.idf)
                    citations.append(cite(n, hit, quote, start, end))
            if not kept:
                unsupported.append(body)
            out.append(body + "".join(f"[{n}]" for n in kept))
        lines.append("".join(out))
    return "\n".join(x for x in lines if x.strip()), sorted(citations, key=lambda c: c.n), unsupported


def stream_reply(cfg: LLMConfig, prompt: str, question: str, sources_text: str) -> Iterator[str]:
    """Yield the model's reply piece by piece (raises on any failure)."""

    messages = [SystemMessage(render("system")), HumanMessage(render(prompt, sources=sources_text, question=question))]
    got = False
    for chunk in chat_model(cfg, streaming=True).stream(messages):
        piece = chunk.content if isinstance(chunk.content, str) else ""
        if piece:
            got = True
            yield piece
    if not got:
        raise RuntimeError("the model sent an empty reply")


def generate_stream(index, extractive: Answer, cfg: LLMConfig) -> Iterator[str | Answer]:
    """Rewrite an extractive answer with the LLM: yields the reply's pieces as they arrive, then the
    verified Answer — or the extractive one, with a notice, on any failure of the model."""
    if extractive.refused:
        yield extractive  # nothing relevant was retrieved: the model is not asked
        return
    mode = get(extractive.mode)
    sources_text, sources = pack_sources(extractive.hits, cfg.context_tokens)
    pieces: list[str] = []
    try:
        for piece in stream_reply(cfg, mode.prompt, extractive.question, sources_text):
            pieces.append(piece)
            yield piece
    except Exception as exc:  # noqa: BLE001 - every model failure falls back the same way
        reason = _describe(exc)
        log.info("LLM failed (%s); extractive answer instead", reason)
        extractive.notice = f"大模型调用失败（{reason}），以下为摘录式回答。"
        yield extractive
        return
    reply = "".join(pieces).strip()
    text, citations, unsupported = verify(reply, sources, index)
    checks = {"sentences": _claims(reply), "unsupported": len(unsupported), "markers": len(MARKER.findall(reply)),
              "markers_kept": len(MARKER.findall(text))}
    if reply.startswith(REFUSAL):
        yield replace(extractive, answer=REFUSAL, refused=True, citations=[], points=[], rows=[],
                      generator=f"llm:{cfg.model}", reason="the model found no answer in the sources", checks=checks)
        return
    verified = checks["sentences"] - checks["unsupported"]
    lacks = _lacks(index, extractive.question, text) if mode.name == "qa" and citations else ""
    if not citations or verified / max(1, checks["sentences"]) < MIN_VERIFIED_SHARE or lacks:
        # Nothing — or too little — of what the model wrote is backed by a source, or it does not state what
        # was asked (the number, name, date…): the checked quotes instead.
        if lacks:
            log.info("LLM reply does not answer: it %s", lacks)
        extractive.notice = ("大模型的回答没有给出所问的内容，未予采用，以下为摘录式回答。" if lacks and
                             verified / max(1, checks["sentences"]) >= MIN_VERIFIED_SHARE else
                             f"大模型的回答只有 {verified}/{checks['sentences']} 句能在资料中核实，未予采用，"
                             "以下为摘录式回答。")
        extractive.checks = checks
        yield extractive
        return
    result = replace(extractive, answer=text, citations=citations, generator=f"llm:{cfg.model}",
                     unsupported=unsupported, points=[], rows=[], checks=checks)
    for name, value in mode.parse(text).items():
        setattr(result, name, value)
    yield result


def _claims(reply: str) -> int:
    """The reply's claims, counted as ``verify`` examines them: every sentence with a marker, and every
    unmarked one of CLAIM_MIN_CHARS or more that is not table structure."""
    n = 0
    for line in reply.split("\n"):
        for unit in _GEN_SENTENCE.findall(line):
            body = MARKER.sub("", unit).strip()
            if body and (MARKER.search(unit) or (len(body) >= CLAIM_MIN_CHARS and body != REFUSAL and not _STRUCTURE.fullmatch(body))):
                n += 1
    return n


def _lacks(index, question: str, text: str) -> str:
    """What the (verified) reply lacks to answer: the same requirements an extractive answer meets."""
    return missing(needs(question, index.keyword.chunk_df), MARKER.sub("", text))


def generate(index, extractive: Answer, cfg: LLMConfig, on_token: Callable[[str], None] | None = None) -> Answer:
    """``generate_stream`` run to its end; ``on_token`` sees the pieces."""
    for item in generate_stream(index, extractive, cfg):
        if isinstance(item, Answer):
            return item
        if on_token:
            on_token(item)
    raise AssertionError("generate_stream ended without an answer")


def _describe(exc: Exception) -> str:
    name = type(exc).__name__
    if "Timeout" in name:
        return "超时"
    status = getattr(exc, "status_code", None)
    if status:
        return f"HTTP {status}"
    if "empty reply" in str(exc):
        return "空回复"
    return f"连接或数据流中断：{name}"
