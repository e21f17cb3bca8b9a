"""The headers of the scopes around the cursor, for a prompt whose window starts inside them.

A prompt's window of the current file holds the lines just above the cursor, as many as its
budget allows. Below a long docstring that window often starts inside the docstring: the model
then sees neither the function's name nor its parameters, and it sees a docstring's closing
quotes without their opening ones, so it may read the code below as a string. With 3 s prompts
6 of the 60 empty-body tasks of bench/completion_bench.py had no `def` line in view (5 of them
started inside its docstring); there the model wrote the next function's docstring, a new
`def`, or a decorator.

So, for Python, the window is mended at its top:
- the `class` and `def` header lines of the scopes around the cursor that start above the
  window go in front of it, in file order (a method's class, then the method);
- a window starting inside a docstring (or any multi-line string) gets the string's opening
  line: the middle of the string is what is left out.

Measured on the same 60 tasks (bench/completion_bench.py --score logprob, against
--raw-window): the expected line's log-probability per token with ragls context, 3 s prompts,
-2.614 -> -2.556 (+0.058 [+0.011, +0.109] paired, 15 tasks better and 5 worse by more than
0.1); 8 s prompts, where the window reaches the `def` more often, -2.495 -> -2.499 (-0.003
[-0.023, +0.014]).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ragls.models.postprocess import indent_width

MAX_HEADER_LINES = 40  # a signature spread over more lines is not looked for
SCOPE_HEADER = re.compile(r"^\s*(?:async\s+def|def|class)\s+[A-Za-z_]")
_OPEN, _CLOSE = "([{", ")]}"
_TRIPLE = re.compile(r'"""|\'\'\'')


def scope_head(language: str | None, lines: Sequence[str], start: int, cursor_line: int) -> str:
    """The lines to put above a window of `lines` from 0-based `start` to the 0-based
    `cursor_line`, in file order; ends with a newline when not empty."""
    if language != "python" or start <= 0 or start >= cursor_line:
        return ""
    shown: set[int] = set()
    for first, end in _enclosing_headers(lines, cursor_line):
        shown.update(range(first, min(end + 1, start)))
    open_at = _string_open_at(lines, start)
    if open_at is not None:  # the window starts inside a docstring: its opening line balances it
        shown.add(open_at)
    return "".join(lines[ln] + "\n" for ln in sorted(shown))


def _enclosing_headers(lines: Sequence[str], cursor_line: int) -> list[tuple[int, int]]:
    """(first, last line) of each class / def header around `cursor_line`, outermost first."""
    limit = cursor_indent(lines, cursor_line)
    found: list[tuple[int, int]] = []
    for ln in range(cursor_line - 1, -1, -1):
        if limit == 0:
            break
        text = lines[ln]
        if not text.strip() or indent_width(text) >= limit or text.lstrip()[0] in _CLOSE:
            continue  # deeper, blank, or the last line of a signature spread over lines
        limit = indent_width(text)
        if SCOPE_HEADER.match(text):
            found.append((ln, _header_end(lines, ln, cursor_line)))
    return found[::-1]


def cursor_indent(lines: Sequence[str], cursor_line: int) -> int:
    """The cursor line's indentation; on a blank line, that of the code above (one deeper after `:`)."""
    text = lines[cursor_line] if cursor_line < len(lines) else ""
    if text.strip() or text:
        return indent_width(text)
    for ln in range(cursor_line - 1, -1, -1):
        if lines[ln].strip():
            return indent_width(lines[ln]) + (1 if lines[ln].rstrip().endswith(":") else 0)
    return 0


def _header_end(lines: Sequence[str], first: int, cursor_line: int) -> int:
    """The line that ends the signature starting at `first` (its brackets closed, then `:`)."""
    depth = 0
    for ln in range(first, min(first + MAX_HEADER_LINES, cursor_line)):
        code = lines[ln].split("#", 1)[0]
        depth += sum(code.count(c) for c in _OPEN) - sum(code.count(c) for c in _CLOSE)
        if depth <= 0 and code.rstrip().endswith(":"):
            return ln
    return first


def _string_open_at(lines: Sequence[str], start: int) -> int | None:
    """The line that opens the multi-line string `lines[start]` lies in, if it lies in one."""
    in_doc: str | None = None
    opened = None
    for ln in range(start):
        was = in_doc
        _, in_doc = outside_triple(lines[ln], in_doc)
        if in_doc is not None and was is None:
            opened = ln
    return opened if in_doc is not None else None


def outside_triple(line: str, in_doc: str | None) -> tuple[str, str | None]:
    """The parts of `line` outside triple-quoted strings, and the quotes still open at its end."""
    out, at = [], 0
    for m in _TRIPLE.finditer(line):
        if in_doc is None:
            out.append(line[at : m.start()])
            in_doc = m.group()
        elif m.group() == in_doc:
            in_doc = None
            at = m.end()
    if in_doc is None:
        out.append(line[at:])
    return "".join(out), in_doc
