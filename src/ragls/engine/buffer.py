"""Cutting an editor buffer at a cursor, and fenced code out of a chat reply."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from ragls.errors import WorkspaceError

_FENCE = re.compile(r"```[^\n`]*\n(.*?)(?:```|\Z)", re.DOTALL)


@dataclass(frozen=True)
class Cursor:
    """A buffer cut at a cursor, split once: what every stage of a request reads.

    A column past the end of the line clamps to the line's end; a line past the end of the
    buffer is an error (one past the last line is allowed: an empty new line at the end).
    """

    text: str
    line: int  # 1-based
    col: int  # 1-based, characters
    prefix: str
    suffix: str

    @classmethod
    def at(cls, text: str, line: int, col: int) -> Cursor:
        lines = text.split("\n")
        if line < 1 or line > len(lines) + 1:
            raise WorkspaceError(f"line {line} out of range (buffer has {len(lines)} lines)")
        if col < 1:
            raise WorkspaceError(f"column {col} out of range (columns start at 1)")
        if line == len(lines) + 1:
            return cls(text, line, 1, text + ("" if text.endswith("\n") or not text else "\n"), "")
        offset = sum(len(x) + 1 for x in lines[: line - 1])
        offset += min(col - 1, len(lines[line - 1]))
        return cls(text, line, col, text[:offset], text[offset:])

    @cached_property
    def line_before(self) -> str:
        """The cursor line up to the cursor."""
        return self.prefix.rpartition("\n")[2]

    @cached_property
    def line_after(self) -> str:
        """The cursor line from the cursor to its end."""
        return self.suffix.partition("\n")[0]


def split_at_cursor(text: str, line: int, col: int) -> tuple[str, str]:
    """(prefix, suffix) of `text` at 1-based `line` and 1-based character `col` (see `Cursor`)."""
    cursor = Cursor.at(text, line, col)
    return cursor.prefix, cursor.suffix


def window(prefix: str, suffix: str, before: int, after: int, align: int = 1) -> tuple[str, str]:
    """At least the last `before` lines of prefix (plus the partial cursor line), and the first
    `after` lines of suffix.

    With `align` > 1 the prefix window starts on a line number that is a multiple of `align`
    (so it holds up to before + align lines): the window's start then stays put while the
    cursor moves down, which keeps a model's prompt cache valid.
    """
    head = prefix.split("\n")
    tail = suffix.split("\n")
    start = max(0, len(head) - 1 - before)
    start -= start % max(1, align)
    return "\n".join(head[start:]), "\n".join(tail[: after + 1])


def extract_code(reply: str) -> str:
    """The first fenced code block of a chat reply, or the reply itself when it has none."""
    match = _FENCE.search(reply)
    code = match.group(1) if match else reply
    return code.strip("\n")
