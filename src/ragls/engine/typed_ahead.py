"""Typed-ahead reuse: when the user types what the visible suggestion predicted, the rest of it
is the next suggestion, at once and without the model (llama.vim's cache, by prefix). The
same place asked again is the server's cache, not this.

A suggestion is remembered with the buffer before the cursor and the rest of the cursor line
when it was made. A later cursor whose prefix extends that prefix by exactly the start of the
suggestion (and whose line ends the same way) gets the remainder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ragls.lru import LRUCache

if TYPE_CHECKING:
    from ragls.retrieval.cursor import Cursor

PER_DOCUMENT = 8


@dataclass(frozen=True)
class Shown:
    """A suggestion as it was made."""

    prefix: str
    line_after: str
    text: str
    model: str
    context: list[Any] = field(default_factory=list)


class TypedAhead:
    """The last few suggestions per document, matched by prefix."""

    def __init__(self, documents: int = 64) -> None:
        self._docs: LRUCache[str, list[Shown]] = LRUCache(documents)

    def remember(self, path: str, cursor: Cursor, text: str, model: str, context: list[Any]) -> None:
        if not text:
            return
        shown = [s for s in self._docs.get(path) or [] if s.prefix != cursor.prefix]
        shown.append(Shown(cursor.prefix, cursor.line_after, text, model, list(context)))
        self._docs.put(path, shown[-PER_DOCUMENT:])

    def lookup(self, path: str, cursor: Cursor) -> tuple[Shown, str] | None:
        """(the suggestion, what is left of it) when the user typed its beginning, else None."""
        for shown in reversed(self._docs.get(path) or []):
            if cursor.line_after != shown.line_after or not cursor.prefix.startswith(shown.prefix):
                continue
            typed = cursor.prefix[len(shown.prefix) :]
            if 0 < len(typed) < len(shown.text) and shown.text.startswith(typed):
                rest = shown.text[len(typed) :]
                if rest.strip():
                    return shown, rest
        return None

    def forget(self, path: str) -> None:
        self._docs.pop(path)
