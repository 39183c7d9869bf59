import math
import time

import numpy as np
import pytest

from assistant.core.settings import Settings, model_spec
from assistant.storage.embedding import EmbedderUnavailable, HashEmbedder, OnnxEmbedder, load_embedder


def test_hash_embedder_is_deterministic_and_normalised():
    e = HashEmbedder()
    a, b = e.embed_documents(["党支部开展主题党日活动", "党支部开展主题党日活动"])
    assert a == b and abs(math.sqrt(sum(x * x for x in a)) - 1) < 1e-9
    near = e.embed_query("党支部开展主题党日")
    far = e.embed_query("焊接技术专利")
    dot = lambda u, v: sum(x * y for x, y in zip(u, v))  # noqa: E731
    assert dot(a, near) > dot(a, far)


def test_a_missing_model_fails_fast_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    t0 = time.perf_counter()
    with pytest.raises(EmbedderUnavailable, match="not in the local cache"):
        load_embedder(model_spec("intfloat/no-such-model-here"))
    assert time.perf_counter() - t0 < 60


@pytest.mark.slow
def test_onnx_int8_embeds_like_pytorch_and_is_made_once(tmp_path, monkeypatch):
    """The int8 ONNX model (exported into a fresh cache here) gives vectors close to PyTorch's for
    real seed sentences, and ranks them the same way for a question."""
    import numpy as np
    from conftest import SEEDS

    from assistant.core.chinese import sentence_spans
    from assistant.storage.onnx_backend import INT8_FILE, cache_root

    monkeypatch.setenv("ASSISTANT_ONNX_DIR", str(tmp_path / "onnx"))
    text = (SEEDS / sorted(p.name for p in SEEDS.glob("*.txt"))[2]).read_text(encoding="utf-8")
    sents = [s.text for s in sentence_spans(text) if len(s.text) > 15][:40]
    name = "intfloat/multilingual-e5-small"
    torch_e = load_embedder(model_spec(name, backend="torch"))
    onnx_e = load_embedder(model_spec(name, backend="onnx-int8"))
    assert onnx_e.model_id == f"{name}@onnx-int8/per-token" and torch_e.model_id == name
    assert list(cache_root().rglob(INT8_FILE))  # exported into this cache
    a, b = np.array(torch_e.embed_documents(sents)), np.array(onnx_e.embed_documents(sents))
    cos = (a * b).sum(1)
    assert cos.min() > 0.97 and cos.mean() > 0.985
    # A sentence's vector is the same alone as beside the others (activations are quantised per token).
    alone = np.array([onnx_e.embed_documents([s])[0] for s in sents[:8]])
    assert np.abs(alone - b[:8]).max() < 1e-5
    # Questions these sentences answer (a question none answers ties its top scores within 1e-4: no test).
    for q in ("主题党日活动", "党员发展", "安全生产", "攻艰小组组长"):
        sa, sb = a @ np.array(torch_e.embed_query(q)), b @ np.array(onnx_e.embed_query(q))
        assert np.argmax(sa) in np.argsort(-sb)[:3] and np.corrcoef(sa, sb)[0, 1] > 0.9, q
    t0 = time.perf_counter()
    again = load_embedder(model_spec(name, backend="onnx-int8"))  # from the cache: no second export
    assert time.perf_counter() - t0 < 10 and again.embed_query("党员发展") == onnx_e.embed_query("党员发展")


@pytest.mark.slow
def test_an_onnx_model_that_cannot_be_made_falls_back_to_pytorch(tmp_path, monkeypatch):
    """The ONNX cache cannot be written (here: a file where its folder would be): PyTorch runs the
    model, and the embedder's model id says so (an index records which vectors it holds)."""
    (tmp_path / "not-a-folder").write_text("x")
    monkeypatch.setenv("ASSISTANT_ONNX_DIR", str(tmp_path / "not-a-folder" / "onnx"))
    e = load_embedder(model_spec("intfloat/multilingual-e5-small", backend="onnx-int8"))
    assert e.model_id == "intfloat/multilingual-e5-small" and len(e.embed_query("党支部")) == 384


def test_a_question_embedded_twice_is_encoded_once():
    """Routing and retrieval embed the same question: the second is a lookup, and callers get copies."""

    class Counting:
        calls = 0

        def encode(self, texts):
            Counting.calls += 1
            return np.ones((len(texts), 4), dtype=np.float32)

    e = OnnxEmbedder(Settings().model, Counting())
    first = e.embed_query("质检中心有多少名党员？")
    first.append(9.0)  # a caller changing its copy changes nothing for the next
    assert e.embed_query("质检中心有多少名党员？") == [1.0] * 4 and Counting.calls == 1
    e.embed_query("另一个问题")
    assert Counting.calls == 2
