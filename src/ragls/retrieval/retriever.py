"""The retrieval pipeline: cursor -> graph -> lexical -> dense -> fusion -> packing.

Each stage is timed; cancellation is checked between stages; a failing source is
logged and skipped. Dense retrieval (the query embedding is the slowest step; ONNX
releases the GIL) runs on a worker thread beside graph and lexical, and is dropped
when it is not done within the latency budget or when there are no vectors.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING, Any

from ragls.cancel import NEVER, CancelToken
from ragls.errors import Cancelled, RaglsError
from ragls.indexing.records import ChunkRow
from ragls.models.backend import estimate_tokens
from ragls.retrieval.body_context import attach_body
from ragls.retrieval.cursor import CursorContext, build_context
from ragls.retrieval.dense_source import dense_candidates, has_vectors
from ragls.retrieval.fusion import fuse
from ragls.retrieval.graph_source import graph_candidates
from ragls.retrieval.lexical_source import lexical_candidates, recent_candidates
from ragls.retrieval.packing import pack
from ragls.retrieval.types import Candidate, CursorQuery, RetrievalConfig, RetrievalResult

if TYPE_CHECKING:
    from ragls.indexing.vectors import VectorStore
    from ragls.indexing.workspace import WorkspaceIndex
    from ragls.models.embeddings import Embedder

logger = logging.getLogger(__name__)


class Retriever:
    """Finds the pieces of the repository the code at a cursor needs, within a token budget."""

    def __init__(
        self,
        index: WorkspaceIndex,
        embedder: Embedder | None = None,
        vectors: VectorStore | None = None,
        config: RetrievalConfig | None = None,
        count_tokens: Callable[[str], int] | None = None,
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.vectors = vectors
        self.config = config or RetrievalConfig()
        self.count_tokens = count_tokens or estimate_tokens
        self._dense_pool: ThreadPoolExecutor | None = None
        self._dense_last: Future[list[Candidate]] | None = None
        self._dense_lock = threading.Lock()

    def retrieve(
        self,
        query: CursorQuery,
        *,
        top_k: int | None = None,
        budget_tokens: int | None = None,
        cancel: CancelToken = NEVER,
        sources: Sequence[str] | None = None,
    ) -> RetrievalResult:
        """Ranked, packed snippets for `query`; raises WorkspaceError for a bad query, Cancelled."""
        cfg = self.config
        wanted = tuple(sources) if sources is not None else tuple(cfg.sources)
        t0 = time.perf_counter()
        timings: dict[str, float] = {}

        def lap(name: str, start: float) -> float:
            now = time.perf_counter()
            timings[name] = round((now - start) * 1000.0, 3)
            return now

        cancel.raise_if_cancelled()
        ctx = build_context(self.index, query, cfg)
        if cfg.body_signals and attach_body(ctx) is not None and sources is None:
            wanted = tuple(s for s in wanted if s in cfg.body_sources)
        t = lap("cursor", t0)
        chunk_memo: dict[str, list[ChunkRow]] = {}
        callers_deadline = t0 + cfg.latency_budget_ms * 0.4 / 1000.0  # callers are optional

        def chunks_in(path: str) -> list[ChunkRow]:
            rows = chunk_memo.get(path)
            if rows is None:
                rows = chunk_memo[path] = self.index.chunks_in(path)
            return rows

        ranked: dict[str, list[Candidate]] = {}
        dense_job = None
        if self._enabled("dense", wanted):  # the query embedding runs beside graph and lexical
            dense_job = self._start_dense(ctx, t0)
            if dense_job is None:
                timings["dense"] = 0.0
        stages: list[tuple[str, Callable[[], list[Candidate]]]] = [
            ("graph", lambda: graph_candidates(self.index, ctx, cfg, chunks_in, deadline=callers_deadline)),
            ("lexical", lambda: lexical_candidates(self.index, ctx, cfg)),
            ("recent", lambda: recent_candidates(self.index, ctx, cfg)),
        ]
        for name, run in stages:
            if not self._enabled(name, wanted):
                continue
            cancel.raise_if_cancelled()
            ranked[name] = self._run_source(name, run)
            t = lap(name, t)
        if dense_job is not None:
            cancel.raise_if_cancelled()
            left_s = max(0.0, cfg.latency_budget_ms / 1000.0 - (time.perf_counter() - t0))
            try:
                ranked["dense"] = dense_job.result(timeout=left_s)
            except FutureTimeout:
                logger.debug("dense retrieval skipped: not done within the latency budget")
            except Exception:
                logger.warning("retrieval source dense failed", exc_info=True)
            t = lap("dense", t)

        cancel.raise_if_cancelled()
        fused = fuse(
            ranked, weights=cfg.weights, rrf_k=cfg.rrf_k, current_path=ctx.path,
            window=(ctx.window_start, ctx.window_end), max_lines=cfg.max_snippet_lines, lead=cfg.graph_lead,
        )
        t = lap("fusion", t)
        snippets = pack(
            fused,
            budget_tokens=cfg.budget_tokens if budget_tokens is None else budget_tokens,
            top_k=cfg.top_k if top_k is None else top_k,
            count_tokens=self.count_tokens,
            max_snippet_lines=cfg.max_snippet_lines,
            signature_only_over_lines=cfg.signature_only_over_lines,
            fill_budget=cfg.fill_budget,
        )
        lap("packing", t)
        elapsed = (time.perf_counter() - t0) * 1000.0
        logger.debug("retrieval %s:%d:%d %.1f ms %s", ctx.path, ctx.line, ctx.col, elapsed, timings)
        return RetrievalResult(snippets=snippets, elapsed_ms=round(elapsed, 3), timings=timings)

    def context(self, query: CursorQuery) -> CursorContext:
        """What the cursor sees (validated), for callers that build prompts from the buffer."""
        return build_context(self.index, query, self.config)

    def _start_dense(self, ctx: CursorContext, t0: float) -> Future[list[Candidate]] | None:
        """Submit dense retrieval to the worker; None when over budget or the worker is busy."""
        if (time.perf_counter() - t0) * 1000.0 >= self.config.latency_budget_ms:
            return None
        with self._dense_lock:
            if self._dense_last is not None and not self._dense_last.done():
                logger.debug("dense worker still busy with an older request; skipping dense")
                return None
            if self._dense_pool is None:
                self._dense_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ragls-dense")
            job = self._dense_pool.submit(
                dense_candidates, self.index, ctx, self.config, self.embedder, self.vectors
            )
            self._dense_last = job
            return job

    def close(self) -> None:
        """Stop the dense worker (it finishes the job in hand)."""
        with self._dense_lock:
            if self._dense_pool is not None:
                self._dense_pool.shutdown(wait=False)
                self._dense_pool = None

    def _enabled(self, name: str, wanted: tuple[str, ...]) -> bool:
        if name == "recent":  # recent buffers ride along with lexical matching
            return "recent" in wanted or "lexical" in wanted
        if name == "dense":
            return "dense" in wanted and self.embedder is not None and has_vectors(self.vectors)
        return name in wanted

    @staticmethod
    def _run_source(name: str, run: Callable[[], Any]) -> list[Candidate]:
        try:
            return list(run())
        except (Cancelled, KeyboardInterrupt):
            raise
        except RaglsError as exc:
            logger.warning("retrieval source %s failed: %s", name, exc)
        except Exception:
            logger.warning("retrieval source %s failed", name, exc_info=True)
        return []
