"""The configured LLM as a second reader: does one of the quoted sentences state what is asked?

When an LLM is configured, an extractive 问答 answer goes to the model with the prompt file
prompts/judge.txt before anything is written: the question and the quoted sentences, numbered, with
their report and heading. The model names the sentence that states the answer and the answer's words,
or says none does and what is missing. Its verdict gets the same checks as the reader's own:

- the sentence it names must be one of those quoted, and the answer's words must stand in it
  verbatim (then they become the short answer, with offsets inside that citation);
- "none does" turns the answer into a refusal that says what is missing (the model's words, short,
  with no citation marker) and cites the quoted sentences as related, not as the answer.

A verdict that fails a check, a reply that cannot be read, or any failure of the model leaves the
extractive decision as it was. The model can veto an answer, never invent one: a sentence the rules
found lacking is not offered to it.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, replace

from langchain_core.messages import HumanMessage, SystemMessage

from ..core.prompts import render
from ..core.schema import MARKER, Answer, ShortAnswer
from .answering import missing_text
from .generation import chat_model

log = logging.getLogger(__name__)

MAX_SPAN = 40  # characters: a short answer longer than this is a sentence, not a span
MAX_MISSING = 30  # characters of the model's 「缺少」 kept
_JSON = re.compile(r"\{[^{}]*\}")
NOTICE = "大模型核对后认为，摘出的句子没有写明所问的内容。"


@dataclass(frozen=True)
class Verdict:
    sentence: int  # the quoted sentence (citation n) that states the answer; 0: none does
    span: str = ""
    missing: str = ""


def candidates_text(ans: Answer) -> str:
    return "\n".join(f"[{c.n}] {c.quote}（《{c.title}》{' › ' + c.heading if c.heading else ''}）"
                     for c in ans.citations)


def read_verdict(reply: str, numbers: set[int]) -> Verdict | None:
    """The model's verdict, or None when the reply holds no readable one or names no quoted sentence."""
    for m in _JSON.finditer(reply):
        try:
            data = json.loads(m.group(0))
        except ValueError:
            continue
        n = data.get("句子")
        if isinstance(n, str) and n.strip().isdigit():
            n = int(n)
        if not isinstance(n, int) or (n != 0 and n not in numbers):
            return None
        span = str(data.get("答案") or "").strip()
        missing = MARKER.sub("", str(data.get("缺少") or "")).strip().rstrip("。")[:MAX_MISSING]
        return Verdict(n, span, missing)
    return None


def ask_judge(ans: Answer, cfg) -> Verdict | None:
    """The model's verdict on ``ans``'s quotes (None on any failure: the extractive decision stands)."""

    prompt = render("judge", question=ans.question, sentences=candidates_text(ans))
    try:
        reply = chat_model(cfg).invoke([SystemMessage(render("system")), HumanMessage(prompt)]).content
    except Exception as exc:  # noqa: BLE001 - every model failure leaves the extractive decision
        log.info("LLM judge failed (%s: %s); the reader's decision stands", type(exc).__name__, exc)
        return None
    verdict = read_verdict(reply if isinstance(reply, str) else "", {c.n for c in ans.citations})
    if verdict is None:
        log.info("LLM judge reply unreadable: %r", str(reply)[:200])
    return verdict


def apply_verdict(ans: Answer, verdict: Verdict | None) -> Answer:
    """``ans`` as the checked verdict leaves it (see the module docstring)."""
    if verdict is None or ans.refused or not ans.citations:
        return ans
    judged = {"judge": verdict.sentence}
    if verdict.sentence == 0:
        if not verdict.missing:
            return replace(ans, checks={**ans.checks, **judged, "judge_used": False})
        related = [replace(c, related=True) for c in ans.citations]
        return replace(ans, answer=missing_text(verdict.missing, related), refused=True, citations=related, short_answer=None, missing=verdict.missing,
                       reason=f"the LLM judge: no quoted sentence states what is asked ({verdict.missing})",
                       notice=NOTICE, checks={**ans.checks, **judged, "judge_used": True})
    c = next(c for c in ans.citations if c.n == verdict.sentence)
    at = c.quote.find(verdict.span) if verdict.span and len(verdict.span) <= MAX_SPAN else -1
    if at < 0 or len(verdict.span) >= len(c.quote.strip()) - 1:
        return replace(ans, checks={**ans.checks, **judged, "judge_used": False})
    short = ShortAnswer(verdict.span, c.n, c.start + at, c.start + at + len(verdict.span))
    lines = ans.answer.split("\n")
    if ans.short_answer:
        lines = lines[1:]
    return replace(ans, answer="\n".join([f"{short.text}[{short.n}]", *lines]), short_answer=short,
                   checks={**ans.checks, **judged, "judge_used": True})
