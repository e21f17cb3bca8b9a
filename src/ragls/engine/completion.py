"""Inline completion: retrieve cross-file context, build a FIM prompt, generate, clean up, ground.

What makes it fast on two cores: the prompt is ordered so that everything that stays the same
while the user types (context, then the file up to the cursor line) comes first and is handed
to the model as a stable head, which llama.cpp keeps in its KV cache (and which is warmed in
the background before the user asks); only the cursor line, a short suffix and the FIM markers
are read per keystroke. Typing what the suggestion predicted is answered without the model.
The prompt's size follows the loaded model's measured prompt speed (a cold-prompt time, not a
fixed token count). Each stage is timed (retrieval_ms, prompt_ms, generation_ms, ...).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from ragls.cancel import NEVER, CancelToken
from ragls.engine.buffer import extract_code
from ragls.engine.code_window import CodeBudget, CodeWindow
from ragls.engine.completion_prompt import (
    HEAD_SHARE,
    MIN_CODE_TOKENS,
    MIN_CONTEXT_TOKENS,
    PREFIX_SHARE,
    SUFFIX_SHARE,
    WINDOW_ALIGN,
    CompletionResult,
    Prompt,
    avoid_at_start,
    chat_messages,
    gains_from_context,
    heal_cut,
    stable_head,
)
from ragls.engine.context_layout import ContextLayout, context_files, not_shown
from ragls.engine.grounding import grounded, ungrounded_names
from ragls.engine.prompt_memory import DEFAULT_READ_TPS, ReadSpeed, StableBudget, StickyContext
from ragls.engine.typed_ahead import TypedAhead
from ragls.errors import WorkspaceError
from ragls.filetypes import language_for_path
from ragls.lru import LRUCache
from ragls.models.backend import GenerationRequest, GenerationResult
from ragls.models.fim import build_prompt, stop_sequences
from ragls.models.postprocess import UnitEnd, open_brackets, postprocess
from ragls.retrieval.cursor import Cursor
from ragls.retrieval.types import CursorQuery, Snippet

if TYPE_CHECKING:
    from ragls.indexing.workspace import WorkspaceIndex
    from ragls.models.backend import CompletionBackend
    from ragls.retrieval.retriever import Retriever

logger = logging.getLogger(__name__)

# A request whose prompt head is not cached and would take longer than LEAN_READ_MS to read
# (a file just opened, a jump) is answered from a lean prompt (no cross-file context, about
# LEAN_PROMPT_MS of reading, the first line only) while the full head is warmed behind it.
LEAN_READ_MS = 1000.0
LEAN_PROMPT_MS = 1000.0
VOCAB_WAIT_S = 5.0  # a one-shot request waits this long at most for token healing's vocabulary


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
        cold_prompt_ms: float | None = 3000.0,
        prompt_style: str = "fim",
        repo_name: str | None = None,
        lean_read_ms: float | None = None,
    ) -> None:
        self.index = index
        self.retriever = retriever
        self.backend = backend
        self.budget_tokens = budget_tokens
        self.max_tokens = max_tokens
        self.temperature = temperature
        # keep prompts stable across keystrokes (sticky context, aligned window, stable head);
        # off only to measure what it saves (bench/typing_bench.py)
        self.stable_prompts = stable_prompts
        # the prompt is sized so that reading it cold takes about this long (None: token budget only)
        self.cold_prompt_ms = cold_prompt_ms
        # the repository's name at the head of repo-level FIM prompts (Qwen's <|repo_name|>): with
        # it the 0.5B model's first lines with ragls context went from ES 0.253 to 0.295
        # (bench/completion_bench.py, 40 empty-body tasks)
        self.repo_name = repo_name
        # "fim": the model's fill-in-the-middle format; "chat": an instruction with the code and a
        # cursor marker, for models without FIM tokens (on the 0.5B model's 60 empty-body tasks
        # chat scored ES 0.184 against FIM's 0.297: bench/completion_bench.py --methods chat)
        self.prompt_style = prompt_style
        self.context_layout = ContextLayout()
        self.prefix_share = PREFIX_SHARE  # of the prompt, for the code before the cursor
        self.head_share = HEAD_SHARE  # at most this share of the prompt for the file's imports
        self.mend_window = True  # the scope headers above the window (code_window.py)
        self.suffix_share = SUFFIX_SHARE  # of the prompt, for the code after the cursor
        self.min_code_tokens = MIN_CODE_TOKENS  # the code's floor before context gets any
        self.own_block = True  # the suffix stops at the next definition outside the cursor's block
        # token healing: the cursor line's last space or tab is left out of the prompt and the
        # answer held to begin with it (models/answer_start.py); off only to measure it
        self.heal = True
        # in the editor, answer from a lean prompt when the full one would take longer than this
        # to read (None: never, e.g. a one-shot CLI request that has no next keystroke)
        self.lean_read_ms = lean_read_ms
        self.read_speed = ReadSpeed(getattr(backend, "read_tps_guess", DEFAULT_READ_TPS))
        self._full_budget, self._lean_budget = StableBudget(), StableBudget()
        self.typed_ahead = TypedAhead()
        self._sticky = StickyContext()
        self._line_context: LRUCache[tuple[str, int, int, int], list[Snippet]] = LRUCache(64)
        self._code = CodeWindow(backend)

    # --- the request path -------------------------------------------------------------------

    def complete(
        self,
        query: CursorQuery,
        *,
        no_context: bool = False,
        cancel: CancelToken = NEVER,
        context_override: list[Snippet] | None = None,
        override_head: bool = False,
    ) -> CompletionResult:
        """Complete at `query`; `context_override` replaces retrieval (for A/B benchmarks).

        An override's prompt shows the plain code before the cursor, unless `override_head`
        gives it the file's imports and scope headers in front, as retrieval's prompt has.
        """
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        cursor = self._cursor(query)
        ab_test = no_context or context_override is not None
        ahead = None if ab_test else self.typed_ahead_result(query, cursor)
        if ahead is not None:
            return ahead
        language = self.index.language_of(query.path) or language_for_path(query.path)
        snippets = self._context(query, cursor, language, no_context, context_override, cancel, timings)
        cancel.raise_if_cancelled()

        t = time.perf_counter()
        prompt = self._prompt(query.path, cursor, language, snippets,
                              head=_file_head(no_context, context_override, override_head))
        full = None if ab_test else self._lean_instead(prompt, cursor, language, query.path, timings)
        if full is not None:
            prompt, full = full, prompt
        timings["prompt_ms"] = (time.perf_counter() - t) * 1000

        t = time.perf_counter()
        generated = self._generate(prompt, language, cancel, first_line=full is not None)
        timings["generation_ms"] = (time.perf_counter() - t) * 1000
        if full is not None:  # read the full prompt's head while the user looks at the lean answer
            warm = getattr(self.backend, "warm", None)
            if warm is not None:
                warm(full.text[: full.stable_chars])
        timings["model_prompt_ms"] = generated.prompt_ms
        cancel.raise_if_cancelled()

        t = time.perf_counter()
        completion, ungrounded = self._ground(query, cursor, language, prompt, generated, cancel, timings)
        timings["postprocess_ms"] = (time.perf_counter() - t) * 1000 - timings.get("resample_ms", 0.0)
        if not ab_test:
            self.typed_ahead.remember(query.path, cursor, completion, generated.model, prompt.context)
        elapsed = (time.perf_counter() - t0) * 1000
        logger.debug("completion %s:%d:%d %s prompt=%d cached=%d snippets=%d", query.path, query.line,
                     query.col, {k: round(v, 1) for k, v in timings.items()}, generated.prompt_tokens,
                     generated.cached_tokens, len(prompt.context))
        return CompletionResult(
            completion=completion, model=generated.model, context=prompt.context, elapsed_ms=elapsed,
            timings=timings, ungrounded=ungrounded, raw=generated.text,
            prompt_tokens=generated.prompt_tokens, cached_tokens=generated.cached_tokens,
            source="lean" if full is not None else "model",
        )

    def prompt_for(self, query: CursorQuery, *, no_context: bool = False,
                   context_override: list[Snippet] | None = None, override_head: bool = False) -> Prompt:
        """The full prompt `complete` builds for `query` (a benchmark scores a line under it)."""
        return self._full_prompt(query, no_context, context_override, override_head)[2]

    def typed_ahead_result(self, query: CursorQuery, cursor: Cursor | None = None) -> CompletionResult | None:
        """The rest of a suggestion whose beginning the user typed (no model), or None."""
        t0 = time.perf_counter()
        hit = self.typed_ahead.lookup(query.path, cursor or self._cursor(query))
        if hit is None:
            return None
        shown, rest = hit
        ms = (time.perf_counter() - t0) * 1000
        return CompletionResult(rest, shown.model, shown.context, ms, {"typed_ahead_ms": ms},
                                source="typed-ahead")

    def warm(self, query: CursorQuery) -> int:
        """Read the stable head of the prompt for `query` into the model's cache, in the background
        (a document opened, the cursor moved); the head's length in characters (0: cannot warm)."""
        warm = getattr(self.backend, "warm", None)
        if warm is None:
            return 0
        cursor, language, prompt = self._full_prompt(query)
        open_brackets(cursor.prefix, language or "")  # lexes the lines above once, for postprocess
        if self.lean_read_ms is not None:  # built now, the lean prompt costs a request nothing
            self._lean_prompt(query.path, cursor, language)
        warm(prompt.text[: prompt.stable_chars])
        return prompt.stable_chars

    # --- steps -------------------------------------------------------------------------------

    def _full_prompt(self, query: CursorQuery, no_context: bool = False,
                     override: list[Snippet] | None = None,
                     override_head: bool = False) -> tuple[Cursor, str | None, Prompt]:
        cursor = self._cursor(query)
        language = self.index.language_of(query.path) or language_for_path(query.path)
        snippets = self._context(query, cursor, language, no_context, override, NEVER, {})
        return cursor, language, self._prompt(query.path, cursor, language, snippets,
                                              head=_file_head(no_context, override, override_head))

    def _cursor(self, query: CursorQuery) -> Cursor:
        buffer = query.text if query.text is not None else self.index.read_text(query.path)
        if buffer is None:
            raise WorkspaceError(f"cannot read {query.path}")
        return Cursor.at(buffer, query.line, query.col)

    def prompt_tokens_target(self) -> int | None:
        """Prompt tokens that the loaded model reads in the cold-prompt time (None: no limit), at
        most what its window holds beside the answer."""
        n_ctx = getattr(self.backend, "n_ctx", None)
        if self.cold_prompt_ms is None or n_ctx is None:
            return None
        fits = max(64, n_ctx - self.max_tokens - 64)  # the FIM markers and path need room too
        return min(fits, self._full_budget.follow(self.read_speed.tps * self.cold_prompt_ms / 1000, 256))

    def context_budget(self) -> int:
        """Tokens of cross-file context a prompt may hold now."""
        target = self.prompt_tokens_target()
        if target is None:
            return self.budget_tokens
        budget = min(self.budget_tokens, int(target * (1 - self.code_share(target) - self.suffix_share)))
        return budget if budget >= MIN_CONTEXT_TOKENS else 0

    def code_share(self, target: int | None) -> float:
        """Share of a `target`-token prompt with context for the code before the cursor: the
        prefix share, and at least `min_code_tokens` (a small prompt is all code)."""
        floor = self.min_code_tokens / target if target else 0.0
        return min(1 - self.suffix_share, max(self.prefix_share, floor))

    def _context(self, query: CursorQuery, cursor: Cursor, language: str | None, no_context: bool,
                 override: list[Snippet] | None, cancel: CancelToken,
                 timings: dict[str, float]) -> list[Snippet]:
        t = time.perf_counter()
        try:
            if override is not None or no_context:
                return list(override or [])
            # typing along a line does not change what the code around it needs: one retrieval per
            # line, kept while the cursor passes through a string or comment on it (the prompt's
            # cached head stays); only a new retrieval is skipped where context gains nothing
            key = (query.path, cursor.line, *cursor.around_line)
            cached = self._line_context.get(key) if self.stable_prompts else None
            if cached is not None:
                return cached
            if not gains_from_context(cursor, language):
                return []
            budget = self.context_budget()
            if budget <= 0:
                return []
            query = CursorQuery(query.path, query.line, query.col, cursor.text)
            snippets = self.retriever.retrieve(query, budget_tokens=budget, cancel=cancel).snippets
            if self.stable_prompts:
                snippets = self._sticky.choose(query.path, snippets)
                self._sticky.remember(query.path, snippets)
                self._line_context.put(key, snippets)
            return snippets
        finally:
            timings["retrieval_ms"] = (time.perf_counter() - t) * 1000

    def _lean_instead(self, prompt: Prompt, cursor: Cursor, language: str | None, path: str,
                      timings: dict[str, float]) -> Prompt | None:
        """The lean prompt when reading `prompt`'s head would take longer than `lean_read_ms`."""
        missing = getattr(self.backend, "missing_tokens", None)
        if self.lean_read_ms is None or missing is None or not self.stable_prompts:
            return None
        cold_ms = missing(prompt.text[: prompt.stable_chars]) / self.read_speed.tps * 1000
        timings["cold_ms"] = cold_ms
        if cold_ms <= self.lean_read_ms:
            return None
        return self._lean_prompt(path, cursor, language)

    def _lean_prompt(self, path: str, cursor: Cursor, language: str | None) -> Prompt:
        target = self._lean_budget.follow(self.read_speed.tps * LEAN_PROMPT_MS / 1000, 96)
        return self._prompt(path, cursor, language, [], target=target)

    def _prompt(self, path: str, cursor: Cursor, language: str | None, snippets: list[Snippet],
                target: int | None = None, head: bool = False) -> Prompt:
        target = target or self.prompt_tokens_target()
        n_ctx = getattr(self.backend, "n_ctx", None)
        n_ctx = n_ctx if isinstance(n_ctx, int) else None  # None: a remote model's window is unknown
        prefix, suffix, shown = self._code.build(cursor, language, CodeBudget(
            target,
            share=self.code_share(target) if snippets else 1 - self.suffix_share,  # no context: all code
            head_share=self.head_share if head else 0.0,
            mend=self.mend_window,
            n_ctx=n_ctx,
            align=WINDOW_ALIGN if self.stable_prompts else 1,
            suffix_share=self.suffix_share,
            own_block=self.own_block,
        ))
        snippets = self._code.fit(not_shown(snippets, path, shown, self.context_layout), prefix, suffix,
                                  n_ctx, self.max_tokens)
        heal = heal_cut(prefix) if self._can_heal() else ""
        kept = prefix[: len(prefix) - len(heal)]
        text = build_prompt(
            self.backend.template,
            prefix=kept,
            suffix=suffix,
            context=context_files(snippets, self.context_layout),
            path=path,
            language=language,
            repo=self.repo_name,
        )
        return Prompt(text, stable_head(text, kept, self.backend.template), prefix, suffix, snippets,
                      avoid_at_start(cursor, language), heal)

    def _can_heal(self) -> bool:
        """Whether the backend holds an answer to the healed text. A one-shot request (no lean
        prompt: the CLI, the demo, benchmarks) waits for the vocabulary a model reads after it
        loads; unhealed, the 0.5B model indents an empty line's answer twice."""
        can_heal = getattr(self.backend, "can_heal", None)
        if not (self.heal and self.prompt_style == "fim" and can_heal is not None):
            return False
        return bool(can_heal(VOCAB_WAIT_S) if self.lean_read_ms is None else can_heal())

    def _generate(self, prompt: Prompt, language: str | None, cancel: CancelToken,
                  temperature: float | None = None, seed: int | None = None,
                  first_line: bool = False) -> GenerationResult:
        if self.prompt_style == "chat":
            messages = chat_messages(prompt, language)
            reply = self.backend.chat(messages, max_tokens=self.max_tokens * 2,
                                      temperature=self.temperature if temperature is None else temperature,
                                      cancel=cancel)
            reply.text = extract_code(reply.text)
            return reply
        request = GenerationRequest(
            avoid_start=prompt.avoid,
            heal=prompt.heal,
            prompt=prompt.text,
            max_tokens=self.max_tokens,
            temperature=self.temperature if temperature is None else temperature,
            stop=stop_sequences(self.backend.template),
            interactive=True,
            stable_chars=prompt.stable_chars if self.stable_prompts else 0,
            seed=seed,
        )
        unit_end = UnitEnd(prompt.prefix, language, suffix=prompt.suffix)
        on_text = (lambda text: unit_end(text) or "\n" in text.lstrip()) if first_line else unit_end
        result = self.backend.generate(request, cancel=cancel, on_text=on_text)
        self.read_speed.observe(result)
        return result

    def _ground(self, query: CursorQuery, cursor: Cursor, language: str | None, prompt: Prompt,
                generated: GenerationResult, cancel: CancelToken,
                timings: dict[str, float]) -> tuple[str, list[str]]:
        """The suggestion to show, and the invented names the model wrote (grounding.grounded)."""
        lang = language or ""

        def clean(text: str) -> tuple[str, list[str]]:
            shown = postprocess(text, prefix=cursor.prefix, suffix=cursor.suffix, language=lang)
            names = (ungrounded_names(shown, language=lang, path=query.path, buffer=cursor.text,
                                      index=self.index) if shown else [])
            return shown, names

        def resample() -> str:
            t = time.perf_counter()
            seed = query.line * 1009 + query.col
            again = self._generate(prompt, language, cancel, temperature=0.7, seed=seed)
            timings["resample_ms"] = (time.perf_counter() - t) * 1000
            return again.text

        return grounded(generated.text, clean, resample, where=f"{query.path}:{query.line}")


def _file_head(no_context: bool, override: list[Snippet] | None, override_head: bool) -> bool:
    """Whether the prompt's code starts with the file's imports and scope headers."""
    return not no_context and (override is None or override_head)
