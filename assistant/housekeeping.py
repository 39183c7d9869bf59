"""Keeping the files the assistant writes bounded.

``AnswerLog`` is the question/answer log (``index/answers.jsonl``): one JSON line per answer,
rotated like ``logging.handlers.RotatingFileHandler`` but safe when several processes (the web
server and CLI runs) append to the same file at once. ``DownloadDir`` holds the .docx/.md files
the web page offers for download (``index/exports/``) and removes them again after a while.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: only the in-process lock is taken
    fcntl = None

log = logging.getLogger(__name__)


class AnswerLog:
    """Append-only JSON-lines log, rotated at ``max_bytes`` into ``backups`` older files.

    Every append takes an in-process ``threading.Lock`` and an exclusive ``fcntl.flock`` on the
    sibling file ``<name>.lock`` around check-size / rotate / append, so records written by many
    threads and processes are never split, interleaved or lost in a rotation. Errors while writing
    (disk full, read-only directory) are logged at INFO and swallowed: answering a question must
    not fail because the log cannot be written.
    """

    def __init__(self, path: Path, max_bytes: int = 5 * 1024 * 1024, backups: int = 3, enabled: bool = True):
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        if backups < 0:
            raise ValueError("backups must be >= 0")
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.max_bytes = max_bytes
        self.backups = backups
        self.enabled = enabled
        self._thread_lock = threading.Lock()

    def paths(self) -> list[Path]:
        """The log files that exist: the current one first, then ``.1`` … ``.{backups}`` (oldest last)."""
        candidates = [self.path] + [self._backup(i) for i in range(1, self.backups + 1)]
        return [p for p in candidates if p.exists()]

    def append(self, record: dict) -> None:
        """Write ``record`` as one JSON line, rotating first when the file would exceed ``max_bytes``.
        A record larger than ``max_bytes`` on its own is still written, into a fresh file."""
        if not self.enabled:
            return
        try:
            data = (json.dumps(record, ensure_ascii=False, default=str) + "\n").encode("utf-8")
            with self._locked():
                try:
                    size = os.stat(self.path).st_size
                except FileNotFoundError:
                    size = 0
                if size > 0 and size + len(data) > self.max_bytes:
                    self._rotate()
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
                try:
                    view = memoryview(data)
                    while view:  # one write normally; loop only on a short write
                        view = view[os.write(fd, view):]
                finally:
                    os.close(fd)
        except OSError as exc:
            log.info("could not record the answer in %s (%s)", self.path, exc)

    # --- internals
    def _backup(self, i: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{i}")

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._thread_lock:
            if fcntl is None:  # pragma: no cover
                yield
                return
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)

    def _rotate(self) -> None:
        """answers.jsonl → .1 → … → .{backups}; the oldest is deleted. Called with the locks held."""
        if self.backups == 0:
            os.unlink(self.path)
            return
        oldest = self._backup(self.backups)
        if oldest.exists():
            os.unlink(oldest)
        for i in range(self.backups - 1, 0, -1):
            src = self._backup(i)
            if src.exists():
                os.replace(src, self._backup(i + 1))
        os.replace(self.path, self._backup(1))


class DownloadDir:
    """Folder for the files the page offers for download, one sub-folder per answer.

    The web page keeps it at ``index/exports/``, one known place shared by every server of that
    index: a server killed with kill -9 leaves its folders there, and the next start (or the next
    export of any server) sweeps them once they are ``max_age`` seconds old. ``new_folder()`` sweeps
    first, so the folder stays small on a long-running server; ``close()`` removes the folders this
    instance made, never another server's. Only sub-folders named ``answer-…`` directly under
    ``root`` are ever removed; symlinks are never followed. Without a root, a temporary directory of
    its own is used and removed whole at close.
    """

    PREFIX = "answer-"

    def __init__(self, root: Path | None = None, max_age: float = 3600.0):
        self._own_root = root is None
        self.root = Path(tempfile.mkdtemp(prefix="assistant-downloads-")) if root is None else Path(root)
        self.max_age = max_age
        self._lock = threading.Lock()
        self._closed = False
        self._made: set[str] = set()  # names of the sub-folders this instance made
        self.sweep()  # what a server that was killed left behind

    def new_folder(self) -> Path:
        """A fresh, unique, empty sub-folder for one answer's downloads (old ones are swept first)."""
        self.sweep()
        with self._lock:
            self.root.mkdir(parents=True, exist_ok=True)
            self._closed = False
            folder = Path(tempfile.mkdtemp(prefix=self.PREFIX, dir=self.root))
            self._made.add(folder.name)
            return folder

    def sweep(self, now: float | None = None) -> int:
        """Remove sub-folders (anyone's) whose mtime is more than ``max_age`` seconds before ``now``
        (default: the current time); return how many were removed."""
        now = time.time() if now is None else now
        with self._lock:
            return self._remove(lambda name, mtime: now - mtime > self.max_age)

    def close(self) -> None:
        """Remove this instance's downloads. A root made by this class is removed entirely; a root
        passed in loses the sub-folders this instance made and is removed only when nothing else is
        left in it. Safe to call more than once."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._own_root:
                if self.root.is_symlink():  # pragma: no cover - someone swapped our temp dir
                    self.root.unlink()
                else:
                    shutil.rmtree(self.root, ignore_errors=True)
                return
            self._remove(lambda name, mtime: name in self._made)
            self._made.clear()
            try:
                self.root.rmdir()
            except OSError:
                pass  # not empty (another server's files) or already gone

    def _remove(self, expired) -> int:
        removed = 0
        try:
            entries = list(os.scandir(self.root))
        except OSError:
            return 0
        for entry in entries:
            try:
                if not entry.name.startswith(self.PREFIX) or not entry.is_dir(follow_symlinks=False):
                    continue  # not ours, a plain file, or a symlink (never followed)
                if not expired(entry.name, entry.stat(follow_symlinks=False).st_mtime):
                    continue
                shutil.rmtree(entry.path)  # does not follow symlinks inside the folder
                removed += 1
            except FileNotFoundError:
                continue  # removed meanwhile by another thread or process
            except OSError as exc:
                log.info("could not remove the download folder %s (%s)", entry.path, exc)
        return removed
