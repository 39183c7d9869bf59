"""What a question asks for, read from its grammar into requirements (``Needs``) that an answering
sentence must meet (answerability.py checks them): the names it gives (units, people, events; those
the library never uses), and the slot asked — a person for a role (谁/哪位), a date, a deadline, a
length of time, a frequency, an hour (什么时候/多久/几点), a place (哪里), a count with its unit and
the thing counted (几名/多少个), a rank (第几/一等奖), the name of a thing (什么主题), the content of a
term (「三会一课」指什么), a list point (第四个方面), a year, period or grade it is bound to.

Nothing here knows a question of the dev set: the requirements come from the question's grammar
(question words, units, ordinals, part-of-speech tags) and from the index's own vocabulary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache

from ..core.chinese import (
    CN_DIGITS,
    STOPWORDS,
    TASK_WORDS,
    fold,
    lexical,
    pos_tags,
    quoted,
    synonyms,
)
from ..core.wordlists import alternation, any_of, chars, cue_words, words

UNITS = "answer_units.txt"  # organisations, places, roles, people
SLOTS = "answer_slots.txt"  # the words of the slots a question asks
SLOT_PATTERNS = "answer_slot_patterns.txt"  # the same, as regular-expression alternatives

UNIT_SUFFIX = words(UNITS, "unit_suffix")
NOT_A_NAME = words(UNITS, "determiner")
_NAME_FLAGS = ("nr", "nrt", "nrfg", "nt", "nz")
# jieba tags some everyday two-character words as places (上台 in 「上台讲话」, 出台): a two-character
# "place" counts as one only with a place suffix or when it is a province or a large city.
_PLACE_SUFFIX = words(UNITS, "place_suffix")
_BIG_PLACES = frozenset(words(UNITS, "big_place"))


def place_like(w: str) -> bool:
    return len(w) >= 3 or w.endswith(_PLACE_SUFFIX) or w in _BIG_PLACES


def _determined_unit(w: str) -> bool:
    """A kind of unit after 各/每/该… (jieba tags 各支部 a place): units in general, not a name."""
    return w[:1] in NOT_A_NAME and w[1:].endswith(UNIT_SUFFIX)


_LOCATIVE = set(words(UNITS, "locative"))
_QUESTION_TOKENS = re.compile(rf"^({alternation(SLOT_PATTERNS, 'question_token')})$")

# Roles a who-question asks about; a generic one (领导, 人) needs only a name, a specific one its name beside it.
_ROLE = re.compile(rf"(?:{alternation(UNITS, 'role_deputy')})?(?:{alternation(UNITS, 'role_body')})?"
                   rf"(?:{alternation(UNITS, 'role')})$")
GENERIC_WHICH = set(words(UNITS, "generic_which"))
_LIGHT_VERBS = set(words(UNITS, "light_verb"))
_GENERIC_PERSON = set(words(UNITS, "generic_person"))
_WHO = re.compile(rf"(?P<before>[\u4e00-\u9fffA-Za-z]{{1,12}}?)(?:{alternation(SLOTS, 'who_ask')})"
                  r"|(?<!哪)谁(?P<verb>[\u4e00-\u9fff]{1,3}?)的|是谁(?P<after>[\u4e00-\u9fff]{2})的")
_ASKS_WHO = any_of("question_words.txt", "asks_who")
_WHO_NAMED = alternation(SLOTS, "who_named")  # asks for a person even when a thing's name is asked too
_ASKS_WHEN = any_of(SLOT_PATTERNS, "asks_when")
# 「哪一天下发的」: the day, which a month (今年2月) does not give; 「什么时间之前结束」: a deadline, a date
# with 前 (9月14日前), not the day something else happened; 「开了多长时间」: a length of time, not a date.
_ASKS_YEAR = any_of(SLOT_PATTERNS, "asks_year")  # the year is asked, not the day
_ASKS_DAY = any_of(SLOT_PATTERNS, "asks_day")
_ASKS_DEADLINE = re.compile(rf"(?:{alternation(SLOT_PATTERNS, 'deadline_when')})(?:{alternation(SLOTS, 'ask_before')})"
                            rf"|截止(?:{alternation(SLOTS, 'deadline_of')})?(?:是)?(?:什么|哪|何)"
                            rf"|{alternation(SLOTS, 'deadline_ask')}")
_ASKS_DURATION = re.compile(rf"{alternation(SLOTS, 'asks_duration')}|(?:{alternation(SLOTS, 'duration_verb_ask')})(?:了)?"
                            rf"(?:多少|几)(?:{alternation(SLOTS, 'duration_unit_ask')})")
# 「成绩最好的是哪个支部」: a best one, which a sentence names with the same words or a first place.
_DO = rf"(?:{alternation(SLOTS, 'hold_verb')})?"
# 「党小组会多久开一次」: how often — a frequency answers (每月, 每季度, 三个月一次), not a length of time
_ASKS_FREQ = re.compile(rf"多久{_DO}[一1][次回]|(?:每隔|隔)多(?:长时间|久)|多长时间{_DO}[一1][次回]|"
                        rf"(?:几|多少)个?(?:{alternation(SLOTS, 'freq_period_ask')}){_DO}[一1][次回]|多久[\u4e00-\u9fff]{{1,2}}?一[次回]|频次|频率")
# 「主题党日几点开始」: the hour (9点, 14:30), not the day (哪几点要求, 几点意见 ask for points)
_ASKS_CLOCK = re.compile(rf"(?<!哪)几点(?:钟|几分)?(?={alternation(SLOTS, 'clock_verb')}|[？?，,]|$)")
_ASKS_BEST = re.compile(rf"最(?:{alternation(SLOTS, 'best')})")
_ASKS_WHERE = any_of("question_words.txt", "asks_where")
DATE = re.compile(r"(?:19|20)\d{2}\s*[-年./]|[0-9一二三四五六七八九十]{1,3}\s*月(?:份|[0-9一二三四五六七八九十]{1,3}\s*[日号])?|"
                   rf"[0-9一二三四五六七八九十]{{1,3}}\s*[日号]|{alternation(SLOT_PATTERNS, 'date_word')}")
# A rank asked for: 第几…, or a place in a ranking (第一名, 二等奖, 冠军) — not 第三党支部, which is a name.
RANK_UNIT = alternation(SLOTS, "rank_unit")  # 第一名, 第二届
_RANK_ASK = re.compile(rf"第几(?:{RANK_UNIT})?|几等奖|第[一二三四五六七八九十\d]+(?:名|位)|[一二三四五六七八九十\d]等奖|"
                       rf"{alternation(SLOTS, 'prize')}")
# A number: digits with their magnitudes (1.3万亿), or Chinese numerals — not the magnitude that
# follows digits alone (「1.3万亿元」 is no 「万亿元」).
NUMBER = rf"[0-9０-９]+(?:\.[0-9]+)?(?:\s*[-~～至到]\s*[0-9]+)?\s*[万千百亿]{{0,2}}|(?<![0-9０-９.])[{CN_DIGITS}]+"
_COUNT_UNITS = chars(SLOTS, "count_unit")  # 名人位员个项次…: what a count's number stands before
_PERSON_UNITS = chars(SLOTS, "person_unit")  # 名人位员: units of people, alike
_COUNT_ASK = re.compile(rf"(?:多少|几(?![{chars(SLOTS, 'not_count')}]))\s*(?P<unit>[{_COUNT_UNITS}])?"
                        r"(?P<after>[\u4e00-\u9fff]{0,12})")
_TOTAL = any_of("question_words.txt", "total")
_COUNT_BEFORE = re.compile(rf"(?P<before>[\u4e00-\u9fff]{{2,8}}?)(?:{alternation(SLOTS, 'count_lead')})*(?:多少|几)")


_DEPARTMENT = re.compile(rf"(?:{alternation(UNITS, 'department_end')})$")


def local_names(question: str, df) -> list[str]:
    """Names the answer must be about, known to the library: a unit named with what it belongs to
    (机关党支部, 研发中心党支部), a person, a place (黑龙江省). An answer sentence — or its report's
    title, organisation or headings — must name each of them."""
    pairs = [(w, f) for w, f in pos_tags(question) if w.strip()]
    out = []
    for i, (w, f) in enumerate(pairs):
        if w.endswith(UNIT_SUFFIX) and i and not w.startswith(NOT_A_NAME):
            prev, pf = pairs[i - 1]
            if (pf.startswith("n") or pf in ("j", "vn")) and len(prev) >= 2 and not prev.startswith(NOT_A_NAME) \
                    and not prev.endswith(UNIT_SUFFIX) \
                    and df.get(prev.lower(), 0):
                out.append(prev + w)
                continue
        if f.startswith("n") and len(w) >= 3 and _DEPARTMENT.search(w) and not _DEPARTMENT.fullmatch(w) and df.get(w.lower(), 0) \
                and not w.startswith(NOT_A_NAME) and w not in GENERIC_WHICH and w not in STOPWORDS:
            out.append(w)  # a department or group by its own name (技术部, 切割中心): 「带着技术部争创小组…」
            continue
        if (f == "nr" or (f == "ns" and place_like(w))) and len(w) >= 2 and df.get(w.lower(), 0) \
                and not _QUESTION_TOKENS.match(w) and not _determined_unit(w):
            out.append(w)
    # What the question quotes — a document's title, an activity's name (“七一”, 《…通知》) — is named too.
    out += [x.strip() for x in quoted(fold(question)) if len(x.strip()) >= 2]
    return out


# A quoted name this short is a slogan or a campaign's name (“四个一”, “三严三保”, “七一”): only its own
# words match it, where a unit's name may stand with characters between (质检中心支部 ~ 质检中心党支部) —
# “四个一” was matched by 「四个融为一体」 and answered from it (set A). Titles of documents are longer,
# and a question may shorten them.
SLOGAN_CHARS = 8


def name_in(name: str, text: str) -> bool:
    """The name, or it written with a few characters between (质检中心支部 ~ 质检中心党支部)."""
    return bool(re.search("[\u4e00-\u9fff]{0,2}?".join(re.escape(ch) for ch in name), text))


@dataclass(frozen=True)
class Needs:
    """What a sentence must hold to answer the question."""

    unknown: tuple[str, ...] = ()  # names the library never uses
    names: tuple[str, ...] = ()  # names the answer must be about (see local_names)
    slogans: tuple[str, ...] = ()  # short quoted names among them, which only their exact words match
    role: str = ""  # who: the role whose holder is asked for ("" when any name will do)
    who: bool = False
    who_verb: str = ""  # 「谁主持的」: the act the person did
    when: bool = False
    day: bool = False  # 「哪一天」: a day, not only a month
    year: bool = False  # 「哪一年的工作要点」: a year (2020年), not 年初
    deadline: bool = False  # 「什么时间之前」: a date something must be done by
    duration: bool = False  # 「开了多长时间」: a length of time
    frequency: bool = False  # 「多久开一次」: how often
    clock: bool = False  # 「几点开始」: the hour
    best: str = ""  # 「成绩最好的」 → 最好: the best one is asked for
    where: bool = False
    count_unit: str = ""  # a unit character, "any", or "" when no count is asked
    total: bool = False  # 「一共几个」: the whole count (全所共10个党支部), not a part of it (4个党支部被评为A级)
    counted: str = ""  # the thing counted: 「几名成员」 → 成员
    rank: str = ""  # the rank asked for, normalised (第一名 → 第一), or "?" for 第几
    counted_of: str = ""  # 「先进个人的事迹分了几期」 → 先进个人: whose things are counted
    which: str = ""  # 「哪个党支部」 → 党支部: the kind of unit the answer names
    which_org: bool = False  # 「哪个部门」「哪几个单位」: some organisation's own name
    which_verbs: tuple[str, ...] = ()  # 「由哪个部门负责汇总统计」 → 汇总, 统计: what the unit asked for did
    contact: tuple[str, ...] = ()  # "phone", "address": contact details asked for
    defines: str = ""  # 「“三严三保”到底指什么」 → 三严三保: the term whose content is asked for
    item: int = 0  # 「第四个方面讲的是什么」 → 4: the place in a list the answer must be
    periods: tuple[str, ...] = ()  # 「“十三五”战略目标」 → 十三五: the planning period the answer must be of
    levels: tuple[str, ...] = ()  # 「被评为C级」「国家级表彰」: the grade the answer must state
    years: tuple[str, ...] = ()  # 「2021年修订后的方案」 → 2021: the year the answer must be of
    halves: tuple[str, ...] = ()  # 「上半年」「三季度」: the part of the year the answer must be of
    asked: str = ""  # 「围绕哪两个重大节点」 → 节点: what the answer names instances of (a preference, not a must)
    named: str = ""  # 「围绕的是什么主题」 → 主题: the thing whose name (a quoted one) is asked
    given: tuple[str, ...] = ()  # the people, dates and numbers the question states: none of them is the answer
    events: tuple[tuple[str, str], ...] = ()  # 「动员大会是哪天召开」 → (动员, 大会): the event the slot is bound to

    def constraints(self) -> "Needs":
        """Only what every quoted sentence must be of — the planning period, the congress, the year, the
        part of the year, the grade — without a slot to fill: what a question spanning reports
        (「各单位落实“十四五”规划…提了什么要求」, 「围绕迎接党的十九大安排了哪些活动」) still needs."""
        return Needs(periods=self.periods, years=self.years, halves=self.halves, levels=self.levels)

    def for_report(self) -> "Needs":
        """A question about a report itself (谁写的, 哪天发布): its author and date line answer who and when."""
        return replace(self, role="", who_verb="")


def unknown_names(question: str, df) -> list[str]:
    """Names in the question the index never uses: an unknown word that names a unit (it is followed
    by a kind of unit: 大连|化物所, 光谱|室), is tagged a person, organisation or proper noun, names a
    place something is on or in (火星|上), or is one of two unknown nouns in a row (火星探测器)."""

    def known(w: str) -> bool:
        w = w.lower()
        return bool(df.get(w, 0) or any(df.get(s, 0) for s in synonyms(w)))

    placed, at = [], 0
    for w, f in pos_tags(question):
        if w.strip():
            placed.append((w, f, at))
        at += len(w)
    pairs = [(w, f) for w, f, _ in placed]
    folded = fold(question)
    tags = lexical(folded)
    out = []
    for i, (w, flag) in enumerate(pairs):
        if (len(w) < 2 or known(w) or w in STOPWORDS or w in TASK_WORDS or _QUESTION_TOKENS.match(w)
                or any(ch.isdigit() for ch in w) or flag.startswith(("v", "m", "r", "p", "c", "u", "t", "f", "q"))
                or not _lac_noun(tags, folded, placed[i][2], placed[i][2] + len(w))):
            continue
        nxt = [x for x, _ in pairs[i + 1 : i + 3]]
        unit_after = any("".join(nxt[:j]).endswith(UNIT_SUFFIX) and not nxt[0].startswith(NOT_A_NAME)
                         for j in (1, 2) if len(nxt) >= j)
        noun = flag.startswith("n") or flag in ("j", "d", "eng")
        unknown_pair = (i + 1 < len(pairs) and pairs[i + 1][1].startswith("n") and len(pairs[i + 1][0]) >= 2
                        and not known(pairs[i + 1][0]))
        if (flag in _NAME_FLAGS or (noun and unit_after) or (noun and nxt[:1] and nxt[0] in _LOCATIVE)
                or (noun and unknown_pair)):
            out.append(w)
    # What something is on or in (「在机械总院内刊上」), as LAC reads it where jieba does not (院内|刊上)
    for (a, b, tag), (c, d, _) in zip(tags, tags[1:]):
        # 在…上: the locative a word of its own (LAC tags 上 a verb before 分几期), 在 within the few characters
        # before (LAC reads 哈焊所在 as 哈焊|所在; without 在 it reads 几个支部评|上了 too)
        w = folded[a:b]
        if (tag in _LAC_NOUNS and b - a >= 2 and folded[c:d] in _LOCATIVE and "在" in folded[max(0, a - LOCATIVE_REACH) : a]
                and not known(w)
                and w not in STOPWORDS and w not in TASK_WORDS and not any(w in x for x in out)):
            out.append(w)
    return out


def unquoted(text: str) -> str:
    """``text`` with what it quotes blanked out, same length: a question word inside a quoted name
    (「“我与合格党员差在哪儿”大讨论」) asks nothing."""
    return QUOTE_SPAN.sub(lambda m: m.group()[0] + "□" * (len(m.group()) - 2) + m.group()[-1], text)


# LAC's tags for nouns and names: a word jieba reads as a name must be read as one by LAC too (jieba tags
# 那阵子 a person, 不少 before 支部 a unit's name, 技改 an abbreviation; LAC: 那|阵|子, 不少/m, 技改/vn).
_LAC_NOUNS = frozenset({"n", "nz", "nr", "ns", "nt", "nw", "PER", "LOC", "ORG"})


def _lac_noun(tags, text: str, start: int, end: int) -> bool:
    """Are the LAC words over [start, end) of the question all nouns or names? A numeral with a noun
    in it names an event (二十大: LAC's m, like 不少)."""
    over = [(tag, text[a:b]) for a, b, tag in tags if a < end and b > start]
    return bool(over) and all(tag in _LAC_NOUNS or (tag == "m" and any(ch in CN_DIGITS for ch in w)
                                                     and not all(ch in CN_DIGITS for ch in w)) for tag, w in over)


def needs(question: str, df) -> Needs:
    full = fold(question)
    q = unquoted(full)  # what it asks; the names it quotes are read from ``full``
    role, who_verb = "", ""
    named = named_thing(q)
    thing = _thing_named(q)
    if thing and named in ("", "叫", "名字", "名称"):
        named = thing  # 「座谈会主题名字叫啥」: the 主题's name
    # 「那个宣誓活动叫什么」「主题名字叫啥」 ask a thing's name, not a person's
    who = bool(_ASKS_WHO.search(q)) and not (named not in ("", "叫", "名字", "名称")
                                              and not re.search(_WHO_NAMED, q))
    if who:
        m = _WHO.search(q)
        if m and m.group("before"):
            role = _role_in(m.group("before").split("的")[-1])
        v = re.search(r"(?:(?<!哪)谁|哪一?位)([\u4e00-\u9fff]{1,8}?)的", q) or re.search(r"由谁([\u4e00-\u9fff]{2,6})", q)
        if v:  # 「谁主持的」「哪位院领导主持的」 → 主持; 「哪位院士指导下完成的」 → 指导, the person's own act.
            # LAC's verbs (jieba reads 指导 as a noun); a one-character verb (谁讲的) binds too loosely to check.
            verbs = [v.group(1)[a:b] for a, b, tag in lexical(v.group(1)) if tag in ("v", "vn") and b - a >= 2]
            who_verb = verbs[0] if verbs else ""
        if role and (role in _GENERIC_PERSON or role.endswith(("代表", "专家"))):
            role = ""
        m2 = re.search(r"(?:哪位|哪一位)([\u4e00-\u9fff]{2,4})", q)
        if not role and m2:
            role = next((_role_in(m2.group(1)[:n]) for n in range(len(m2.group(1)), 1, -1)
                         if _role_in(m2.group(1)[:n])), "")
    count_unit, counted = "", ""
    m = _COUNT_ASK.search(q)
    if m and q[max(0, m.start() - 1) : m.start()] == "哪":
        m = None  # 哪几个部门: which ones, not how many
    when = bool(_ASKS_WHEN.search(q))
    if m and when and (m.group("unit") or "") in "年月天日号":
        m = None  # 几月几号: a date, not a count
    frequency, clock = bool(_ASKS_FREQ.search(q)), bool(_ASKS_CLOCK.search(q))
    if frequency or clock:
        m = None  # 几个月一次 and 几点 ask how often and when, not how many
    if m and not re.search(r"多少(?:年|天)?(?:以前|之前)", q):
        count_unit = m.group("unit") or "any"
        if count_unit == "个" and m.group("after").startswith("人"):
            count_unit = "人"
        if count_unit == "any" and m.group(0).startswith("几") and m.group("after").startswith(_slogan_counts()):
            # 「争当几好党员」: the slogan's numeral (五好), as data/definition_cues.txt's counted: lines say
            count_unit = next(c for c in _slogan_counts() if m.group("after").startswith(c))
        after = pos_tags(m.group("after"))
        counted = _head_noun(m.group("after"))
        if not counted and not (after and after[0][1].startswith("n")):  # 「多少道题」: the unit says it
            b = _COUNT_BEFORE.search(q)
            if b:
                pairs = [(w, f) for w, f in pos_tags(b.group("before")) if len(w) >= 2 and w not in STOPWORDS]
                nouns = [w for w, f in pairs if f.startswith("n") or f == "vn"]  # the head is last; 经费 is vn
                counted = nouns[-1] if nouns else ""
    counted_of = ""
    if count_unit:
        o = re.search(r"([\u4e00-\u9fff]{2,6})的([\u4e00-\u9fff]{2,4}?)[^，。？！]{0,4}?(?:几|多少)", q)
        if o and o.group(2) == counted:
            title = re.search(r"[《“「]([^《》“”「」]{2,30})[》”」]$", full[: o.start(1)])
            mods = [w for w, f in pos_tags(o.group(1)) if (f.startswith("n") or f == "j") and len(w) >= 2]
            # 「《劳动界》周刊的印数」: the owner is the title it quotes, whatever the sentence calls it (报纸)
            counted_of = title.group(1) if title else mods[-1] if mods else ""
    which = ""
    which_org, which_verbs = False, ()
    w = re.search(r"哪(?:个|家|一个|些|几个)([\u4e00-\u9fff]{2,6})", q)
    if w:
        # 「哪个党支部的党员」 asks for the 党支部; 「哪个部门统一制作」 (jieba reads 统一|制作 as verbal nouns)
        head, _ = _phrase_head(w.group(1).split("的")[0], ("v", "ad", "d"))
        if head.endswith((*UNIT_SUFFIX, "队", "小组")) and head not in GENERIC_WHICH:
            which = head
        which_org = head in GENERIC_WHICH and head not in ("地方",)
        after = q[q.find(head, w.start(1)) + len(head) :] if head else ""
        verbs = [after[a:b] for a, b, tag in lexical(re.split(r"[，,。？?！!；;]", after)[0])
                 if tag in ("v", "vn") and b - a >= 2]
        # only for a unit of any kind: 「哪个支部提出来的」 is answered by 「…党支部确定了…」 (another verb)
        which_verbs = tuple(v for v in verbs if v not in _LIGHT_VERBS) if which_org else ()
    form = _FORM_ASK.search(q)
    if not which and form:
        which = form.group(1)  # 「哪张整改销号表」: that form, not 自检自查表
    rank = ""
    r = _RANK_ASK.search(q)
    if r:
        rank = {"第": "?", "几": "?等奖"}.get(r.group(0)[:1] if r.group(0)[:2] in ("第几", "几等") else "", "") \
            or norm_rank(r.group(0))
    names = tuple(local_names(question, df))
    slogans = tuple(x.strip() for x in quoted(full) if 2 <= len(x.strip()) <= SLOGAN_CHARS)
    best = _ASKS_BEST.search(q)
    return Needs(unknown=tuple(unknown_names(question, df)), names=names, slogans=slogans, role=role, who=who,
                 who_verb=who_verb,
                 when=when, day=bool(_ASKS_DAY.search(q)), year=bool(_ASKS_YEAR.search(q)), deadline=bool(_ASKS_DEADLINE.search(q)),
                 duration=bool(_ASKS_DURATION.search(q)) and not frequency, frequency=frequency, clock=clock, best=best.group() if best and (which or which_org or who) else "",
                 where=bool(_ASKS_WHERE.search(q)),
                 count_unit="" if rank else count_unit, total=bool(count_unit and _TOTAL.search(q)), counted=counted, rank=rank, counted_of=counted_of,
                 which=which, which_org=which_org, which_verbs=which_verbs, contact=tuple(k for k, rx in _ASKS_CONTACT.items() if rx.search(q)),
                 defines=defined_term(full), item=_list_item(q), periods=tuple(dict.fromkeys(_PERIOD.findall(full))),
                 levels=tuple(dict.fromkeys(x.upper() for x in _LEVEL.findall(full))),
                 years=years_in(full), named=named, asked="" if which or which_org or who else asked_noun(q), given=given_in(full), halves=tuple(dict.fromkeys(_HALF.findall(full))),
                 events=tuple(e for e in events_of(full) if df.get(e[1], 0))  # an event word the library uses
                 if (who or when or count_unit or rank or _ASKS_WHERE.search(q)) else ())


@lru_cache(maxsize=1)
def event_words() -> tuple[tuple[str, ...], re.Pattern]:
    return words("event_words.txt", "head"), re.compile(f"^(?:{alternation('event_words.txt', 'refer')})")


def events_of(question: str) -> tuple[tuple[str, str], ...]:
    """The events a question's slot is bound to, as (modifier, head): LAC's nouns ending in an event word
    (data/event_words.txt) with the noun before them (动员|大会, 知识|竞赛); a verb only when it is an
    event word itself (游行, 答题: not 参会). ``needs`` keeps those whose head the library uses (LAC reads
    「多少人参会」 as 人参会, which no report has)."""
    heads, _ = event_words()
    question = SPIRIT.sub("", question)  # 「…座谈会精神视频会议」 asks of the video meeting
    tokens = [(question[a:b], tag) for a, b, tag in lexical(question)]
    out = []
    for i, (word, tag) in enumerate(tokens):
        if len(word) >= 2 and (word in heads or (word.endswith(heads) and tag in ("n", "vn", "nz"))):
            before = tokens[i - 1] if i else ("", "")
            after = tokens[i + 1] if i + 1 < len(tokens) else ("", "")
            if (after[1] in ("n", "vn", "nz") and len(after[0]) >= 2) or before[0].endswith(("篇", "份")):
                continue  # 「总结|表彰|大会」: it names the kind of 大会; 「那篇总结」: a document, not an event
            out.append((before[0] if before[1] in ("n", "vn", "nz") and len(before[0]) >= 2 else "", word))
    return tuple(dict.fromkeys(out))


# An event whose 精神 (its spirit, its decisions) is studied or passed on is not the event the sentence holds.
SPIRIT = re.compile(rf"[\u4e00-\u9fff“”「」]{{1,16}}?(?:{alternation(SLOTS, 'meeting')})精神")


# 「填报哪张整改销号表」: the form asked for, named with what sets it apart (a bare 「哪张表」 asks any form).
_FORM_ASK = re.compile(rf"哪(?:一)?[{chars(SLOTS, 'form_measure')}](?:[\u4e00-\u9fff]{{0,8}}?)"
                       rf"([\u4e00-\u9fff]{{2,8}}(?:{alternation(SLOTS, 'form')}))")
# 「第四个方面」「第五条」: a place in a list of points (not 第二名, a rank; nor 第三党支部, a name).
_ITEM_ASK = re.compile(rf"第([一二三四五六七八九十]{{1,3}}|\d{{1,2}})(?:{alternation(SLOTS, 'item_unit')})?"
                       rf"(?={alternation(SLOT_PATTERNS, 'item_next')})")
# A five-year plan (十二五 is not 十三五) or a party congress (十八大 is not 十九大; 十七届四中全会).
_PERIOD = re.compile(r"十[一二三四五六七八九]五|(?<![一二三四五六七八九十])(?:十[一二三四五六七八九]|二十)(?:大|届[一二三四五六七]中全会)")
YEAR = re.compile(r"(?<![0-9])(?:19|20)[0-9]{2}\s*年|[〇零○一二三四五六七八九]{4}年")  # 2021年, 二〇二一年
_HALF = any_of(SLOT_PATTERNS, "half")  # a part of a year: 上半年's work is not 下半年's
# A grade or level (A级, 国家级, 省部级, 三级): 「被评为A级」 does not answer 「被评为C级」 or 「获国家级表彰」.
_LEVEL = re.compile(
    rf"(?<![A-Za-z])[A-Da-d](?:\+|级)|国家级|[{chars(SLOTS, 'level_unit')}]{{1,2}}级|[一二三四五六七八九十]级")
_CN_NUM = {ch: i for i, ch in enumerate("零一二三四五六七八九")}


def _cn_int(text: str) -> int:
    """一 … 九十九 (or digits) as a number."""
    if text.isdigit():
        return int(text)
    tens, _, ones = text.rpartition("十")
    if "十" not in text:
        return _CN_NUM.get(text, 0)
    return (_CN_NUM.get(tens, 0) if tens else 1) * 10 + _CN_NUM.get(ones, 0)


def _list_item(q: str) -> int:
    m = _ITEM_ASK.search(q)
    return _cn_int(m.group(1)) if m else 0


@lru_cache(maxsize=1)
def definition_cues() -> tuple[re.Pattern, re.Pattern]:
    """(what a clause asking for a term's content ends with, what states it after the term), from
    data/definition_cues.txt."""
    asked = alternation("definition_cues.txt", "question")
    n = r"[几一二三四五六七八九十两\d]+"
    item = rf"(?:(?![{chars(SLOTS, 'not_item_measure')}])[\u4e00-\u9fff])?"  # 哪四同, 哪三种 — not 哪两位 (who), 哪几天 (when)
    ask = re.compile(  # the clause ends by asking for the content: 到底指什么 / 是哪四同 / 具体是怎么表述的
        rf"(?:(?:具体|到底|究竟)(?:是|指)|指)(?:的是)?(?:什么|啥|哪些|哪{n}{item})(?:{asked}|方面)?(?:呢)?$"
        rf"|是什么(?:{asked})(?:呢)?$|什么意思(?:呢)?$|是哪{n}{item}(?:方面)?(?:呢)?$"
        rf"|(?:怎么|如何)(?:{asked})(?:的)?(?:呢)?$|包括哪些(?:{asked}|方面)?(?:呢)?$")
    return ask, any_of("definition_cues.txt", "answer")


@lru_cache(maxsize=1)
def _list_ask() -> tuple[re.Pattern, frozenset[str]]:
    """(a clause ending by asking which items something consists of — 「具体是哪五个提升」「具体提了哪几条要求」 —
    with the items' noun as ``noun``, the nouns that name a list's items: data/definition_cues.txt)."""
    n = r"[几一二三四五六七八九十两\d]+"
    ask = re.compile(rf"具体(?:[\u4e00-\u9fff]{{1,2}}?了?)?(?:是)?哪(?:{n})?[{chars(SLOTS, 'list_measure')}]?(?P<noun>[\u4e00-\u9fff]{{1,4}}?)(?:呢)?$")
    return ask, frozenset(cue_words("definition_cues.txt")["items"])


def defined_term(question: str) -> str:
    """The term whose content a question asks for: the name it quotes before asking (「“三严三保”到底
    指什么」 → 三严三保, 「“四同”是哪四同」 → 四同), else the head of the noun phrase before the ask
    (「讲话里提到的中科院战略使命，具体是怎么表述的」 → 战略, as jieba heads it); "" when it asks
    something else."""
    ask, _ = definition_cues()
    q = fold(question)
    clauses = re.split(r"[，,。？?！!；;]", q)
    items, item_nouns = _list_ask()
    # 「“三严三实”，具体是哪“三严”、哪“三实”」「“五个提升”，具体是提升哪五个方面」: which items of a quoted
    # term whose name counts them (the number asked is the term's, what follows it is the term's or
    # names items) — not 「“两学一做”…哪两部法规」, which asks something else
    for m in re.finditer(r"哪\s*[“「]?([几一二三四五六七八九十两\d])[”」]?(?:个|条|项|点|种)?([\u4e00-\u9fff]{0,4})", q):
        num, rest = m.group(1), m.group(2)
        terms = [x.strip() for x in quoted(q) if len(x.strip()) >= 2 and num in x]
        if terms and (any((num + rest)[:2] in x for x in terms) or rest.startswith(tuple(item_nouns))):
            return max(terms, key=len)
    for i, clause in enumerate(clauses):
        m = items.search(clause.strip())
        if m and len(m.group("noun")) >= 2:
            # 「“五个提升”，具体是哪五个提升」: the quoted term holding the noun; 「具体提了哪几条要求」: the noun
            # 「“四个融为一体”具体指哪四个方面」: the quoted list (its name counts its items), the one holding
            # the noun first
            noun = m.group("noun")
            lists = [x.strip() for x in quoted("，".join(clauses[: i + 1]))
                     if any(ch in CN_DIGITS or ch.isdigit() for ch in x)]
            named = [x for x in lists if noun in x] or (lists if noun in item_nouns else [])
            if named or noun in item_nouns:
                return named[-1] if named else noun
        m = ask.search(clause.strip())
        if not m:
            continue
        before = "，".join(clauses[:i] + [clause.strip()[: m.start()]])
        names = [x.strip() for x in quoted(before) if len(x.strip()) >= 2]
        if names:
            return names[-1]
        head = _head_noun(clause.strip()[: m.start()].split("的")[-1])
        return head or (_head_noun(clauses[i - 1].split("的")[-1]) if i else "")
    return ""


def _role_in(phrase: str) -> str:
    """The role a phrase ends with (「光栅室党支部的纪检委员」 → 纪检委员), or ""."""
    for i in range(len(phrase)):
        if _ROLE.fullmatch(phrase[i:]):
            return phrase[i:]
    return ""


def _phrase_head(phrase: str, stops: tuple[str, ...]) -> tuple[str, str]:
    """(the head noun, the words) of ``phrase`` up to LAC's first word tagged one of ``stops`` (a verb, an
    adverb…), which jieba may read as a noun: 「部门统一制作」 → (部门, 部门)."""
    cut = next((a for a, b, tag in lexical(phrase) if tag in stops), len(phrase))
    return _head_noun(phrase[:cut] or phrase), phrase[:cut]


_WHOLE = words(SLOTS, "whole")  # 「全部党员」: the phrase's head comes before such a word


def _head_noun(phrase: str) -> str:
    """The head of the noun phrase a phrase starts with: its last noun before the next verb; what
    comes before a 的 only modifies what follows it (「创建党员示范岗的小组」 → 小组, 「负责新址建设的
    攻关小组」 → 小组, 「党支部自检自查」 → 党支部)."""
    head, seen = "", False
    for w, f in pos_tags(phrase):
        if w in _WHOLE:
            break
        if f == "uj":
            seen = False
            continue
        if f.startswith("n") or f in ("j", "vn"):
            seen = True
            if len(w) >= 2 and w not in STOPWORDS:
                head = w
        elif seen and f.startswith(("v", "x", "r", "p", "c", "u")):
            break
    return head


def norm_rank(text: str) -> str:
    return re.sub(rf"({RANK_UNIT})$", "", text)


# Character windows, set by hand on the sentences of the seeds (bench/thresholds.py gives what changing each does):
# bench/thresholds.py (qa): 4 → none; 8 → none
LOCATIVE_REACH = 6  # 在 up to this many characters before 「…内刊上」 makes it what something is in or on
# bench/thresholds.py (qa): 3 → 1; 5 → none
ASKED_PHRASE_MAX = 4  # 「哪…」's whole noun phrase is what is asked when it is this short (专题教育), else its head
QUOTE_SPAN = re.compile(r"“[^”]{1,30}”|「[^」]{1,30}」|『[^』]{1,30}』|‘[^’]{1,30}’|《[^》]{1,30}》|\"[^\"]{1,30}\"")


@lru_cache(maxsize=1)
def name_nouns() -> tuple[str, ...]:
    """Nouns that name a thing whose own name is quoted (data/name_words.txt): 主题, 称号, 题目…"""
    return cue_words("name_words.txt")["noun"]


@lru_cache(maxsize=1)
def _name_asks() -> tuple[re.Pattern, re.Pattern, re.Pattern, frozenset[str]]:
    """(什么/哪个 + a name noun, a name noun + 是什么/叫什么, a name noun or event + 名字/叫什么, the nouns
    after 什么 that ask no name): from data/name_words.txt and data/event_words.txt."""
    nouns = "|".join(map(re.escape, sorted(name_nouns(), key=len, reverse=True)))
    before = re.compile(rf"(?:什么|啥|哪(?:一)?[{chars(SLOTS, 'name_measure')}]|哪[两三四五几][{chars(SLOTS, 'name_count_measure')}])"
                        rf"[\u4e00-\u9fff]{{0,4}}({nouns})")
    after = re.compile(rf"({nouns})(?:分别)?(?:是|叫|为)(?:什么|啥)|({nouns})?叫(?:什么|啥)")
    heads = "|".join(map(re.escape, sorted(name_nouns() + event_words()[0], key=len, reverse=True)))
    thing = re.compile(rf"({heads})的?(?:{alternation('name_words.txt', 'ask')})")
    return before, after, thing, frozenset(cue_words("name_words.txt")["not"])


_ASKED = re.compile(rf"哪(?:一|[两三四五六七八九十几])?[{chars(SLOTS, 'which_measure')}]?([\u4e00-\u9fff]{{2,6}})")
_NOT_ASKED = words(SLOTS, "not_asked")  # 哪里, 哪些, 哪天…: a place, many, a date


def asked_noun(question: str) -> str:
    """What a 「哪…」 question asks for instances of, by its noun phrase (up to 4 characters, else its head
    noun): 「围绕哪两个重大节点」 → 重大节点, 「和哪一项专题教育的成果」 → 专题教育; "" for 哪里/哪些/哪天, people and units (see who/which). The
    answer usually names it (「…两个重大节点」), so sentences that do are preferred, but 「哪两部法规」 is
    answered by 《…准则》、《…条例》: it is never required."""
    m = _ASKED.search(question)
    if not m or question[m.start() + 1 : m.start() + 2] in _NOT_ASKED:
        return ""
    head, whole = _phrase_head(m.group(1).split("的")[0], ("v", "ad", "d", "p", "u"))
    if len(head) < 2 or head in _GENERIC_PERSON or head in GENERIC_WHICH or head.endswith(UNIT_SUFFIX) \
            or head in STOPWORDS or head in TASK_WORDS:
        return ""
    # 「专题教育」 rather than 教育, which 学习教育 has too
    return whole if len(whole) <= ASKED_PHRASE_MAX and whole.endswith(head) else head


def _thing_named(question: str) -> str:
    """The thing before 名字/名称/叫什么 when it is one whose name is quoted (a name noun or an event:
    「主题名字叫啥」 → 主题, 「那场座谈会叫什么」 → 座谈会), else ""."""
    m = _name_asks()[2].search(question)
    return m.group(1) if m else ""


def named_thing(question: str) -> str:
    """The thing whose name a question asks (data/name_words.txt): 「获得了什么荣誉称号」 → 称号,
    「党课题目是什么」 → 题目, 「那个活动叫什么」 → 活动 ("叫" alone when no such noun precedes)."""
    if "分别" in question:
        return ""  # 「主线和主题分别是什么」: two names, which the quotes give
    before, after, _, not_names = _name_asks()
    m = before.search(question)
    if m:
        return m.group(1)
    m = after.search(question)
    if m:
        return m.group(1) or m.group(2) or "叫"
    # 「开展了什么培训」「经过什么会审议」: any noun after 什么 but those data/name_words.txt's not: lines list
    m = re.search(r"什么([\u4e00-\u9fff]{1,4})", question)
    if not m:
        return ""
    first = next(iter(lexical(m.group(1))), None)
    word = m.group(1)[first[0] : first[1]] if first else ""
    if first and (first[2].startswith("n") or first[2] in ("vn", "ORG")) and word not in not_names:
        return word
    return ""


def given_in(question: str) -> tuple[str, ...]:
    """What a question states itself — people (LAC's PER), dates and numbers with a unit — longest
    first: 「王齐华作党课的那次大会是谁主持的」 is not answered by 王齐华, nor 「五四青年节那场座谈会是哪天」
    by 五四, nor 「95名党员参加的竞赛有几道题」 by 95名."""
    people = [question[a:b] for a, b, tag in lexical(question) if tag == "PER" and b - a >= 2]
    dates = [m.group(0) for m in DATE.finditer(question)]
    numbers = [m.group(0) for m in re.finditer(count_pattern("any"), question) if not _COUNT_WORD.match(m.group(0))]
    return tuple(sorted(dict.fromkeys(x.strip() for x in people + dates + numbers if x.strip()), key=len, reverse=True))


_COUNT_WORD = re.compile(rf"^(?:几|多少|[一两]\s*[{chars(SLOTS, 'count_article')}])")  # 「几个」「一个部门」 state no number


def years_in(text: str) -> tuple[str, ...]:
    """The years a text names (「2021年」, 「二〇二一年」 → 2021), in order, each once."""
    out = []
    for m in YEAR.finditer(text):
        year = m.group(0)[:-1].strip()
        out.append(year if year.isdigit() else "".join(str(_CN_NUM.get(ch, 0)) for ch in year))  # 〇, ○: 0
    return tuple(dict.fromkeys(out))


@lru_cache(maxsize=1)
def _slogan_counts() -> tuple[str, ...]:
    return tuple(sorted(cue_words("definition_cues.txt")["counted"], key=len, reverse=True))


def count_pattern(count_unit: str) -> str:
    """A number with the unit asked (「几名」: 名人位员 alike), or with any unit for "any"; for a slogan's
    count (「几好」) the numeral with it (五好)."""
    if count_unit in _slogan_counts():
        return rf"(?:{NUMBER}){re.escape(count_unit)}"
    unit = "" if count_unit == "any" else (_PERSON_UNITS if count_unit in _PERSON_UNITS else count_unit)
    return rf"(?:{NUMBER})\s*(?:余|多)?\s*个?\s*[{unit or _COUNT_UNITS + '%％'}]"


_ASKS_CONTACT = {"phone": any_of(SLOTS, "phone_ask"), "address": any_of(SLOTS, "address_ask")}
