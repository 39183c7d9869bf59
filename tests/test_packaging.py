"""A plain (non-editable) install carries the prompts and data files: build the wheel, put only it
on the path and read every prompt through the package, away from the repository."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out),
                    str(ROOT)], check=True, capture_output=True, timeout=300)
    wheels = list(out.glob("*.whl"))
    assert len(wheels) == 1
    unpacked = out / "site"
    with zipfile.ZipFile(wheels[0]) as z:
        z.extractall(unpacked)
    return wheels[0], unpacked


def test_wheel_holds_every_prompt_and_data_file(wheel_dir):
    wheel, _ = wheel_dir
    names = set(zipfile.ZipFile(wheel).namelist())
    for prompt in (ROOT / "prompts").glob("*.txt"):
        assert f"assistant/prompt_texts/{prompt.name}" in names
    for data in (ROOT / "assistant" / "data").glob("*.txt"):
        assert f"assistant/data/{data.name}" in names


def test_prompts_load_from_the_installed_package(wheel_dir, tmp_path):
    _, site = wheel_dir
    code = ("import assistant, json; from assistant.core.prompts import render, load; "
            "from assistant.core.chinese import synonyms; "
            "print(json.dumps([assistant.__file__, render('qa', sources='S', question='Q'), load('system'), "
            "len(synonyms('荣誉'))]))")
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    import json

    where, qa, system, n_syn = json.loads(done.stdout)
    assert Path(where).is_relative_to(site)  # the wheel's copy, not the repository's
    assert "S" in qa and "Q" in qa and "<资料>" in qa
    assert system == (ROOT / "prompts" / "system.txt").read_text(encoding="utf-8")
    assert n_syn > 0
