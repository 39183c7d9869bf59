import pytest

from assistant.core.errors import AssistantError
from assistant.core.settings import DEFAULT_MODEL, Settings, model_spec


def test_defaults_and_env():
    s = Settings.from_env({})
    assert s.model.name == DEFAULT_MODEL and s.model.query_prompt == "query: " and s.model.passage_prompt == "passage: "
    assert s.chunk_tokens == 300 and str(s.index_dir) == "index"
    s = Settings.from_env({"ASSISTANT_INDEX_DIR": "/tmp/x", "ASSISTANT_CHUNK_TOKENS": "200", "ASSISTANT_TOP_K": "8"})
    assert str(s.index_dir) == "/tmp/x" and s.chunk_tokens == 200 and s.top_k == 8


def test_bad_values_are_named_in_the_message():
    with pytest.raises(AssistantError, match="ASSISTANT_CHUNK_TOKENS='lots'"):
        Settings.from_env({"ASSISTANT_CHUNK_TOKENS": "lots"})
    with pytest.raises(AssistantError, match="ASSISTANT_TOP_K=0 is out of range"):
        Settings.from_env({"ASSISTANT_TOP_K": "0"})


def test_prompts_are_part_of_the_model_configuration():
    bge = model_spec("BAAI/bge-small-zh-v1.5")
    assert bge.query_prompt.startswith("为这个句子生成表示") and bge.passage_prompt == ""
    assert model_spec("intfloat/multilingual-e5-base").passage_prompt == "passage: "
    assert model_spec("some/other-model") .query_prompt == ""
    custom = Settings.from_env({"ASSISTANT_EMBED_MODEL": "/models/local", "ASSISTANT_QUERY_PROMPT": "问："}).model
    assert custom.name == "/models/local" and custom.query_prompt == "问："
