"""Background ingest jobs for the web page.

An upload is ingested by a child process, ``assistant ingest --progress-json FILE …``, at a lower
CPU priority and with one math thread, so the server keeps answering questions at full speed while
it runs; the server sees the new documents as soon as the child commits them (the index's
generation counter), exactly as it sees a CLI ingest run beside it. The child runs in a session of
its own: stopping the server (Ctrl+C, SIGTERM) does not stop it, it finishes the upload and exits.
A child that dies leaves the index consistent, and the server resumes uploads that were never
committed when it starts again (``WebApp.resume_uploads``).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import AssistantError

log = logging.getLogger(__name__)


# The progress bar's part for reading, converting, cleaning and chunking; embedding has the rest. Ingesting the
# seeds (116 chunks), 22 % of the time was spent outside embedding (IngestReport.seconds against embed_seconds;
# it was 0.1, the bar then ran behind while files were read).
READ_SHARE = 0.2


@dataclass
class IngestJob:
    id: str
    files: list[Path]
    started: float = field(default_factory=time.time)
    stage: str = "start"  # start | read | ocr (pages of a scan) | embed | done
    done: int = 0
    total: int = 0
    report: dict | None = None  # the child's final report (cli.report_dict)
    error: str = ""  # why the job failed, when it did
    finished: bool = False
    finished_at: float = 0.0

    def fraction(self) -> float:
        """0..1 for a progress bar: reading (a scan's pages read by OCR too) is the first READ_SHARE, embedding
        the rest."""
        if self.finished:
            return 1.0
        part = self.done / self.total if self.total else 0.0
        return READ_SHARE * part if self.stage in ("read", "ocr") else \
            READ_SHARE + (1 - READ_SHARE) * part if self.stage == "embed" else 0.0


def child_env(settings) -> dict:
    """The environment of an ingest child: this server's index and model settings, one math thread."""
    env = dict(os.environ)
    env.update({
        "ASSISTANT_INDEX_DIR": str(Path(settings.index_dir).resolve()),
        "ASSISTANT_EMBED_MODEL": settings.model.name,
        "ASSISTANT_EMBED_BACKEND": settings.model.backend,
        "ASSISTANT_CHROMA_URL": settings.chroma_url,
        "ASSISTANT_DATABASE_URL": settings.database_url.get_secret_value(),
        "ASSISTANT_CHROMA_COLLECTION": settings.chroma_collection,
        "ASSISTANT_QUERY_PROMPT": settings.model.query_prompt,
        "ASSISTANT_PASSAGE_PROMPT": settings.model.passage_prompt,
        "ASSISTANT_CHUNK_TOKENS": str(settings.chunk_tokens),
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "PYTHONIOENCODING": "utf-8",
    })
    return env


PUBLISH_EVERY = 0.5  # seconds between progress records in a shared store (and at every stage change)


class JobRunner:
    def __init__(self, settings, nice: int = 10, on_done=None, store=None):
        self.settings = settings
        self.nice = nice
        self.on_done = on_done  # called with each job when it has finished
        self.store = store  # a shared store (PgStore): every server's jobs and their progress are recorded there
        self.server = f"{socket.gethostname()}:{os.getpid()}"
        self._jobs: dict[str, IngestJob] = {}
        self._procs: dict[str, subprocess.Popen] = {}
        self._lock = threading.Lock()

    def start(self, files: list[Path]) -> IngestJob:
        job = IngestJob(id=uuid.uuid4().hex[:12], files=list(files))
        cmd = [sys.executable, "-m", "assistant", "ingest", "--progress-json", *[str(f) for f in files]]
        errors = tempfile.TemporaryFile()
        nice = self.nice
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors,
                                env=child_env(self.settings), text=True, encoding="utf-8", start_new_session=True,
                                preexec_fn=(lambda: os.nice(nice)) if nice else None)
        with self._lock:
            self._jobs[job.id] = job
            self._procs[job.id] = proc
        self._publish(job)
        threading.Thread(target=self._follow, args=(job, proc, errors), daemon=True, name=f"ingest-{job.id}").start()
        return job

    def _publish(self, job: IngestJob) -> None:
        """Record the job's state in the shared store, if there is one (a failure is logged, not raised:
        the upload goes on)."""
        if self.store is None:
            return
        try:
            self.store.put_job({**vars(job), "files": [f.name for f in job.files], "server": self.server})
        except AssistantError as exc:
            log.info("ingest job %s not recorded in the shared store: %s", job.id, exc)

    def _follow(self, job: IngestJob, proc: subprocess.Popen, errors) -> None:
        published = time.monotonic()
        for line in proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if "report" in msg:
                job.report = msg["report"]
            elif "stage" in msg:
                changed = msg["stage"] != job.stage
                job.stage, job.done, job.total = msg["stage"], msg["done"], msg["total"]
                if changed or time.monotonic() - published >= PUBLISH_EVERY:
                    self._publish(job)
                    published = time.monotonic()
        rc = proc.wait()
        errors.seek(0)
        tail = [ln for ln in errors.read().decode("utf-8", "replace").splitlines() if ln.strip()]
        errors.close()
        if job.report is None:
            job.error = (tail[-1] if tail else f"the ingest process ended with code {rc}")[:300]
            log.warning("background ingest %s failed (exit %s): %s", job.id, rc, "\n".join(tail[-20:]))
        job.finished_at = time.time()
        if self.on_done is not None:
            try:
                self.on_done(job)
            except Exception:  # noqa: BLE001 - tidying up must not lose the job's report
                log.exception("after ingest job %s", job.id)
        job.stage, job.finished = "done", True
        self._publish(job)
        with self._lock:
            self._procs.pop(job.id, None)

    def get(self, job_id: str) -> IngestJob | None:
        with self._lock:
            return self._jobs.get(job_id)

    def running(self) -> list[IngestJob]:
        with self._lock:
            return [j for j in self._jobs.values() if not j.finished]

    def wait(self, job_id: str, timeout: float = 600.0) -> IngestJob:
        """Block until the job is finished (for tests and scripts)."""
        deadline = time.monotonic() + timeout
        job = self.get(job_id)
        while job is not None and not job.finished and time.monotonic() < deadline:
            time.sleep(0.05)
        return job

    def close(self) -> None:
        """Nothing to stop: running children finish their uploads on their own (their progress has
        no reader any more, which they tolerate)."""
        with self._lock:
            running = len(self._procs)
        if running:
            log.warning("%d background ingest(s) still running; they finish on their own", running)
