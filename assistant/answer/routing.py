"""Which job a request asks for. ``route`` sends a request typed into the default job to the job it
asks for: 「帮我拟一份动员讲话提纲」 is a drafting request, 「哪些单位开展过知识竞赛？怎么做的？」 a
search for precedents."""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

import numpy as np

from ..core.chinese import fold
from ..core.wordlists import alternation, any_of
from .jobs import POINTS, PRECEDENTS, QA, REGISTRY

# A request to write something: a drafting verb and something to draft.
# A count after the verb may be written in digits or any numeral: 列3条, 写两点, 拟五条.
_N = r"[一二两三四五六七八九十几0-9０-９]"
_DRAFT_VERB = re.compile(
    rf"起草|草拟|拟写|拟定|拟(?:[个份篇]|{_N})|撰写|(?:帮|替|给)我.{{0,6}}写|写(?:[个份篇]|{_N})|写出|列(?:[个份出]|{_N})|"
    rf"整理(?:出|{_N})|准备(?:[个份篇]|{_N})|出[一个份]|提炼|归纳(?:出|{_N})|梳理(?:出|{_N})"
)
_DRAFT_WHAT = any_of("question_words.txt", "draft_what")
# A search across units for what they did.
_Q = "answer_requests.txt"
_LIST_UNITS = re.compile(
    rf"哪些(?:{alternation(_Q, 'units_which')})|哪几(?:个|家)(?:{alternation(_Q, 'units_several')})"
    rf"|各(?:{alternation(_Q, 'units_each')})"
    rf"|有没有(?:{alternation(_Q, 'units_any')})|哪(?:些|几)地方"
    rf"|先例|(?:{alternation(_Q, 'worth')})(?:{alternation(_Q, 'consult')})"
    rf"|有(?:什么|哪些)(?:经验|做法)(?:可以|能)(?:{alternation(_Q, 'consult_learn')})"
)
_HOW = re.compile(rf"{alternation('answer_request_patterns.txt', 'how')}|(?:{alternation(_Q, 'done_verb')})过")


def route(question: str, chosen: str, embedder=None) -> str:
    """The job a request asks for. Only the default job is re-routed: a user who picked a job keeps it.
    A request that says outright what it wants (「帮我拟一份…提纲」「哪些单位…怎么做的」) goes where the
    patterns send it; any other goes to the job of its nearest labelled examples when they lead by
    ROUTE_MARGIN, else it stays in 问答. Without an embedder (a keyword-only index) the patterns alone.
    Patterns first and examples first route the held-out requests and the examples left out alike
    (bench/eval_routing.py); patterns first keeps an explicit request that also names units in 问答's
    words (「…提纲，参考一下哈焊所是怎么搞的」) with its job."""
    if chosen != QA.name:
        return chosen
    job = route_by_patterns(question)
    if job != QA.name or embedder is None:
        return job
    nearest, margin = _router(embedder).nearest(question)
    return nearest if margin >= ROUTE_MARGIN else QA.name


def route_by_patterns(question: str) -> str:
    if _DRAFT_VERB.search(question) and _DRAFT_WHAT.search(question):
        return POINTS.name
    if _LIST_UNITS.search(question) and _HOW.search(question):
        return PRECEDENTS.name
    return QA.name


ROUTE_K = 3  # a job's score: the mean similarity of its 3 nearest examples
# How far the best job's score must lead the next one's. Leave-one-out over the examples
# (bench/eval_routing.py): 0.891 at 0, 0.93 at 0.005, 0.907 at 0.01, 0.806 at 0.02, 0.698 by patterns alone;
# 0.005 sends two fact questions of our near-miss set (「第一名是哪个代表队」) to 先例, 0.01 none.
ROUTE_MARGIN = 0.01


def examples() -> list[tuple[str, str]]:
    """(job, request) pairs of assistant/data/routing_examples.txt."""
    text = resources.files("assistant.data").joinpath("routing_examples.txt").read_text(encoding="utf-8")
    out = []
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            job, _, request = line.partition("\t")
            if job not in REGISTRY or not request.strip():
                raise ValueError(f"routing_examples.txt: bad line {line!r}")
            out.append((job, request.strip()))
    return out


class Router:
    """The labelled example requests, embedded once; a request's job is the one whose nearest examples
    are most similar to it."""

    def __init__(self, embedder, labelled: list[tuple[str, str]]):
        self.embedder = embedder
        self.jobs = [job for job, _ in labelled]
        self.vectors = np.asarray(embedder.embed_queries([fold(r) for _, r in labelled]), dtype=np.float32)

    def nearest(self, request: str) -> tuple[str, float]:
        """(the job, by how much its score leads the next job's)."""
        q = np.asarray(self.embedder.embed_query(fold(request)), dtype=np.float32)
        sims = self.vectors @ q
        scores = {}
        for job in dict.fromkeys(self.jobs):
            mine = np.sort(sims[[i for i, j in enumerate(self.jobs) if j == job]])[::-1][:ROUTE_K]
            scores[job] = float(mine.mean())
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])
        return ranked[0][0], ranked[0][1] - ranked[1][1]


@lru_cache(maxsize=4)
def _router(embedder) -> Router:
    return Router(embedder, examples())


def warm_router(embedder) -> None:
    """Embed the labelled requests now (about 1–2 s on a CPU): a server calls it at start-up."""
    _router(embedder)
