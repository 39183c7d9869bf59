import re

from conftest import SEEDS

from assistant.core.chinese import sentence_spans
from assistant.ingest.chunking import chunk, count_tokens, heading_of
from assistant.ingest.cleaning import clean

ENDS = "。！？；!?;”’」』）)]】"


def seed_docs():
    return [clean(p.read_text(encoding="utf-8"), p.name) for p in sorted(SEEDS.glob("*.txt"))]


def test_offsets_are_exact_and_chunks_respect_the_budget():
    for doc in seed_docs():
        chunks = chunk(doc, budget=300)
        assert chunks, doc.doc_id
        for c in chunks:
            assert doc.text[c.start : c.end] == c.text
            assert count_tokens(c.text) <= 330, (doc.doc_id, c.index, c.tokens)
        covered = set()
        for c in chunks:
            covered.update(range(c.start, c.end))
        body = {i for i, ch in enumerate(doc.text) if not ch.isspace()}
        assert body <= covered, f"{doc.doc_id}: text outside every chunk"


def test_chunks_end_at_sentence_boundaries():
    for doc in seed_docs():
        chunks = chunk(doc, budget=300)
        for c in chunks[:-1]:
            after = doc.text[c.end : c.end + 1]
            if c.text[-1] in ENDS or after in ("\n", " ", "\u3000"):
                continue
            # Cut inside a sentence: only allowed when that sentence alone exceeds the budget.
            whole = next(s for s in sentence_spans(doc.text) if s.start < c.end < s.end)
            assert count_tokens(whole.text) > 300, (doc.doc_id, c.text[-30:])


def test_one_sentence_of_overlap_within_a_paragraph():
    doc = seed_docs()[1]  # 001: one long paragraph
    chunks = chunk(doc, budget=300, overlap=1)
    overlaps = sum(1 for a, b in zip(chunks, chunks[1:]) if b.start < a.end)
    assert overlaps >= len(chunks) // 2
    for a, b in zip(chunks, chunks[1:]):
        if b.start < a.end:
            shared = doc.text[b.start : a.end]
            assert len(sentence_spans(shared)) == 1


def test_sentence_boundaries_include_closing_quotes():
    text = "他说：“要学深学透。”大家表示赞同！下一句；最后一句？"
    assert [s.text for s in sentence_spans(text)] == ["他说：“要学深学透。”", "大家表示赞同！", "下一句；", "最后一句？"]


def test_heading_paths():
    assert heading_of("一、学理论，以突出“真学深学”") == (1, "一、学理论")
    assert heading_of("（三）加强思想教育，促进工作落实。") == (2, "（三）加强思想教育")
    assert heading_of("2、落实宣传引导机制。所党委") == (3, "2、落实宣传引导机制")
    assert heading_of("一是全面系统学。在学理论方面") == (4, "一是全面系统学")
    assert heading_of("（15）") is None
    doc = seed_docs()[0]
    paths = {c.headings for c in chunk(doc)}
    assert ("一、学理论", "二是创新方式学") in paths
    assert ("三、谋发展",) in paths


def test_budget_is_configurable_and_long_sentences_split():
    doc = seed_docs()[1]
    small = chunk(doc, budget=100)
    assert len(small) > len(chunk(doc, budget=300))
    for c in small:
        # Over budget only when a short heading is carried with the sentence it introduces.
        assert count_tokens(c.text) <= 100 or heading_of(c.text), c.text[:40]
    long = clean("题目\n" + "这是一个没有句号的很长的句子，" * 80 + "结束。", "long.txt")
    parts = chunk(long, budget=100)
    assert len(parts) > 3 and all(long.text[c.start : c.end] == c.text for c in parts)
    assert not any(re.fullmatch(r"\s*", c.text) for c in parts)


def test_markdown_headings():
    md = clean("# 支部工作总结\n\n## 一、学习情况\n\n本支部组织学习十次。\n\n## 二、存在问题\n\n学习形式单一。\n", "x.md")
    assert md.meta.title == "支部工作总结"
    paths = [c.headings for c in chunk(md, budget=20)]
    assert ("支部工作总结", "二、存在问题") in paths
