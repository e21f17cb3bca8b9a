"""Compact views of definitions: the header lines a caller needs instead of the whole body.

A stub is a real, contiguous line range of the file: the definition's header (from its
`def`/`class`/`func` line to the line that opens the body) and, for Python, the first
line of its docstring. Its text is exactly those lines, so line ranges and line budgets
stay honest; `Candidate.full_end`/`body` keep the whole definition (cut at the snippet
maximum), so packing can add it when the budget allows. Short definitions are kept whole.
"""

from __future__ import annotations

from collections.abc import Sequence

from ragls.retrieval.types import Candidate

SHORT_DEFINITION_LINES = 6  # definitions this short are returned whole
MAX_HEADER_LINES = 8
_DOC_QUOTES = ('"""', "'''", 'r"""', "r'''", 'b"""', 'u"""')


def header_end(lines: Sequence[str], start: int, end: int) -> int:
    """Last line (1-based) of the header of the definition at start..end.

    The header ends at the first line that opens a body (':' or '{' at its end, or a '{'),
    looking at most MAX_HEADER_LINES lines; a one-line definition is its own header.
    """
    last = min(end, start + MAX_HEADER_LINES - 1, len(lines))
    for ln in range(start, last + 1):
        code = lines[ln - 1].split("#")[0].rstrip() if not _is_slash_comment(lines[ln - 1]) else ""
        if code.endswith((":", "{")) or "{" in code or code.endswith(("=>", ";")):
            return ln
    return start


def _is_slash_comment(line: str) -> bool:
    return line.lstrip().startswith("//")


def stub_range(lines: Sequence[str], start: int, end: int) -> tuple[int, int]:
    """(start, stub end): the header plus the first docstring line (Python style)."""
    head = header_end(lines, start, end)
    nxt = head + 1
    if nxt <= end and nxt <= len(lines):
        text = lines[nxt - 1].strip()
        if text.startswith(_DOC_QUOTES):
            body = text.lstrip("rbu")[3:].strip()
            closed = len(text) > 6 and text.endswith(('"""', "'''"))
            if not body and not closed and nxt + 1 <= end:  # `"""` alone: its first text line too
                nxt += 1
            return start, nxt
    return start, head


def definition_candidate(
    path: str,
    lines: Sequence[str],
    start: int,
    end: int,
    *,
    score: float,
    tag: str,
    symbol: str | None,
    signature: str = "",
    doc: str = "",
    max_lines: int = 60,
    from_buffer: bool = False,
) -> Candidate | None:
    """The definition at start..end of `lines` as a candidate: whole if short, else its stub."""
    if start < 1 or start > len(lines):
        return None
    end = max(start, min(end, len(lines)))
    full_end: int | None = None
    body = ""
    if end - start + 1 > SHORT_DEFINITION_LINES:
        stub_end = stub_range(lines, start, end)[1]
        if stub_end < end:
            full_end = min(end, start + max_lines - 1)
            body = "\n".join(lines[start - 1 : full_end])
            end = stub_end
    return Candidate(
        path=path, start_line=start, end_line=end, text="\n".join(lines[start - 1 : end]), score=score,
        sources=[tag], symbol=symbol, signature=signature, doc=doc, from_buffer=from_buffer,
        full_end=full_end, body=body,
    )

