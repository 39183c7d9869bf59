"""The LLM as a second reader (assistant/answer/judging.py), driven through the real langchain-openai client
against a local server that speaks the OpenAI protocol and replies with scripted verdicts: the
plumbing and the checks on a verdict. (tests/test_llm.py runs the same path with a real model.)"""

import json

import pytest
from openai_server import OpenAIServer

from assistant.answer.judging import NOTICE, read_verdict
from assistant.answer.pipeline import Request, answer
from assistant.core.settings import LLMConfig

QUESTION = "光栅室创先争优活动领导小组的组长是谁？"


@pytest.fixture
def judged():
    with OpenAIServer(delay=3.0) as server:
        yield server, LLMConfig(base_url=server.base_url, model="scripted", timeout=1.0)


def verdict(n, span="", missing=""):
    return json.dumps({"句子": n, "答案": span, "缺少": missing}, ensure_ascii=False)


def extractive(index):
    return answer(index, Request(QUESTION), log=False)


def quote_with(ans, needle):
    return next(c for c in ans.citations if needle in c.quote)


def test_the_judge_sees_the_quotes_and_its_span_becomes_the_short_answer(seed_index, judged):
    server, cfg = judged
    ext = extractive(seed_index)
    c = quote_with(ext, "巴音贺希格")
    server.script.replies += [f"好的。{verdict(c.n, '室党支部书记巴音贺希格')}", "500"]  # verdict, then the writer fails
    a = answer(seed_index, Request(QUESTION), llm=cfg, log=False)
    judge_prompt = server.script.requests[0]["messages"][-1]["content"]
    assert QUESTION in judge_prompt and f"[{c.n}] {c.quote}" in judge_prompt
    assert not a.refused and a.short_answer.text == "室党支部书记巴音贺希格" and a.short_answer.n == c.n
    assert c.start <= a.short_answer.start < a.short_answer.end <= c.end
    assert a.answer.startswith(f"室党支部书记巴音贺希格[{c.n}]\n") and a.checks["judge_used"] is True


def test_the_judge_can_veto_an_answer_which_then_says_what_is_missing(seed_index, judged):
    server, cfg = judged
    ext = extractive(seed_index)
    server.script.replies.append(verdict(0, missing="组长的任职时间[9]"))
    a = answer(seed_index, Request(QUESTION), llm=cfg, log=False)
    assert a.refused and a.missing == "组长的任职时间" and a.notice == NOTICE  # the marker the model wrote is gone
    assert a.answer.startswith("文档中没有写明组长的任职时间。相关原文：\n")
    assert [c.quote for c in a.citations] == [c.quote for c in ext.citations] and all(c.related for c in a.citations)
    assert len(server.script.requests) == 1  # a refusal is not sent on to be written


@pytest.mark.parametrize("reply", [
    verdict(9, "巴音贺希格"),  # names a sentence that was not quoted
    verdict(1, "张三"),  # an answer that is not in the sentence it names
    verdict(0),  # none answers, but it cannot say what is missing
    "我认为第一句回答了问题。",  # no verdict at all
    "timeout",  # the model does not answer in time
    "500",
])
def test_a_verdict_that_fails_its_checks_leaves_the_readers_decision(seed_index, judged, reply):
    server, cfg = judged
    ext = extractive(seed_index)
    server.script.replies += [reply, "500"]  # then the writer fails: the extractive answer is what is left
    a = answer(seed_index, Request(QUESTION), llm=cfg, log=False)
    assert not a.refused and a.answer == ext.answer and a.short_answer == ext.short_answer


def test_with_the_judge_off_the_model_is_asked_only_to_write(seed_index, judged):
    server, cfg = judged
    server.script.replies.append("500")
    answer(seed_index, Request(QUESTION), llm=LLMConfig(cfg.base_url, cfg.model, timeout=1.0, judge=False), log=False)
    assert len(server.script.requests) == 1 and server.script.requests[0]["stream"] is True


def test_read_verdict():
    assert read_verdict('{"句子": "2", "答案": "谭鑫", "缺少": ""}', {1, 2}).span == "谭鑫"
    assert read_verdict("{不是JSON} 然后 " + verdict(1, "a"), {1}).sentence == 1
    assert read_verdict(verdict(3, "a"), {1, 2}) is None
