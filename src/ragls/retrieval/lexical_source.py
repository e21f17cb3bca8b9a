"""Lexical candidates: BM25 over the index's chunks, and Jaccard over recently edited buffers.

The query is the prefix window's identifiers split into terms, nearest to the cursor first.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ragls.indexing.tokens import identifiers, lexical_terms
from ragls.retrieval.cursor import CursorContext
from ragls.retrieval.types import Candidate, RetrievalConfig

if TYPE_CHECKING:
    from ragls.indexing.workspace import WorkspaceIndex

logger = logging.getLogger(__name__)

MAX_TERMS = 24  # FTS5 cost grows with the number of OR-ed terms
RECENT_WINDOW = 30  # lines per window cut from a recent buffer
RECENT_STRIDE = 15
RECENT_MIN_JACCARD = 0.08


def query_terms(ctx: CursorContext, max_terms: int = MAX_TERMS) -> list[str]:
    """Distinct lexical terms of the identifiers near the cursor, closest first."""
    out: list[str] = []
    seen: set[str] = set()
    for name, _w in ctx.identifiers:
        for term in lexical_terms(name):
            if term not in seen:
                seen.add(term)
                out.append(term)
        if len(out) >= max_terms:
            break
    return out[:max_terms]


def lexical_candidates(index: WorkspaceIndex, ctx: CursorContext, config: RetrievalConfig) -> list[Candidate]:
    """BM25 hits over other files' chunks (the current file is excluded: it is in the prompt)."""
    terms = query_terms(ctx)
    if not terms:
        return []
    hits = index.lexical_search(terms, limit=config.per_source_limit, exclude_paths=(ctx.path,))
    return [
        Candidate(
            path=row.path, start_line=row.start_line, end_line=row.end_line, text=row.text,
            score=float(score), sources=["lexical"], symbol=row.name, chunk_id=row.chunk_id,
        )
        for row, score in hits
        if row.path != ctx.path
    ]


def jaccard(a: set[str], b: set[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def windows(text: str, size: int = RECENT_WINDOW, stride: int = RECENT_STRIDE) -> list[tuple[int, int, str]]:
    """Overlapping windows of a text: (start_line, end_line, text), 1-based inclusive."""
    lines = text.split("\n")
    out: list[tuple[int, int, str]] = []
    start = 0
    while True:
        end = min(len(lines), start + size)
        out.append((start + 1, end, "\n".join(lines[start:end])))
        if end >= len(lines):
            break
        start += stride
    return out


def recent_candidates(index: WorkspaceIndex, ctx: CursorContext, config: RetrievalConfig) -> list[Candidate]:
    """Windows of the other open/edited buffers (index overlays) that share identifiers."""
    try:
        paths = list(getattr(index, "overlay_paths", lambda: [])())
    except Exception:
        logger.debug("overlay_paths failed", exc_info=True)
        return []
    query = set(identifiers(ctx.window_text))
    out: list[Candidate] = []
    for path in paths:
        if path == ctx.path:
            continue
        text = index.overlay_text(path)
        if not text:
            continue
        best: tuple[float, int, int, str] | None = None
        for start, end, chunk in windows(text):
            score = jaccard(query, set(identifiers(chunk)))
            if score >= RECENT_MIN_JACCARD and (best is None or score > best[0]):
                best = (score, start, end, chunk)
        if best is not None:
            out.append(Candidate(path=path, start_line=best[1], end_line=best[2], text=best[3],
                                 score=best[0], sources=["recent"]))
    out.sort(key=lambda c: -c.score)
    return out[: config.per_source_limit]
