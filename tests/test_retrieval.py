import pytest
from conftest import SEED_IDS
from langchain_core.retrievers import BaseRetriever

from assistant.answer.langchain_retriever import HybridRetriever
from assistant.answer.retrieval import RRF_K, Filters, diversify, fuse, multi_report, query_words, retrieve


def test_filters_by_org_date_and_doc(seed_index):
    hits = retrieve(seed_index, "创先争优活动", k=5, filters=Filters(orgs=("光栅室",)))
    assert hits and {h.chunk.doc_id for h in hits} == {SEED_IDS[4]}
    hits = retrieve(seed_index, "党支部", k=10, filters=Filters(since="2016-01-01"))
    assert {h.meta.date[:4] for h in hits} <= {"2016", "2020"}
    hits = retrieve(seed_index, "党支部", k=10, filters=Filters(until="2012"))
    assert {h.chunk.doc_id for h in hits} <= {SEED_IDS[2], SEED_IDS[4]}
    hits = retrieve(seed_index, "党支部", k=10, filters=Filters(since="2020", until="2020"))
    assert {h.chunk.doc_id for h in hits} == {SEED_IDS[3]}  # dated by year only
    hits = retrieve(seed_index, "党支部", k=10, filters=Filters(doc_ids=(SEED_IDS[0],)))
    assert {h.chunk.doc_id for h in hits} == {SEED_IDS[0]}
    assert retrieve(seed_index, "党支部", filters=Filters(orgs=("不存在的单位",))) == []


def test_multi_report_questions_see_several_reports(seed_index):
    q = "有哪些单位组织过党章党规或党建知识竞赛、答题活动？"
    assert multi_report(q)
    docs = [h.chunk.doc_id for h in retrieve(seed_index, q, k=5)]
    assert len(set(docs)) == len(docs) == 5
    fact = "哈焊所党支部分类定级有几个支部评上了A级？"
    assert not multi_report(fact)
    # who drafted a plan asks about one report; drafting talking points spans them
    assert not multi_report("光栅室这份活动方案是哪位委员起草的？") and multi_report("帮我起草一份发言稿")
    # 工作要点 is a kind of document (年度党建工作要点), not talking points asked for
    assert not multi_report("依据的是中科院党组哪一年的党建工作要点？") and multi_report("列几条要点")
    docs = [h.chunk.doc_id for h in retrieve(seed_index, fact, k=5)]
    assert max(docs.count(d) for d in docs) <= 2


def test_each_branch_of_a_named_unit_is_one_report(seed_index):
    """「哈焊所各支部…」 asks about one unit's own branches: its report answers, several chunks of it.
    「各支部…」 alone, or after a name most reports share (中科院), still spans reports."""
    own = "哈焊所各支部在争创活动里分别把示范岗建在了什么上面？"
    assert multi_report(own) and not multi_report(own, seed_index)
    assert multi_report("各支部有哪些加强学习教育的做法？", seed_index)
    assert multi_report("中科院各单位有哪些党建和业务融合的机制？", seed_index)
    assert not multi_report("哈焊所哪些支部被评为了A级？", seed_index)
    assert multi_report("哪些支部被评为了A级？", seed_index)
    docs = [h.chunk.doc_id for h in retrieve(seed_index, own, k=5)]
    assert docs.count(SEED_IDS[2]) >= 2


def test_diversify_caps_then_fills(seed_index):
    hits = retrieve(seed_index, "党员 党支部 活动", k=40, max_per_doc=100)
    assert len({h.chunk.doc_id for h in hits[:6]}) < 5
    capped = diversify(hits, 6, 1)
    assert len(capped) == 6  # only 5 documents: the cap is lifted to fill k
    assert len({h.chunk.doc_id for h in capped}) == 5


def test_traditional_and_simplified_queries_meet(seed_index):
    for q in ("兰州化物所党建工作与业务工作同谋划", "蘭州化物所黨建工作與業務工作同謀劃"):
        hits = retrieve(seed_index, q, k=3)
        assert hits[0].chunk.doc_id == SEED_IDS[3], q
        assert "同謀劃" in hits[0].chunk.text  # the original characters are kept


def test_langchain_retriever(seed_index):
    r = HybridRetriever(index=seed_index, k=3)
    assert isinstance(r, BaseRetriever)
    docs = r.invoke("光栅室党支部创先争优领导小组组长是谁")
    assert len(docs) == 3
    d = docs[0]
    assert d.metadata["doc_id"] == SEED_IDS[4] and d.metadata["title"].startswith("光栅室")
    text = seed_index.store.text(d.metadata["doc_id"])
    assert text[d.metadata["start"] : d.metadata["end"]] == d.page_content


def test_query_expansion():
    assert {"荣获", "称号"} <= set(query_words("获得了什么荣誉"))
    assert "作者" in query_words("那篇报道是谁写的？")
    assert {"时间", "日期"} <= set(query_words("那篇总结是哪天发布的？"))
    assert "作者" not in query_words("质检中心有多少名党员？")


def test_what_the_question_quotes_is_ranked_by_itself(hash_settings, tmp_path, monkeypatch):
    """「关于“以学促做”的发言要点」: the one chunk that uses the quoted topic is retrieved, though many
    chunks share the request's other words (党支部书记, 发言, 要点, 基层支部) more often than it does."""
    from assistant.answer import retrieval
    from assistant.core.chinese import quoted
    from assistant.storage.library import Index

    folder = tmp_path / "reports"
    folder.mkdir()
    noise = "党支部书记在基层支部发言，强调发言要点和基层支部工作要点，支部书记逐条讲解发言要点。"
    for i in range(30):
        (folder / f"r{i:02d}.txt").write_text(f"标题：第{i}党支部工作简报\n\n" + noise * 3 + "\n", encoding="utf-8")
    (folder / "topic.txt").write_text(
        "标题：学习教育情况报告\n\n本年度组织了多次集中学习。要坚持以学促做，知行合一，把学习成效体现在科研任务中。"
        "各项工作按计划推进。\n", encoding="utf-8")
    index = Index.open(hash_settings, create=True)
    index.ingest([folder])
    q = "请为党支部书记起草关于“以学促做”的发言要点，结合基层支部的做法。"
    assert retrieval.quoted_words(q) == ["以学促做"]
    # a title keeps the name it quotes inside it; ‘’ and 「」 quote too
    assert quoted("《关于开展“两学一做”学习教育的通知》‘三会一课’「七一」") == [
        "关于开展“两学一做”学习教育的通知", "三会一课", "七一"]
    assert any("以学促做" in h.chunk.text for h in retrieve(index, q, k=5))
    monkeypatch.setitem(retrieval.WEIGHTS, "quoted", 0.0)  # without the third ranking it is outranked
    assert not any("以学促做" in h.chunk.text for h in retrieve(index, q, k=5))
    index.close()


@pytest.mark.parametrize("question, spread", [
    ("哪几个支部开展过知识竞赛？", True),
    ("有哪几家单位搞过结对共建？", True),
    # 「哪几个方面」 asks for the points of one report's list, not for units across reports.
    ("“十二五”战略目标里，哈焊所说要形成“三个一流”，是在哪几个方面？", False),
])
def test_which_few_spans_reports_only_when_it_asks_for_units(question, spread):
    assert multi_report(question) is spread


def test_fusion_is_reciprocal_rank_weighted_and_ordered_by_id_on_ties():
    ranks = {"b": {"keyword": 1}, "a": {"keyword": 1}, "c": {"dense": 1, "keyword": 3}, "d": {"dense": 2}}
    fused = fuse(ranks, weights={"keyword": 1.0, "dense": 0.5}, k=10)
    assert [cid for _, cid in fused] == ["c", "a", "b", "d"]
    assert fused[0][0] == 0.5 / 11 + 1.0 / 13
    # a chunk ranked first by BM25 alone edges out one ranked first by the dense ranking alone
    assert [cid for _, cid in fuse({"x": {"dense": 1}, "y": {"keyword": 1}})] == ["y", "x"]
    assert fuse({"z": {"keyword": 2}})[0][0] == 1.0 / (RRF_K + 2)
    assert fuse({}) == []
