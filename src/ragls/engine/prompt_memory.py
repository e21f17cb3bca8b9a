"""What a completion engine remembers between requests to keep prompts stable and well sized."""

from __future__ import annotations

import threading

from ragls.indexing.records import content_hash
from ragls.lru import LRUCache
from ragls.models.backend import GenerationResult
from ragls.retrieval.types import Snippet

STICKY_TOP = 3  # the previous context is kept while the new top snippets are all in it
DEFAULT_READ_TPS = 120.0  # prompt tokens/s assumed for a local model before the first measurement


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
