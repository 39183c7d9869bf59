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
