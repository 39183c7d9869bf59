"""The question/answer log (``index/answers.jsonl``): one JSON line per answer, rotated like
``logging.handlers.RotatingFileHandler`` but safe when several processes (the web server and CLI
runs) append to the same file at once."""

from __future__ import annotations

import json
import logging
import os
import threading
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
