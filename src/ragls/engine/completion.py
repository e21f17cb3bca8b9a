"""Inline completion: retrieve cross-file context, build a FIM prompt, generate, clean up, ground.

Each stage is timed under the request (retrieval_ms, prompt_ms, generation_ms,
postprocess_ms) so a slow completion can be explained from the log.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ragls.cancel import NEVER, CancelToken
from ragls.engine.buffer import split_at_cursor, window
from ragls.engine.grounding import ungrounded_names
from ragls.engine.prompt_fit import fit_items, token_limit, trim_lines
from ragls.errors import WorkspaceError
from ragls.indexing.records import content_hash
from ragls.models.backend import GenerationRequest
from ragls.models.fim import ContextFile, build_prompt, stop_sequences
from ragls.models.postprocess import is_unit_complete, postprocess
from ragls.retrieval.types import CursorQuery, Snippet

if TYPE_CHECKING:
    from ragls.indexing.workspace import WorkspaceIndex
    from ragls.models.backend import CompletionBackend
    from ragls.retrieval.retriever import Retriever

log = logging.getLogger(__name__)

PREFIX_LINES = 60  # lines of the current buffer before the cursor that go into the prompt
SUFFIX_LINES = 20
# The prefix window starts on a multiple of this many lines, so moving the cursor down a line
# does not change the start of the prompt (and llama.cpp can reuse its KV cache).
WINDOW_ALIGN = 16
STICKY_TOP = 3  # the previous context is kept while the new top snippets are all in it


def _key(s: Snippet) -> tuple[str, int, int, str]:
    return (s.path, s.start_line, s.end_line, content_hash(s.text))


class StickyContext:
    """Keeps a document's context stable across keystrokes.

    Local models re-read the whole prompt after its first changed token. Retrieval for two
    nearby cursors returns nearly the same snippets in a slightly different order; reusing
    the previous list verbatim while the new best snippets are all in it keeps the prompt's
    long context head identical, so only the code near the cursor is evaluated again.
    """

    def __init__(self, max_documents: int = 32) -> None:
        self._recent: OrderedDict[str, list[Snippet]] = OrderedDict()
        self._max = max_documents
        self._lock = threading.Lock()

    def choose(self, path: str, snippets: list[Snippet]) -> list[Snippet]:
        with self._lock:
            previous = self._recent.get(path)
        if not previous or not snippets:
            return snippets
        old = {_key(s) for s in previous}
        new = {_key(s) for s in snippets}
        top_kept = all(_key(s) in old for s in snippets[:STICKY_TOP])
        # text of the current file may have been edited since: never reuse a stale piece of it
        fresh = all(_key(s) in new for s in previous if s.path == path)
        return list(previous) if top_kept and fresh else snippets

    def remember(self, path: str, snippets: list[Snippet]) -> None:
        with self._lock:
            self._recent[path] = list(snippets)
            self._recent.move_to_end(path)
            while len(self._recent) > self._max:
                self._recent.popitem(last=False)


@dataclass
class CompletionResult:
    completion: str
    model: str
    context: list[Snippet]
    elapsed_ms: float
    timings: dict[str, float] = field(default_factory=dict)
    ungrounded: list[str] = field(default_factory=list)
    raw: str = ""  # the model's text before post-processing (for debugging and benchmarks)

    def to_json(self) -> dict[str, Any]:
        return {
            "completion": self.completion,
            "model": self.model,
            "context": [s.to_json() for s in self.context],
            "elapsed_ms": round(self.elapsed_ms, 3),
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "ungrounded": list(self.ungrounded),
        }


class CompletionEngine:
    """Turns a cursor into a completion with the context that was used to make it."""

    def __init__(
        self,
        index: WorkspaceIndex,
        retriever: Retriever,
        backend: CompletionBackend,
        *,
        budget_tokens: int = 1024,
        max_tokens: int = 64,
        temperature: float = 0.1,
        stable_prompts: bool = True,
    ) -> None:
        self.index = index
        self.retriever = retriever
        self.backend = backend
        self.budget_tokens = budget_tokens
        self.max_tokens = max_tokens
        self.temperature = temperature
        # keep prompts stable across keystrokes (sticky context, aligned window); off only to
        # measure what it saves (bench/typing_bench.py)
        self.stable_prompts = stable_prompts
        self._sticky = StickyContext()

    def complete(
        self,
        query: CursorQuery,
        *,
        no_context: bool = False,
        cancel: CancelToken = NEVER,
        context_override: list[Snippet] | None = None,
    ) -> CompletionResult:
        """Complete at `query`; `context_override` replaces retrieval (for A/B benchmarks)."""
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        buffer = query.text if query.text is not None else self.index.read_text(query.path)
        if buffer is None:
            raise WorkspaceError(f"cannot read {query.path}")
        prefix, suffix = split_at_cursor(buffer, query.line, query.col)
        language = self.index.language_of(query.path) or _language_for(query.path)

        snippets: list[Snippet] = []
        t = time.perf_counter()
        if context_override is not None:
            snippets = list(context_override)
        elif not no_context:
            result = self.retriever.retrieve(
                replace(query, text=buffer), budget_tokens=self.budget_tokens, cancel=cancel
            )
            snippets = result.snippets
        timings["retrieval_ms"] = (time.perf_counter() - t) * 1000
        cancel.raise_if_cancelled()

        t = time.perf_counter()
        if self.stable_prompts:
            snippets = self._sticky.choose(query.path, snippets)
        align = WINDOW_ALIGN if self.stable_prompts else 1
        prompt_prefix, prompt_suffix = window(prefix, suffix, PREFIX_LINES, SUFFIX_LINES, align=align)
        limit = token_limit(self.backend, self.max_tokens)
        if limit is not None:  # the code around the cursor always gets at least half the window
            prompt_prefix = trim_lines(self.backend, prompt_prefix, limit // 2, keep="end")
            prompt_suffix = trim_lines(self.backend, prompt_suffix, limit // 8, keep="start")
        template = self.backend.template

        def render(chosen: Sequence[Snippet]) -> str:
            return build_prompt(
                template,
                prefix=prompt_prefix,
                suffix=prompt_suffix,
                # Least relevant first: the best snippet ends up closest to the code being written.
                context=[ContextFile(s.path, s.text) for s in reversed(chosen)],
                path=query.path,
                language=language,
            )

        snippets, prompt = fit_items(self.backend, snippets, render, self.max_tokens)
        self._sticky.remember(query.path, snippets)
        timings["prompt_ms"] = (time.perf_counter() - t) * 1000

        t = time.perf_counter()
        request = GenerationRequest(
            prompt=prompt,
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            stop=stop_sequences(template),
        )
        generated = self.backend.generate(
            request,
            cancel=cancel,
            on_text=lambda text: is_unit_complete(text, prompt_prefix, language or "", suffix=prompt_suffix),
        )
        timings["generation_ms"] = (time.perf_counter() - t) * 1000
        cancel.raise_if_cancelled()

        t = time.perf_counter()
        completion = postprocess(generated.text, prefix=prefix, suffix=suffix, language=language or "")
        ungrounded = (
            ungrounded_names(
                completion, language=language or "", path=query.path, buffer=buffer, index=self.index
            )
            if completion
            else []
        )
        timings["postprocess_ms"] = (time.perf_counter() - t) * 1000
        if ungrounded:
            log.info("completion at %s:%d calls unknown names: %s", query.path, query.line, ungrounded)
        elapsed = (time.perf_counter() - t0) * 1000
        log.debug(
            "completion %s:%d:%d retrieval_ms=%.1f prompt_ms=%.1f generation_ms=%.1f snippets=%d",
            query.path,
            query.line,
            query.col,
            timings["retrieval_ms"],
            timings["prompt_ms"],
            timings["generation_ms"],
            len(snippets),
        )
        return CompletionResult(
            completion=completion,
            model=self.backend.name,
            context=snippets,
            elapsed_ms=elapsed,
            timings=timings,
            ungrounded=ungrounded,
            raw=generated.text,
        )


def _language_for(path: str) -> str | None:
    from ragls.indexing.languages import language_for_path

    return language_for_path(path)
