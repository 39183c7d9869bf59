"""One typed Settings object (pydantic-settings), read once from ``ASSISTANT_*`` environment variables
and CLI flags: the index, the embedding model, retrieval, the question log, the LLM."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import AssistantError

DEFAULT_MODEL = "intfloat/multilingual-e5-small"


@dataclass(frozen=True)
class LLMConfig:
    base_url: str
    model: str
    api_key: str = field(default="", repr=False)
    timeout: float = 60.0
    context_tokens: int = 3000  # the sources packed into a prompt, in cl100k tokens
    max_tokens: int = 800  # the longest reply asked for: a small model that repeats itself stops here
    judge: bool = True  # the model also judges whether the quoted sentences state the answer (answer/judging.py)

    @classmethod
    def from_env(cls, env: dict | None = None) -> "LLMConfig | None":
        """The LLM the settings name (ASSISTANT_LLM_*), or None."""
        return Settings.from_env(env).llm


@dataclass(frozen=True)
class ModelSpec:
    """An embedding model and the prompts it expects on queries and passages."""

    name: str
    query_prompt: str = ""
    passage_prompt: str = ""
    backend: str = "onnx-int8"  # onnx-int8 | onnx | torch: what runs the model (onnx_backend)

    @property
    def id(self) -> str:
        """What an index records as the model its vectors come from: vectors of another backend
        differ slightly, so an index made with one is re-embedded when opened with another."""
        if self.backend == "torch" or self.name == "hash":
            return self.name
        return f"{self.name}@{self.backend}{BACKEND_SCHEMES.get(self.backend, '')}"


# What follows the backend in a model id when its vectors changed while its name stayed: int8 activations
# quantised per token (storage/onnx_graph.py) replaced one scale per batch, so older int8 indexes re-embed.
BACKEND_SCHEMES = {"onnx-int8": "/per-token"}


# Models whose retrieval prompts are known. Anything else uses the prompts the model ships in its
# sentence-transformers config (if any), or the ASSISTANT_QUERY_PROMPT / ASSISTANT_PASSAGE_PROMPT overrides.
_KNOWN_PROMPTS: dict[str, tuple[str, str]] = {
    "e5": ("query: ", "passage: "),
    "bge-zh": ("为这个句子生成表示以用于检索相关文章：", ""),
    "bge-en": ("Represent this sentence for searching relevant passages: ", ""),
}


def model_spec(name: str, query_prompt: str | None = None, passage_prompt: str | None = None,
               backend: str = "onnx-int8") -> ModelSpec:
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
        backend=backend,
    )


_BOUNDS = {"chunk_tokens": (50, 2000), "top_k": (1, 50), "log_max_mb": (1, 1024), "log_backups": (0, 100),
           "llm_timeout": (1, 3600), "llm_context_tokens": (200, 100_000),
           "llm_max_tokens": (50, 32_000)}


class Settings(BaseSettings):
    """Every setting, typed and checked, read once from ``ASSISTANT_*`` environment variables
    (ASSISTANT_TOP_K=8 → ``top_k``) and overridden by CLI flags through ``with_``."""

    model_config = SettingsConfigDict(env_prefix="ASSISTANT_", frozen=True, extra="ignore",
                                      arbitrary_types_allowed=True, env_ignore_empty=True)

    index_dir: Path = Path("index")
    embed_model: str = DEFAULT_MODEL
    query_prompt: str | None = None  # None: the model family's known prompt
    passage_prompt: str | None = None
    embed_backend: Literal["onnx-int8", "onnx", "torch"] = "onnx-int8"  # what runs the embedding model
    model: ModelSpec | None = None  # built from the four above unless given
    chunk_tokens: int = Field(300, ge=50, le=2000)  # budget per chunk, in tiktoken cl100k_base tokens
    overlap_sentences: int = 1
    top_k: int = Field(5, ge=1, le=50)
    candidates: int = 30  # dense top-N and BM25 top-N before fusion (at least 3 × k)
    chroma_url: str = ""  # a Chroma server (http://host:port) holding the vectors instead of index/chroma/
    chroma_collection: str = "chunks"  # the collection; give each index its own when several share a server
    # A PostgreSQL server (postgresql://user:password@host:port/db) holding the documents, chunks, generation
    # counter, question log and ingest jobs instead of index/store.sqlite3: several page servers on several
    # machines share one library (with the vectors on a Chroma server, chroma_url).
    database_url: SecretStr = SecretStr("")
    max_per_doc: int = 2  # diversity cap inside the top k (relaxed when too few documents match)
    max_question_chars: int = 500
    max_file_bytes: int = 20 * 1024 * 1024
    # A scan (a PDF or an image) is mostly picture: a 300-page scan at 150 dpi is about 120 MB as a PDF of JPEG
    # pages (bench/ocr.py speed). Its text is bounded as any file's (loading.MAX_TEXT_CHARS).
    max_scan_bytes: int = 200 * 1024 * 1024
    log_answers: bool = True  # keep each answer in index/answers.jsonl (ASSISTANT_LOG_ANSWERS=0 switches it off)
    log_max_mb: int = Field(5, ge=1, le=1024)  # the log rotates at this size …
    log_backups: int = Field(3, ge=0, le=100)  # … keeping this many older files (answers.jsonl.1 …)
    llm_base_url: str = ""  # an OpenAI-compatible endpoint; with llm_model, answers are written by the LLM
    llm_model: str = ""
    llm_api_key: SecretStr = SecretStr("")
    llm_timeout: float = Field(60.0, ge=1, le=3600)
    llm_context_tokens: int = Field(3000, ge=200, le=100_000)  # sources packed into a prompt, cl100k tokens
    llm_max_tokens: int = Field(800, ge=50, le=32_000)  # the longest reply asked for
    llm_judge: bool = True  # the LLM judges whether a 问答 answer's quotes state what is asked (judging.py)
    auth: SecretStr = SecretStr("")  # "user:password" for the web page's login; empty: no login
    # Reverse proxies (IPs or networks, comma-separated) whose X-Forwarded-For the page server believes;
    # empty: nobody's, so the login throttle counts the TCP peer and a forged header changes nothing.
    trusted_proxies: str = ""

    @model_validator(mode="after")
    def _model_spec(self) -> "Settings":
        if self.model is None:
            object.__setattr__(self, "model", model_spec(self.embed_model, self.query_prompt, self.passage_prompt,
                                                         self.embed_backend))
        for item in self.proxy_list:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"ASSISTANT_TRUSTED_PROXIES: {item!r} is not an IP address or network; list the "
                                 "reverse proxies' addresses, e.g. 127.0.0.1 or 10.0.0.0/24, comma-separated") from None
        url = self.database_url.get_secret_value()
        if url and not url.startswith(("postgresql://", "postgres://")):
            raise ValueError("ASSISTANT_DATABASE_URL must be a PostgreSQL URL, postgresql://user:password@host:5432/db "
                             "(or empty, for the local store under the index directory)")
        if url and not self.chroma_url:
            raise ValueError("ASSISTANT_DATABASE_URL needs ASSISTANT_CHROMA_URL too: servers that share the documents "
                             "must share their vectors (start `chroma run` and set ASSISTANT_CHROMA_URL=http://host:port)")
        if bool(self.llm_base_url) != bool(self.llm_model):
            raise ValueError("set both ASSISTANT_LLM_BASE_URL and ASSISTANT_LLM_MODEL (or neither, for extractive "
                             "answers)")
        return self

    @property
    def proxy_list(self) -> list[str]:
        """The trusted reverse proxies, one address or network each."""
        return [p.strip() for p in self.trusted_proxies.split(",") if p.strip()]

    @property
    def log_max_bytes(self) -> int:
        return self.log_max_mb * 1024 * 1024

    @property
    def llm(self):
        """The LLM to answer with, or None for extractive answers."""
        if not self.llm_base_url:
            return None
        return LLMConfig(base_url=self.llm_base_url, model=self.llm_model, api_key=self.llm_api_key.get_secret_value(),
                         timeout=self.llm_timeout, context_tokens=self.llm_context_tokens,
                         max_tokens=self.llm_max_tokens, judge=self.llm_judge)

    @classmethod
    def from_env(cls, env: dict | None = None) -> "Settings":
        """The settings from the process environment, or from ``env`` alone; a bad value is an
        AssistantError naming the variable and what to set it to."""
        try:
            if env is None:
                return cls()
            prefix = cls.model_config["env_prefix"]
            values = {k[len(prefix):].lower(): v for k, v in env.items() if k.startswith(prefix) and v != ""}
            return cls.model_validate({k: v for k, v in values.items() if k in cls.model_fields})
        except ValidationError as exc:
            raise AssistantError(_explain(exc, env if env is not None else os.environ)) from None

    def with_(self, **changes) -> "Settings":
        return self.model_copy(update=changes)


def _explain(exc: ValidationError, env) -> str:
    err = exc.errors()[0]
    key = str(err["loc"][0]) if err.get("loc") else ""
    if not key:
        return str(err.get("msg", exc)).removeprefix("Value error, ")
    name = f"ASSISTANT_{key.upper()}"
    raw = env.get(name, err.get("input"))
    lo, hi = _BOUNDS.get(key, (None, None))
    want = f"set it to a number from {lo} to {hi}." if lo is not None else "check its value."
    if err["type"].startswith(("int_", "float_")) and err["type"].endswith("parsing"):
        return f"{name}={raw!r} is not a {'whole ' if err['type'].startswith('int') else ''}number; {want}"
    if err["type"] in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return f"{name}={raw} is out of range; {want}"
    if err["type"].startswith("bool"):
        return f"{name}={raw!r} is not a yes/no value; set it to 1 or 0."
    return f"{name}={raw!r}: {err['msg']}"
