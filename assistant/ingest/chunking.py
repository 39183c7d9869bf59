"""Chinese-aware chunking: paragraphs → sentences → chunks packed to a tiktoken budget.

Chunks never cut a sentence unless that one sentence exceeds the budget, and a heading is never
left alone at the end of a chunk (it opens the next one, even when that takes it over budget);
consecutive chunks in a paragraph share one sentence of overlap. Each chunk keeps ``[start, end)`` offsets into the cleaned
text and the section heading path (一、… / （一）… / 1、… / 一是…) in force where it starts.
"""

from __future__ import annotations

import hashlib
import logging
import re
from functools import lru_cache

from ..core.chinese import sentence_spans
from ..core.schema import Chunk, Document, Sentence

log = logging.getLogger(__name__)

_HEADING_LEVELS = [
    (1, re.compile(r"^[一二三四五六七八九十]{1,3}\s*、")),
    (2, re.compile(r"^[（(]\s*[一二三四五六七八九十]{1,3}\s*[）)]")),
    (3, re.compile(r"^(?:\d{1,2}\s*[、．.](?!\d)|[（(]\d{1,2}[）)])")),
    (4, re.compile(r"^(?:[一二三四五六七八九十][是要]|第[一二三四五六七八九十]{1,3}[，,、是])")),
]
_HEADING_END = re.compile(r"[，,。；;：:！？!?\s]")


@lru_cache(maxsize=1)
def _encoding():
    try:
        import tiktoken

        return tiktoken.get_encoding("cl100k_base")
    except Exception as exc:  # offline with no cache: estimate instead of failing
        log.warning("tiktoken cl100k_base unavailable (%s); estimating token counts from characters", exc)
        return None


def count_tokens(text: str) -> int:
    enc = _encoding()
    if enc is None:
        return int(len(text) * TOKENS_PER_CHAR_ESTIMATE) + 1
    return len(enc.encode(text, disallowed_special=()))


# Without tiktoken's data (offline, no cache) tokens are estimated from characters. cl100k gives the cleaned
# seeds 1.22 tokens a character (22,829 for 18,650); a higher estimate errs towards smaller chunks.
TOKENS_PER_CHAR_ESTIMATE = 1.4
HEADING_LABEL_MAX = 40  # characters of a heading kept in the heading path (the seeds' longest label is 40)
# A sentence opening with a heading marker is a heading of its own when at most this long: of the seeds' 72 such
# sentences 62 have at most 30 characters, and the 7 over 45 run the heading into its paragraph.
HEADING_SENTENCE_MAX = 45
# A chunk ends at a paragraph break once it holds this share of its token budget …
PARAGRAPH_BREAK_SHARE = 0.6
# … and a closing rest shorter than this share of the budget (a byline, a date) stays with the chunk before it.
CLOSING_REST_SHARE = 0.15
_MD_HEADING = re.compile(r"^(#{1,6})\s+(\S.*)$")


def heading_of(sentence: str) -> tuple[int, str] | None:
    md = _MD_HEADING.match(sentence)
    if md:  # markdown: '# 一级' … '###### 六级'
        return len(md.group(1)), md.group(2).strip()[:HEADING_LABEL_MAX]
    for level, pattern in _HEADING_LEVELS:
        marker = pattern.match(sentence)
        if marker and re.search(r"[\u4e00-\u9fff]{2}", sentence[marker.end() : marker.end() + 6]):
            m = _HEADING_END.search(sentence, marker.end() + 1)
            text = sentence[: m.start()] if m else sentence
            return level, text[:HEADING_LABEL_MAX]
    return None


def heading_path_at(chunk: Chunk, offset: int) -> tuple[str, ...]:
    """The heading path in force at document offset ``offset`` inside ``chunk``: the chunk's own
    path, updated by any heading that opens a sentence between the chunk's start and the offset."""
    path = dict(enumerate(chunk.headings, 1))  # level → label, as the chunker's stack
    levels = None
    for s in sentence_spans(chunk.text, 0, max(0, min(offset, chunk.end) - chunk.start)):
        h = heading_of(s.text)
        if h is None:
            continue
        if levels is None:  # the chunk's path was built from real levels; rebuild them once
            levels = {}
            for label in chunk.headings:
                found = heading_of(label) or heading_of("# " + label)
                levels[found[0] if found else len(levels) + 1] = label
            path = levels
        level, label = h
        path = {k: v for k, v in path.items() if k < level}
        path[level] = label
        levels = path
    return tuple(path[k] for k in sorted(path))


def _split_long(text: str, s: Sentence, budget: int) -> list[Sentence]:
    """Split one over-budget sentence at commas, then by characters."""
    pieces: list[Sentence] = []
    start = s.start
    cuts = [m.end() for m in re.finditer(r"[，,、：:]", text[s.start : s.end])]
    last = s.start
    for c in cuts + [s.end - s.start]:
        end = s.start + c
        if count_tokens(text[start:end]) > budget and last > start:
            pieces.append(Sentence(start, last, text[start:last]))
            start = last
        last = end
    pieces.append(Sentence(start, s.end, text[start : s.end]))
    out: list[Sentence] = []
    for p in pieces:
        if count_tokens(p.text) <= budget:
            out.append(p)
            continue
        step = max(1, budget // 2)  # CJK is at least one token a character
        for a in range(p.start, p.end, step):
            b = min(p.end, a + step)
            out.append(Sentence(a, b, text[a:b]))
    return out


def _chunk_id(doc: Document, start: int, end: int) -> str:
    h = hashlib.sha256(f"{doc.doc_id}\x00{doc.raw_hash}\x00{start}:{end}".encode()).hexdigest()
    return h[:24]


def chunk(doc: Document, budget: int = 300, overlap: int = 1) -> list[Chunk]:
    text = doc.text
    sents: list[Sentence] = []
    for s in sentence_spans(text):
        sents.extend(_split_long(text, s, budget) if count_tokens(s.text) > budget else [s])
    if not sents:
        return []
    sizes = [count_tokens(s.text) for s in sents]
    # Tokens of the whitespace before each sentence: counted when it joins a chunk mid-way.
    gaps = [0] + [count_tokens(text[a.end : b.start]) if b.start > a.end else 0 for a, b in zip(sents, sents[1:])]
    new_para = [i == 0 or "\n" in text[sents[i - 1].end : sents[i].start] for i in range(len(sents))]

    # Heading path in force at each sentence.
    paths: list[tuple[str, ...]] = []
    is_heading: list[bool] = []
    stack: dict[int, str] = {}
    for s in sents:
        h = heading_of(s.text)
        is_heading.append(h is not None and s.end - s.start <= HEADING_SENTENCE_MAX)
        if h:
            level, label = h
            stack = {k: v for k, v in stack.items() if k < level}
            stack[level] = label
        paths.append(tuple(stack[k] for k in sorted(stack)))

    chunks: list[Chunk] = []
    i = 0
    n = len(sents)
    while i < n:
        j, total = i, 0
        while j < n:
            only_headings = all(is_heading[i:j])  # a heading never ends up alone in a chunk
            step = sizes[j] + (gaps[j] if j > i else 0)
            if j > i and total + step > budget and not only_headings:
                break
            if j > i and new_para[j] and total >= PARAGRAPH_BREAK_SHARE * budget:
                break
            total += step
            j += 1
        while j - 1 > i and is_heading[j - 1] and j < n:
            j -= 1  # a heading opens the next chunk instead of closing this one
        rest = sum(sizes[j:]) + sum(gaps[j:])
        if j < n and rest < CLOSING_REST_SHARE * budget and count_tokens(text[sents[i].start : sents[j - 1].end]) + rest <= budget:
            j = n  # a short closing paragraph (a byline, say) stays with the text it closes
        start, end = sents[i].start, sents[j - 1].end
        chunks.append(
            Chunk(
                chunk_id=_chunk_id(doc, start, end),
                doc_id=doc.doc_id,
                index=len(chunks),
                start=start,
                end=end,
                text=text[start:end],
                headings=paths[i],
                tokens=count_tokens(text[start:end]),
            )
        )
        if j >= n:
            break
        back = j - overlap
        if overlap > 0 and back > i and not new_para[j] and sum(sizes[back:j]) <= budget // 2:
            i = back
        else:
            i = j
    return chunks
