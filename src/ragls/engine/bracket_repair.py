"""Patches without a model: a bracket closed where the parse says one was never closed.

"'(' was never closed" is the syntax error an editor shows most while code is typed, and a
small model tends to close the bracket where the line ends, which often parses and is wrong:
in `make demo`, `text.count("\\n" + (1 if ... else 0))` from both the 0.5B and the 1.5B model,
where `text.count("\\n") + (...)` was meant. So for a Python line that leaves a bracket of its
own open, each place after it where the closer makes the region compile is a candidate patch,
nearest first; the tests choose between them as between the model's patches (verified_fix.py).
"""

from __future__ import annotations

import textwrap
import warnings
from collections.abc import Sequence

from ragls.models.postprocess import bracket_positions

MAX_CANDIDATES = 4
_PAIRS = {"(": ")", "[": "]", "{": "}"}


def closing_candidates(region: Sequence[str]) -> list[list[str]]:
    """Versions of `region` (Python lines) that compile after one closer is inserted on a line
    whose own brackets stay open; nearest to the opening bracket first."""
    out: list[list[str]] = []
    for i, line in enumerate(region):
        opened = _open_brackets(line)
        if not opened:
            continue
        for at, closer in reversed(opened):  # the innermost bracket first
            for end in _token_ends(line, at):
                fixed = [*region[:i], line[:end] + closer + line[end:], *region[i + 1 :]]
                if _compiles(fixed) and fixed not in out:
                    out.append(fixed)
                    if len(out) >= MAX_CANDIDATES:
                        return out
    return out


def _open_brackets(line: str) -> list[tuple[int, str]]:
    """(index, closer) of the brackets `line` opens and does not close, outside strings and comments."""
    stack: list[tuple[int, str]] = []
    for at, ch in bracket_positions(line, "python"):
        if ch in _PAIRS:
            stack.append((at, _PAIRS[ch]))
        elif stack and ch == stack[-1][1]:
            stack.pop()
        else:
            return []  # closes a bracket of an earlier line: a statement over lines, not ours to mend
    return stack


def _token_ends(line: str, after: int) -> list[int]:
    """Places after index `after` where a token ends, left to right (a closer put inside a string
    closes nothing, so the line does not compile there)."""
    code_end = len(line.rstrip())
    ends = []
    for end in range(after + 2, code_end + 1):
        if line[end - 1].isspace():
            continue
        if end == code_end or not (line[end - 1] + line[end]).replace("_", "a").isalnum():
            ends.append(end)  # not between two characters of one word or number
    return ends


def _compiles(lines: Sequence[str]) -> bool:
    with warnings.catch_warnings():  # a closer put after a backslash in a string: not ours to report
        warnings.simplefilter("ignore")
        try:
            compile(textwrap.dedent("\n".join(lines)) + "\n", "<patch>", "exec")
        except (SyntaxError, ValueError):
            return False
    return True
