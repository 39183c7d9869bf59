"""What keeps query cost flat as the library grows: filters resolved by one SQL query and pushed into
Chroma's ``where`` and into BM25 as a mask, candidate pools scaled with k, bounded text caches,
and precedent search that lists every unit (hashing embedder, real Chroma)."""

import random

import pytest

from assistant.answer.jobs import PRECEDENTS
from assistant.answer.precedents import find_precedents
from assistant.answer.retrieval import Filters, allowed_docs, chroma_where, pool_size, retrieve
from assistant.core.chinese import fold
from assistant.storage.dense import VECTOR_META_VERSION
from assistant.storage.keyword import KeywordIndex
from assistant.storage.library import Index
from assistant.storage.store import LRU, date_ord, date_span

CITIES = ["青岛", "大连", "厦门", "宁波", "深圳", "苏州", "无锡", "烟台", "济南", "合肥", "南昌", "长沙", "贵阳",
          "昆明", "兰州", "西宁", "银川", "太原", "石家庄", "呼和浩特", "沈阳", "长春", "哈尔滨", "南宁", "海口"]
FIELDS = ["海洋", "能源", "材料", "光电", "生物", "化工", "电子", "机械", "环境", "信息"]
KINDS = ["研究所", "设计院", "检测中心", "工程中心", "技术研究院"]
FILLER = ("本年度围绕科研中心任务推进各项工作，完善制度建设，强化责任落实。"
          "各部门密切配合，按期完成年度目标任务，科研产出稳步增长。")


def unit(i: int) -> str:
    return f"{CITIES[i % len(CITIES)]}{FIELDS[i // len(CITIES) % len(FIELDS)]}{KINDS[i % len(KINDS)]}党委"


def write_reports(folder, n: int, seed: int = 0):
    """n one-page reports of n different units; every third one held a knowledge contest."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    contests = []
    for i in range(n):
        date = rng.choice(["", f"{rng.randint(2015, 2025)}", f"{rng.randint(2015, 2025)}-{rng.randint(1, 12):02d}-"
                                                               f"{rng.randint(1, 28):02d}"])
        body = [FILLER]
        if i % 3 == 0:
            body.append(f"{unit(i)}组织党员开展党史知识竞赛，设必答、抢答和风险题三个环节，第{i}期共有{i % 40 + 10}人参赛。")
            contests.append(unit(i))
        body.append(f"第{i}号报告的其他内容：开展安全生产检查{i % 7 + 2}次，整改隐患若干项。")
        head = f"{unit(i)}{i}号年度工作总结\n来源：{unit(i)}\n" + (f"发布时间：{date}\n" if date else "")
        (folder / f"r{i:04d}.txt").write_text(head + "\n" + "".join(body), encoding="utf-8")
    return contests


@pytest.fixture(scope="module")
def many(tmp_path_factory):
    from assistant.core.settings import Settings, model_spec

    root = tmp_path_factory.mktemp("many")
    contests = write_reports(root / "docs", 600)
    index = Index.open(Settings(index_dir=root / "index", model=model_spec("hash")), create=True)
    index.ingest([root / "docs"])
    yield index, contests
    index.close()


def scan(index, f: Filters) -> set[str]:
    """The reference: every document's metadata read in Python (how filters worked before)."""
    lo = date_ord(f.since) if f.since else None
    hi = date_ord(f.until) + (1231 if len(f.until) == 4 else 0) if f.until else None
    out = set()
    for doc_id, m in index.store.metas().items():
        if f.doc_ids and doc_id not in f.doc_ids:
            continue
        if f.orgs and not any(fold(o) in fold(m.org) or fold(o) in fold(m.title) for o in f.orgs):
            continue
        d = date_ord(m.date)
        d_lo, d_hi = (d, d + 1231) if d and d % 10000 == 0 else (d, d)
        if lo is not None and (not d or d_hi < lo) or hi is not None and (not d or d_lo > hi):
            continue
        out.add(doc_id)
    return out


def test_sql_filters_admit_exactly_what_a_scan_admits(many):
    index, _ = many
    rng = random.Random(1)
    for _ in range(60):
        f = Filters(
            orgs=tuple(rng.sample(["青岛", "大連", "研究所", "海洋", "检测中心", "没有这个单位"], rng.randint(0, 2))),
            since=rng.choice(["", "2018", "2020-06-01", "2024"]),
            until=rng.choice(["", "2019", "2021-12-31", "2016-03-01"]),
            doc_ids=tuple(rng.sample(sorted(index.store.metas()), rng.choice([0, 0, 30]))),
        )
        assert allowed_docs(index, f) == (scan(index, f) if f.active() else None), f


def test_filters_reach_chroma_and_bm25(many):
    index, _ = many
    f = Filters(orgs=("青岛",), since="2019", until="2022-06-30")
    allowed = allowed_docs(index, f)
    assert 0 < len(allowed) < len(index.store.metas())
    where = chroma_where(f, allowed)
    assert {"date_end": {"$gte": 20190000}} in where["$and"] and {"date_ord": {"$lte": 20220630}} in where["$and"]
    # Dense alone, through Chroma's own where: only admitted documents come back.
    got = index.vectorstore.similarity_search_by_vector(index.embedder.embed_query("党史知识竞赛"), k=50, filter=where)
    assert got and {d.metadata["doc_id"] for d in got} <= allowed
    # Dates alone go to Chroma as date bounds, without a list of documents.
    only_dates = chroma_where(Filters(since="2024"), allowed_docs(index, Filters(since="2024")))
    assert "doc_id" not in str(only_dates)
    # BM25 alone, through the mask: only admitted documents.
    ids = {cid for cid, _ in index.keyword.search(["知识", "竞赛"], 500, allowed)}
    assert ids and {c.doc_id for c in index.store.chunks(sorted(ids)).values()} <= allowed
    hits = retrieve(index, "党史知识竞赛怎么搞的", k=20, filters=f)
    assert hits and {h.chunk.doc_id for h in hits} <= allowed


def test_the_bm25_mask_matches_document_membership():
    k = KeywordIndex.__new__(KeywordIndex)
    KeywordIndex.__init__(k, None)
    k.ids = [f"c{i}" for i in range(1000)]
    k.doc_ids = [f"d{i % 37}" for i in range(1000)]
    allowed = {"d3", "d10", "d36", "not-there"}
    assert k.mask(allowed).tolist() == [d in allowed for d in k.doc_ids]


def test_vectors_of_an_older_index_get_date_bounds_without_re_embedding(many, tmp_path):
    from assistant.core.settings import Settings, model_spec

    write_reports(tmp_path / "docs", 9)
    index = Index.open(Settings(index_dir=tmp_path / "idx", model=model_spec("hash")), create=True)
    index.ingest([tmp_path / "docs"])
    col = index.vectorstore._collection
    got = col.get(include=["metadatas"])
    before = col.get(include=["embeddings"])
    # An index from before date_end: its vectors carry no usable upper date bound.
    col.update(ids=got["ids"], metadatas=[dict(m, date_end=-1) for m in got["metadatas"]])
    index.store.set_meta("vector_meta", "1")
    report = index.ingest([tmp_path / "docs"])
    assert report.chunks_added == 0 and index.store.get_meta("vector_meta") == VECTOR_META_VERSION
    after = col.get(include=["metadatas", "embeddings"])
    metas = index.store.metas()
    for m in after["metadatas"]:
        assert (m["date_ord"], m["date_end"]) == date_span(metas[m["doc_id"]].date)
    assert sorted(after["ids"]) == sorted(before["ids"])
    assert {i: list(e) for i, e in zip(after["ids"], after["embeddings"])} == \
        {i: list(e) for i, e in zip(before["ids"], before["embeddings"])}  # not embedded again
    index.close()


def test_candidate_pools_grow_with_k():
    assert pool_size(5, 30) == 30 and pool_size(12, 30) == 36 and pool_size(300, 30) == 900
    assert all(pool_size(k, 30) >= k for k in range(1, 1000))


def test_text_caches_are_bounded():
    cache = LRU(100)
    for i in range(50):
        cache.put(i, "字" * 30)
    assert cache.size <= 100 and len(cache.data) == 3 and cache.get(49) and cache.get(0) is None
    cache.get(47)
    cache.put("new", "x" * 30)
    assert cache.get(47) and cache.get(48) is None  # the least recently used went


def test_precedent_search_lists_every_unit_not_only_the_top_few(many):
    index, contests = many
    assert len(contests) == 200
    a = find_precedents(index, "有哪些单位开展过党史知识竞赛？怎么搞的？", k=PRECEDENTS.breadth)
    listed = {r.org for r in a.rows}
    assert listed == set(contests)
    first = {}
    for r in a.rows:
        first.setdefault(r.org, r)
    assert all("知识竞赛" in r.practice and r.practice.startswith(r.org) for r in first.values())


def test_broad_and_narrow_filters_give_the_dense_neighbours_a_where_gives(many):
    """A broad filter is applied after an over-fetched search, a narrow one by Chroma's where: the
    admitted nearest neighbours are the same either way."""
    from assistant.answer import retrieval as R

    index, _ = many
    vs, qv = index.vectorstore, index.embedder.embed_query("党史知识竞赛")
    for f in (Filters(since="2016"), Filters(orgs=("海洋",)), Filters(orgs=("青岛海洋研究所党委",))):
        allowed = allowed_docs(index, f)
        share = index.keyword.mask(allowed).mean()
        got = R.dense_filtered(vs, qv, 10, f, allowed, share)
        want = R.dense_search(vs, qv, 10, chroma_where(f, allowed))
        assert [d.id for d, _ in got] == [d.id for d, _ in want], (f, share)
        assert {d.metadata["doc_id"] for d, _ in got} <= allowed
    assert allowed_docs(index, Filters(since="2016")) and share < R.BROAD_FILTER  # the last one was narrow


def test_vector_search_explores_ef_search_candidates(hash_settings, seed_copy):
    """Chroma's default ef_search (100) finds too few true neighbours in these crowded vectors: a new
    collection is made with EF_SEARCH, and one made before with the default is raised when opened."""
    import chromadb

    from assistant.storage.dense import COLLECTION, EF_SEARCH

    index = Index.open(hash_settings, create=True)
    index.ingest([seed_copy])
    assert index.vectorstore._collection.configuration["hnsw"]["ef_search"] == EF_SEARCH
    index.close()
    path = str(hash_settings.index_dir / "chroma")
    client = chromadb.PersistentClient(path=path, settings=chromadb.Settings(anonymized_telemetry=False))
    client.get_collection(COLLECTION).modify(configuration={"hnsw": {"ef_search": 100}})  # as older indexes were
    assert client.get_collection(COLLECTION).configuration["hnsw"]["ef_search"] == 100
    # Raised on open, before any search: Chroma reads the setting when a process first loads the graph
    # (a change after that is not seen by that process; bench/ann_recall.py measures the effect).
    reopened = Index.open(hash_settings)
    assert reopened.vectorstore is not None
    assert client.get_collection(COLLECTION).configuration["hnsw"]["ef_search"] == EF_SEARCH
    reopened.close()
