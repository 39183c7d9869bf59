"""The reader (assistant/reader.py): the span of an answering sentence that is the answer, bound to
the question. Sentences are the seeds' own, quoted from the files in seeds/."""

from pathlib import Path

import pytest

from assistant.answerability import needs
from assistant.answering import content_words
from assistant.chinese import sentence_spans
from assistant.reader import entities, short_answer

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
