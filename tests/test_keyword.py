from assistant.core.chinese import words
from assistant.storage.keyword import KeywordIndex, fingerprint


def build(tmp_path):
    texts = ["兰州化物所开展主题党日活动", "哈焊所创先争优党员创新示范岗", "光栅室党支部创先争优实施方案"]
    k = KeywordIndex(tmp_path / "kw")
    k.rebuild(["a", "b", "c"], ["d1", "d2", "d3"], [words(t) for t in texts])
    return k


def test_search_mask_idf_and_persistence(tmp_path):
    k = build(tmp_path)
    assert k.search(words("创先争优"), 5)[0][0] in ("b", "c")
    assert [cid for cid, _ in k.search(words("创先争优"), 5, allowed_docs={"d3"})] == ["c"]
    assert k.search(words("量子计算"), 5) == []
    assert k.idf("量子计算") > k.idf("创先争优") > 0
    again = KeywordIndex(tmp_path / "kw")
    assert again.load() and again.fp == fingerprint(["a", "b", "c"])
    assert again.search(words("主题党日"), 5)[0][0] == "a"


def test_domain_terms_are_single_tokens():
    for term in ("两学一做", "三会一课", "主题党日", "创先争优", "基层组织建设年"):
        assert term in words(f"各支部认真开展{term}活动")


SENTENCES = ["兰州化物所开展主题党日活动，组织党员参观红色教育基地", "哈焊所创先争优党员创新示范岗评选结果公布",
             "光栅室党支部创先争优实施方案经支委会讨论通过", "质检中心党支部举办党史知识竞赛，二十名党员参赛",
             "研究所党委召开理论学习中心组学习会", "青年党员突击队承担稀土催化剂中试放大攻关任务",
             "支部书记讲授专题党课，党员们交流学习体会", "党员先锋岗与科研项目结合，推动成果转化"]


def corpus(n_docs: int):
    ids, docs, ws = [], [], []
    for d in range(n_docs):
        for c in range(3):
            ids.append(f"d{d}#{c}")
            docs.append(f"d{d}")
            ws.append(words(SENTENCES[(d * 3 + c) % len(SENTENCES)] + f"第{d}号文件"))
    return ids, docs, ws


def test_segments_score_like_a_rebuild_and_readers_load_only_what_is_new(tmp_path):
    """Chunks added as segments (one a commit, each document in one) are found with the scores a
    rebuild of everything gives; a reader that has the base reads only the segments saved since."""
    ids, docs, ws = corpus(40)
    whole = KeywordIndex(tmp_path / "whole")
    whole.rebuild(ids, docs, ws)
    grown = KeywordIndex(tmp_path / "grown")
    grown.rebuild([], [], [])
    for start in range(0, len(ids), 15):  # five documents a commit
        grown = grown.with_segment(ids[start:start + 15], docs[start:start + 15], ws[start:start + 15])
    assert len(grown.segments) == 8 and grown.tail_size == len(ids)
    assert grown.fp == whole.fp == fingerprint(reversed(ids))  # the order does not matter
    assert (grown.chunk_df, grown.doc_df, grown.n_docs) == (whole.chunk_df, whole.doc_df, whole.n_docs)
    for q in ("创先争优 示范岗", "知识竞赛", "第7号文件", "党课 学习体会"):
        a, b = whole.search(words(q), 8), grown.search(words(q), 8)
        assert [c for c, _ in a] == [c for c, _ in b] and all(abs(x - y) < 1e-4 for (_, x), (_, y) in zip(a, b))
        assert [c for c, _ in grown.search(words(q), 8, allowed_docs={"d7", "d9"})] == \
               [c for c, _ in whole.search(words(q), 8, allowed_docs={"d7", "d9"})]

    half = KeywordIndex(tmp_path / "half")
    half.rebuild(ids[:60], docs[:60], ws[:60])
    half = half.with_segment(ids[60:75], docs[60:75], ws[60:75])
    reader = KeywordIndex(tmp_path / "half")
    assert reader.load() and reader.fp == half.fp
    writer = half.with_segment(["new#0"], ["new"], [words("低温物理实验室设立超导量子芯片攻关岗")])
    assert reader.changed_on_disk()
    again = reader.reloaded()
    assert again.fp == writer.fp and again.segments[0] is reader.segments[0] and again._bm25 is reader._bm25
    assert again.search(words("超导量子芯片"), 3)[0][0] == "new#0"
    assert reader.search(words("超导量子芯片"), 3) == []  # the object a search started with never changes
    rebuilt = KeywordIndex(tmp_path / "half")
    rebuilt.rebuild(ids, docs, ws)
    assert reader.reloaded().fp == rebuilt.fp == whole.fp


def test_a_damaged_segment_is_noticed(tmp_path):
    ids, docs, ws = corpus(4)
    k = KeywordIndex(tmp_path / "kw")
    k.rebuild(ids[:6], docs[:6], ws[:6])
    k = k.with_segment(ids[6:], docs[6:], ws[6:])
    seg = tmp_path / "kw" / k.segments[0].name
    seg.write_text(seg.read_text(encoding="utf-8").replace('"d3#2"', '"d3#9"'), encoding="utf-8")
    assert not KeywordIndex(tmp_path / "kw").load()  # the fingerprint does not match: rebuilt from the store
