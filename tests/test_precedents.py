from conftest import gold_share

from assistant.answer.precedents import find_precedents
from assistant.storage.library import date_ord


def test_precedent_rows_name_the_right_organisations(seed_index):
    a = find_precedents(seed_index, "有哪些单位组织过党章党规或党建知识竞赛、答题活动？各是怎么搞的？")
    assert not a.refused and a.mode == "precedents"
    orgs = {r.org for r in a.rows}
    assert {"哈尔滨焊接研究所", "兰州化物所党委", "长春光机所质检中心党支部"} <= orgs
    dates = [date_ord(r.date) for r in a.rows]
    assert dates == sorted(dates)
    for r in a.rows:
        c = a.citations[r.citations[0] - 1]
        assert c.org == r.org and c.quote == r.practice
        assert seed_index.store.text(c.doc_id)[c.start : c.end] == c.quote
    assert a.answer.startswith("| 单位 | 时间 | 做法 | 出处 |")
    assert {"org", "date", "practice", "citations"} == set(a.to_json()["rows"][0])


def test_dev_precedents_list_the_gold_reports(seed_index):
    assert gold_share("precedent", lambda q: find_precedents(seed_index, q)) >= 0.9


def test_no_precedent_is_a_refusal(seed_index):
    a = find_precedents(seed_index, "有哪些单位组织过马拉松比赛？")
    assert a.refused and a.rows == []
