"""Which job a request typed into 问答 goes to (modes.route)."""

import pytest

from assistant.modes import route


@pytest.mark.parametrize("question, job", [
    ("请为党支部书记起草关于“以学促做”的发言要点", "points"),
    ("兄弟单位想借鉴我们的做法，请列3条工作要点。", "points"),  # a count in digits after 列 (issue 16)
    ("请列三条推进要点", "points"),
    ("帮我写两点发言要点", "points"),
    ("拟五条工作思路", "points"),
    ("有哪些单位组织过党建知识竞赛？怎么组织的？", "precedents"),
    ("质检中心有多少名党员？", "qa"),
    ("基本原则的第3条是什么？", "qa"),  # a number, but nothing asked to be drafted
])
def test_route(question, job):
    assert route(question, "qa") == job


def test_a_chosen_job_is_kept():
    assert route("请列3条工作要点", "precedents") == "precedents"
