"""The prompt window around a cursor, and fenced code out of a chat reply."""

from __future__ import annotations

import re

_FENCE = re.compile(r"```[^\n`]*\n(.*?)(?:```|\Z)", re.DOTALL)


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
