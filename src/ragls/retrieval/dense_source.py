"""Dense candidates: the code before the cursor embedded and looked up in the vector store."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ragls.retrieval.cursor import CursorContext
from ragls.retrieval.types import Candidate, RetrievalConfig

if TYPE_CHECKING:
    from ragls.indexing.workspace import WorkspaceIndex

logger = logging.getLogger(__name__)

QUERY_LINES = 8  # the text nearest the cursor; embedding cost grows with its length
QUERY_CHARS = 240
MIN_COSINE = 0.2


def dense_query_text(ctx: CursorContext, signals: tuple[str, ...] = ()) -> str:
    """The last lines of the prefix window, at most QUERY_CHARS characters, cut at a line.

    For an empty body (`ctx.body`, with the "header_dense" signal): the function's header
    and docstring, which say what the body will do.
    """
    if ctx.body is not None and "header_dense" in signals:
        text = f"{ctx.body.header}\n{ctx.body.doc}".strip()
        return text[:QUERY_CHARS]
    lines = ctx.window_text.split("\n")[-QUERY_LINES:]
    text = "\n".join(lines)
    if len(text) > QUERY_CHARS:
        cut = text[-QUERY_CHARS:]
        nl = cut.find("\n")
        text = cut[nl + 1 :] if 0 <= nl < len(cut) - 1 else cut
    return text


def has_vectors(store: Any) -> bool:
    try:
        return store is not None and len(store) > 0
    except Exception:
        return False


def dense_candidates(
    index: WorkspaceIndex, ctx: CursorContext, config: RetrievalConfig, embedder: Any, store: Any
) -> list[Candidate]:
    """Nearest chunks by cosine; [] when there is no embedder, no store or no vectors."""
    if embedder is None or not has_vectors(store):
        return []
    text = dense_query_text(ctx, config.body_signals)
    if not text.strip():
        return []
    from ragls.models.embeddings import embed_query

    vec = embed_query(embedder, text)
    hits = [(h, s) for h, s in store.search(vec, config.per_source_limit + 10) if s >= MIN_COSINE]
    if not hits:
        return []
    score_of = dict(hits)
    out: list[Candidate] = []
    seen: set[str] = set()
    for row in index.chunks_by_hash([h for h, _ in hits]):
        if row.path == ctx.path or row.chunk_id in seen:  # the current file comes from the buffer
            continue
        seen.add(row.chunk_id)
        out.append(Candidate(
            path=row.path, start_line=row.start_line, end_line=row.end_line, text=row.text,
            score=score_of.get(row.content_hash, 0.0), sources=["dense"], symbol=row.name,
            chunk_id=row.chunk_id,
        ))
    out.sort(key=lambda c: (-c.score, c.path, c.start_line))
    return out[: config.per_source_limit]
