"""Document identity: a document is the file at a path, not its name (``Index.ingest``).

Every test checks the three indexes together: the store (source of truth), Chroma (dense) and BM25
(keyword, in memory and as saved on disk), and what ``retrieve`` returns."""

import os
import shutil

import pytest
from conftest import SEED_IDS

from assistant.answer.retrieval import retrieve
from assistant.storage.keyword import KeywordIndex
from assistant.storage.library import Index

NEW_REPORT = ("钛合金研究室党支部开展主题党日活动\n时间：2021-06-18\n"
              "钛合金研究室党支部组织党员参观深海探测器总装车间，支部书记周海涛讲授专题党课。\n"
              "党员们围绕深海探测器耐压壳体攻关立下军令状，确保年底前完成第一轮海试。\n")
OTHER_REPORT = ("稀土催化研究组党支部召开组织生活会\n时间：2022-03-09\n"
                "稀土催化研究组党支部召开专题组织生活会，支部书记林晓燕带头开展批评与自我批评。\n"
                "会议确定今年重点推进稀土催化剂中试放大，由青年党员突击队承担攻关任务。\n")


def saved_keyword_ids(index) -> list[str]:
    fresh = KeywordIndex(index.keyword.dir)
    assert fresh.load(), "no keyword index saved on disk"
    return list(fresh.ids)


def assert_consistent(index) -> set[str]:
    """Store, Chroma and BM25 (in memory and on disk) hold exactly the same chunk ids, once each."""
    index.refresh()
    store = index.store.chunk_ids()
    dense = index.chroma_ids()
    kw = list(index.keyword.ids)
    disk = saved_keyword_ids(index)
    assert len(dense) == len(set(dense)) and len(kw) == len(set(kw)) and len(disk) == len(set(disk))
    assert set(dense) == store, (sorted(set(dense) - store)[:5], sorted(store - set(dense))[:5])
    assert set(kw) == store and set(disk) == store
    assert index.incomplete() == []
    return store


def doc_ids_of(hits) -> list[str]:
    return [h.chunk.doc_id for h in hits]


def nowhere(index, ids) -> None:
    """None of these chunk ids is left in the store, Chroma or BM25."""
    ids = set(ids)
    assert not ids & index.store.chunk_ids()
    assert not ids & set(index.chroma_ids())
    assert not ids & set(index.keyword.ids)
    assert not ids & set(saved_keyword_ids(index))


def chunk_ids(index, doc_id) -> set[str]:
    return {c.chunk_id for c in index.store.doc_chunks(doc_id)}


# --- (a) the same path again, edited: the same document, updated


def test_editing_a_file_updates_its_document_by_path(hash_settings, seed_copy):
    index = Index.open(hash_settings, create=True)
    index.ingest([seed_copy])
    target, doc = seed_copy / SEED_IDS[0], SEED_IDS[0]
    old = chunk_ids(index, doc)
    body = target.read_text(encoding="utf-8")
    assert "赵宇" in body
    target.write_text(body.replace("赵宇", "钱丽华") + "\n质检中心党支部新建了光学检测青年突击队。\n", encoding="utf-8")
    # By the file itself and by its folder: either way it is the same document.
    report = index.ingest([target])
    assert report.updated == [doc] and report.added == [] and report.duplicates == []
    assert sorted(index.store.metas()) == SEED_IDS
    new = chunk_ids(index, doc)
    assert new and not old & new
    nowhere(index, old)
    assert_consistent(index)
    hits = retrieve(index, "光学检测青年突击队", k=3)
    assert hits[0].chunk.doc_id == doc and "光学检测青年突击队" in hits[0].chunk.text
    assert all("赵宇" not in h.chunk.text for h in retrieve(index, "质检中心党支部书记赵宇", k=10))
    again = index.ingest([seed_copy])
    assert sorted(again.unchanged) == SEED_IDS and again.updated == again.added == again.removed == []
    assert chunk_ids(index, doc) == new


def test_overwriting_a_file_with_another_report_drops_its_old_text(hash_settings, seed_copy):
    """Copying report B over file A: A's old text is gone from disk, so it must go from the index
    too (and B is not indexed twice)."""
    index = Index.open(hash_settings, create=True)
    index.ingest([seed_copy])
    a, b = SEED_IDS[0], SEED_IDS[1]
    old_a = chunk_ids(index, a)
    shutil.copyfile(seed_copy / b, seed_copy / a)
    report = index.ingest([seed_copy])
    assert [d for _, d in report.duplicates] == [b]
    nowhere(index, old_a)
    assert a not in index.store.metas()
    assert_consistent(index)
    assert a not in doc_ids_of(retrieve(index, "质检中心党支部书记赵宇", k=10))
    # Stable afterwards.
    again = index.ingest([seed_copy])
    assert again.added == again.updated == again.removed == [] and [d for _, d in again.duplicates] == [b]


def test_swapping_two_files_swaps_their_documents(hash_settings, seed_copy):
    """After swapping the contents of two files each document holds what its file holds."""
    index = Index.open(hash_settings, create=True)
    index.ingest([seed_copy])
    a, b = seed_copy / SEED_IDS[0], seed_copy / SEED_IDS[1]
    da, db = a.read_bytes(), b.read_bytes()
    a.write_bytes(db)
    b.write_bytes(da)
    index.ingest([seed_copy])
    assert_consistent(index)
    texts = {d: index.store.text(d) for d in (SEED_IDS[0], SEED_IDS[1])}
    assert "赵宇" in texts[SEED_IDS[1]] and "赵宇" not in texts[SEED_IDS[0]]
    assert "京区党委" in texts[SEED_IDS[0]] and "京区党委" not in texts[SEED_IDS[1]]


# --- (b) another file with a taken name


def test_same_name_from_another_folder_is_a_new_document(hash_settings, seed_copy, tmp_path):
    index = Index.open(hash_settings, create=True)
    index.ingest([seed_copy])
    name = SEED_IDS[0]
    first_ids, first_text = chunk_ids(index, name), index.store.text(name)
    other = tmp_path / "other"
    other.mkdir()
    (other / name).write_text(NEW_REPORT, encoding="utf-8")
    stem, suffix = name.rsplit(".", 1)
    second = f"{stem}-2.{suffix}"
    report = index.ingest([other])
    assert report.added == [second] and report.updated == [] and report.duplicates == []
    assert report.renamed == [(other / name, second, name)]
    assert chunk_ids(index, name) == first_ids and index.store.text(name) == first_text
    assert index.store.metas()[second].path == str((other / name).resolve())
    assert_consistent(index)
    assert retrieve(index, "深海探测器耐压壳体", k=3)[0].chunk.doc_id == second
    assert retrieve(index, "质检中心党支部书记赵宇", k=3)[0].chunk.doc_id == name
    # Both files again: each is still its own document, nothing changes.
    again = index.ingest([seed_copy, other])
    assert sorted(again.unchanged) == sorted(SEED_IDS + [second]) and again.added == again.renamed == []
    # Editing the second one updates the second one only.
    (other / name).write_text(NEW_REPORT + "支部还成立了深潜器维修志愿服务队。\n", encoding="utf-8")
    report = index.ingest([other])
    assert report.updated == [second] and chunk_ids(index, name) == first_ids
    assert retrieve(index, "深潜器维修志愿服务队", k=3)[0].chunk.doc_id == second
    assert_consistent(index)


def test_same_name_twice_in_one_run(hash_settings, tmp_path):
    folder = tmp_path / "batch"
    (folder / "一支部").mkdir(parents=True)
    (folder / "二支部").mkdir()
    (folder / "一支部" / "总结.txt").write_text(NEW_REPORT, encoding="utf-8")
    (folder / "二支部" / "总结.txt").write_text(OTHER_REPORT, encoding="utf-8")
    index = Index.open(hash_settings, create=True)
    report = index.ingest([folder])
    assert sorted(report.added) == ["总结-2.txt", "总结.txt"]
    assert [(p.parent.name, d, t) for p, d, t in report.renamed] == [("二支部", "总结-2.txt", "总结.txt")]
    assert_consistent(index)
    assert retrieve(index, "深海探测器耐压壳体", k=1)[0].chunk.doc_id == "总结.txt"
    assert retrieve(index, "稀土催化剂中试放大", k=1)[0].chunk.doc_id == "总结-2.txt"
    again = index.ingest([folder])
    assert sorted(again.unchanged) == ["总结-2.txt", "总结.txt"] and again.added == []


# --- (c) the same content again


def test_same_bytes_or_same_text_under_another_name_is_not_indexed_twice(hash_settings, seed_copy, tmp_path):
    index = Index.open(hash_settings, create=True)
    index.ingest([seed_copy])
    ids = assert_consistent(index)
    copies = tmp_path / "copies"
    copies.mkdir()
    src = seed_copy / SEED_IDS[0]
    text = src.read_text(encoding="utf-8")
    shutil.copyfile(src, copies / "副本.txt")
    (copies / "gb18030.txt").write_bytes(text.encode("gb18030"))
    (copies / "crlf.txt").write_bytes(text.replace("\n", "\r\n\r\n").encode("utf-8"))
    (copies / "空行.txt").write_text("\n\n" + text.replace("\n", "\n\n  \n") + "\n\n\n", encoding="utf-8")
    trad = seed_copy / SEED_IDS[3]  # the traditional-character seed, re-saved as GB18030 too
    (copies / "繁体gb18030.txt").write_bytes(trad.read_text(encoding="utf-8").encode("gb18030"))
    report = index.ingest([copies])
    assert report.added == report.updated == [] and report.chunks_added == 0
    assert sorted((p.name, d) for p, d in report.duplicates) == sorted([
        ("副本.txt", SEED_IDS[0]), ("gb18030.txt", SEED_IDS[0]), ("crlf.txt", SEED_IDS[0]),
        ("空行.txt", SEED_IDS[0]), ("繁体gb18030.txt", SEED_IDS[3])])
    assert sorted(index.store.metas()) == SEED_IDS
    assert assert_consistent(index) == ids
    # Still duplicates on the next run, and the originals are untouched.
    again = index.ingest([seed_copy, copies])
    assert sorted(again.unchanged) == SEED_IDS and len(again.duplicates) == 5 and again.added == []


# --- (d) a file that moved is followed


def test_moved_file_is_followed_not_duplicated_or_removed(hash_settings, seed_copy, tmp_path):
    index = Index.open(hash_settings, create=True)
    index.ingest([seed_copy])
    doc = SEED_IDS[2]
    ids = chunk_ids(index, doc)
    elsewhere = tmp_path / "archive"
    elsewhere.mkdir()
    shutil.move(seed_copy / doc, elsewhere / "归档.txt")
    report = index.ingest([elsewhere])
    assert report.moved == [(doc, elsewhere / "归档.txt")]
    assert report.added == report.duplicates == report.removed == []
    assert index.store.metas()[doc].path == str((elsewhere / "归档.txt").resolve())
    assert chunk_ids(index, doc) == ids
    # The folder it left is ingested again: the document is not removed (it lives elsewhere now).
    report = index.ingest([seed_copy])
    assert report.removed == [] and doc in index.store.metas() and chunk_ids(index, doc) == ids
    assert_consistent(index)
    # Editing it at its new place updates the same document.
    target = elsewhere / "归档.txt"
    target.write_text(target.read_text(encoding="utf-8") + "\n新址建设党员先锋岗已挂牌。\n", encoding="utf-8")
    report = index.ingest([elsewhere])
    assert report.updated == [doc] and report.added == []
    assert retrieve(index, "新址建设党员先锋岗已挂牌", k=1)[0].chunk.doc_id == doc


def test_rename_inside_a_reingested_folder_is_a_move(hash_settings, seed_copy):
    index = Index.open(hash_settings, create=True)
    index.ingest([seed_copy])
    doc = SEED_IDS[1]
    ids = chunk_ids(index, doc)
    (seed_copy / "sub").mkdir()
    os.rename(seed_copy / doc, seed_copy / "0_改名.txt")  # sorts before every other file
    os.rename(seed_copy / SEED_IDS[4], seed_copy / "sub" / "zz.txt")  # and one into a subfolder
    report = index.ingest([seed_copy])
    assert sorted(report.moved) == sorted([(doc, seed_copy / "0_改名.txt"), (SEED_IDS[4], seed_copy / "sub" / "zz.txt")])
    assert report.removed == report.added == report.duplicates == []
    assert sorted(index.store.metas()) == SEED_IDS and chunk_ids(index, doc) == ids
    assert_consistent(index)
    again = index.ingest([seed_copy])
    assert sorted(again.unchanged) == SEED_IDS and again.moved == again.removed == []


@pytest.mark.parametrize("archive", ["-archive", "archive"])  # read before / after the new file
def test_moved_file_with_a_new_file_at_its_old_path(hash_settings, seed_copy, archive):
    """report.txt goes into an archive folder and a new report.txt takes its place: both texts are
    indexed, each document holds what the file at its path holds, whatever order they are read in."""
    index = Index.open(hash_settings, create=True)
    index.ingest([seed_copy])
    doc = SEED_IDS[0]
    (seed_copy / archive).mkdir()
    shutil.move(seed_copy / doc, seed_copy / archive / doc)
    (seed_copy / doc).write_text(NEW_REPORT, encoding="utf-8")
    report = index.ingest([seed_copy])
    assert report.duplicates == [] and report.removed == []
    assert_consistent(index)
    old = retrieve(index, "质检中心党支部书记赵宇", k=1)[0].chunk.doc_id
    new = retrieve(index, "深海探测器耐压壳体", k=1)[0].chunk.doc_id
    assert old != new and len(index.store.metas()) == len(SEED_IDS) + 1
    assert index.store.metas()[old].path == str((seed_copy / archive / doc).resolve())
    assert index.store.metas()[new].path == str((seed_copy / doc).resolve())
    again = index.ingest([seed_copy])
    assert len(again.unchanged) == len(SEED_IDS) + 1 and again.duplicates == again.added == []


# --- (e) a file deleted from an ingested folder


def test_deleted_file_is_removed_everywhere_and_never_retrieved(hash_settings, seed_copy):
    index = Index.open(hash_settings, create=True)
    (seed_copy / "sub").mkdir()
    shutil.move(seed_copy / SEED_IDS[3], seed_copy / "sub" / SEED_IDS[3])
    index.ingest([seed_copy])
    gone = SEED_IDS[3]
    ids = chunk_ids(index, gone)
    assert gone in doc_ids_of(retrieve(index, "兰州化物所四同", k=5))
    (seed_copy / "sub" / gone).unlink()
    report = index.ingest([seed_copy])
    assert report.removed == [gone] and report.chunks_removed == len(ids)
    nowhere(index, ids)
    assert_consistent(index)
    for q in ("兰州化物所四同", "同謀劃、同部署、同檢查、同考核", "段立斌", "蘭州化物所黨委"):
        assert gone not in doc_ids_of(retrieve(index, q, k=10)), q
    index.close()
    again = Index.open(hash_settings)
    assert gone not in doc_ids_of(retrieve(again, "兰州化物所四同", k=10))
    assert again.ingest([seed_copy]).removed == []


def test_deleting_the_original_of_a_duplicate_keeps_the_copy(hash_settings, seed_copy, tmp_path):
    """The original is deleted, its byte-identical copy (reported as a duplicate) stays: the
    document follows the copy instead of disappearing."""
    index = Index.open(hash_settings, create=True)
    shutil.copyfile(seed_copy / SEED_IDS[0], seed_copy / "zz副本.txt")
    report = index.ingest([seed_copy])
    assert [(p.name, d) for p, d in report.duplicates] == [("zz副本.txt", SEED_IDS[0])]
    (seed_copy / SEED_IDS[0]).unlink()
    report = index.ingest([seed_copy])
    assert report.removed == [] and report.moved == [(SEED_IDS[0], seed_copy / "zz副本.txt")]
    assert_consistent(index)
    assert retrieve(index, "质检中心党支部书记赵宇", k=1)[0].chunk.doc_id == SEED_IDS[0]


# --- copies in another folder (issue 19, defect 4)

def _with_copies(hash_settings, tmp_path, files: dict[str, str], copies: dict[str, str]):
    """``files`` ingested from folder A, then ``copies`` (of some of them) from folder B."""
    a, b = tmp_path / "A", tmp_path / "B"
    for folder, texts in ((a, files), (b, copies)):
        folder.mkdir()
        for name, text in texts.items():
            (folder / name).write_text(text, encoding="utf-8")
    index = Index.open(hash_settings, create=True)
    index.ingest([a])
    return index, a, b, index.ingest([b])


def test_a_copy_elsewhere_keeps_the_text_when_the_original_is_deleted(hash_settings, tmp_path):
    """X in folder A is indexed; its copy in folder B is reported as not indexed twice. X is deleted
    and A ingested again: the document follows B's copy instead of vanishing (before, it was
    removed and the text was unanswerable although B still held it)."""
    index, a, b, report = _with_copies(hash_settings, tmp_path, {"X.txt": NEW_REPORT}, {"X的副本.txt": NEW_REPORT})
    assert [(p.name, d) for p, d in report.duplicates] == [("X的副本.txt", "X.txt")]
    (a / "X.txt").unlink()
    report = index.ingest([a])
    assert report.removed == [] and report.moved == [("X.txt", b / "X的副本.txt")]
    assert index.store.records()["X.txt"].path == str((b / "X的副本.txt").resolve())
    assert doc_ids_of(retrieve(index, "深海探测器耐压壳体攻关", k=1)) == ["X.txt"]
    assert_consistent(index)
    assert index.ingest([b]).unchanged == ["X.txt"]  # the copy is the document's file now
    (b / "X的副本.txt").unlink()  # the last copy gone too: now the document goes
    assert index.ingest([b]).removed == ["X.txt"]
    assert index.store.copies("X.txt") == []


def test_a_copy_of_the_old_text_becomes_a_document_when_the_original_is_edited(hash_settings, tmp_path):
    """X is edited: X's document takes the new text, and the copy that still holds the old text is
    ingested in the same run as a document of its own: nothing a user gave silently vanishes."""
    index, a, b, _ = _with_copies(hash_settings, tmp_path, {"X.txt": NEW_REPORT}, {"X的副本.txt": NEW_REPORT})
    (a / "X.txt").write_text(OTHER_REPORT, encoding="utf-8")
    report = index.ingest([a])
    assert report.updated == ["X.txt"] and report.added == ["X的副本.txt"]
    assert doc_ids_of(retrieve(index, "稀土催化剂中试放大", k=1)) == ["X.txt"]
    assert doc_ids_of(retrieve(index, "深海探测器耐压壳体攻关", k=1)) == ["X的副本.txt"]
    assert_consistent(index)


def test_a_file_overwritten_with_another_report_hands_its_text_to_a_copy(hash_settings, tmp_path):
    """Y's file is overwritten with X's report (so it is now a copy of X): Y's own text lives on in a
    recorded copy, which becomes Y's file."""
    index, a, b, _ = _with_copies(hash_settings, tmp_path, {"X.txt": NEW_REPORT, "Y.txt": OTHER_REPORT},
                                  {"Y的副本.txt": OTHER_REPORT})
    (a / "Y.txt").write_text(NEW_REPORT, encoding="utf-8")
    report = index.ingest([a])
    assert report.removed == [] and ("Y.txt", b / "Y的副本.txt") in report.moved
    assert doc_ids_of(retrieve(index, "稀土催化剂中试放大", k=1)) == ["Y.txt"]
    assert_consistent(index)
