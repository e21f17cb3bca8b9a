"""FIM prompt formats: golden strings per family, template detection, stop sequences."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ragls.models.fim import TEMPLATES, ContextFile, build_prompt, detect_template, stop_sequences

sys.path.insert(0, str(Path(__file__).parent))
from gguf_tiny import make_tiny_gguf

PRE = "def add(a, b):\n    "
SUF = "\n\nprint(add(1, 2))\n"
CTX = [ContextFile("pkg/util.py", "def helper():\n    return 1\n")]


def test_qwen_plain_fim() -> None:
    got = build_prompt(TEMPLATES["qwen25coder"], prefix=PRE, suffix=SUF, context=[], path="m.py")
    assert got == "<|fim_prefix|>def add(a, b):\n    <|fim_suffix|>\n\nprint(add(1, 2))\n<|fim_middle|>"


def test_qwen_repo_level() -> None:
    got = build_prompt(TEMPLATES["qwen25coder"], prefix=PRE, suffix=SUF, context=CTX, path="pkg/m.py",
                       repo="demo")
    assert got == (
        "<|repo_name|>demo\n"
        "<|file_sep|>pkg/util.py\ndef helper():\n    return 1\n"
        "<|file_sep|>pkg/m.py\n"
        "<|fim_prefix|>def add(a, b):\n    <|fim_suffix|>\n\nprint(add(1, 2))\n<|fim_middle|>"
    )


def test_starcoder2_repo_level_puts_path_in_prefix() -> None:
    got = build_prompt(TEMPLATES["starcoder2"], prefix="x = ", suffix="\n", context=CTX, path="a.py")
    assert got == (
        "<file_sep>pkg/util.py\ndef helper():\n    return 1\n"
        "<file_sep><fim_prefix>a.py\nx = <fim_suffix>\n<fim_middle>"
    )


def test_deepseek_uses_fullwidth_tokens_and_comment_context() -> None:
    got = build_prompt(TEMPLATES["deepseek"], prefix="x = ", suffix="\ny = 2", context=CTX, path="a.py")
    assert got == (
        "<｜fim▁begin｜># path: pkg/util.py\n# def helper():\n#     return 1\n# path: a.py\n"
        "x = <｜fim▁hole｜>\ny = 2<｜fim▁end｜>"
    )


def test_codellama_spacing() -> None:
    got = build_prompt(TEMPLATES["codellama"], prefix="int x = ", suffix=";\n", context=[], path="a.c")
    assert got == "<PRE> int x =  <SUF>;\n <MID>"


def test_codestral_is_suffix_first() -> None:
    got = build_prompt(TEMPLATES["codestral"], prefix="let x = ", suffix=";", context=[], path="a.rs")
    assert got == "[SUFFIX];[PREFIX]let x = "


def test_codegemma_repo_layout() -> None:
    got = build_prompt(TEMPLATES["codegemma"], prefix="a", suffix="b", context=CTX, path="m.py")
    assert got == (
        "<|file_separator|>pkg/util.py\ndef helper():\n    return 1\n"
        "<|file_separator|>m.py\n<|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>"
    )


def test_prefix_template_comments_in_language_syntax() -> None:
    ctx = [ContextFile("lib/u.ts", "export const k = 1;")]
    got = build_prompt(TEMPLATES["prefix"], prefix="const v = ", suffix="IGNORED", context=ctx,
                       path="src/a.ts")
    assert got == "// path: lib/u.ts\n// export const k = 1;\n// path: src/a.ts\nconst v = "
    assert "IGNORED" not in got


def test_stable_context_comes_before_volatile_prefix() -> None:
    t = TEMPLATES["deepseek"]
    p1 = build_prompt(t, prefix="x = 1\ny", suffix="", context=CTX, path="a.py")
    p2 = build_prompt(t, prefix="x = 1\nyz", suffix="", context=CTX, path="a.py")
    head = p1[: p1.index("x = 1")]
    assert p2.startswith(head) and "helper" in head


def test_stop_sequences() -> None:
    assert "<|endoftext|>" in stop_sequences(TEMPLATES["qwen25coder"])
    assert "<|file_sep|>" in stop_sequences(TEMPLATES["qwen25coder"])
    assert "<EOT>" in stop_sequences(TEMPLATES["codellama"])
    assert stop_sequences(TEMPLATES["prefix"]) == []


@pytest.mark.parametrize(
    ("metadata", "name", "expected"),
    [
        ({}, "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", "qwen25coder"),
        ({"general.name": "Qwen2.5 Coder 7B"}, "model.gguf", "qwen25coder"),
        ({}, "deepseek-coder-1.3b-base.Q4_K_M.gguf", "deepseek"),
        ({}, "starcoder2-3b-Q4_K_M.gguf", "starcoder2"),
        ({}, "codellama-7b.Q4_0.gguf", "codellama"),
        ({"general.name": "Codestral-22B-v0.1"}, "x.gguf", "codestral"),
        ({}, "codegemma-2b-Q8_0.gguf", "codegemma"),
        ({"general.architecture": "qwen2", "tokenizer.ggml.fim_pre_token_id": "151659"}, "m.gguf",
         "qwen25coder"),
        ({"general.architecture": "llama", "tokenizer.ggml.prefix_token_id": "32007"}, "m.gguf", "codellama"),
        ({"ragls.fim_tokens": "<fim_prefix>\n<fim_suffix>"}, "m.gguf", "starcoder2"),
        ({"ragls.fim_tokens": "<|fim_prefix|>\n<|file_separator|>"}, "m.gguf", "codegemma"),
        ({"general.architecture": "llama", "general.name": "Smollm2 135M"}, "SmolLM2-135M-Instruct.Q4_1.gguf",
         "prefix"),
        ({"general.architecture": "qwen2"}, "qwen2.5-0.5b-instruct.gguf", "prefix"),
    ],
)
def test_detect_template_from_metadata_and_name(metadata: dict[str, str], name: str, expected: str) -> None:
    assert detect_template(metadata, name).name == expected


def test_detect_template_on_tiny_ggufs(tmp_path: Path) -> None:
    from ragls.models.catalog import read_gguf_metadata

    qwen = make_tiny_gguf(tmp_path / "tiny-q.gguf", "qwen2")
    llama = make_tiny_gguf(tmp_path / "tiny-l.gguf", "llama")
    meta_q = read_gguf_metadata(qwen)
    assert meta_q["general.architecture"] == "qwen2"
    assert "<|fim_prefix|>" in meta_q["ragls.fim_tokens"].split("\n")
    assert detect_template(meta_q, qwen.name).name == "qwen25coder"
    # llama-cpp's metadata (no token list) still finds it through tokenizer.ggml.fim_pre_token_id
    without_tokens = {k: v for k, v in meta_q.items() if k != "ragls.fim_tokens"}
    assert detect_template(without_tokens, qwen.name).name == "qwen25coder"
    assert detect_template(read_gguf_metadata(llama), llama.name).name == "prefix"
