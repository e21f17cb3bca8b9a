"""Cutting an editor buffer at a cursor, and fenced code out of a chat reply."""

from __future__ import annotations

import re

from ragls.errors import WorkspaceError

_FENCE = re.compile(r"```[^\n`]*\n(.*?)(?:```|\Z)", re.DOTALL)


def split_at_cursor(text: str, line: int, col: int) -> tuple[str, str]:
    """(prefix, suffix) of `text` at 1-based `line` and 1-based character `col`.

    A column past the end of the line clamps to the line's end; a line past the
    end of the buffer is an error (one past the last line is allowed: an empty
    new line at the end of the file).
    """
    lines = text.split("\n")
    if line < 1 or line > len(lines) + 1:
        raise WorkspaceError(f"line {line} out of range (buffer has {len(lines)} lines)")
    if col < 1:
        raise WorkspaceError(f"column {col} out of range (columns start at 1)")
    if line == len(lines) + 1:
        return text + ("" if text.endswith("\n") or not text else "\n"), ""
    offset = sum(len(x) + 1 for x in lines[: line - 1])
    offset += min(col - 1, len(lines[line - 1]))
    return text[:offset], text[offset:]


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


def line_count(text: str) -> int:
    return text.count("\n") + (0 if text.endswith("\n") or not text else 1)
