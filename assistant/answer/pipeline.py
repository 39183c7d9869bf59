"""The one answer pipeline: condense → route → retrieve and select (the job's extractor, which also
decides answerability) → judge and generate (when an LLM is configured) → verify → log.

``ask`` returns a ``Reply`` (as simonw/llm's ``Response``): iterate it for the LLM reply's pieces as
they arrive; ``answer()`` runs it to its end and returns the final Answer. The CLI (ask and chat) and
the web page only consume it. No lock is held anywhere on the way: readers of the index never wait
for a writer, so a slow model blocks nobody else."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

from ..core.schema import Answer
from .generation import generate_stream
from .jobs import get
from .judging import apply_verdict, ask_judge
from .question import check_question
from .retrieval import Filters
from .routing import route


@dataclass(frozen=True)
class Request:
    question: str
    mode: str = "qa"  # the job the user chose
    filters: Filters = field(default_factory=Filters)
    k: int | None = None  # chunks to retrieve; None: the job's breadth
    auto_route: bool = True  # a drafting or precedent request typed into 问答 goes to its job


class Reply:
    """One request's answer as it is made. The question is checked (AssistantError) and, in a
    conversation, condensed into a standalone one when the Reply is made; iterating yields the LLM
    reply's pieces (nothing for an extractive answer); ``answer()`` finishes it. The log and the
    conversation's memory are written once, when the answer is complete."""

    def __init__(self, index, request: Request, conversation=None, llm=None, log: bool = True):
        self.index, self.request, self.conversation, self.llm, self.log = index, request, conversation, llm, log
        self.question = check_question(request.question, index.settings.max_question_chars)
        self.standalone = conversation.standalone(self.question) if conversation is not None else self.question
        self.streamed = False  # whether any piece of an LLM reply was yielded
        self._final: Answer | None = None
        self._steps = self._run()

    def __iter__(self) -> Iterator[str]:
        for item in self._steps:
            if isinstance(item, Answer):
                self._finish(item)
            else:
                self.streamed = True
                yield item

    def answer(self) -> Answer:
        """The final Answer (the pieces not yet read are read and dropped)."""
        for _ in self:
            pass
        assert self._final is not None
        return self._final

    def _run(self) -> Iterator[str | Answer]:
        request, index, llm = self.request, self.index, self.llm
        name = route(self.standalone, request.mode, index.embedder if index.dense else None) if request.auto_route \
            else request.mode
        ans = get(name).extract(index, self.standalone, request.filters, request.k)
        if name != request.mode:
            ans.asked_mode = request.mode
        if llm is not None and llm.judge and name == "qa" and not ans.refused:
            ans = apply_verdict(ans, ask_judge(ans, llm))  # the model as a second reader, its verdict checked
        if llm is not None and not ans.refused:
            yield from generate_stream(index, ans, llm)
        else:
            yield ans

    def _finish(self, ans: Answer) -> None:
        self._final = ans
        if self.log:
            self.index.record(ans)
        if self.conversation is not None:
            self.conversation.remember(self.question, self.standalone, ans)


def ask(index, request: Request, *, conversation=None, llm=None, log: bool = True) -> Reply:
    """Answer one request. ``conversation`` (a Conversation) condenses a follow-up and remembers the
    turn; ``llm`` (an LLMConfig) writes the answer from the selected sources, checked sentence by
    sentence; without it — and whenever it fails — the answer is the extractive one."""
    return Reply(index, request, conversation=conversation, llm=llm, log=log)


def answer(index, request: Request, **options) -> Answer:
    """``ask`` run to its end: the final Answer."""
    return ask(index, request, **options).answer()
