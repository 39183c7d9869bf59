"""Multi-turn conversation: a follow-up such as 「那兰州化物所呢？」 is condensed into a standalone
question — by the LLM when one is configured, otherwise by carrying the previous question's topic
over to the new name (「哈焊所开展过哪些知识竞赛？」 → 「兰州化物所开展过哪些知识竞赛？」)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from langchain_core.messages import HumanMessage

from ..core.chinese import cut, entity_words, fold
from ..core.prompts import render
from ..core.schema import Answer
from ..core.wordlists import alternation, words
from .generation import chat_model
from .pipeline import Request, answer
from .question import content_words

log = logging.getLogger(__name__)

_C = "answer_requests.txt"
# A follow-up is short: the follow-ups of the conversation tests have 6 to 8 characters (「那兰州化物所呢？」);
# a question of over FOLLOW_UP_MAX characters stands on its own. Set by hand.
FOLLOW_UP_MAX = 20
HISTORY_TURNS = 3  # turns an LLM condensing a follow-up is shown …
HISTORY_ANSWER_CHARS = 200  # … each answer cut to this many characters (within the prompt's budget)
_FOLLOW_UP = re.compile(rf"^({alternation(_C, 'follow_opener')})|呢[？?]?$|怎么样[？?]?$|^({alternation(_C, 'follow_subject')})")
_FILLER = re.compile(rf"^({alternation(_C, 'filler_opener')})|({alternation(_C, 'filler_end')})?[？?。！!]*$")
_ASKED_AFTER_IS = words(_C, "asked_after_is")  # 「书记是谁」: the word before 是 is asked about
_ASKED_BEFORE = words(_C, "asked_before")  # 「哪些做法」: the word after is asked about


def is_follow_up(question: str) -> bool:
    q = question.strip()
    return len(q) <= FOLLOW_UP_MAX and bool(_FOLLOW_UP.search(q))


def asked_about(question: str) -> str:
    """The word a question asks about: before 是谁/是多少/有多少, or after 哪些/什么/几个/多少."""
    toks = [t for t in cut(question) if t.strip()]
    for i, t in enumerate(toks):
        if t in ("是", "为") and i + 1 < len(toks) and toks[i + 1] in _ASKED_AFTER_IS:
            before = [w for w in toks[:i] if len(w) >= 2]
            return before[-1] if before else ""
        if t in _ASKED_BEFORE:
            after = [w for w in toks[i + 1:] if len(w) >= 2]
            return after[0] if after else ""
    return ""


def carry_topic(previous: str, follow_up: str) -> str:
    """Rule-based condensing: put the follow-up's subject into the previous question."""
    subject = _FILLER.sub("", follow_up.strip()).strip()
    if not subject:
        return previous
    if not entity_words(subject):
        # 「那副组长呢？」 asks the same about another thing: replace the thing asked about.
        asked = asked_about(previous)
        i = previous.rfind(asked) if asked else -1
        if i >= 0:
            return previous[:i] + subject + previous[i + len(asked):]
        return f"{subject}：{previous}"
    old = [w for w in content_words(previous) if w in entity_words(previous)]
    if old:
        # Replace the earliest-mentioned name of the previous question with the new subject.
        first = min(old, key=lambda w: fold(previous).lower().find(w))
        i = fold(previous).lower().find(first)
        if i >= 0:
            return previous[:i] + subject + previous[i + len(first):]
    return f"{subject}：{previous}"


@dataclass
class Conversation:
    index: object
    llm: object = None  # generation.LLMConfig or None
    turns: list[tuple[str, str, Answer]] = field(default_factory=list)  # (asked, standalone, answer)

    def clear(self) -> None:
        self.turns.clear()

    def standalone(self, question: str) -> str:
        if not self.turns or not is_follow_up(question):
            return question
        previous = self.turns[-1][1]
        if self.llm is not None:
            try:
                return self._condense_with_llm(question)
            except Exception as exc:  # noqa: BLE001 - fall back to the rule
                log.info("condensing with the LLM failed (%s); carrying the topic over", exc)
        return carry_topic(previous, question)

    def _condense_with_llm(self, question: str) -> str:
        history = "\n".join(f"问：{standalone}\n答：{ans.answer[:HISTORY_ANSWER_CHARS]}" for _, standalone, ans in
                            self.turns[-HISTORY_TURNS:])
        reply = chat_model(self.llm).invoke([HumanMessage(render("condense", history=history, question=question))])
        text = (reply.content if isinstance(reply.content, str) else "").strip().splitlines()
        if not text or not text[0].strip():
            raise RuntimeError("empty reply")
        return text[0].strip()

    def remember(self, question: str, standalone: str, ans: Answer) -> None:
        self.turns.append((question, standalone, ans))

    def ask(self, question: str, mode: str = "qa", **options) -> Answer:
        """One turn through the pipeline (``options``: Request fields ``filters``, ``k``, ``auto_route``)."""
        return answer(self.index, Request(question=question, mode=mode, **options), conversation=self, llm=self.llm)
