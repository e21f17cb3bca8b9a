"""Fill-in-the-middle prompt formats per model family and the prompt builder.

Prompts put the stable part first (repository context, file path) and the volatile part
(prefix/suffix around the cursor) last, so llama.cpp can reuse its KV cache for the
shared beginning across keystrokes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ragls.filetypes import comment_prefix

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FimTemplate:
    """Special strings of one FIM format.

    ``suffix_first``: the suffix comes before the prefix (Mistral/Codestral SPM order).
    ``path_in_prefix``: the current file's path goes right after the FIM prefix token
    (StarCoder2's repository format) instead of after a file separator.
    """

    name: str
    fim_prefix: str = ""
    fim_suffix: str = ""
    fim_middle: str = ""
    file_sep: str | None = None
    repo_name: str | None = None
    stop: tuple[str, ...] = ()
    supports_fim: bool = True
    suffix_first: bool = False
    path_in_prefix: bool = False


TEMPLATES: dict[str, FimTemplate] = {
    t.name: t
    for t in (
        FimTemplate(
            "qwen25coder", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>",
            file_sep="<|file_sep|>", repo_name="<|repo_name|>",
            stop=("<|endoftext|>", "<|fim_pad|>", "<|file_sep|>", "<|repo_name|>", "<|im_end|>"),
        ),
        FimTemplate(
            "deepseek", "<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>",
            stop=("<｜end▁of▁sentence｜>", "<|EOT|>", "<｜fim▁begin｜>"),
        ),
        FimTemplate(
            "starcoder2", "<fim_prefix>", "<fim_suffix>", "<fim_middle>",
            file_sep="<file_sep>", repo_name="<repo_name>", path_in_prefix=True,
            stop=("<|endoftext|>", "<file_sep>", "<fim_prefix>", "<repo_name>"),
        ),
        FimTemplate("codellama", "<PRE> ", " <SUF>", " <MID>", stop=("<EOT>", "</s>")),
        FimTemplate("codestral", "[PREFIX]", "[SUFFIX]", "", suffix_first=True, stop=("</s>", "[PREFIX]")),
        FimTemplate(
            "codegemma", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>",
            file_sep="<|file_separator|>",
            stop=("<|file_separator|>", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<eos>"),
        ),
        FimTemplate("prefix", supports_fim=False, stop=()),
    )
}


@dataclass(frozen=True)
class ContextFile:
    """A snippet of another workspace file given to the model as context."""

    path: str
    text: str


# name fragments (lower-case, separators removed) -> template
_NAME_HINTS: tuple[tuple[str, str], ...] = (
    ("qwen25coder", "qwen25coder"),
    ("qwen2.5coder", "qwen25coder"),
    ("qwen3coder", "qwen25coder"),
    ("qwencoder", "qwen25coder"),
    ("codeqwen", "qwen25coder"),
    ("deepseekcoder", "deepseek"),
    ("starcoder", "starcoder2"),
    ("codellama", "codellama"),
    ("codestral", "codestral"),
    ("codegemma", "codegemma"),
)

# FIM token strings found in a vocabulary -> template (checked in order)
_TOKEN_HINTS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("<|fim_prefix|>", "<|file_separator|>"), "codegemma"),
    (("<|fim_prefix|>",), "qwen25coder"),
    (("<fim_prefix>",), "starcoder2"),
    (("<｜fim▁begin｜>",), "deepseek"),
    (("[SUFFIX]",), "codestral"),
    (("▁<PRE>",), "codellama"),
    (("<PRE>",), "codellama"),
)

_ARCH_WITH_FIM_IDS = {"qwen2": "qwen25coder", "qwen3": "qwen25coder", "starcoder2": "starcoder2",
                      "gemma": "codegemma", "deepseek2": "deepseek"}


def _squash(text: str) -> str:
    return re.sub(r"[\s_\-]+", "", text.lower())


def detect_template(metadata: Mapping[str, str], model_name: str) -> FimTemplate:
    """Pick the FIM format from GGUF metadata and the model (file) name; fallback "prefix".

    Looks at file name / ``general.name`` / ``general.basename`` hints first, then the FIM
    token strings (key ``ragls.fim_tokens``, filled by catalog's header reader), then the
    presence of ``tokenizer.ggml.fim_pre_token_id`` with the architecture.
    """
    names = " ".join(
        str(metadata.get(k, "")) for k in ("general.name", "general.basename", "general.finetune")
    )
    haystack = _squash(f"{model_name} {names}")
    for hint, tname in _NAME_HINTS:
        if hint in haystack:
            return TEMPLATES[tname]
    tokens = str(metadata.get("ragls.fim_tokens", ""))
    if tokens:
        found = set(tokens.split("\n"))
        for needed, tname in _TOKEN_HINTS:
            if all(n in found for n in needed):
                return TEMPLATES[tname]
    arch = str(metadata.get("general.architecture", ""))
    has_fim_ids = any(
        k in metadata
        for k in ("tokenizer.ggml.fim_pre_token_id", "tokenizer.ggml.prefix_token_id")
    )
    if has_fim_ids:
        if arch in _ARCH_WITH_FIM_IDS:
            return TEMPLATES[_ARCH_WITH_FIM_IDS[arch]]
        if arch == "llama" and "tokenizer.ggml.prefix_token_id" in metadata:
            return TEMPLATES["codellama"]
    logger.debug("no FIM format found for %s (arch %r): using prefix-only prompts", model_name, arch)
    return TEMPLATES["prefix"]


def _as_comments(ctx: Sequence[ContextFile], marker: str) -> str:
    parts = []
    for cf in ctx:
        lines = [f"{marker} path: {cf.path}"]
        lines += [f"{marker} {line}".rstrip() for line in cf.text.rstrip("\n").split("\n")]
        parts.append("\n".join(lines) + "\n")
    return "".join(parts)


def _fim(t: FimTemplate, head: str, prefix: str, suffix: str) -> str:
    if t.suffix_first:
        return f"{t.fim_suffix}{suffix}{t.fim_prefix}{head}{prefix}{t.fim_middle}"
    return f"{t.fim_prefix}{head}{prefix}{t.fim_suffix}{suffix}{t.fim_middle}"


def build_prompt(template: FimTemplate, *, prefix: str, suffix: str, context: Sequence[ContextFile],
                 path: str, language: str | None = None, repo: str | None = None) -> str:
    """The prompt for a completion at the cursor between ``prefix`` and ``suffix``.

    Templates with a file separator get the repository layout (context files, then the
    current file's path, then the FIM part); others get the context as comments with their
    paths at the top. The "prefix" template (no FIM) ends with the prefix; the suffix is unused.
    """
    marker = comment_prefix(language, path)
    if template.file_sep and (context or repo):
        out = []
        if repo and template.repo_name:
            out.append(f"{template.repo_name}{repo}\n")
        for cf in context:
            out.append(f"{template.file_sep}{cf.path}\n{cf.text.rstrip(chr(10))}\n")
        if template.path_in_prefix:
            out.append(template.file_sep + _fim(template, f"{path}\n", prefix, suffix))
        else:
            out.append(f"{template.file_sep}{path}\n" + _fim(template, "", prefix, suffix))
        return "".join(out)
    head = _as_comments(context, marker)
    if not template.supports_fim:
        return f"{head}{marker} path: {path}\n{prefix}"
    if head:
        head += f"{marker} path: {path}\n"
    return _fim(template, head, prefix, suffix)


def stop_sequences(template: FimTemplate) -> list[str]:
    """Strings that end a completion in this format (end-of-text and FIM/file markers)."""
    return list(template.stop)
