"""One-token mutants of Python source: the small operator set of the verification benchmark.

Operators: comparison flips (`<`/`<=`, `>`/`>=`, `==`/`!=`), off-by-one (an integer literal
plus one), `and`/`or` swaps, and constant changes (an integer literal to 0, or 1 when it is 0;
`True`/`False`). Each mutant changes exactly one token.
"""

from __future__ import annotations

import io
import tokenize
from dataclasses import dataclass

COMPARISON = {"<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "!=", "!=": "=="}
BOOLEAN = {"and": "or", "or": "and", "True": "False", "False": "True"}


@dataclass(frozen=True)
class Mutant:
    operator: str  # comparison | off-by-one | and-or | constant
    line: int  # 1-based line in the mutated text
    before: str
    after: str
    text: str  # the whole mutated source


def _replacements(tok: tokenize.TokenInfo) -> list[tuple[str, str]]:
    if tok.type == tokenize.OP and tok.string in COMPARISON:
        return [("comparison", COMPARISON[tok.string])]
    if tok.type == tokenize.NAME and tok.string in ("and", "or"):
        return [("and-or", BOOLEAN[tok.string])]
    if tok.type == tokenize.NAME and tok.string in ("True", "False"):
        return [("constant", BOOLEAN[tok.string])]
    if tok.type == tokenize.NUMBER and tok.string.isdigit():
        n = int(tok.string)
        return [("off-by-one", str(n + 1)), ("constant", "1" if n == 0 else "0")]
    return []


def mutants(source: str, first_line: int = 1, last_line: int | None = None) -> list[Mutant]:
    """Every one-token mutant of `source` whose token lies within [first_line, last_line]."""
    lines = source.splitlines(keepends=True)
    out: list[Mutant] = []
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return out
    for tok in tokens:
        (row, col), (erow, ecol) = tok.start, tok.end
        if row != erow or row < first_line or (last_line is not None and row > last_line):
            continue
        for operator, new in _replacements(tok):
            line = lines[row - 1]
            mutated = line[:col] + new + line[ecol:]
            text = "".join(lines[: row - 1]) + mutated + "".join(lines[row:])
            out.append(Mutant(operator, row, tok.string, new, text))
    return out
