# make run   – set up .venv, install (and the .doc/.wps converters), start the web page (seeds/ ingested first when the index is empty)
# make test  – set up .venv with test extras (and the local test LLM), run the tests
# make bench – quality on the dev set, the speed benchmark against plain LangChain, web page start-up
# make servers – the library on real servers: a PostgreSQL cluster and a Chroma server under servers/, and two page
#              servers sharing them on http://127.0.0.1:7860 and :7861 (Ctrl+C stops them all)
# make llm   – a real local LLM for tests and demos (llama-cpp-python built from source, 8–9 min the first time;
#              Qwen2.5-Coder 0.5B, a test fixture) on http://127.0.0.1:8081/v1; `make install-llm` installs and fetches only
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# torch is pinned to the CPU build: an unpinned torch pulls gigabytes of CUDA packages.
TORCH := torch==2.13.0

.PHONY: run test bench install install-test install-llm llm browser-deps converters postgres servers clean-index

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e .

install-test: install
	$(BIN)/pip install -q -e '.[test]'

# llama-cpp-python compiles llama.cpp (8–9 min on 2 cores; pip's wheel cache makes a reinstall take seconds), for any
# CPU of this architecture, not just this one; then the test/demo model (third-party repack, never a product dependency).
install-llm: install
	CMAKE_ARGS=-DGGML_NATIVE=OFF $(BIN)/pip install -q -e '.[llm]'
	$(BIN)/python scripts/llm.py fetch

llm: install-llm
	$(BIN)/python scripts/llm.py serve

run: install converters
	$(BIN)/assistant serve

# Debian's Chromium and ChromeDriver for the browser tests (and CJK fonts, so screenshots are readable):
# installed with apt when missing and we are root; otherwise the browser tests skip with a note.
browser-deps:
	@if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && \
	    apt-get install -y -qq chromium chromium-driver fonts-noto-cjk >/dev/null; \
	  else echo "note: apt-get install chromium chromium-driver fonts-noto-cjk to run the browser tests"; fi; \
	fi

# antiword, catdoc and LibreOffice Writer read .doc/.wps files; WenQuanYi Micro Hei is the TrueType CJK
# font the tests write Chinese PDFs with. Installed with apt when missing and we are root; otherwise a note.
converters:
	@if ! command -v antiword >/dev/null || ! command -v catdoc >/dev/null || ! command -v soffice >/dev/null || \
	    [ ! -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && \
	    apt-get install -y -qq --no-install-recommends antiword catdoc libreoffice-writer-nogui fonts-wqy-microhei >/dev/null; \
	  else echo "note: apt-get install antiword catdoc libreoffice-writer-nogui fonts-wqy-microhei to read .doc/.wps files and run their tests"; fi; \
	fi

test: install-test install-llm browser-deps converters postgres
	$(BIN)/python -m pytest -q

# Debian's PostgreSQL server programs (initdb, pg_ctl) for the shared library's tests and `make servers`: installed with
# apt when missing and we are root; otherwise a note (the tests that need them then fail under CI=true, else skip).
postgres:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && \
	    apt-get install -y -qq --no-install-recommends postgresql >/dev/null; \
	  else echo "note: apt-get install postgresql to run the shared-library tests and make servers"; fi; \
	fi

servers: install postgres
	$(BIN)/python scripts/servers.py up

bench: install-test
	$(BIN)/python bench/eval_quality.py
	$(BIN)/python bench/benchmark.py
	$(BIN)/python bench/serve_timing.py

clean-index:
	find index -mindepth 1 ! -name README.md -exec rm -rf {} +
