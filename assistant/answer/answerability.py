"""Does a sentence actually state what was asked? The general check behind every refusal.

Word overlap finds sentences *about* the question; it cannot tell 兰州化物所 from 大连化物所, the
team that came second from the one that came first, or a sentence that mentions 成员 from one that
counts them. So the question is read into requirements, and a sentence answers only if it meets
all of them:

- **Names.** A name in the question that the library never uses — a unit (大连化物所, 光谱室),
  an organisation, a person, an event (二十大), a thing that exists nowhere in it (火星) — means the
  library cannot answer, whatever else matches.
- **The slot asked for**, found in the sentence itself and bound to what it is about:
  谁/哪位 → a person's name next to the role asked (纪检委员, 支部书记); 什么时候/哪天 → a date;
  哪里/什么地方 → a place or venue; 几/多少 + unit → a number with that unit, next to the thing
  counted; 第几/第一名/一等奖 → the rank asked, not another one.

The question side (the requirements, ``Needs``, and the words and patterns of its slots) is in
needs.py; here a sentence is checked against them (``missing``).

Nothing here knows a question of the dev set: the requirements come from the question's grammar
(question words, units, ordinals, part-of-speech tags) and from the index's own vocabulary.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ..core.chinese import (
    fold,
    has_person_name,
    has_place_name,
    lexical,
    pos_tags,
    squash,
    synonyms,
)
from ..core.wordlists import alternation, any_of, chars, cue_words, words
from .needs import (
    DATE,
    GENERIC_WHICH,
    NOT_A_NAME,
    QUOTE_SPAN,
    RANK_UNIT,
    SLOT_PATTERNS,
    SLOTS,
    SPIRIT,
    UNIT_SUFFIX,
    UNITS,
    Needs,
    count_pattern,
    definition_cues,
    event_words,
    name_in,
    norm_rank,
    place_like,
    years_in,
)

DAY = re.compile(r"(?<![0-9])[0-9]{1,2}\s*[日号]|[一二三四五六七八九十]{1,3}\s*[日号]|(?:19|20)\d{2}\s*[-./]\s*\d{1,2}\s*[-./]\s*\d{1,2}"
                 rf"|{alternation(SLOTS, 'day_word')}")
DEADLINE = re.compile(rf"(?:{alternation(SLOT_PATTERNS, 'deadline_end')})\s*(?:{alternation(SLOTS, 'deadline_before')})"
                      rf"|{alternation(SLOTS, 'deadline_word')}")
DURATION = re.compile(r"(?<![0-9])(?:[0-9]{1,3}(?:\.[0-9])?|[一二两三四五六七八九十百几]+|半)\s*(?:多)?\s*(?:个)?\s*"
                      rf"(?:{alternation(SLOT_PATTERNS, 'duration_unit')})"
                      rf"|{alternation(SLOTS, 'duration_word')}|(?:{alternation(SLOTS, 'duration_verb')})")
FREQ = re.compile(rf"每(?:[一二两三四五六七八九十半\d]+\s*个?)?\s*(?:{alternation(SLOT_PATTERNS, 'freq_period')})(?:[一1][次回])?|"
                  rf"[一二两三四五六七八九十半\d]+\s*个?\s*(?:{alternation(SLOTS, 'freq_period_count')})\s*[一1][次回]|一年一度")
CLOCK = re.compile(r"\d{1,2}\s*[:：]\s*\d{2}|[0-9一二三四五六七八九十两]{1,3}\s*(?:点|时)(?:钟|半|整|[0-9一二三四五六七八九十]{1,2}分)?"
                   rf"(?!{alternation(SLOTS, 'not_clock')})")
_TOP_RANK = any_of("question_words.txt", "top_rank")
VENUE = re.compile(rf"{alternation(SLOTS, 'venue')}|"
                   rf"(?:{alternation(SLOTS, 'venue_go')})[\u4e00-\u9fff]{{2,10}}?(?:{alternation(SLOTS, 'venue_act')})")
RANK = re.compile(rf"第[一二三四五六七八九十\d]+(?:{RANK_UNIT})?|[一二三四五六七八九十\d]等奖|{alternation(SLOTS, 'prize')}")


def _event_named(event: tuple[str, str], s: str, c: str, b: str) -> bool:
    """Is the event named in the sentence or its headings, or referred back to (本次会议…) when the
    paragraph before the sentence names it? Its modifier (动员 of 动员大会) may stand anywhere around."""
    _, refer = event_words()
    modifier, head = event
    # 「召开了贯彻…座谈会精神视频会议」 holds a video meeting, not the 座谈会 (nor does a title saying so)
    s, c, b = (SPIRIT.sub("", x) for x in (s, c, b))
    return (name_in(head, s) or name_in(head, c) or bool(refer.match(s.lstrip()) and name_in(head, b))) and \
        (not modifier or any(name_in(modifier, x) for x in (s, c, b)))


def _cn(n: int) -> str:
    digits = "零一二三四五六七八九"
    return digits[n] if n < 10 else (("" if n < 20 else digits[n // 10]) + "十" + (digits[n % 10] if n % 10 else ""))


def is_item(n: int, text: str) -> bool:
    """Does ``text`` mark the ``n``-th point of a list: 第四, 四是, 四、, （四）, 4. …"""
    cn = _cn(n)
    return bool(re.search(rf"第{cn}|(?<![一二三四五六七八九十]){cn}(?:是|、|要)|[（(]{cn}[）)]|(?<!\d){n}\s*[、.．)）]"
                          rf"|[（(]{n}[）)]|第{n}(?!\d)", text))


# Character windows, set by hand on the sentences of the seeds (bench/thresholds.py gives what changing each does):
# bench/thresholds.py (qa): 8 → none; 16 → none
COUNTED_REACH = 12  # a number this close to the thing counted (either side) counts it: 「共申报了10个…小组」
# bench/thresholds.py (qa): 6 → none; 10 → none
APPOINTED_REACH = 8  # 「巴音贺希格为组长」: a surname, a given name and 为/任 just before the role
# A sentence names who holds a role when a person's name is in the ROLE_AFTER_WINDOW characters after it
# (「组长：王小明」) or the ROLE_BEFORE_WINDOW before it (tagger's names), or a surname and one or two characters
# stand right before it in the last NAME_RIGHT_BEFORE characters (「王华书记」).
# bench/thresholds.py (qa): 4 → 1; 8 → none
ROLE_AFTER_WINDOW = 6
# bench/thresholds.py (qa): 3 → none; 7 → none
ROLE_BEFORE_WINDOW = 5
# bench/thresholds.py (qa): 3 → none; 5 → none
NAME_RIGHT_BEFORE = 4
# bench/thresholds.py (qa): 2 → none; 4 → none
DETERMINER_REACH = 3  # 各/全/每… up to this many characters before 「党支部」 make it every one, not a named one
# bench/thresholds.py (qa): 2 → none; 4 → none
ORG_NAME_MIN = 3  # an organisation's own name has at least this many characters (党政办, 人事处)


def _near(text: str, word: str, pattern: str) -> bool:
    """Does ``pattern`` occur within COUNTED_REACH characters of ``word`` in ``text``? A quoted name
    between them counts as one word (「10个争创“党员创新示范岗”小组」)."""
    for t in dict.fromkeys((text, QUOTE_SPAN.sub("“”", text))):
        for m in re.finditer(re.escape(word), t):
            window = t[max(0, m.start() - COUNTED_REACH) : m.end() + COUNTED_REACH]
            if re.search(pattern, window):
                return True
    return False


# The commonest Chinese surnames: with a role word before or an honorific after, a name jieba may not know.
_SURNAMES = chars(UNITS, "surname")
_ROLE_WORDS = alternation(UNITS, "role_word")
_NAME_AFTER_ROLE = re.compile(rf"(?:{_ROLE_WORDS})[、，,：:]?[{_SURNAMES}][\u4e00-\u9fff]{{1,3}}")
_NAME_BEFORE_ROLE = re.compile(rf"[{_SURNAMES}][\u4e00-\u9fff]{{1,2}}(?:{_ROLE_WORDS})")


def names_someone(text: str) -> bool:
    return has_person_name(text) or bool(_NAME_AFTER_ROLE.search(text))


_DOER_TAGS = ("n", "vn", "ORG", "PER", "LOC", "j", "nz")
_FOR = words(UNITS, "for_whom")  # 「为党支部制作」: whom it is done for stands between the doer and the act
MAX_BETWEEN = 8  # characters between the doer and the act: 「统一为党支部」 is 6


def doers(text: str, verbs) -> list[tuple[int, int]]:
    """Who does an act the sentence states, for each of ``verbs`` where it stands: the nouns before it
    — past adverbs (统一, 具体) and whom it is done for (为党支部) — that end like an organisation or hold
    a person's or an organisation's name: 「院党建工作领导小组办公室牵头」, 「由党政办公室统一为党支部制作」."""
    tokens = lexical(text)
    out = []
    for i, (a, b, _) in enumerate(tokens):
        if text[a:b] not in verbs:
            continue
        j = i - 1
        while j >= 0 and a - tokens[j][1] < MAX_BETWEEN:
            if tokens[j][2] in ("d", "ad"):
                j -= 1
            elif tokens[j][2].startswith("n") and j >= 1 and text[tokens[j - 1][0] : tokens[j - 1][1]] in _FOR:
                j -= 2
            else:
                break
        end = start = tokens[j][1] if j >= 0 else 0
        kinds = set()
        while j >= 0 and tokens[j][1] == start and tokens[j][2].startswith(_DOER_TAGS):
            start = tokens[j][0]
            kinds.add(tokens[j][2])
            j -= 1
        if end - start >= 2 and (kinds & {"ORG", "PER"} or _ORG_END.search(text[start:end])):
            out.append((start, end))
    return out


_OWNER = re.compile(rf"^(?:{alternation(UNITS, 'role_owner')})")


def role_found(text: str, role: str) -> str:
    """The role as the sentence writes it: 「光栅室党支部组长」 asks for the 组长 of that 党支部."""
    core = _OWNER.sub("", role)
    return role if role in text else (core if core and core in text else "")


_APPOINTED = alternation(UNITS, "appointed")  # 「巴音贺希格为组长」


def _person_beside(text: str, role: str) -> bool:
    for m in re.finditer(re.escape(role), text):
        if re.search(rf"[{_SURNAMES}][\u4e00-\u9fff]{{1,4}}(?:{_APPOINTED})$", text[max(0, m.start() - APPOINTED_REACH) : m.start()]):
            return True  # 「巴音贺希格为组长」
        after = text[m.end() : m.end() + ROLE_AFTER_WINDOW]
        if (has_person_name(text[max(0, m.start() - ROLE_BEFORE_WINDOW) : m.start()]) or has_person_name(after)
                or re.match(rf"[、，,：:]?[{_SURNAMES}][\u4e00-\u9fff]", after)
                or _NAME_BEFORE_ROLE.search(text[max(0, m.start() - NAME_RIGHT_BEFORE) : m.end()])):
            return True
    return False


class Lack(str):
    """What a sentence lacks to answer, in English (the str: logs, ``reason``) and as the words a
    user reads after 「文档中没有写明」 (``zh``)."""

    zh: str

    def __new__(cls, en: str, zh: str) -> "Lack":
        out = super().__new__(cls, en)
        out.zh = zh
        return out


@lru_cache(maxsize=1)
def name_heads() -> tuple[str, ...]:
    """Nouns a quoted name heads as part of it (data/name_words.txt): 「“四强”党组织称号」."""
    return cue_words("name_words.txt")["head"]


def _without(text: str, given: tuple[str, ...]) -> str:
    """``text`` with what the question states itself blanked out (same length)."""
    for g in given:  # 「2名」 is not blanked inside 「12名」
        text = re.sub(("(?<![0-9０-９.])" if g[0].isdigit() else "") + re.escape(g), lambda m: "□" * len(m.group(0)), text)
    return text


def missing(n: Needs, sentence: str, context: str = "", report: str = "", author: str = "", before: str = "",
            lead: str = "", dated: str = "") -> str:
    """What ``sentence`` lacks to answer (empty when it answers). ``context``: where the names asked
    about may be instead (the report's title, organisation, headings); ``before``: the paragraph up
    to the sentence, where the name of a place may stand too (「…在长辛店…。五一那天，一千五百名工人…」;
    not a person's or a unit's, whose facts must be in their own sentence). For a
    question about the report itself: ``report``, its header date; ``author``, its byline's author —
    a person or a department (党群工作部) — which a sentence naming it (the byline) answers 「作者是谁」
    with. ``lead``: the numbered first sentence of the sentence's paragraph, or a numbered line alone
    right before it (「1、实心药芯焊丝事业部党支部把…」, 「2、“岗位奉献”活动。」), which says whom or what
    the paragraph is about, as a heading does. What is asked (a name, a date, a number…) must be in
    the sentence itself, save the unit 「哪个支部」 asks for, which the lead may name."""
    s = fold(sentence)
    c = fold(context)
    b = fold(before)
    new = _without(s, n.given)  # the slot is filled by what the question does not state itself
    # the clauses before it in the same sentence, when a ；ended them and they open a list of what a name
    # stands for: 「做到“三严三保”,即严格考勤,…;」 is what 「严格纪律,保证集中学习时间;」 goes on with — not
    # 「所领导班子荣获“四好”领导班子…;」 before 「研发中心党支部荣获…“四强”…;」
    same = re.split(r"[。！？!?\n]", b)[-1]
    states = definition_cues()[1].pattern
    opened = [x for x in n.names if same and re.search(re.escape(x) + r"[”」’\"]?.{0,2}?(?:" + states + ")", same)]
    for name in n.names:  # a place may set the scene earlier in the paragraph; a person or unit must be here
        if name in n.slogans:
            if not any(name in squash(x) for x in (sentence, context, lead)) and name not in opened:
                return Lack(f"is not about {name}", f"与“{name}”有关的内容")
            continue
        if not any(name_in(name, x) for x in (s, c, fold(lead))) \
                and name not in opened \
                and not (name_in(name, b) and place_like(name) and has_place_name(name)):
            return Lack(f"is not about {name}", f"与“{name}”有关的内容")
    if n.who:
        if n.role:
            found = role_found(s, n.role)
            if not found:
                return Lack(f"names no {n.role}", f"{n.role}是谁")
            if not _person_beside(new, found):
                return Lack(f"gives no name for {n.role}", f"{n.role}的姓名")
        elif not names_someone(new) and not (author and fold(author) in s) \
                and not (n.who_verb and doers(s, (n.who_verb,))):
            return Lack("names nobody", "具体是谁")
        if n.who_verb and n.who_verb not in s:
            return Lack(f"says nothing of who {n.who_verb}", f"由谁{n.who_verb}")
    if n.when and not (DATE.search(new) or (report and DATE.search(report))):
        return Lack("gives no date", "具体时间")
    if n.day and not (DAY.search(new) or (report and DAY.search(report))):
        return Lack("gives no day", "具体日期")
    if n.deadline and not DEADLINE.search(s):
        return Lack("sets no deadline", "截止时间")
    if n.duration and not DURATION.search(s):
        return Lack("states no length of time", "持续时间")
    if n.best and n.best not in s and not _TOP_RANK.search(s):
        return Lack(f"does not say which is {n.best}", f"哪一个{n.best}")
    if n.frequency and not FREQ.search(s):
        return Lack("says not how often", "频次")
    if n.clock and not CLOCK.search(new):
        return Lack("gives no hour", "具体几点")
    if n.where and not (VENUE.search(s) or _has_place(s, exclude=n.names)):
        return Lack("names no place", "具体地点")
    for kind in n.contact:
        if not _CONTACT[kind].search(s):
            return Lack(f"gives no {kind}", {"phone": "联系电话", "address": "地址"}[kind])
    if n.rank:
        ranks = [norm_rank(x) for x in RANK.findall(s)]
        if n.rank == "?" and not ranks:
            return Lack("states no rank", "名次")
        if n.rank == "?等奖" and not any(x.endswith("等奖") for x in ranks):
            return Lack("states no prize level" + (f" (it says {ranks[0]})" if ranks else ""), "获奖等级")
        if not n.rank.startswith("?") and n.rank not in ranks:
            return Lack(f"does not say {n.rank}" + (f" (it says {ranks[0]})" if ranks else ""), f"“{n.rank}”的情况")
    if n.count_unit:
        number = count_pattern(n.count_unit)
        if not re.search(number, new):
            return Lack("states no such number", f"{n.counted}的具体数量" if n.counted else "具体数量")
        if n.counted and n.counted in s and not _near(s, n.counted, number):
            return Lack(f"counts something other than {n.counted}", f"{n.counted}的数量")
        if n.counted and n.counted not in s and not any(x in s for x in synonyms(n.counted)):
            return Lack(f"does not count {n.counted}", f"{n.counted}的数量")
        if n.counted_of and not name_in(n.counted_of, s):
            return Lack(f"does not count those of {n.counted_of}", f"{n.counted_of}的{n.counted}数量")
    if n.which and not _unit_named(n.which, s) and not _unit_named(n.which, fold(lead)):
        return Lack(f"names no {n.which}", f"是哪个{n.which}")
    if n.which_org and not _org_named(s, n.names):
        return Lack("names no organisation", "具体是哪个单位或部门")
    if n.which_verbs and not any(v in s for v in n.which_verbs):
        return Lack(f"says nothing of who {n.which_verbs[0]}", f"由哪个单位{n.which_verbs[0]}")
    if n.defines and not _states_content(n.defines, s, c):
        return Lack(f"does not say what {n.defines} is", f"“{n.defines}”的具体内容")
    if n.item and not is_item(n.item, s):  # in the sentence: a heading's 四、 numbers a section, not the point
        return Lack(f"is not point {n.item} of a list", f"第{_cn(n.item)}项的内容")
    for period in n.periods:
        if period not in s and period not in c:
            return Lack(f"is not about {period}",
                        f"“{period}”时期的内容" if period.endswith("五") else f"与“{period}”有关的内容")
    where = (s, c, b, fold(lead))
    for year in n.years:  # 「2021年修订后的方案」: a sentence of a report of 2021, or naming that year
        if not dated.startswith(year) and not any(year in years_in(x) for x in where):
            return Lack(f"is not about {year}", f"{year}年的相关情况")
    for half in n.halves:
        if not any(half in x for x in where):
            return Lack(f"is not about {half}", f"{half}的相关情况")
    for level in n.levels:
        if level not in s.upper():
            return Lack(f"does not say {level}", f"“{level}”的情况")
    for event in n.events:
        if not _event_named(event, s, c, b):
            return Lack(f"is not about the {''.join(event)}", f"{''.join(event)}的相关情况")
    return ""


def _states_content(term: str, s: str, context: str) -> bool:
    """Does sentence ``s`` state what ``term`` stands for? The term followed in its clause by what
    introduces its content (「“三严三保”,即严格考勤…」, 「强化三种意识:一是…」), or a list ending right
    before it (「“出创新成果、出创新人才、出创新思想”的战略使命」), or the sentence stands under a
    heading (or in a report) named by the term (「堅持…“四同”」 over 「同謀劃、同部署、同檢查、同考核」).
    A sentence that only mentions the term (「努力做到“五个提升”,抓好…」) does not."""
    if term in context:
        return True
    _, cue = definition_cues()
    t = re.escape(term)
    return bool(re.search(rf"{t}[”\"」』]?[^，。；！？,;]{{0,10}}?[，,]?(?:{cue.pattern})", s)
                or re.search(rf"、[^，。；、,;]{{1,20}}?[”\"」』]?的?[\u4e00-\u9fff]{{0,4}}?{t}", s))
_CONTACT = {"phone": re.compile(r"(?:\d{3,4}[-－—\s]?)?\d{7,8}|1[3-9]\d{9}"),
            "address": re.compile(rf"[\u4e00-\u9fff]{{2,}}(?:{alternation(SLOTS, 'street')})\s*\d*号?|\d+号")}
_PLACE_END = words(UNITS, "place_end")


def _has_place(text: str, exclude=()) -> bool:
    """A place name: jieba's place tag on a word that ends like a place (it tags 青春 and 深水 too),
    and not part of a name the question itself gives (兰州 of 兰州化物所)."""
    pairs = pos_tags(text)
    return any(f == "ns" and len(w) >= 2 and w.endswith(_PLACE_END) and not any(w in x for x in exclude)
               and not (i + 1 < len(pairs) and pairs[i + 1][0].endswith(UNIT_SUFFIX))  # 兰州|化物所: a unit's name
               for i, (w, f) in enumerate(pairs))


_DETERMINED = re.compile(rf"(?:{alternation(UNITS, 'every')})[\u4e00-\u9fff]?$")


# 「创先争优先进党支部」「优秀党支部」: an honour's name for a kind of branch, not a branch's own name
_HONOUR = re.compile(rf"(?:{alternation(UNITS, 'honour')})$")


def _unit_named(which: str, text: str) -> bool:
    """Does ``text`` name a particular ``which`` (焊材党支部), not all of them (各党支部, 全体党支部) nor
    the kind an honour is given to (先进党支部)?"""
    for m in re.finditer("[\u4e00-\u9fff]{0,2}?".join(re.escape(ch) for ch in which), text):
        before = text[max(0, m.start() - DETERMINER_REACH) : m.start()]
        if not _DETERMINED.search(before) and not _HONOUR.search(before.rstrip("”\"」")):
            return True
    return False


_ORG_END = re.compile(rf"(?:{alternation(UNITS, 'org_end')})$")


def _org_named(text: str, exclude=()) -> bool:
    """An organisation's own name (LAC's ORG, or a noun ending like a unit: 党政办公室, 人事教育处) that
    the question does not give itself and no 各/全 makes every one of its kind."""
    for a, b, tag in lexical(text):
        w = text[a:b]
        if len(w) < ORG_NAME_MIN or w in UNIT_SUFFIX or w in GENERIC_WHICH or any(w in x or x in w for x in exclude) \
                or _DETERMINED.search(text[max(0, a - DETERMINER_REACH) : a]):
            continue
        if tag == "ORG" or (tag.startswith("n") and _ORG_END.search(w) and not w.startswith(NOT_A_NAME)):
            return True
    return False
