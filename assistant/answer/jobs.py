"""The jobs the assistant does, as a small registry: 问答 (a cited answer), 起草发言要点 (talking
points), 查找先例做法 (every unit's matching practice). Each names its label on the page, its title
in exports, how broadly it retrieves, the extractive function that answers it, the prompt file an
LLM answers it with, how an LLM reply is parsed, and how the answer is laid out. The pipeline,
rendering and export read these fields instead of testing mode names. Which job a request asks for
is routing's (routing.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from . import drafting, precedents
from .answering import answer
from .replies import parse_points_reply, parse_rows_reply
from .retrieval import Filters


@dataclass(frozen=True)
class Mode:
    name: str
    label: str  # the choice on the page
    title: str  # the heading of an export, the job named on the page
    breadth: int | None  # chunks retrieved; None: the settings' top_k
    extractor: Callable  # f(index, question, k=…, filters=…) -> Answer
    prompt: str  # prompts/<prompt>.txt for LLM answers
    parser: Callable[[str], dict] | None  # a verified LLM reply -> {"points": …} or {"rows": …}; None for none
    layout: str  # "text" | "points" | "table"

    def extract(self, index, question: str, filters=None, k: int | None = None):
        k = k or self.breadth or index.settings.top_k
        return self.extractor(index, question, k=k, filters=filters or Filters())

    def parse(self, reply: str) -> dict:
        return self.parser(reply) if self.parser else {}


QA = Mode("qa", "问答", "问答", None, answer, "qa", None, "text")
POINTS = Mode("points", "起草发言要点", "发言要点", drafting.BREADTH, drafting.draft_points, "points",
              parse_points_reply, "points")
PRECEDENTS = Mode("precedents", "查找先例做法", "先例做法", precedents.BREADTH, precedents.find_precedents,
                  "precedents", parse_rows_reply, "table")
REGISTRY: dict[str, Mode] = {m.name: m for m in (QA, POINTS, PRECEDENTS)}
MODES = tuple(REGISTRY)
BY_LABEL: dict[str, Mode] = {m.label: m for m in REGISTRY.values()}


def get(name: str) -> Mode:
    return REGISTRY.get(name, QA)
