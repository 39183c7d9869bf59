import shutil

import pytest
from conftest import SEED_IDS

from assistant.answer.retrieval import retrieve
from assistant.core.errors import AssistantError
from assistant.storage.library import Index


def chroma_ids(index):
    return set(index.vectorstore.get(include=[])["ids"])


def test_ingest_is_idempotent(hash_settings, seed_copy):
    index = Index.open(hash_settings, create=True)
    first = index.ingest([seed_copy])
    assert sorted(first.added) == SEED_IDS and first.chunks_added == first.total_chunks > 50
    ids = index.store.chunk_ids()
    second = index.ingest([seed_copy])
    assert sorted(second.unchanged) == SEED_IDS
    assert (second.added, second.updated, second.removed, second.chunks_added) == ([], [], [], 0)
    assert index.store.chunk_ids() == ids == chroma_ids(index) == set(index.keyword.ids)
    assert len(index.keyword.ids) == len(set(index.keyword.ids)) == second.total_chunks


def test_changed_file_replaces_all_its_chunks(hash_settings, seed_copy):
    index = Index.open(hash_settings, create=True)
    index.ingest([seed_copy])
    target = seed_copy / SEED_IDS[2]
    old_ids = {c.chunk_id for c in index.store.doc_chunks(SEED_IDS[2])}
    body = target.read_text(encoding="utf-8")
    target.write_text(body.replace("作者:党群工作部", "新增内容：质检所党支部开展了量子纠缠主题党日活动。\n作者:党群工作部"),
                      encoding="utf-8")
    report = index.ingest([seed_copy])
    assert report.updated == [SEED_IDS[2]] and len(report.unchanged) == 4
    new_ids = {c.chunk_id for c in index.store.doc_chunks(SEED_IDS[2])}
    assert not old_ids & new_ids
    assert chroma_ids(index) == index.store.chunk_ids() == set(index.keyword.ids)
    hits = retrieve(index, "量子纠缠", k=3)
    assert hits[0].chunk.doc_id == SEED_IDS[2] and "量子纠缠" in hits[0].chunk.text


def test_removed_document_is_never_retrieved(hash_settings, seed_copy):
    index = Index.open(hash_settings, create=True)
    index.ingest([seed_copy])
    gone = SEED_IDS[3]
    assert any(h.chunk.doc_id == gone for h in retrieve(index, "兰州化物所四同", k=5))
    n = index.remove(gone)
    assert n > 0 and gone not in index.store.metas()
    assert not any(c.startswith("x") for c in []) and not (chroma_ids(index) ^ index.store.chunk_ids())
    for q in ("兰州化物所四同", "同謀劃、同部署、同檢查、同考核", "段立斌", "张长春谈心谈话"):
        assert all(h.chunk.doc_id != gone for h in retrieve(index, q, k=10)), q
    # Reopening the index (a new process) still does not see it.
    index.close()
    again = Index.open(hash_settings)
    assert all(h.chunk.doc_id != gone for h in retrieve(again, "兰州化物所四同", k=10))
    with pytest.raises(AssistantError, match="No document"):
        again.remove(gone)


def test_file_deleted_from_an_ingested_folder_is_removed(hash_settings, seed_copy):
    index = Index.open(hash_settings, create=True)
    index.ingest([seed_copy])
    (seed_copy / SEED_IDS[0]).unlink()
    report = index.ingest([seed_copy])
    assert report.removed == [SEED_IDS[0]]
    assert SEED_IDS[0] not in index.store.metas()
    assert all(h.chunk.doc_id != SEED_IDS[0] for h in retrieve(index, "质检中心党支部书记赵宇", k=10))


def test_bad_files_are_skipped_and_nothing_indexed_is_lost(hash_settings, seed_copy, tmp_path):
    index = Index.open(hash_settings, create=True)
    index.ingest([seed_copy])
    before = index.store.chunk_ids()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.txt").write_bytes(b"")
    (bad / "binary.txt").write_bytes(b"\x00\x01\x02" * 100)
    (bad / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    (bad / "ok.txt").write_text("测试支部\n测试支部开展了读书月活动。\n", encoding="utf-8")
    report = index.ingest([bad])
    assert report.added == ["ok.txt"]
    reasons = {s.path.name: s.reason for s in report.skipped}
    assert set(reasons) == {"empty.txt", "binary.txt", "photo.jpg"}
    assert "empty" in reasons["empty.txt"] and "binary" in reasons["binary.txt"]
    assert before < index.store.chunk_ids()
    with pytest.raises(AssistantError, match="does not exist"):
        index.ingest([tmp_path / "missing"])
    assert before < index.store.chunk_ids()


def test_out_of_step_indexes_are_repaired_on_open(hash_settings, seed_copy):
    index = Index.open(hash_settings, create=True)
    index.ingest([seed_copy])
    ids = sorted(index.store.chunk_ids())
    index.vectorstore.delete(ids=ids[:5])  # as if a crash hit between the store and Chroma
    shutil.rmtree(hash_settings.index_dir / "keyword")
    index.close()
    again = Index.open(hash_settings)
    again.sync()
    assert chroma_ids(again) == set(ids) == set(again.keyword.ids)


def test_no_index_yet_is_a_clear_error(hash_settings):
    with pytest.raises(AssistantError, match="run `assistant ingest` first"):
        Index.open(hash_settings)


def test_each_chunk_gets_its_own_vector(hash_settings, tmp_path):
    """A document of several embedding groups: every chunk's stored vector is its own text's."""
    from assistant.storage.library import EMBED_GROUP

    doc = tmp_path / "长报告.txt"
    doc.write_text("长报告\n" + "\n".join(f"第{i}段：测试单位第{i}党小组开展了编号为{i * 7919}的专题学习活动。" * 6
                                        for i in range(EMBED_GROUP * 3)), encoding="utf-8")
    index = Index.open(hash_settings, create=True)
    index.ingest([doc])
    ids = sorted(index.store.chunk_ids())
    assert len(ids) >= 2 * EMBED_GROUP  # several groups
    texts = index.store.index_texts(ids)
    got = index.vectorstore._collection.get(ids=ids, include=["embeddings"])
    for cid, vec in zip(got["ids"], got["embeddings"]):
        want = index.embedder.embed_documents([texts[cid][1]])[0]
        assert max(abs(a - b) for a, b in zip(vec, want)) < 1e-5, cid


def test_short_files_share_encode_calls_and_each_chunk_keeps_its_own_vector(hash_settings, tmp_path):
    """Forty one-chunk notices are encoded a batch at a time, not a file at a time, and every stored
    vector is still its own chunk's (the batch's texts are sorted by length, then put back)."""
    from assistant.storage.embedding import HashEmbedder

    class Counting(HashEmbedder):
        calls = 0

        def embed_documents(self, texts, progress=None):
            Counting.calls += 1
            return super().embed_documents(texts, progress)

    folder = tmp_path / "通知"
    folder.mkdir()
    for i in range(40):
        (folder / f"通知{i:02d}.txt").write_text(f"通知{i}\n第{i}党小组于{i + 1}月开展" + "专题学习" * (i % 7 + 1) + "。",
                                               encoding="utf-8")
    index = Index.open(hash_settings, embedder=Counting(), create=True)
    report = index.ingest([folder])
    assert len(report.added) == 40 and 1 <= Counting.calls <= 4
    ids = sorted(index.store.chunk_ids())
    texts = index.store.index_texts(ids)
    got = index.vectorstore._collection.get(ids=ids, include=["embeddings"])
    for cid, vec in zip(got["ids"], got["embeddings"]):
        want = HashEmbedder().embed_documents([texts[cid][1]])[0]
        assert max(abs(a - b) for a, b in zip(vec, want)) < 1e-5, cid


def test_another_model_re_embeds_the_library_a_batch_of_documents_at_a_time(hash_settings, seed_copy):
    """An index embedded with one model, opened with another (a new version of the int8 model, say):
    the next ingest embeds every document again, several documents to an encode call, and each
    stored vector is the new model's for its own chunk."""
    from assistant.storage.embedding import HashEmbedder

    class Other(HashEmbedder):
        calls = 0

        def __init__(self):
            super().__init__()
            self.model_id = "hash@other"

        def _vec(self, text):  # other vectors of the same size
            return super()._vec(text[::-1])

        def embed_documents(self, texts, progress=None):
            Other.calls += 1
            return super().embed_documents(texts, progress)

    first = Index.open(hash_settings, create=True)
    first.ingest([seed_copy])
    first.close()
    index = Index.open(hash_settings, embedder=Other())
    assert sorted(index.incomplete()) == SEED_IDS
    report = index.ingest([seed_copy])
    assert sorted(report.finished) == SEED_IDS and index.incomplete() == [] and Other.calls < len(SEED_IDS)
    ids = sorted(index.store.chunk_ids())
    texts = index.store.index_texts(ids)
    got = index.vectorstore._collection.get(ids=ids, include=["embeddings"])
    assert sorted(got["ids"]) == ids
    for cid, vec in zip(got["ids"], got["embeddings"]):
        assert max(abs(a - b) for a, b in zip(vec, Other().embed_documents([texts[cid][1]])[0])) < 1e-5, cid


def test_a_damaged_vector_index_is_set_aside_and_embedded_again(hash_settings, seed_copy, monkeypatch):
    index = Index.open(hash_settings, create=True)
    index.ingest([seed_copy])
    total = index.store.chunk_total()
    damaged = index.vectorstore._collection.get(include=[])["ids"]
    real_ids = Index.chroma_ids
    calls = []

    def failing_once(self):
        calls.append(1)
        if len(calls) == 1:  # what Chroma raised after an ingest killed while it wrote its files (CI)
            raise RuntimeError("Error executing plan: Error sending backfill request to compactor: "
                               "Failed to apply logs to the hnsw segment writer")
        return real_ids(self)

    monkeypatch.setattr(Index, "chroma_ids", failing_once)
    report = index.ingest([seed_copy])
    aside = index.vectors_set_aside
    assert aside is not None and aside.name.startswith("chroma.damaged-") and (aside / "chroma.sqlite3").exists()
    assert sorted(report.finished) == sorted(SEED_IDS)  # every document embedded again, from the store
    col = index.vectorstore._collection
    assert col.count() == total and set(col.get(include=[])["ids"]) == set(damaged)
    assert index.incomplete() == []
    hits = retrieve(index, "巴音贺希格", k=3)
    assert any(h.dense_rank is not None for h in hits)
    # a second process opening the index afterwards finds the new vectors, not the old folder
    other = Index.open(hash_settings)
    assert other.vectorstore._collection.count() == total
    index.close()
    other.close()


def test_other_chroma_errors_are_not_taken_for_damage(hash_settings, seed_copy, monkeypatch):
    index = Index.open(hash_settings, create=True)
    index.ingest([seed_copy])

    def failing(self):
        raise RuntimeError("database is malformed elsewhere")

    monkeypatch.setattr(Index, "chroma_ids", failing)
    with pytest.raises(RuntimeError):
        index.finish()
    assert index.vectors_set_aside is None and (hash_settings.index_dir / "chroma").exists()
    index.close()
