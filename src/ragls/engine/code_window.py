"""The current file's part of a completion prompt: the lines around the cursor within a budget.

The window of lines before and after the cursor is trimmed to its token budget (whole lines,
the oldest first, on aligned line numbers so the prompt's head stays put while the cursor moves
down). In front of it go, when they lie above it: the file's imports (file_head.py, for prompts
with cross-file context) and the headers of the scopes around the cursor (scope_head.py).
Cross-file snippets are kept only while they fit the model's window beside it (`fit`).

Everything here is memoized on what stays the same while the user types along a line, so a
keystroke costs dictionary look-ups, not tokenizer calls.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ragls.engine.buffer import window
from ragls.engine.completion_prompt import PREFIX_LINES, SUFFIX_LINES, SUFFIX_SHARE
from ragls.engine.file_head import file_head
from ragls.engine.prompt_fit import trim_lines
from ragls.engine.scope_head import cursor_indent, scope_head
from ragls.lru import LRUCache
from ragls.models.postprocess import indent_width
from ragls.retrieval.cursor import Cursor
from ragls.retrieval.types import Snippet

if TYPE_CHECKING:
    from ragls.models.backend import CompletionBackend


@dataclass
class CodeBudget:
    """How many tokens the code may take: `target` for the whole prompt, of which `share` for the
    code before the cursor and at most `head_share` for the file's imports (0: no imports);
    None: only the model's window `n_ctx` bounds it."""

    target: int | None
    share: float
    head_share: float
    n_ctx: int | None
    align: int
    mend: bool = True  # the scope headers above the window (off: to measure them)
    suffix_share: float = SUFFIX_SHARE  # of `target`, for the code after the cursor
    own_block: bool = True  # the suffix ends where a definition outside the cursor's block starts


class CodeWindow:
    def __init__(self, backend: CompletionBackend) -> None:
        self.backend = backend
        self._memos: LRUCache[tuple[Any, ...], Any] = LRUCache(512)

    def build(self, cursor: Cursor, language: str | None,
              budget: CodeBudget) -> tuple[str, str, tuple[int, int]]:
        """(prefix, suffix, the 1-based lines the window shows) for the cursor."""
        align, target = budget.align, budget.target
        prefix, suffix = window(cursor.prefix, cursor.suffix, PREFIX_LINES, SUFFIX_LINES, align=align)
        if budget.own_block and language == "python":
            suffix = block_suffix(suffix, cursor_indent(cursor.lines, cursor.line - 1))
        imports = ""
        if target is not None:
            tokens = int(target * budget.share)
            prefix = self.trim_prefix(prefix, tokens, align)
            if budget.head_share > 0:  # the file's imports above the window, from the code's share
                imports = self._imports(cursor, language, prefix, int(target * budget.head_share))
                tokens -= self.count(imports) if imports else 0
            for _ in range(2):  # the scope headers above the window come out of its share too
                scope = self._scope(cursor, language, prefix) if budget.mend else ""
                prefix = self.trim_prefix(prefix, tokens - (self.count(scope) if scope else 0), align)
            suffix = self._trim_suffix(suffix, int(target * budget.suffix_share))
        elif budget.n_ctx is not None:  # the code around the cursor always gets at least half the window
            prefix = self.trim_prefix(prefix, budget.n_ctx // 2, align)
            suffix = self._trim_suffix(suffix, budget.n_ctx // 8)
        shown = (cursor.line - prefix.count("\n"), cursor.line + suffix.count("\n"))
        scope = self._scope(cursor, language, prefix) if budget.mend else ""
        head = (imports + "\n\n" if imports else "") + scope
        return head + prefix, suffix, shown

    def fit(self, snippets: Sequence[Snippet], prefix: str, suffix: str, n_ctx: int | None,
            answer_tokens: int) -> list[Snippet]:
        """The best snippets that fit the model's window beside the code and the answer."""
        if n_ctx is None or not snippets:
            return list(snippets)
        count = self.count
        room = n_ctx - answer_tokens - count(prefix) - count(suffix) - 32
        kept: list[Snippet] = []
        for s in snippets:
            room -= count(s.text) + count(s.path) + 2
            if room < 0:
                break
            kept.append(s)
        return kept

    def count(self, text: str) -> int:
        return self.memo(("tokens", text), lambda: self.backend.count_tokens(text))

    def memo(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        """`compute()` once per key: what stays the same while the user types along a line."""
        value = self._memos.get(key)
        if value is None:
            value = compute()
            self._memos.put(key, value)
        return value

    def trim_prefix(self, prefix: str, budget: int, align: int) -> str:
        """The prefix within `budget` tokens; the lines above the cursor line are trimmed once."""
        head, sep, line = prefix.rpartition("\n")
        if not sep:
            return trim_lines(self.backend, prefix, budget, keep="end", align=align)
        kept = self.memo(("head", head, budget, align), lambda: trim_lines(
            self.backend, head + "\n", budget, keep="end", align=align))
        return kept + line

    def _trim_suffix(self, suffix: str, budget: int) -> str:
        return self.memo(("suffix", suffix, budget),
                         lambda: trim_lines(self.backend, suffix, budget, keep="start"))

    def _imports(self, cursor: Cursor, language: str | None, prefix: str, budget: int) -> str:
        """The file's import statements above the window of `prefix`, within `budget` (what is
        typed on the cursor line does not change them: the prompt's head stays put)."""
        start = cursor.line - 1 - prefix.count("\n")  # 0-based: the window's first line
        above = prefix[: len(prefix) - len(cursor.line_before)]
        return self.memo(("imports", cursor.line, cursor.around_line, start, budget),
                         lambda: file_head(language, cursor.lines, start, above, budget, self.count,
                                           cursor_line=cursor.line - 1))

    def _scope(self, cursor: Cursor, language: str | None, prefix: str) -> str:
        """The headers of the scopes around the cursor above the window of `prefix`."""
        start = cursor.line - 1 - prefix.count("\n")
        return self.memo(("scope", cursor.line, cursor.around_line, start),
                         lambda: scope_head(language, cursor.lines, start, cursor.line - 1))


_OUTER_DEF = re.compile(r"(?:async\s+def|def|class)\b|@")


def block_suffix(suffix: str, indent: int) -> str:
    """`suffix` up to the first definition (or decorator) indented less than `indent`: the next
    function is not the one being written. At an empty body the model otherwise reads the next
    definition's name last and writes its body (`codes.is_redirect(...)` in `is_success`)."""
    lines = suffix.split("\n")
    for i, line in enumerate(lines[1:], 1):
        body = line.lstrip()
        if body and indent_width(line) < indent and _OUTER_DEF.match(body):
            return "\n".join(lines[:i]) + "\n"
    return suffix
