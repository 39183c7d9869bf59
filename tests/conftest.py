import json
import os
import shutil
from pathlib import Path

import pytest

from assistant.answer.evaluation import evidence_form  # noqa: F401 - re-exported for the tests
from assistant.core.settings import Settings, model_spec
from assistant.storage.library import Index

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
DEV = ROOT.parent / "shared" / "eval" / "qa_dev.jsonl"
SEED_IDS = sorted(p.name for p in SEEDS.glob("*.txt"))


def dev_items():
    if not DEV.exists():
        pytest.skip(f"dev set not found at {DEV}")
    return [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]


def gold_share(kind: str, run) -> float:
    """Mean share of an item's gold documents among the documents ``run(question)`` cites."""
    items = [i for i in dev_items() if i["kind"] == kind]
    total = 0.0
    for it in items:
        cited = {c.doc_id for c in run(it["question"]).citations}
        total += len(cited & set(it["gold_docs"])) / len(it["gold_docs"])
    return total / len(items)


@pytest.fixture
def hash_settings(tmp_path):
    """Settings for unit tests: a temp index and the deterministic hashing embedder."""
    return Settings(index_dir=tmp_path / "index", model=model_spec("hash"))


@pytest.fixture
def seed_copy(tmp_path):
    d = tmp_path / "seeds"
    shutil.copytree(SEEDS, d)
    return d


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory):
    """The five seeds ingested with the hashing embedder (shared, read-only)."""
    s = Settings(index_dir=tmp_path_factory.mktemp("seed-index"), model=model_spec("hash"))
    index = Index.open(s, create=True)
    index.ingest([SEEDS])
    yield index
    index.close()


@pytest.fixture(scope="session")
def real_index(tmp_path_factory):
    """The five seeds ingested with the real e5 model into a real persistent Chroma (shared, read-only)."""
    s = Settings(index_dir=tmp_path_factory.mktemp("real-index"))
    index = Index.open(s, create=True)
    report = index.ingest([SEEDS])
    if not report.dense:
        pytest.fail(f"the real embedding model did not load: {index.dense_error} (run ../shared/offline/install.sh)")
    yield index
    index.close()


@pytest.fixture
def cli_env(tmp_path):
    env = dict(os.environ)
    env["ASSISTANT_INDEX_DIR"] = str(tmp_path / "cli-index")
    env["ASSISTANT_EMBED_MODEL"] = "hash"
    return env
