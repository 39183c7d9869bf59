"""The reader (assistant/answer/reader.py): the span of an answering sentence that is the answer, bound to
the question. Sentences are the seeds' own, quoted from the files in seeds/."""

from pathlib import Path

import pytest

from assistant.answer.needs import needs
from assistant.answer.question import content_words
from assistant.answer.reader import entities, short_answer
from assistant.core.chinese import sentence_spans

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
DF = {}  # no vocabulary: the reader needs none


def seed_sentence(containing: str) -> str:
    """The seed sentence that contains ``containing`` (so the tests read the real text)."""
    for path in sorted(SEEDS.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        for s in sentence_spans(text):
            if containing in s.text:
                return s.text
    raise AssertionError(f"no seed sentence contains {containing}")


def read(question: str, sentence: str) -> str | None:
    span = short_answer(needs(question, DF), sentence, content_words(question))
    return span and sentence[span.start:span.end]


@pytest.mark.parametrize("question, containing, expected", [
    # who, with the role: the holder of that role, not another person of the sentence
    ("光栅室创先争优活动领导小组的组长是谁？", "巴音贺希格为组长", "巴音贺希格"),
    ("光栅室创先争优活动领导小组的宣传委员是谁？", "巴音贺希格为组长", "谭鑫"),
    # who did it: the person bound to the act asked about
    ("水下激光切割技术是在哪位院士指导下完成的？", "林尚扬院士指导下", "林尚扬"),
    # how many: the number counting the thing asked, with what it counts (after it, or before it)
    ("群众评议时有多少名群众代表参加？", "56名群众代表", "56名群众代表"),
    ("质检中心35岁以下的年轻党员有多少人？", "35岁以下年轻党员22人", "年轻党员22人"),
    ("质检中心有多少名党员？", "35岁以下年轻党员22人", "党员30人"),
    # which rank
    ("党章党史知识竞赛上质检中心代表队拿了第几名？", "团体总分第二名", "团体总分第二名"),
    # when: a date, in the traditional-script seed too
    ("刘伟平那次视频会议是哪天开的？", "4 月21 日召开了", "4 月21 日"),
])
def test_short_answer_of_seed_sentences(question, containing, expected):
    assert read(question, seed_sentence(containing)) == expected


@pytest.mark.parametrize("question, containing", [
    ("光栅室党支部的纪检委员是谁？", "巴音贺希格为组长"),  # no such role in the sentence
    ("光栅室方案里说的“三严三保”到底指什么？", "三严三保"),  # the content of a term is the sentence itself
])
def test_no_short_answer_when_nothing_is_bound(question, containing):
    assert read(question, seed_sentence(containing)) is None


def test_entities_read_traditional_script_with_offsets_into_the_original():
    s = seed_sentence("所長王齊華")
    people = [s[e.start:e.end] for e in entities(s) if e.kind == "person"]
    assert people == ["王齊華"]


@pytest.mark.parametrize("question, sentence, expected", [
    # the counted thing the question names follows the number, however LAC cut it (80个|分|会场)
    ("视频交流会一共设了多少个分会场？", "本次会议在全院设80个分会场，3000余名各单位领导班子成员参加会议。", "80个分会场"),
    # 「各党支部」 names no branch: the one named is the answer
    ("“四个一”争创目标是哪个支部提出来的？", "1、实心药芯焊丝事业部党支部把“创新示范岗建在生产一线中”。", "实心药芯焊丝事业部党支部"),
    ("“四个融为一体”是哪个支部提出来的？", "各党支部积极探索“四个融为一体”的有效组织形式。", None),
])
def test_the_counted_thing_and_the_unit_named(question, sentence, expected):
    assert read(question, sentence) == expected


CLEANED_SEED = "由黨政辦公室統一為黨支部制作《蘭州化物所“基層組織建設年”活動黨支部自查自檢問題清單》樣表,規範格式、統一標準。"


@pytest.mark.parametrize("question, containing, expected", [
    # what something is called: the quoted name next to the noun asked, with the noun phrase it heads
    ("研发中心党支部得到过什么称号？", "“四强”党组织称号", "机械总院“四强”党组织称号"),
    ("张善保被授予了什么荣誉？", "张善保荣获", "黑龙江省“创业、创新、创优”活动优秀共产党员称号"),
    ("质检中心给青年党员开了个什么主题的座谈会？", "奋斗的青春", "“奋斗的青春”主题座谈会"),
    ("基层组织建设年的主题是什么？", "强组织、增活力", "“强组织、增活力、创先争优迎十八大”"),
    ("光栅室创先争优活动的主线是什么？", "筑牢率先发展堡垒", "“筑牢率先发展堡垒,争当兴业强工先锋”主线"),
    # the quotes listed together are one answer; a quote the question makes itself is not the answer
    ("刘伟平要大家学习哪两部党内法规？", "廉洁自律准则", "《中国共产党廉洁自律准则》、《中国共产党纪律处分条例》"),
    ("“找问题”的时候用了哪种方法？", "头脑风暴", "“头脑风暴”"),
    # 「…叫什么」 of a thing asks its name, not a person's (the sentence names 王齊華 too)
    ("“七一”党员大会上的党课叫什么？", "主題黨課報告", "《加強(qiáng)黨的政治建設(shè),永葆黨的先進(jìn)性和純潔性》"),
    # who does it may be an office: the doer of the act asked about
    ("对问题突出的基层党组织先整顿，由谁牵头？", "领导小组办公室牵头", "院党建工作领导小组办公室"),
])
def test_names_and_doers_of_seed_sentences(question, containing, expected):
    assert read(question, seed_sentence(containing)) == expected


@pytest.mark.parametrize("question, sentence, expected", [
    # 哪一年: the year, not 年初 beside it
    ("依据的是中科院党组哪一年的党建工作要点？",
     "按照中科院黨組2020年黨的建設工作要點精神,蘭州化物所黨委年初就把開展活動列入黨委年度重點工作計劃。", "2020年"),
    # the noun asked right after the quote is part of the name; an unquoted name is the phrase it ends
    ("要和哪个五年规划的重点任务结合？", "与落实各单位承担的“十三五”规划重点任务紧密结合起来。", "“十三五”规划"),
    ("质检中心提出了一个什么检验方案？", "调研几何参量检验技术，提出4M碳化硅镜坯几何参量检验方案。", "4M碳化硅镜坯几何参量检验方案"),
])
def test_years_and_names_read_from_sentences(question, sentence, expected):
    assert read(question, sentence) == expected


@pytest.mark.parametrize("question, sentence, expected", [
    # a count that names a quoted term answers with the term
    ("光栅室党员要争当几好党员？", "促进全体党员同志争当“五好党员”,发挥先锋模范作用。", "“五好党员”"),
    # how often: the frequency
    ("群众评议原则上多久评一回？", "群众评议原则上每半年一次,采取无记名方式进行。", "每半年一次"),
    # 什么培训, 哪个领域: the noun phrase of the sentence that ends in the noun asked
    ("兰州化物所专门开展了什么培训？", "为加强科研骨干入党工作,所党委开展了发展党员工作专题培训。", "发展党员工作专题培训"),
    ("技术部争创小组重点解决的是哪个领域的问题？", "技术部争创小组重点解决核电高端领域产品质量稳定性问题。", "核电高端领域"),
])
def test_terms_frequencies_and_phrases(question, sentence, expected):
    assert read(question, sentence) == expected


def test_the_department_that_did_it_in_traditional_script():
    assert read("自查自检问题清单样表由哪个部门统一制作？", CLEANED_SEED) == "黨政辦公室"


def test_two_names_asked_at_once_have_no_short_answer():
    # 「主线和主题分别是什么」: one quote would answer half; the quotes speak for themselves
    assert read("光栅室创先争优活动的主线和主题分别是什么？", seed_sentence("筑牢率先发展堡垒")) is None
