"""One Settings object, read once from ``ASSISTANT_*`` environment variables and CLI flags."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import AssistantError

DEFAULT_MODEL = "intfloat/multilingual-e5-small"


@dataclass(frozen=True)
class ModelSpec:
    """An embedding model and the prompts it expects on queries and passages."""

    name: str
    query_prompt: str = ""
    passage_prompt: str = ""


# Models whose retrieval prompts are known. Anything else uses the prompts the model ships in its
# sentence-transformers config (if any), or the ASSISTANT_QUERY_PROMPT / ASSISTANT_PASSAGE_PROMPT overrides.
_KNOWN_PROMPTS: dict[str, tuple[str, str]] = {
    "e5": ("query: ", "passage: "),
    "bge-zh": ("为这个句子生成表示以用于检索相关文章：", ""),
    "bge-en": ("Represent this sentence for searching relevant passages: ", ""),
}


def model_spec(name: str, query_prompt: str | None = None, passage_prompt: str | None = None) -> ModelSpec:
    key = name.lower()
    family = None
    if "e5" in key and "instruct" not in key:
        family = "e5"
    elif "bge" in key and ("zh" in key or "chinese" in key):
        family = "bge-zh"
    elif "bge" in key and "m3" not in key:
        family = "bge-en"
    q, p = _KNOWN_PROMPTS.get(family, ("", "")) if family else ("", "")
    return ModelSpec(
        name=name,
        query_prompt=q if query_prompt is None else query_prompt,
        passage_prompt=p if passage_prompt is None else passage_prompt,
    )


def _int_env(env: dict, key: str, default: int, lo: int, hi: int) -> int:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise AssistantError(f"{key}={raw!r} is not a whole number; set it to a number from {lo} to {hi}.")
    if not lo <= value <= hi:
        raise AssistantError(f"{key}={value} is out of range; set it to a number from {lo} to {hi}.")
    return value


def _bool_env(env: dict, key: str, default: bool) -> bool:
    raw = (env.get(key) or "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise AssistantError(f"{key}={raw!r} is not a yes/no value; set it to 1 or 0.")


@dataclass(frozen=True)
class Settings:
    index_dir: Path = Path("index")
    model: ModelSpec = field(default_factory=lambda: model_spec(DEFAULT_MODEL))
    chunk_tokens: int = 300  # budget per chunk, counted in tiktoken cl100k_base tokens
    overlap_sentences: int = 1
    top_k: int = 5
    candidates: int = 30  # dense top-N and BM25 top-N before fusion
    max_per_doc: int = 2  # diversity cap inside the top k (relaxed when too few documents match)
    max_question_chars: int = 500
    max_file_bytes: int = 20 * 1024 * 1024
    log_answers: bool = True  # keep each answer in index/answers.jsonl (ASSISTANT_LOG_ANSWERS=0 switches it off)
    log_max_bytes: int = 5 * 1024 * 1024  # the log rotates at this size …
    log_backups: int = 3  # … keeping this many older files (answers.jsonl.1 …)

    @classmethod
    def from_env(cls, env: dict | None = None) -> "Settings":
        env = dict(os.environ if env is None else env)
        name = env.get("ASSISTANT_EMBED_MODEL") or DEFAULT_MODEL
        spec = model_spec(name, env.get("ASSISTANT_QUERY_PROMPT"), env.get("ASSISTANT_PASSAGE_PROMPT"))
        return cls(
            index_dir=Path(env.get("ASSISTANT_INDEX_DIR") or "index"),
            model=spec,
            chunk_tokens=_int_env(env, "ASSISTANT_CHUNK_TOKENS", 300, 50, 2000),
            top_k=_int_env(env, "ASSISTANT_TOP_K", 5, 1, 50),
            log_answers=_bool_env(env, "ASSISTANT_LOG_ANSWERS", True),
            log_max_bytes=_int_env(env, "ASSISTANT_LOG_MAX_MB", 5, 1, 1024) * 1024 * 1024,
            log_backups=_int_env(env, "ASSISTANT_LOG_BACKUPS", 3, 0, 100),
        )

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)
