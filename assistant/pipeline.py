"""The one answer pipeline: condense → route → retrieve and select (the job's extractor, which also
decides answerability) → judge and generate (when an LLM is configured) → verify → log.

``ask`` yields the LLM reply's pieces as they arrive (str), then the final Answer. The CLI (ask and
chat) and the web page only consume it. No lock is held anywhere on the way: readers of the index
never wait for a writer, so a slow model blocks nobody else."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

from .answering import check_question
from .generation import generate_stream
from .judging import apply_verdict, ask_judge
from .modes import get, route
from .retrieval import Filters
from .schema import Answer


@dataclass(frozen=True)
class Request:
    question: str
    mode: str = "qa"  # the job the user chose
    filters: Filters = field(default_factory=Filters)
    k: int | None = None  # chunks to retrieve; None: the job's breadth
    auto_route: bool = True  # a drafting or precedent request typed into 问答 goes to its job


def ask(index, request: Request, *, conversation=None, llm=None, log: bool = True) -> Iterator[str | Answer]:
    """Answer one request. ``conversation`` (a Conversation) condenses a follow-up and remembers the
    turn; ``llm`` (an LLMConfig) writes the answer from the selected sources, checked sentence by
    sentence; without it — and whenever it fails — the answer is the extractive one."""
    question = check_question(request.question, index.settings.max_question_chars)
    standalone = conversation.standalone(question) if conversation is not None else question
    name = route(standalone, request.mode, index.embedder if index.dense else None) if request.auto_route \
        else request.mode
    ans = get(name).extract(index, standalone, request.filters, request.k)
    if name != request.mode:
        ans.asked_mode = request.mode
    if llm is not None and llm.judge and name == "qa" and not ans.refused:
        ans = apply_verdict(ans, ask_judge(ans, llm))  # the model as a second reader, its verdict checked
    if llm is not None and not ans.refused:
        for item in generate_stream(index, ans, llm):
            if isinstance(item, Answer):
                ans = item
            else:
                yield item
    if log:
        index.record(ans)
    if conversation is not None:
        conversation.remember(question, standalone, ans)
    yield ans


def answer(index, request: Request, **options) -> Answer:
    """``ask`` run to its end: the final Answer."""
    final = None
    for item in ask(index, request, **options):
        final = item
    assert isinstance(final, Answer)
    return final
