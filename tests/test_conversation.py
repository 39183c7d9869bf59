import os
import subprocess
import sys

from conftest import ROOT, SEEDS
from openai_server import OpenAIServer

from assistant.answer.conversation import Conversation, asked_about, carry_topic, is_follow_up
from assistant.core.schema import Answer
from assistant.core.settings import LLMConfig


def test_follow_ups_are_recognised():
    assert is_follow_up("那兰州化物所呢？") and is_follow_up("那副组长呢") and is_follow_up("还有哪些单位？")
    assert not is_follow_up("兰州化物所党建和业务工作的“四同”是什么？")


def test_rule_based_condensing():
    assert carry_topic("哈焊所开展过哪些知识竞赛？", "那兰州化物所呢？") == "兰州化物所开展过哪些知识竞赛？"
    assert carry_topic("光栅室党支部创先争优活动领导小组的组长是谁？", "那副组长呢？") == \
        "光栅室党支部创先争优活动领导小组的副组长是谁？"
    assert asked_about("质检中心有多少名党员？") == "党员"


def test_conversation_keeps_context(seed_index):
    conv = Conversation(index=seed_index)
    first = conv.ask("光栅室党支部创先争优活动领导小组的组长是谁？")
    assert "巴音贺希格" in first.answer
    second = conv.ask("那副组长呢？")
    assert conv.turns[-1][1].endswith("副组长是谁？") and "冯树龙" in second.answer
    conv.clear()
    assert conv.standalone("那副组长呢？") == "那副组长呢？"


def test_condensing_with_the_llm_and_its_fallback(seed_index):
    with OpenAIServer() as server:
        conv = Conversation(index=seed_index, llm=LLMConfig(base_url=server.base_url, model="scripted", timeout=1))
        prev = Answer(question="哈焊所开展过哪些知识竞赛？", answer="并开展基层组织建设年百题知识竞赛活动[1]", refused=False,
                      dense=False)
        conv.turns.append((prev.question, prev.question, prev))
        server.script.replies.append("兰州化物所开展过哪些知识答题活动？")
        assert conv.standalone("那兰州化物所呢？") == "兰州化物所开展过哪些知识答题活动？"
        assert "后续问题：那兰州化物所呢？" in server.script.requests[0]["messages"][0]["content"]
        server.script.replies.append("500")
        assert conv.standalone("那兰州化物所呢？") == "兰州化物所开展过哪些知识竞赛？"


def test_chat_command_reads_a_conversation_from_stdin(tmp_path):
    env = dict(os.environ, ASSISTANT_INDEX_DIR=str(tmp_path / "idx"), ASSISTANT_EMBED_MODEL="hash")
    for k in ("ASSISTANT_LLM_BASE_URL", "ASSISTANT_LLM_MODEL"):
        env.pop(k, None)
    subprocess.run([sys.executable, "-m", "assistant", "ingest", str(SEEDS)], env=env, cwd=ROOT, check=True,
                   capture_output=True)
    r = subprocess.run([sys.executable, "-m", "assistant", "chat"], env=env, cwd=ROOT, capture_output=True, text=True,
                       input="光栅室党支部创先争优活动领导小组的组长是谁？\n那副组长呢？\n/clear\n/exit\n", timeout=120)
    assert r.returncode == 0, r.stderr
    assert "巴音贺希格" in r.stdout and "（理解为：" in r.stdout and "冯树龙" in r.stdout and "（对话已清空）" in r.stdout
