import pytest
from conftest import SEED_IDS, dev_items

from assistant.answer.answering import REFUSAL, anchored_hits, answer
from assistant.answer.citing import without_contained
from assistant.answer.question import (
    _quantity_unit,
    anchors,
    asks_only_when_who,
    check_question,
    content_words,
    question_parts,
)
from assistant.answer.retrieval import Filters
from assistant.answer.support import _has_quantity
from assistant.core.errors import AssistantError
from assistant.core.schema import Answer, Citation, ShortAnswer

JSON_KEYS = {"question", "answer", "refused", "dense", "citations", "retrieved", "mode", "generator", "unsupported"}
CITATION_KEYS = {"n", "doc_id", "title", "date", "org", "quote", "start", "end", "verified", "page", "heading", "related",
                 "doc_number"}
RETRIEVED_KEYS = {"rank", "doc_id", "chunk_id", "score", "text"}


def test_json_contract_and_verbatim_quotes(seed_index):
    a = answer(seed_index, "哈焊所研发中心的水下激光切割在多深的水里实现了切割？")
    data = a.to_json()
    assert set(data) == JSON_KEYS
    assert data["mode"] == "qa" and data["generator"] == "extractive"
    assert data["refused"] is False and data["citations"]
    for c in data["citations"]:
        assert set(c) == CITATION_KEYS and c["verified"] is True
        assert seed_index.store.text(c["doc_id"])[c["start"] : c["end"]] == c["quote"]
        assert f"[{c['n']}]" in data["answer"]
    assert "50米水深" in data["answer"]
    assert [r["rank"] for r in data["retrieved"]] == list(range(1, len(data["retrieved"]) + 1))
    assert all(set(r) == RETRIEVED_KEYS for r in data["retrieved"])


def test_every_answer_sentence_is_a_cited_quote(seed_index):
    a = answer(seed_index, "质检中心党支部请了哪些人给党员讲党课、做技术讲座？")
    lines = a.answer.split("\n")
    assert len(lines) == len(a.citations)
    for line, c in zip(lines, a.citations):
        assert line == f"{c.quote}[{c.n}]"


def test_dev_unanswerables_are_refused_with_closest_passages(seed_index):
    for item in dev_items():
        if item["kind"] != "unanswerable":
            continue
        a = answer(seed_index, item["question"])
        assert a.refused and a.hits, (item["id"], a.answer)  # a refusal still lists the closest passages
        if a.missing:  # something close: it says what is missing and quotes it as related, not as the answer
            assert a.answer.startswith(f"文档中没有写明{a.missing}。相关原文：")
            assert a.citations and all(c.related for c in a.citations)
            assert a.answer.split("\n")[1:] == [f"{c.quote}[{c.n}]" for c in a.citations]
        else:
            assert a.answer == REFUSAL and not a.citations, (item["id"], a.answer)


def test_off_topic_question_is_refused(seed_index):
    for q in ("红烧肉怎么做才好吃？", "2024年的GDP增长率是多少？", "量子计算机的原理是什么？"):
        assert answer(seed_index, q).refused, q


def test_quantity_answers_state_the_quantity(seed_index):
    a = answer(seed_index, "哈焊所开展创先争优群众评议时，有多少名群众代表参加？")
    assert not a.refused and "56名群众代表" in a.answer.split("\n")[0]


def test_traditional_answers_quote_original_characters(seed_index):
    a = answer(seed_index, "兰州化物所是哪位领导跟每个党支部书记挨个谈心谈话的？")
    assert not a.refused
    assert "張長春" in a.answer and all(c.doc_id == SEED_IDS[3] for c in a.citations)


def test_question_checks():
    with pytest.raises(AssistantError, match="empty"):
        check_question("   ", 500)
    with pytest.raises(AssistantError, match="under 500"):
        check_question("问" * 501, 500)
    assert "预备党员" in content_words("长春光机所质检中心党支部现在有几名预备党员？")
    assert "起草" not in content_words("请为党支部书记起草发言要点")


def test_quantity_kinds_and_mentions():
    assert _quantity_unit("有几名预备党员") == "person"
    assert _quantity_unit("一共成立了多少个小组") == "count"
    assert _quantity_unit("花了多长时间") == "time"
    assert _quantity_unit("在多深的水里") == "length"
    assert _quantity_unit("拿了第几名") == "ordinal"
    assert _quantity_unit("满意率是多少") == "percent"
    assert _quantity_unit("谁讲的党课") is None
    assert _has_quantity("我院100多个院属单位、8 万多名共产党员", "person")
    assert _has_quantity("确保每天5-6人到达现场", "person")
    assert _has_quantity("用了不到9个月的时间", "time")
    assert _has_quantity("获得了团体总分第二名", "ordinal")
    assert not _has_quantity("每名党员为党组织至少提一条合理化建议", "person")
    assert not _has_quantity("作为长春光机所技术支撑系列的一个部门", "any")


def test_anchors_are_names_that_single_out_a_report(seed_index):
    assert "哈焊所" in anchors(seed_index, "哈焊所的所长是谁？")
    assert anchors(seed_index, "党员的先锋模范作用体现在哪些方面？") == []


def test_attribute_of_a_named_unit_that_its_report_lacks_is_refused(seed_index):
    # 所长 appears in the 兰州化物所 report, not in the 哈焊所 one: no borrowing across reports.
    a = answer(seed_index, "哈焊所的所长是谁？")
    assert a.refused, a.answer
    for q in ("质检中心党支部书记赵宇是哪年入党的？", "光栅室党支部是哪一年成立的？", "兰州化物所党委书记王齐华是哪里人？"):
        assert answer(seed_index, q).refused, q


def test_who_wrote_a_report_and_when_is_answered_by_its_byline(seed_index):
    """A report signed by a department (作者:党群工作部) answers 「作者是谁」; the dateline and the
    author line are quoted once each and nothing else is, since nothing else was asked."""
    a = answer(seed_index, "哈焊所写创先争优工作的那篇文章是什么时候发布的？作者是谁？")
    assert not a.refused, a.reason
    quotes = [c.quote for c in a.citations]
    assert len(quotes) == len(set(quotes)) == 2
    assert any("党群工作部" in q for q in quotes) and any("2012-11-05" in q for q in quotes)


@pytest.mark.parametrize("question, only", [
    ("哈尔滨焊接研究所那篇总结是哪天发布的？作者是谁？", True),
    ("质检中心那篇交流稿，是什么时候发布的？", True),
    ("那篇报道是谁写的？他是什么职务？", False),
    ("那篇文章作者是谁、主要讲了什么？", False),
    ("那篇文章是谁写的，并概括其主要做法。", False),
    ("那篇文章讲了哪些做法？", False),
])
def test_a_byline_alone_answers_only_when_and_who(question, only):
    assert asks_only_when_who(question) is only


def test_a_list_point_is_found_in_the_report_even_when_retrieval_misses_it(seed_index):
    """「第四个方面」: the point's own words are not the question's; the top report's chunks that mark
    point four are read too (answering.item_hits)."""
    a = answer(seed_index, "刘伟平在讲话中提出的学习教育目标，第四个方面是什么？")
    assert not a.refused and any(c.quote.startswith("四是进一步强化宗旨观念") for c in a.citations), a.answer
    assert answer(seed_index, "刘伟平在讲话中提出的学习教育目标，第九个方面是什么？").refused


def test_which_branch_is_read_from_the_numbered_lead_of_the_paragraph(seed_index):
    """The paragraph that tells of the “四个一” goals names no branch; its numbered first sentence does
    (「1、实心药芯焊丝事业部党支部把…」): quoted with it, it is the short answer."""
    a = answer(seed_index, "“四个一”争创目标是哈焊所哪个支部提出来的？")
    assert not a.refused, a.answer
    assert a.short_answer and a.short_answer.text == "实心药芯焊丝事业部党支部", a.answer
    assert any("“四个一”争创目标" in c.quote for c in a.citations)
    # 「四个融为一体」 is no “四个一”: a quoted slogan is matched by its own words only
    assert all("四个融为一体" not in c.quote for c in a.citations)


@pytest.mark.parametrize("question, parts", [
    ("哈焊所一共几个党支部？被评为A级的有几个？", ["哈焊所一共几个党支部？", "被评为A级的有几个？"]),
    # asking for the wording is asking for the quote: what it names sets the first question's scene
    ("“岗位奉献”活动要组织哪几类竞赛？光栅室方案里是怎么写的？", ["光栅室方案里，“岗位奉献”活动要组织哪几类竞赛？"]),
    # one report's byline answers both
    ("那篇文章是什么时候发布的？作者是谁？", ["那篇文章是什么时候发布的？作者是谁？"]),
    # two people asked of two units: two questions, not one byline
    ("光栅室党支部的宣传委员是谁？兰州化物所的党委书记又是谁？", ["光栅室党支部的宣传委员是谁？", "兰州化物所的党委书记又是谁？"]),
    ("质检中心有多少名党员？", ["质检中心有多少名党员？"]),
])
def test_a_request_of_several_questions_is_read_part_by_part(question, parts):
    assert question_parts(question) == parts


def test_two_questions_in_one_are_answered_each_with_its_own_span(real_index):
    a = answer(real_index, "哈焊所共有多少个党支部？其中被评为A级的有几个？")
    assert not a.refused, a.answer
    head = a.answer.split("\n")[0]
    # the total (全所共10个党支部), not the part of it the same sentence counts next; then the A-level ones
    assert head.startswith("10个党支部[") and "4个党支部[" in head, a.answer
    assert a.short_answer.text == "10个党支部"
    quotes = "".join(c.quote for c in a.citations)
    assert "全所共10个党支部" in quotes


def test_a_part_the_reports_do_not_answer_says_so_beside_the_part_answered(real_index):
    # 「4个党支部被评为A级」 is no count of those given a national award: that part says what is missing
    a = answer(real_index, "哈焊所共有多少个党支部？其中有多少个党支部获得过国家级表彰？")
    assert not a.refused and a.answer.startswith("10个党支部["), a.answer
    assert "（其中有多少个党支部获得过国家级表彰？）文档中没有" in a.answer


def test_a_question_about_one_report_may_take_three_of_its_chunks(real_index):
    # The answering chunk is the third best of the report the question names; two per report left it out.
    q = "兰州化物所党支部自检自查，重点看《实施方案》里多少个“是否”达标？"
    hits = anchored_hits(real_index, q, 5, Filters())
    assert sum(h.chunk.doc_id == SEED_IDS[3] for h in hits) == 3
    a = answer(real_index, q)
    assert not a.refused and any("17個是否" in c.quote for c in a.citations), a.answer


@pytest.mark.parametrize("question, period, answered", [
    # a question spanning reports (各单位…) still needs the planning period or congress it names
    ("讲话对各单位落实“十四五”规划重点任务具体提了什么要求？", "十四五", False),
    ("讲话对各单位落实“十三五”规划重点任务具体提了什么要求？", "十三五", True),
    ("围绕迎接党的十九大，光栅室党支部安排了哪些创先争优活动？", "十九大", False),
    ("围绕迎接党的十八大，光栅室党支部安排了哪些创先争优活动？", "十八大", True),
])
def test_a_question_across_reports_keeps_its_period(real_index, question, period, answered):
    a = answer(real_index, question)
    assert a.refused != answered, a.answer
    if answered:
        assert any(period in c.quote for c in a.citations), a.answer
    else:
        assert period in a.missing, a.missing


def test_the_same_question_of_two_people_is_asked_of_each():
    assert question_parts("哈焊所的张善保和于静伟，分别拿到了什么称号？") == [
        "哈焊所的张善保拿到了什么称号？", "哈焊所的于静伟拿到了什么称号？"]
    assert question_parts("哈焊所的張善保和于靜偉，分別拿到了什麼稱號？") == [
        "哈焊所的張善保拿到了什麼稱號？", "哈焊所的于靜偉拿到了什麼稱號？"]
    assert question_parts("光栅室党支部的组长和副组长分别是谁？") == ["光栅室党支部的组长和副组长分别是谁？"]


def test_each_of_two_people_answered_from_its_own_clause(real_index):
    a = answer(real_index, "哈焊所的张善保和于静伟，分别拿到了什么称号？")
    assert not a.refused, a.answer
    first = a.answer.split("\n")[0]
    assert "黑龙江省" in first and "哈尔滨市" in first, a.answer


def test_a_traditional_script_time_word_answers_when(real_index):
    a = answer(real_index, "兰州化物所的群众满意率测评打算安排在什么时候做？")
    assert not a.refused and any("年終" in c.quote for c in a.citations), a.answer


def test_the_sentence_naming_what_is_asked_of_is_found_further_down(real_index):
    # 「哪两个重大节点」: the sentence that says 「…两个重大节点展开」 is below the top chunks of its report
    a = answer(real_index, "光栅室开展创先争优活动要围绕哪两个重大节点？")
    assert not a.refused and "重大节点" in a.citations[0].quote, a.answer


def test_quotes_that_touch_are_one_quote(real_index):
    # 「…并建立党委成员联系点制度。」 and 「党委成员亲自深入到各自的联系点…」 follow one another: one citation
    a = answer(real_index, "哈焊所在落实检查指导机制时，建立了一个什么制度让党委成员下到基层？")
    assert not a.refused, a.answer
    joined = [c for c in a.citations if "联系点制度。党委成员亲自深入" in c.quote]
    assert joined, a.answer
    text = real_index.store.text(joined[0].doc_id)
    assert all(text[c.start:c.end] == c.quote for c in a.citations)
    assert a.short_answer and a.short_answer.text == "党委成员联系点制度"
    c = a.citations[a.short_answer.n - 1]
    assert c.start <= a.short_answer.start < a.short_answer.end <= c.end


def _c(n, doc, start, quote, related=False):
    return Citation(n, doc, "标题", "2019", "单位", quote, start, start + len(quote), related=related)


def test_no_quote_of_an_answer_is_contained_in_another_of_its_quotes():
    title = "上海队夺得全国排球联赛冠军"
    body = "2019年5月1日，上海队夺得全国排球联赛冠军，这是该队时隔十年再次夺冠。"
    other = "决赛在北京举行。"
    ans = Answer(question="q", answer=f"5月1日[1]\n{title}[1]\n{body}[2]\n{other}[3]", refused=False, dense=True,
                 citations=[_c(1, "n.txt", 0, title), _c(2, "n.txt", 14, body), _c(3, "m.txt", 50, other)],
                 short_answer=ShortAnswer("5月1日", 1, 20, 24))
    out = without_contained(ans)  # the title line repeats the body's sentence: it goes, its marker follows
    assert [c.quote for c in out.citations] == [body, other] and [c.n for c in out.citations] == [1, 2]
    assert out.answer == f"5月1日[1]\n{body}[1]\n{other}[2]" and out.short_answer.n == 1
    # Two chunks of one sentence: the shorter span lies inside the longer one of the same report.
    half = _c(1, "n.txt", 14, body[:20])
    ans = Answer(question="q", answer=f"{body[:20]}[1]\n{body}[2]", refused=False, dense=True,
                 citations=[half, _c(2, "n.txt", 14, body)])
    assert without_contained(ans).answer == f"{body}[1]"
    # The same sentence in two reports (one filed twice): the first stays.
    ans = Answer(question="q", answer=f"{other}[1]\n{other}[2]", refused=False, dense=True,
                 citations=[_c(1, "a.txt", 5, other), _c(2, "b.txt", 9, other)])
    out = without_contained(ans)
    assert [c.doc_id for c in out.citations] == ["a.txt"] and out.answer == f"{other}[1]"
    # Quotes that overlap without either holding the other both stay.
    ans = Answer(question="q", answer=f"{body}[1]\n{other}[2]", refused=False, dense=True,
                 citations=[_c(1, "n.txt", 14, body), _c(2, "n.txt", 14 + len(body) - 3, other)])
    assert without_contained(ans) is ans
