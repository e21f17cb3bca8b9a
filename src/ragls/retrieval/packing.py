"""Greedy packing of fused candidates into a token budget, condensing long definitions."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from ragls.filetypes import comment_prefix
from ragls.models.backend import estimate_tokens
from ragls.retrieval.fusion import Fused
from ragls.retrieval.types import Snippet

logger = logging.getLogger(__name__)

CountTokens = Callable[[str], int]

BODIES = 2  # whole definitions added after the stubs, when the budget allows
FILL_MAX_LINES = 8  # past top_k, only candidates this short fill the rest of the budget


def _indent_of(lines: Sequence[str]) -> str:
    """Indentation of the body: the first indented line after the header, else 4 spaces."""
    head = lines[0] if lines else ""
    base = len(head) - len(head.lstrip())
    for ln in lines[1:]:
        if ln.strip():
            ind = len(ln) - len(ln.lstrip())
            if ind > base:
                return ln[:ind]
    return head[:base] + "    "


def head_lines_for(text: str, signature: str = "", doc: str = "", minimum: int = 3) -> int:
    """How many leading lines hold the signature and docstring (bounded)."""
    lines = text.split("\n")
    n = signature.count("\n") + 1 if signature else 1
    if not signature:  # the header ends at the first line that opens a body
        for i, ln in enumerate(lines[:8]):
            if ln.rstrip().endswith((":", "{")):
                n = i + 1
                break
    if doc:
        n += doc.count("\n") + 1 + (2 if '"""' in text or "'''" in text else 0)
    return max(minimum, min(n + 1, 12))


def condense(text: str, path: str, *, signature: str = "", doc: str = "", keep: int | None = None) -> str:
    """Signature + docstring + first lines, then a comment saying how much was left out."""
    lines = text.split("\n")
    n = keep if keep is not None else head_lines_for(text, signature, doc)
    if n >= len(lines):
        return text
    left = len(lines) - n
    marker = f"{_indent_of(lines)}{comment_prefix(path=path)} ... ({left} more lines)"
    return "\n".join([*lines[:n], marker])


def pack(
    fused: Sequence[Fused],
    *,
    budget_tokens: int,
    top_k: int,
    count_tokens: CountTokens = estimate_tokens,
    max_snippet_lines: int = 60,
    signature_only_over_lines: int = 40,
    fill_budget: bool = False,
) -> list[Snippet]:
    """Best first, greedily: full text if it fits, else condensed if that fits, else skip.

    `fill_budget`: once `top_k` snippets are in, keep adding the next candidates that are
    compact (stubs and definitions of at most FILL_MAX_LINES lines) while the budget lasts,
    so a larger budget buys more definitions instead of nothing.

    Stubs (headers of long definitions, see `stubs`) are packed as they are; then, budget
    and `top_k` permitting, the whole bodies of the best BODIES stubs follow as their own
    snippets (real ranges), before the remaining candidates fill what is left.

    A definition longer than `signature_only_over_lines` is condensed unless it is the
    best candidate; text longer than `max_snippet_lines` is always cut. The sum of
    `count_tokens(snippet.text)` never exceeds `budget_tokens`.
    """
    out: list[Snippet] = []
    used = 0
    reserve = min(BODIES, top_k // 4)  # slots for whole bodies of the best stubs
    queue = list(enumerate(fused))
    done = 0

    def fill(slots: int) -> None:
        nonlocal used, done
        while done < len(queue) and len(out) < slots and budget_tokens - used > 0:
            rank, f = queue[done]
            done += 1
            snippet = _fit(f, rank, budget_tokens - used, count_tokens,
                           max_snippet_lines, signature_only_over_lines)
            if snippet is not None:
                out.append(snippet)
                used += count_tokens(snippet.text)

    fill(top_k - reserve)
    for f in [f for f in fused if f.cand.full_end is not None and f.cand.body][:reserve]:
        if len(out) >= top_k:
            break
        c = f.cand
        cost = count_tokens(c.body)
        if used + cost <= budget_tokens and c.full_end is not None:
            out.append(Snippet(path=c.path, start_line=c.start_line, end_line=c.full_end, score=f.score,
                               sources=list(f.sources), text=c.body, symbol=c.symbol))
            used += cost
    fill(top_k)
    if fill_budget:
        for rank, f in queue[done:]:
            left = budget_tokens - used
            if left <= 0:
                break
            if f.cand.end_line - f.cand.start_line + 1 > FILL_MAX_LINES:
                continue
            snippet = _fit(f, rank, left, count_tokens, max_snippet_lines, signature_only_over_lines)
            if snippet is not None:
                out.append(snippet)
                used += count_tokens(snippet.text)
    logger.debug("packed %d of %d candidates into %d/%d tokens", len(out), len(fused), used, budget_tokens)
    return out


def _fit(
    f: Fused, rank: int, left: int, count_tokens: CountTokens,
    max_snippet_lines: int, signature_only_over_lines: int,
) -> Snippet | None:
    """The candidate's text, or its condensed form, if one fits in `left` tokens."""
    c = f.cand
    text = c.text
    lines = text.count("\n") + 1
    if lines > max_snippet_lines:
        text = condense(text, c.path, keep=max_snippet_lines - 1)
    options = [text]
    if lines > signature_only_over_lines and rank > 0:
        options = []
    short = condense(c.text, c.path, signature=c.signature, doc=c.doc)
    if short not in options:
        options.append(short)
    for option in options:
        if count_tokens(option) <= left:
            return Snippet(path=c.path, start_line=c.start_line, end_line=c.end_line, score=f.score,
                           sources=list(f.sources), text=option, symbol=c.symbol)
    return None
