import json
import logging
import multiprocessing
import os
import time
from pathlib import Path

from assistant.app.downloads import DownloadDir
from assistant.storage.answer_log import AnswerLog

WRITERS, APPENDS = 4, 200


def _record(writer: int, seq: int) -> dict:
    # Chinese text and a varying length, so a split or interleaved line could not parse by accident
    return {"writer": writer, "seq": seq, "question": "哈焊所各支部一共申报了多少个小组？" * (1 + seq % 5),
            "retrieved": [{"doc_id": f"doc-{seq}", "score": 0.5}]}


def _write_many(path: str, max_bytes: int, backups: int, writer: int, start) -> None:
    log = AnswerLog(Path(path), max_bytes=max_bytes, backups=backups)
    start.wait(30)
    for seq in range(APPENDS):
        log.append(_record(writer, seq))


def _records(log: AnswerLog) -> list[dict]:
    """All records, oldest first (the backups from .N down to .1, then the current file)."""
    out = []
    for p in reversed(log.paths()):
        raw = p.read_bytes()
        assert raw.endswith(b"\n")
        out += [json.loads(line) for line in raw.decode("utf-8").splitlines()]
    return out


def _run_writers(path: Path, max_bytes: int, backups: int) -> None:
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    procs = [ctx.Process(target=_write_many, args=(str(path), max_bytes, backups, w, start)) for w in range(WRITERS)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0


def test_rotation_keeps_at_most_backups_plus_one_bounded_files(tmp_path):
    log = AnswerLog(tmp_path / "answers.jsonl", max_bytes=2000, backups=3)
    for seq in range(300):
        log.append(_record(0, seq))
    paths = log.paths()
    assert [p.name for p in paths] == ["answers.jsonl", "answers.jsonl.1", "answers.jsonl.2", "answers.jsonl.3"]
    assert not (tmp_path / "answers.jsonl.4").exists()
    assert all(p.stat().st_size <= 2000 for p in paths)
    assert sum(p.stat().st_size for p in paths) <= 4 * 2000
    seqs = [r["seq"] for r in _records(log)]
    assert seqs == list(range(seqs[0], 300))  # the newest records, none lost between the kept files
    assert _records(log)[-1] == _record(0, 299)
    text = log.path.read_text(encoding="utf-8")
    assert "哈焊所" in text and "\\u" not in text  # ensure_ascii=False


def test_no_backups_truncates(tmp_path):
    log = AnswerLog(tmp_path / "answers.jsonl", max_bytes=500, backups=0)
    for seq in range(50):
        log.append(_record(0, seq))
    assert log.paths() == [log.path]
    assert log.path.stat().st_size <= 500
    assert _records(log)[-1]["seq"] == 49


def test_a_record_larger_than_max_bytes_goes_into_a_fresh_file(tmp_path):
    log = AnswerLog(tmp_path / "answers.jsonl", max_bytes=200, backups=2)
    log.append({"n": 1})
    big = {"n": 2, "text": "长" * 500}
    log.append(big)
    assert json.loads(log.path.read_text(encoding="utf-8")) == big
    assert json.loads((tmp_path / "answers.jsonl.1").read_text(encoding="utf-8")) == {"n": 1}
    log.append({"n": 3})  # the oversized file is rotated away in turn
    assert json.loads(log.path.read_text(encoding="utf-8")) == {"n": 3}
    assert [r["n"] for r in _records(log)] == [1, 2, 3]


def test_concurrent_processes_never_split_or_lose_records(tmp_path):
    # room for everything: every record must be there, intact, each writer's in order
    log = AnswerLog(tmp_path / "answers.jsonl", max_bytes=8000, backups=200)
    _run_writers(log.path, log.max_bytes, log.backups)
    records = _records(log)
    assert len(log.paths()) > 10  # many rotations happened while the processes raced
    assert all(p.stat().st_size <= 8000 for p in log.paths())
    assert len(records) == WRITERS * APPENDS
    for w in range(WRITERS):
        mine = [r for r in records if r["writer"] == w]
        assert mine == [_record(w, s) for s in range(APPENDS)]


def test_concurrent_processes_stay_bounded(tmp_path):
    log = AnswerLog(tmp_path / "answers.jsonl", max_bytes=4000, backups=2)
    _run_writers(log.path, log.max_bytes, log.backups)
    paths = log.paths()
    assert len(paths) == 3 and not (tmp_path / "answers.jsonl.3").exists()
    assert all(p.stat().st_size <= 4000 for p in paths)
    records = _records(log)  # every kept line parses
    for w in range(WRITERS):  # the kept records are the newest of each writer, with no gaps
        seqs = [r["seq"] for r in records if r["writer"] == w]
        assert seqs == list(range(APPENDS - len(seqs), APPENDS))
    assert (tmp_path / "answers.jsonl.lock").exists()


def test_disabled_writes_nothing(tmp_path):
    log = AnswerLog(tmp_path / "answers.jsonl", enabled=False)
    log.append({"q": "x"})
    assert list(tmp_path.iterdir()) == []
    assert log.paths() == []


def test_unwritable_location_does_not_raise(tmp_path, caplog):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    try:
        with caplog.at_level(logging.INFO, logger="assistant.storage.answer_log"):
            AnswerLog(ro / "answers.jsonl").append({"q": "x"})  # read-only directory (unless root)
            AnswerLog(blocker / "answers.jsonl").append({"q": "x"})  # fails even for root
    finally:
        ro.chmod(0o755)
    assert "could not record the answer" in caplog.text
    assert not (blocker / "answers.jsonl").exists()


def test_threads_share_one_log(tmp_path):
    import threading

    log = AnswerLog(tmp_path / "answers.jsonl", max_bytes=3000, backups=100)
    threads = [threading.Thread(target=lambda w=w: [log.append(_record(w, s)) for s in range(100)]) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    records = _records(log)
    assert len(records) == 400
    for w in range(4):
        assert [r["seq"] for r in records if r["writer"] == w] == list(range(100))


# --- DownloadDir

def test_new_folder_sweeps_old_folders_and_keeps_fresh_ones(tmp_path):
    dl = DownloadDir(tmp_path / "downloads", max_age=3600)
    old, fresh = dl.new_folder(), dl.new_folder()
    (old / "答案.docx").write_bytes(b"x")
    (fresh / "答案.docx").write_bytes(b"y")
    now = time.time()
    os.utime(old, (now - 7200, now - 7200))
    os.utime(fresh, (now - 60, now - 60))
    newest = dl.new_folder()
    assert not old.exists()
    assert fresh.exists() and (fresh / "答案.docx").read_bytes() == b"y"
    assert newest.is_dir() and newest.parent == dl.root and newest not in (old, fresh)
    assert list(newest.iterdir()) == []


def test_sweep_counts_and_uses_the_given_time(tmp_path):
    dl = DownloadDir(tmp_path / "downloads", max_age=100)
    folders = [dl.new_folder() for _ in range(3)]
    now = time.time()
    for i, f in enumerate(folders):
        os.utime(f, (now - 50 * i, now - 50 * i))  # ages 0, 50, 100 s
    assert dl.sweep(now=now) == 0  # 100 s old is not *older* than max_age
    assert dl.sweep(now=now + 1) == 1
    assert dl.sweep(now=now + 1000) == 2
    assert list(dl.root.iterdir()) == []


def test_close_removes_the_root_and_can_be_called_twice():
    dl = DownloadDir()
    assert dl.root.name.startswith("assistant-downloads-")
    (dl.new_folder() / "a.md").write_text("x")
    dl.close()
    assert not dl.root.exists()
    dl.close()


def test_close_on_a_given_root_removes_only_what_it_made(tmp_path):
    root = tmp_path / "downloads"
    dl = DownloadDir(root)
    (dl.new_folder() / "a.md").write_text("x")
    dl.close()
    assert not root.exists()
    dl2 = DownloadDir(root)
    dl2.new_folder()
    (root / "someone-else.txt").write_text("keep")
    dl2.close()
    assert [p.name for p in root.iterdir()] == ["someone-else.txt"]


def test_symlinks_inside_root_are_not_followed(tmp_path):
    outside = tmp_path / "outside"
    (outside / "answer-inner").mkdir(parents=True)
    (outside / "answer-inner" / "precious.txt").write_text("keep")
    (outside / "precious.txt").write_text("keep")
    dl = DownloadDir(tmp_path / "downloads", max_age=10)
    folder = dl.new_folder()
    link = dl.root / "answer-link"  # looks like one of ours, but is a symlink out of root
    link.symlink_to(outside, target_is_directory=True)
    (folder / "to-outside").symlink_to(outside, target_is_directory=True)  # a symlink inside an old folder
    old = time.time() - 3600
    os.utime(folder, (old, old))
    os.utime(link, (old, old), follow_symlinks=False)
    os.utime(outside, (old, old))
    assert dl.sweep() == 1  # the real folder only
    assert not folder.exists()
    assert link.is_symlink()
    dl.close()
    assert (outside / "precious.txt").read_text() == "keep"
    assert (outside / "answer-inner" / "precious.txt").read_text() == "keep"


def test_own_root_close_does_not_follow_symlinks(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("keep")
    dl = DownloadDir()
    (dl.root / "link").symlink_to(outside, target_is_directory=True)
    (dl.new_folder() / "link").symlink_to(outside, target_is_directory=True)
    dl.close()
    assert not dl.root.exists()
    assert (outside / "precious.txt").read_text() == "keep"


def test_new_folder_is_thread_safe(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    dl = DownloadDir(tmp_path / "downloads")
    old = dl.new_folder()
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    with ThreadPoolExecutor(8) as pool:  # every call also sweeps
        folders = list(pool.map(lambda _: dl.new_folder(), range(64)))
    assert len(set(folders)) == 64
    assert all(f.is_dir() and f.parent == dl.root for f in folders)
    assert not old.exists()


def test_a_killed_servers_folders_are_swept_when_the_next_one_starts(tmp_path):
    """Issue 19, defect 7: a server killed with kill -9 never closes its DownloadDir. Its folders sit in
    the one known root, and the next start sweeps those past max_age (fresh ones may be another
    running server's and stay)."""
    root = tmp_path / "exports"
    killed = DownloadDir(root, max_age=3600)
    stale, fresh = killed.new_folder(), killed.new_folder()
    (stale / "答案.docx").write_bytes(b"x")
    old = time.time() - 7200
    os.utime(stale, (old, old))
    DownloadDir(root, max_age=3600)  # the next start
    assert not stale.exists() and fresh.exists()


def test_close_leaves_another_servers_folders(tmp_path):
    root = tmp_path / "exports"
    one, two = DownloadDir(root), DownloadDir(root)
    mine, theirs = one.new_folder(), two.new_folder()
    one.close()
    assert not mine.exists() and theirs.is_dir()
    two.close()
    assert not root.exists()
