"""The .docx/.md files the web page offers for download (``index/exports/``), removed again after
a while."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)


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
