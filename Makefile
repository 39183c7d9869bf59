# make run   – set up .venv, install, build the index from seeds/, answer a sample question
# make test  – set up .venv with test extras, run the tests
# make bench – quality on the dev set and the speed benchmark against plain LangChain
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# torch is pinned to the CPU build: an unpinned torch pulls gigabytes of CUDA packages.
TORCH := torch==2.13.0

.PHONY: run test bench install install-test clean-index

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e .

install-test: install
	$(BIN)/pip install -q -e '.[test]'

run: install
	$(BIN)/assistant ingest seeds
	$(BIN)/assistant ask "哈焊所各支部一共申报了多少个争创“党员创新示范岗”小组？"

test: install-test
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python bench/eval_quality.py
	$(BIN)/python bench/benchmark.py

clean-index:
	find index -mindepth 1 ! -name README.md -exec rm -rf {} +
