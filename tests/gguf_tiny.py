"""Tiny random-weight GGUF models for tests (a few hundred KB; load in llama.cpp and generate).

Two variants:
- ``arch="llama"``: SentencePiece-style vocab (``<unk> <s> </s>``, byte-fallback tokens
  ``<0x00>..<0xFF>`` and a few pieces), general.name "tiny-llama".
- ``arch="qwen2"``: GPT-2 byte-level BPE vocab (256 byte tokens + a few merges) plus the
  Qwen2.5-Coder special tokens (``<|fim_prefix|>`` ...) and their ``tokenizer.ggml.fim_*``
  ids, so template detection finds the qwen FIM format.

Random weights produce garbage text; tests use these models for mechanics only.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

N_EMBD = 64
N_HEAD = 4
N_LAYER = 2
N_FF = 128
N_CTX = 256

QWEN_SPECIALS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
    "<|fim_pad|>",
    "<|repo_name|>",
    "<|file_sep|>",
]

CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content']"
    " + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
    "{% endif %}"
)


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable unicode mapping."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    bs += list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs, strict=True)}


def _spm_vocab() -> tuple[list[str], list[float], list[int]]:
    tokens = ["<unk>", "<s>", "</s>"]
    types = [2, 3, 3]  # unknown, control, control
    for b in range(256):
        tokens.append(f"<0x{b:02X}>")
        types.append(6)  # byte
    pieces = ["▁", "▁the", "▁def", "▁return", "e", "t", "a", "o", "s", "▁a", "in", "er"]
    tokens += pieces
    types += [1] * len(pieces)
    scores = [0.0] * 3 + [0.0] * 256 + [-float(i) for i in range(len(pieces))]
    return tokens, scores, types


def _bpe_vocab(specials: list[str]) -> tuple[list[str], list[int], list[str]]:
    b2u = _bytes_to_unicode()
    tokens = [b2u[b] for b in range(256)]
    merges = ["Ġ t", "i n", "e r", "Ġ a"]
    tokens += [m.replace(" ", "") for m in merges]
    types = [1] * len(tokens)
    tokens += specials
    types += [3] * len(specials)
    return tokens, types, merges


def _silenced(tokens: list[str], arch: str) -> list[int]:
    """Token ids whose output logits are zeroed, so the model (almost) never emits them.

    Specials (EOS included: generation runs to max_tokens) and non-printable / non-ASCII
    bytes: llama-cpp-python holds back text that might be an incomplete UTF-8 sequence,
    which would stall streaming of garbage output.
    """
    printable = set(range(32, 127)) | {9, 10}
    ids = []
    for i, tok in enumerate(tokens):
        if arch == "llama":
            m = re.fullmatch(r"<0x([0-9A-F]{2})>", tok)
            if i < 3 or (m and int(m.group(1), 16) not in printable):
                ids.append(i)
        elif (i < 256 and i not in printable) or tok.startswith("<|"):
            ids.append(i)
    return ids


def _rand(rng: np.random.Generator, *shape: int, scale: float = 0.08) -> np.ndarray:
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def make_tiny_gguf(path: Path | str, arch: str = "llama", *, name: str | None = None,
                   chat_template: bool = True, seed: int = 0) -> Path:
    """Write a tiny random model to ``path`` and return it (arch: "llama" or "qwen2")."""
    import gguf  # dev dependency

    if arch not in ("llama", "qwen2"):
        raise ValueError(f"unsupported arch {arch!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    w = gguf.GGUFWriter(str(path), arch)
    w.add_name(name or f"tiny-{arch}")
    w.add_context_length(N_CTX)
    w.add_embedding_length(N_EMBD)
    w.add_block_count(N_LAYER)
    w.add_feed_forward_length(N_FF)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_HEAD)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(N_EMBD // N_HEAD)
    w.add_rope_freq_base(10000.0)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)

    if arch == "llama":
        tokens, scores, types = _spm_vocab()
        w.add_tokenizer_model("llama")
        w.add_token_list(tokens)
        w.add_token_scores(scores)
        w.add_token_types(types)
        w.add_unk_token_id(0)
        w.add_bos_token_id(1)
        w.add_eos_token_id(2)
        w.add_add_bos_token(True)
        w.add_add_eos_token(False)
    else:
        tokens, types, merges = _bpe_vocab(QWEN_SPECIALS)
        w.add_tokenizer_model("gpt2")
        w.add_tokenizer_pre("qwen2")
        w.add_token_list(tokens)
        w.add_token_types(types)
        w.add_token_merges(merges)
        ids = {t: i for i, t in enumerate(tokens)}
        w.add_bos_token_id(ids["<|endoftext|>"])
        w.add_eos_token_id(ids["<|endoftext|>"])
        w.add_pad_token_id(ids["<|endoftext|>"])
        w.add_add_bos_token(False)
        w.add_uint32(gguf.Keys.Tokenizer.FIM_PRE_ID, ids["<|fim_prefix|>"])
        w.add_uint32(gguf.Keys.Tokenizer.FIM_SUF_ID, ids["<|fim_suffix|>"])
        w.add_uint32(gguf.Keys.Tokenizer.FIM_MID_ID, ids["<|fim_middle|>"])
        w.add_uint32(gguf.Keys.Tokenizer.FIM_PAD_ID, ids["<|fim_pad|>"])
        w.add_uint32(gguf.Keys.Tokenizer.FIM_REP_ID, ids["<|repo_name|>"])
        w.add_uint32(gguf.Keys.Tokenizer.FIM_SEP_ID, ids["<|file_sep|>"])
    if chat_template:
        w.add_chat_template(CHATML_TEMPLATE)

    n_vocab = len(tokens)
    w.add_tensor("token_embd.weight", _rand(rng, n_vocab, N_EMBD, scale=0.5))
    w.add_tensor("output_norm.weight", np.ones(N_EMBD, dtype=np.float32))
    output = _rand(rng, n_vocab, N_EMBD, scale=0.5)
    output[_silenced(tokens, arch)] = 0.0
    w.add_tensor("output.weight", output)
    for i in range(N_LAYER):
        p = f"blk.{i}."
        w.add_tensor(p + "attn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        for t in ("attn_q", "attn_k", "attn_v", "attn_output"):
            w.add_tensor(p + t + ".weight", _rand(rng, N_EMBD, N_EMBD))
        if arch == "qwen2":
            for t in ("attn_q", "attn_k", "attn_v"):
                w.add_tensor(p + t + ".bias", np.zeros(N_EMBD, dtype=np.float32))
        w.add_tensor(p + "ffn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        w.add_tensor(p + "ffn_gate.weight", _rand(rng, N_FF, N_EMBD))
        w.add_tensor(p + "ffn_up.weight", _rand(rng, N_FF, N_EMBD))
        w.add_tensor(p + "ffn_down.weight", _rand(rng, N_EMBD, N_FF))

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
