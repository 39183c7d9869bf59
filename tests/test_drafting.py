from conftest import gold_share

from assistant.answer.drafting import MAX_POINTS, MIN_POINTS, draft_points, heading_for


def test_talking_points_cite_several_reports_verbatim(seed_index):
    a = draft_points(seed_index, "请起草一份关于“发挥党员先锋模范作用”的支部书记发言要点，举一些科研单位的具体做法。")
    assert not a.refused and a.mode == "points"
    assert MIN_POINTS <= len(a.points) <= MAX_POINTS
    assert len({c.doc_id for c in a.citations}) >= 2
    numbers = {c.n for c in a.citations}
    for p in a.points:
        assert p.heading and len(p.heading) <= 20 and p.citations and set(p.citations) <= numbers
        for n in p.citations:
            assert f"[{n}]" in p.text
    for c in a.citations:
        assert seed_index.store.text(c.doc_id)[c.start : c.end] == c.quote
    texts = [p.text for p in a.points]
    assert len(set(texts)) == len(texts)
    data = a.to_json()
    assert data["generator"] == "extractive" and len(data["points"]) == len(a.points)


def test_dev_talking_points_cite_the_gold_reports(seed_index):
    assert gold_share("talking_points", lambda q: draft_points(seed_index, q)) >= 0.8


def test_headings_come_from_the_report_structure(seed_index):
    a = draft_points(seed_index, "请为支部书记起草发言要点：如何强化党员的先锋意识？")
    assert not a.refused
    assert any(p.heading in ("强化先锋意识", "我是党员我带头") for p in a.points) or all(p.heading for p in a.points)


def test_off_topic_points_are_refused(seed_index):
    assert draft_points(seed_index, "请起草一份关于红烧肉做法的发言要点").refused


def test_heading_labels(seed_index):
    from assistant.answer.support import Scored
    from assistant.core.schema import Hit

    doc_id = "000_66f0bf9885f500e4.txt"
    text = seed_index.store.text(doc_id)
    chunk = next(c for c in seed_index.store.doc_chunks(doc_id) if "我是党员我带头" in c.text)
    start = text.index("通过开展“我是党员我带头”宣誓活动")
    end = text.index("。", start) + 1
    s = Scored(Hit(chunk=chunk, meta=seed_index.store.metas()[doc_id], score=1.0), start, end, text[start:end], 1.0, False)
    assert heading_for(seed_index, s) == "强化先锋意识"
