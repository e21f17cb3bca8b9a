"""Keeping prompts inside the model's context window.

Local models have a fixed window (n_ctx); a prompt plus the tokens to generate
must fit in it. Context snippets go first (least relevant first), then the
oldest lines of the prefix.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from ragls.indexing.resolve import RESOLVERS

if TYPE_CHECKING:
    from ragls.indexing.workspace import WorkspaceIndex
    from ragls.models.backend import CompletionBackend
    from ragls.retrieval.types import Snippet

T = TypeVar("T")
R = TypeVar("R")
SAFETY_TOKENS = 16  # template tokens, BOS, tokenizer differences between count and eval


def same_language(index: WorkspaceIndex, snippets: Sequence[Snippet], language: str) -> list[Snippet]:
    """The snippets in `language` (or its family): a fix or test prompt for Python showed a
    TypeScript function that shared words with the target, and a small model answers in the
    language it is shown."""
    want = _family(language)
    return [s for s in snippets if _family(index.language_of(s.path) or "") == want]


def _family(language: str) -> str:
    """Languages that share a module system (the resolver's kind: JavaScript, TypeScript, TSX)."""
    return RESOLVERS[language][0] if language in RESOLVERS else language


def token_limit(backend: CompletionBackend, reserve: int) -> int | None:
    """Tokens a prompt may use, or None when the backend has no known window (remote)."""
    n_ctx = getattr(backend, "n_ctx", None)
    if not isinstance(n_ctx, int) or n_ctx <= 0:
        return None
    return max(32, n_ctx - reserve - SAFETY_TOKENS)


def fit_items(
    backend: CompletionBackend,
    items: Sequence[T],
    render: Callable[[Sequence[T]], R],
    reserve: int,
    measure: Callable[[CompletionBackend, R], int] | None = None,
) -> tuple[list[T], R]:
    """The longest best-first prefix of `items` whose rendering fits; (kept items, rendering).

    `measure` counts the tokens of a rendering (default: count_tokens of a string).
    """
    count = measure or (lambda b, text: b.count_tokens(text))  # type: ignore[arg-type]
    limit = token_limit(backend, reserve)
    kept = list(items)
    rendered = render(kept)
    if limit is None:
        return kept, rendered
    while kept and count(backend, rendered) > limit:
        kept.pop()
        rendered = render(kept)
    return kept, rendered


def trim_lines(
    backend: CompletionBackend, text: str, budget_tokens: int, *, keep: str = "end", align: int = 1
) -> str:
    """Drop whole lines until `text` fits `budget_tokens`.

    keep="end" keeps the last lines (a prefix: the cursor line stays); keep="start"
    keeps the first lines (a suffix). With keep="end" and `align` > 1, lines go in blocks of
    `align`, so the kept start stays put while lines are added at the end (a stable prompt head).
    """
    lines = text.split("\n")
    while len(lines) > 1 and backend.count_tokens("\n".join(lines)) > budget_tokens:
        cut = max(1, len(lines) // 4)
        if keep == "end" and align > 1 and len(lines) > align:
            cut = max(align, cut - cut % align)
        lines = lines[cut:] if keep == "end" else lines[:-cut]
    text = "\n".join(lines)
    while text and backend.count_tokens(text) > budget_tokens:  # one enormous line
        text = text[len(text) // 4 :] if keep == "end" else text[: len(text) * 3 // 4]
    return text


CHAT_OVERHEAD_TOKENS = 8  # role markers per message in a chat template


def chat_tokens(backend: CompletionBackend, messages: Sequence[dict]) -> int:
    return sum(backend.count_tokens(m["content"]) + CHAT_OVERHEAD_TOKENS for m in messages)


def chat_max_tokens(
    backend: CompletionBackend, messages: Sequence[dict], want: int, floor: int = 48
) -> int | None:
    """How many tokens a chat reply may use: `want`, or less when the window is short; None if hopeless."""
    n_ctx = getattr(backend, "n_ctx", None)
    if not isinstance(n_ctx, int) or n_ctx <= 0:
        return want
    room = n_ctx - chat_tokens(backend, messages) - SAFETY_TOKENS
    return min(want, room) if room >= floor else None
