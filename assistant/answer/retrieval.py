"""Hybrid retrieval: dense top-N (Chroma), BM25 top-N and BM25 over what the question quotes, fused
by reciprocal rank fusion, then diversified with a per-document cap so that answers spanning several
reports see several reports. Offered to LangChain as a ``BaseRetriever`` by langchain_retriever.py."""

from __future__ import annotations

import logging
import math
import re
import time
from dataclasses import dataclass

from ..core.chinese import cut, entity_words, fold, quoted, synonyms, words
from ..core.errors import AssistantError
from ..core.schema import Hit
from ..core.wordlists import alternation, any_of
from ..core.wordlists import words as listed
from ..ingest.cleaning import iso_date
from ..storage.library import Index, date_ord

log = logging.getLogger(__name__)

RRF_K = 60
# Weights of the rankings in the fusion. An exact rare keyword is strong evidence in Chinese
# reports, so a chunk BM25 ranks first edges out one only the dense ranking puts first. "quoted":
# BM25 over only what the question puts in quotes (retrieve()).
WEIGHTS = {"keyword": 1.0, "dense": 0.9, "quoted": 1.0}

_Q = "answer_requests.txt"
_QP = "answer_request_patterns.txt"
_WHEN = alternation(_QP, "published_when")  # 哪天, 何时, 哪一?年…
_PUBLISH = alternation(_Q, "publish_verb")  # 发布, 印发…
# Questions whose answer spans reports: "which units…", precedents, talking points.
_MULTI_REPORT = re.compile(
    rf"哪些({alternation(_Q, 'multi_which')})|哪几家|哪几个({alternation(_Q, 'multi_several')})|"
    rf"{alternation(_QP, 'multi_report')}"
)
# Questions about a document itself (who wrote it, when it was published): its byline words.
_METADATA_INTENT = [
    (any_of(_Q, "author_ask"), list(listed(_Q, "author_byline"))),
    (re.compile(rf"({_WHEN}).{{0,8}}({_PUBLISH})|({_PUBLISH}).{{0,4}}({_WHEN})"), list(listed(_Q, "date_byline"))),
]


def metadata_intent(question: str) -> bool:
    """Does the question ask about a document itself (its author, its date)?"""
    q = fold(question)
    return any(pattern.search(q) for pattern, _ in _METADATA_INTENT)


def multi_report(question: str, index: Index | None = None) -> bool:
    """Does the answer span reports? 「各支部」「哪些支部」… right after a name that singles out a
    report (「哈焊所各支部…」「哈焊所哪些支部…」) are that unit's own branches: its report answers
    (judged with ``index``; without one, every such phrase spans reports)."""
    q = fold(question)
    for m in _MULTI_REPORT.finditer(q):
        if not (index is not None and m.group()[:1] in "各哪" and singles_out(index, _name_before(q, m.start()))):
            return True
    return False


def _name_before(text: str, end: int) -> str:
    """The word just before ``end`` (skipping a 的): 「哈焊所各支部」 → 哈焊所."""
    before = [w for w in cut(text[:end]) if w.strip()]
    if before and before[-1] == "的":
        before.pop()
    return before[-1] if before else ""


def singles_out(index: Index, name: str, named: set[str] | None = None) -> bool:
    """A name of something specific (a unit, a person, a project) that occurs in at least one and
    at most a tenth of the documents: 哈焊所 does, 中科院 in a library of 中科院 reports does not.
    ``named``: the entity words of the sentence it was read in (tags depend on context)."""
    name = name.lower()
    if len(name) < 2 or name not in (entity_words(name) if named is None else named):
        return False
    limit = max(1, round(SINGLES_OUT_SHARE * max(1, index.keyword.n_docs)))
    return 1 <= index.keyword.doc_df.get(name, 0) <= limit


def query_words(question: str) -> list[str]:
    """BM25 query: the question's words, their paraphrases, and byline words when it asks about a
    document itself."""
    q = fold(question)
    base = words(q)
    extra = [w for pattern, ws in _METADATA_INTENT if pattern.search(q) for w in ws]
    return base + [s for w in base for s in synonyms(w)] + extra


def quoted_words(question: str) -> list[str]:
    """The words of what the question puts in quotes (“以学促做”, 《…通知》): the topic the user names."""
    return [w for phrase in quoted(fold(question)) for w in words(phrase)]


@dataclass(frozen=True)
class Filters:
    orgs: tuple[str, ...] = ()
    since: str = ""
    until: str = ""
    doc_ids: tuple[str, ...] = ()
    doc_numbers: tuple[str, ...] = ()  # 发文字号 of official documents (示例所党发〔2016〕12号; any brackets)

    def active(self) -> bool:
        return bool(self.orgs or self.since or self.until or self.doc_ids or self.doc_numbers)


def number_key(number: str) -> str:
    """A 发文字号 as compared: brackets of any kind made 〔〕, no white space, the serial without leading zeros."""
    s = re.sub(r"\s+", "", number)
    s = re.sub(r"[［\[（(【]", "〔", s)
    s = re.sub(r"[］\]）)】]", "〕", s)
    return re.sub(r"〕0+(\d)", r"〕\1", s)


def parse_date_bound(value: str, name: str) -> str:
    if not value:
        return ""
    v = value.strip()
    if v.isdigit() and len(v) == 4:
        return v
    iso = iso_date(v)
    if not iso:
        raise AssistantError(f"{name} {value!r} is not a date; write it as YYYY-MM-DD (or just YYYY).")
    return iso


def date_bounds(filters: Filters) -> tuple[int | None, int | None]:
    """The filter's dates as YYYYMMDD bounds (a year-only bound covers its whole year)."""
    lo = date_ord(filters.since) if filters.since else None
    hi = date_ord(filters.until) if filters.until else None
    if hi is not None and len(filters.until) == 4:
        hi += 1231
    return lo, hi


def allowed_docs(index: Index, filters: Filters) -> set[str] | None:
    """The documents the filters admit (one SQL query), or None when there is no filter."""
    if not filters.active():
        return None
    lo, hi = date_bounds(filters)
    allowed = index.store.filter_docs(filters.orgs, lo, hi, filters.doc_ids)
    if filters.doc_numbers:
        wanted = {number_key(n) for n in filters.doc_numbers}
        allowed = {d for d, m in index.store.metas().items() if d in allowed and m.doc_number
                   and number_key(m.doc_number) in wanted}
    return allowed


def chroma_where(filters: Filters, allowed: set[str] | None) -> dict | None:
    """The filter as Chroma's ``where``: dates on the vectors' own metadata; organisations and
    documents as the documents they resolved to."""
    if allowed is None:
        return None
    clauses: list[dict] = []
    lo, hi = date_bounds(filters)
    if lo is not None or hi is not None:
        clauses.append({"date_ord": {"$gt": 0}})
    if lo is not None:
        clauses.append({"date_end": {"$gte": lo}})
    if hi is not None:
        clauses.append({"date_ord": {"$lte": hi}})
    if filters.orgs or filters.doc_ids or filters.doc_numbers:
        clauses.append({"doc_id": {"$in": sorted(allowed)}})
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


EXHAUSTIVE_MAX = 3000  # keyword matches an exhaustive retrieval looks at …
# bench/thresholds.py (precedents): 0.4 → none; 0.6 → none
EXHAUSTIVE_FLOOR = 0.5  # … those scoring at least this share of the best
DENSE_POOL_MAX = 300  # nearest neighbours asked of Chroma at most; BM25 alone reaches further (exact words)
# Each ranking contributes max(ASSISTANT_CANDIDATES, POOL_PER_K × k) candidates: 30 for a question (k = 5, 10),
# 36 for talking points (k = 12). Set by hand; bench/thresholds.py gives what changing it does.
# bench/thresholds.py (qa): 2 → 5; 4 → 6
POOL_PER_K = 3
# The quoted-words ranking is added only when what the question quotes is less than this share of its words:
# beyond it the quote is the question, and the ranking would count BM25 twice. Set by hand (bench/thresholds.py).
# bench/thresholds.py (qa): 0.4 → none; 0.6 → 1
QUOTED_AT_MOST = 0.5
# A name singles out a report when at most this share of the library's reports use it (at least one): 哈焊所 in
# the seeds does (1 of 5), 中科院 in a library of 中科院 reports does not. Set by hand (bench/thresholds.py).
# bench/thresholds.py (qa): 0.05 → none; 0.2 → none
SINGLES_OUT_SHARE = 0.1


def fuse(ranks: dict[str, dict[str, int]], weights: dict[str, float] = WEIGHTS, k: int = RRF_K) -> list[tuple[float, str]]:
    """Reciprocal rank fusion: each chunk's rank in each ranking (1-based, by ranking name) becomes
    Σ weight / (k + rank); (score, chunk id) best first, ties by id, so the order never depends on
    the order the rankings were read in."""
    return sorted(((sum(weights[src] / (k + r) for src, r in rs.items()), cid) for cid, rs in ranks.items()),
                  key=lambda x: (-x[0], x[1]))


def pool_size(k: int, settings_candidates: int) -> int:
    """Candidates each ranking contributes before fusion: never fewer than k, and more as k grows
    (talking points and precedent search ask for more chunks than a question does)."""
    return max(settings_candidates, POOL_PER_K * k)


def retrieve(index: Index, question: str, k: int = 5, filters: Filters = Filters(), candidates: int | None = None,
             max_per_doc: int | None = None, exhaustive: bool = False) -> list[Hit]:
    """Top-k chunks for ``question``. ``max_per_doc`` defaults to 1 for questions whose answer spans
    reports and to the configured cap otherwise. ``exhaustive`` (precedent search) adds, beyond the
    top k, every chunk the keyword ranking scores at least half as high as its best, up to
    EXHAUSTIVE_MAX: a list of every unit that did something must not stop where rank fusion does."""
    index.ensure_synced()  # the keyword statistics multi_report reads
    if max_per_doc is None:
        max_per_doc = per_doc_cap(index, multi_report(question, index))
    candidates = candidates or pool_size(k, index.settings.candidates)
    allowed = allowed_docs(index, filters)
    if allowed is not None and not allowed:
        return []
    ranks: dict[str, dict[str, int]] = {}
    kw_index = index.keyword  # one index for the whole question (a reload swaps it, never changes it)
    mask = kw_index.mask(allowed) if allowed is not None and kw_index.ids else None
    keyword = kw_index.search(query_words(question), max(candidates, EXHAUSTIVE_MAX if exhaustive else 0), allowed, mask)
    for rank, (cid, _score) in enumerate(keyword[:candidates], 1):
        ranks.setdefault(cid, {})["keyword"] = rank
    # A third ranking by what the question quotes alone: the chunks that use the topic the user
    # names are not outranked by ones that merely share the request's other words (发言, 要点, 书记).
    # When the quote is most of the question (「“三会一课”是什么？」) it would only count BM25 twice.
    quoted, asked = set(quoted_words(question)), set(words(fold(question)))
    if quoted and len(quoted) < QUOTED_AT_MOST * len(asked):
        for rank, (cid, _score) in enumerate(kw_index.search(sorted(quoted), candidates, allowed, mask), 1):
            ranks.setdefault(cid, {})["quoted"] = rank
    strong = [cid for cid, score in keyword if score >= EXHAUSTIVE_FLOOR * keyword[0][1]] if exhaustive else []
    for rank, cid in enumerate(strong[candidates:], candidates + 1):
        ranks.setdefault(cid, {})["keyword"] = rank
    vs = index.vectorstore
    if vs is not None and index.store.has_chunks():
        qv = index.embedder.embed_query(fold(question))
        share = float(mask.mean()) if mask is not None else 0.0
        with index.vectors.reading():  # no other process writes a local Chroma while it is searched
            results = dense_filtered(vs, qv, min(candidates, DENSE_POOL_MAX), filters, allowed, share)
        for rank, (doc, _dist) in enumerate(results, 1):
            ranks.setdefault(doc.id, {})["dense"] = rank
    fused = fuse(ranks)
    chunks = index.store.chunks([cid for _, cid in fused])
    metas = index.store.metas()
    ordered = [
        Hit(chunk=chunks[cid], meta=metas[chunks[cid].doc_id], score=score,
            dense_rank=ranks[cid].get("dense"), keyword_rank=ranks[cid].get("keyword"))
        for score, cid in fused
        if cid in chunks and chunks[cid].doc_id in metas  # a document removed meanwhile is not retrieved
    ]
    if not exhaustive:
        return diversify(ordered, k, max_per_doc)
    picked = diversify(ordered, k, max_per_doc)
    have = {h.chunk.chunk_id for h in picked}
    per_doc: dict[str, int] = {}
    for h in picked:
        per_doc[h.chunk.doc_id] = per_doc.get(h.chunk.doc_id, 0) + 1
    strong_ids = set(strong)
    for h in ordered:
        if h.chunk.chunk_id in strong_ids and h.chunk.chunk_id not in have and per_doc.get(h.chunk.doc_id, 0) < max_per_doc:
            picked.append(h)
            per_doc[h.chunk.doc_id] = per_doc.get(h.chunk.doc_id, 0) + 1
    return picked


def per_doc_cap(index: Index, spread: bool) -> int:
    """Chunks of one report among the top k: one when the answer spans reports, else the setting."""
    return 1 if spread else index.settings.max_per_doc


BROAD_FILTER = 0.1  # a filter admitting at least this share of the chunks is applied after the search …
OVERFETCH_MAX = 2000  # … to this many nearest neighbours at most


def dense_filtered(vs, vector: list[float], n: int, filters: Filters, allowed: set[str] | None,
                   share: float) -> list:
    """Nearest neighbours among the chunks a filter admits. Chroma evaluates a ``where`` by scanning
    its metadata (at 100k chunks 130 ms for one document, 800 ms for a date range admitting most of
    them, against 3–15 ms unfiltered), so a broad filter asks the graph for more neighbours — n over
    the admitted share, twice over — and keeps the admitted ones; a narrow filter, or a broad one
    that left too few, goes to Chroma's ``where``. ``share``: the admitted share of the chunks (the
    keyword index's mask of ``allowed``, already computed for BM25)."""
    if allowed is None:
        return dense_search(vs, vector, n, None)
    if share >= BROAD_FILTER:
        want = min(OVERFETCH_MAX, math.ceil(2 * n / share))
        got = [(d, s) for d, s in dense_search(vs, vector, want, None) if d.metadata.get("doc_id") in allowed]
        if len(got) >= n:
            return got[:n]
    return dense_search(vs, vector, n, chroma_where(filters, allowed))


def dense_search(vs, vector: list[float], k: int, where: dict | None, tries: int = 3) -> list:
    """Chroma's nearest neighbours. A query that meets another thread's delete of the same vectors
    can fail inside Chroma ("Error finding id"): it is asked again; if it keeps failing, this one
    question is answered from keyword retrieval alone rather than not at all."""
    for attempt in range(tries):
        try:
            return vs.similarity_search_by_vector_with_relevance_scores(vector, k=k, filter=where)
        except Exception as exc:  # noqa: BLE001 - chromadb raises its InternalError for this
            if attempt == tries - 1:
                log.warning("dense search failed (%s); keyword results only for this question", exc)
                return []
            time.sleep(0.05 * (attempt + 1))
    return []


def diversify(hits: list[Hit], k: int, max_per_doc: int) -> list[Hit]:
    """Best-first, at most ``max_per_doc`` chunks of one document while other documents have
    candidates; the cap is lifted when too few documents match to fill k."""
    picked: list[Hit] = []
    per_doc: dict[str, int] = {}
    rest: list[Hit] = []
    for h in hits:
        if len(picked) >= k:
            break
        if per_doc.get(h.chunk.doc_id, 0) < max_per_doc:
            picked.append(h)
            per_doc[h.chunk.doc_id] = per_doc.get(h.chunk.doc_id, 0) + 1
        else:
            rest.append(h)
    for h in rest:
        if len(picked) >= k:
            break
        picked.append(h)
    return sorted(picked, key=lambda h: -h.score)
