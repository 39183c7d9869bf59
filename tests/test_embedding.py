import math
import time

import pytest

from assistant.embedding import EmbedderUnavailable, HashEmbedder, load_embedder
from assistant.settings import model_spec


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
