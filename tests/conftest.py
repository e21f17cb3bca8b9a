"""Shared fixtures: workspaces written into temporary folders, an isolated index cache."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own index cache root, so nothing leaks between tests or into ~/.cache."""
    cache = tmp_path_factory.mktemp("ragls-cache")
    monkeypatch.setenv("RAGLS_CACHE_DIR", str(cache))
    # nor does the developer's own ~/.config/ragls/config.toml change what a test sees
    monkeypatch.setenv("RAGLS_CONFIG_FILE", str(cache / "no-user-config.toml"))
    return cache


WriteFiles = Callable[[dict[str, str]], Path]


@pytest.fixture
def write_workspace(tmp_path: Path) -> WriteFiles:
    """Write {relative path: source} (dedented) under a fresh workspace folder and return it."""
    root = tmp_path / "ws"
    root.mkdir()

    def write(files: dict[str, str]) -> Path:
        for rel, text in files.items():
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return root

    return write


@pytest.fixture(scope="session")
def tiny_server_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight qwen2 GGUF (FIM tokens) for end-to-end server tests, made once.

    Its 2048-token training context (RoPE: any length works) lets fix and test-generation
    prompts fit; the weights stay random, so tests check mechanics, not quality.
    """
    pytest.importorskip("llama_cpp")
    import gguf_tiny

    saved, gguf_tiny.N_CTX = gguf_tiny.N_CTX, 2048
    try:
        return gguf_tiny.make_tiny_gguf(tmp_path_factory.mktemp("model") / "tiny-qwen.gguf", "qwen2")
    finally:
        gguf_tiny.N_CTX = saved
