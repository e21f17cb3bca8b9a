"""What a completion engine remembers between requests to keep prompts stable and well sized."""

from __future__ import annotations

import threading

from ragls.indexing.records import content_hash
from ragls.lru import LRUCache
from ragls.models.backend import GenerationResult
from ragls.retrieval.types import Snippet

STICKY_TOP = 3  # the previous context is kept while the new top snippets are all in it
DEFAULT_READ_TPS = 120.0  # prompt tokens/s assumed for a local model before the first measurement
BUDGET_BAND = 0.2  # a prompt budget moves only when the read speed asks for 20% more or less
BUDGET_STEP = 32  # ... and then in whole steps of this many tokens


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
        self._recent: LRUCache[str, list[Snippet]] = LRUCache(max_documents)

    def choose(self, path: str, snippets: list[Snippet]) -> list[Snippet]:
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
        self._recent.put(path, list(snippets))


class ReadSpeed:
    """The loaded model's measured prompt speed (tokens/s), a moving average over requests."""

    def __init__(self, prior: float = DEFAULT_READ_TPS) -> None:
        self.tps = prior
        self._lock = threading.Lock()

    def observe(self, res: GenerationResult) -> None:
        if res.read_tokens >= 32 and res.prompt_ms > 0:
            with self._lock:
                self.tps = 0.7 * self.tps + 0.3 * (res.read_tokens / (res.prompt_ms / 1000))


class StableBudget:
    """A prompt's token budget that follows the measured read speed, but only when it changes.

    Each request's read speed is a noisy measurement (a few dozen tokens, a busy machine): a
    budget that followed every one would change the prompt, and void the model's cached head,
    every few requests (with 8 s prompts, warming a file's head then never finished while the
    user typed). So the budget moves only when the speed asks for more than `band` more or less
    than the budget in use, and then in whole `step`s.
    """

    def __init__(self, band: float = BUDGET_BAND, step: int = BUDGET_STEP) -> None:
        self.band, self.step = band, step
        self.tokens: int | None = None
        self._lock = threading.Lock()

    def follow(self, wanted: float, floor: int) -> int:
        """The budget to use when `wanted` tokens fit the time (at least `floor`)."""
        want = max(floor, int(wanted) // self.step * self.step)
        with self._lock:
            if self.tokens is None or abs(want - self.tokens) > self.band * self.tokens:
                self.tokens = want
            return self.tokens
