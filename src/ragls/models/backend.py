"""The completion-backend protocol, its request/result records and the backend factory."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from ragls.cancel import NEVER, CancelToken
from ragls.errors import ConfigError, ModelError
from ragls.models.fim import FimTemplate
from ragls.models.repetition import looping

logger = logging.getLogger(__name__)

FinishReason = Literal["stop", "length", "cancelled", "callback", "preempted"]


@dataclass
class GenerationRequest:
    """One raw completion request: the prompt is already built (see ``fim.build_prompt``)."""

    prompt: str
    max_tokens: int = 128
    temperature: float = 0.2
    stop: list[str] = field(default_factory=list)
    suffix: str | None = None
    n: int = 1
    seed: int | None = None
    # A user is waiting (a completion): it goes before background work and never yields to it.
    interactive: bool = False
    # The first ``stable_chars`` characters stay the same across keystrokes; a local model
    # tokenizes them on their own, so their tokens (and KV cache) never change with the tail.
    stable_chars: int = 0
    # The answer must not begin with any of these strings (e.g. a docstring where the function
    # already has one); local models rule out such first tokens, remote ones ignore it.
    avoid_start: tuple[str, ...] = ()
    # Token healing: the end of the prompt's prefix that the engine left out (an empty line's
    # indentation, half a word). The answer must begin with it and the backend returns only
    # what follows it. Only for backends whose ``can_heal()`` is true (models/answer_start.py).
    heal: str = ""


@dataclass
class GenerationResult:
    """Generated text (stop strings removed), how generation ended, and what the prompt cost."""

    text: str
    model: str
    tokens: int
    finish_reason: str
    elapsed_ms: float
    prompt_tokens: int = 0  # tokens of the prompt (0 when the backend cannot tell)
    cached_tokens: int = 0  # of those, taken from the KV cache instead of being read again
    prompt_ms: float = 0.0  # time spent reading the rest of the prompt

    @property
    def read_tokens(self) -> int:
        return max(0, self.prompt_tokens - self.cached_tokens)


@runtime_checkable
class CompletionBackend(Protocol):
    """What the engine needs from a model: raw completion, chat, token counting."""

    name: str
    template: FimTemplate

    def generate(self, req: GenerationRequest, cancel: CancelToken = NEVER,
                 on_text: Callable[[str], bool] | None = None) -> GenerationResult: ...

    def chat(self, messages: list[dict[str, Any]], max_tokens: int = 512, temperature: float = 0.2,
             cancel: CancelToken = NEVER) -> GenerationResult: ...

    def count_tokens(self, text: str) -> int: ...

    def close(self) -> None: ...


@dataclass
class ModelConfig:
    """Tagged model choice: a local GGUF (path, discovered name, or None = SmolLM2) or a remote endpoint."""

    source: Literal["local", "remote"] = "local"
    model: str | None = None  # completions; None = the default code model for completion
    generation_model: str | None = None  # fixes and tests; None = `model` if set, else the default
    endpoint: str | None = None
    remote_model: str | None = None
    api_key_env: str | None = None
    n_ctx: int = 4096
    threads: int = 2
    template: str | None = None
    lookup_decoding: bool = True  # background answers draft from the prompt (lookup_decoding.py)
    max_tokens: int = 64
    temperature: float = 0.1
    connect_timeout_s: float = 3
    read_timeout_s: float = 30
    cold_prompt_ms: float | None = 3000.0  # completion prompts are sized to be read in this time


CHARS_PER_TOKEN = 3.5  # code, on average, for the tokenizers ragls meets


def estimate_tokens(text: str) -> int:
    """The one token estimate, for when no tokenizer is at hand (remote models, before a load)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def cut_at_stop(text: str, stops: list[str]) -> tuple[str, bool]:
    """Cut ``text`` at the earliest stop string; return (text, whether one was found)."""
    best = -1
    for s in stops:
        if s:
            i = text.find(s)
            if i >= 0 and (best < 0 or i < best):
                best = i
    return (text[:best], True) if best >= 0 else (text, False)


def drain(
    pieces: Iterable[tuple[str, str | None]],
    *,
    stops: list[str],
    cancel: CancelToken,
    on_text: Callable[[str], bool] | None = None,
    yielding: Callable[[], bool] | None = None,
) -> tuple[str, int, str, bool]:
    """The one token loop of every backend.

    ``pieces`` yields (text piece, finish reason or None). Stops at a finish reason, a cancel,
    a stop string, ``on_text`` returning True, ``yielding()`` (background work stepping
    aside), or a loop (``repetition.looping``, checked at each new line and every 16 pieces).
    Returns (text with stop strings cut, pieces seen, finish reason, whether the stream ran out
    without any of those).
    """
    text, tokens, finish = "", 0, "length"
    for piece, reason in pieces:
        if piece:
            tokens += 1
            text += piece
            if ("\n" in piece or tokens % 16 == 0) and looping(text):
                finish = "loop"
                break
        if reason:
            finish = "length" if reason == "length" else "stop"
            break
        if cancel.cancelled:
            finish = "cancelled"
            break
        if piece and stops and cut_at_stop(text, stops)[1]:
            finish = "stop"
            break
        if piece and on_text is not None and on_text(text):
            finish = "callback"
            break
        if yielding is not None and yielding():
            finish = "preempted"
            break
    else:
        text, hit = cut_at_stop(text, stops)
        return text, tokens, "stop" if hit else finish, True
    text, hit = cut_at_stop(text, stops)
    if hit and finish in ("length", "callback", "loop"):
        finish = "stop"
    return text, tokens, finish, False


def held_back(text: str, stops: list[str]) -> int:
    """How many trailing characters might be the start of a stop string (not yet safe to show)."""
    keep = 0
    for s in stops:
        for k in range(min(len(s) - 1, len(text)), 0, -1):
            if text.endswith(s[:k]):
                keep = max(keep, k)
                break
    return keep


def check_gguf_file(path: Path) -> None:
    """Raise ModelError unless ``path`` is a readable file starting with the GGUF magic."""
    if not path.exists():
        raise ModelError(f"model file not found: {path}")
    if not path.is_file():
        raise ModelError(f"model path is not a file: {path}")
    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise ModelError(f"cannot read model file {path}: {exc}") from exc
    if magic != b"GGUF":
        raise ModelError(f"not a GGUF model file (bad magic {magic!r}): {path}")


def model_for_role(config: ModelConfig, role: str) -> str | None:
    """The configured model name or path of a role ("completion" or "generation")."""
    if role == "generation":
        return config.generation_model or config.model
    return config.model


def load_backend(config: ModelConfig, role: str = "completion") -> CompletionBackend:
    """Build the backend that ``config`` names for ``role``; raises ConfigError/ModelError."""
    from ragls.models.fim import TEMPLATES

    if config.template is not None and config.template not in TEMPLATES:
        raise ConfigError(f"unknown FIM template {config.template!r}; known: {', '.join(sorted(TEMPLATES))}")
    if config.source == "remote":
        if not config.endpoint:
            raise ConfigError("remote model source needs an endpoint (e.g. http://127.0.0.1:8080)")
        from ragls.models.remote_openai import RemoteOpenAIBackend

        return RemoteOpenAIBackend(
            config.endpoint, model=config.remote_model or config.model, api_key_env=config.api_key_env,
            connect_timeout_s=config.connect_timeout_s, read_timeout_s=config.read_timeout_s,
            template=config.template or "prefix",
        )
    if config.source != "local":
        raise ConfigError(f"unknown model source {config.source!r} (expected 'local' or 'remote')")
    from ragls.models.catalog import resolve_model

    path = resolve_model(model_for_role(config, role), role=role)
    check_gguf_file(path)
    from ragls.models.local_gguf import LocalGGUFBackend

    return LocalGGUFBackend(path, n_ctx=config.n_ctx, threads=config.threads, template=config.template,
                            lookup=config.lookup_decoding)
