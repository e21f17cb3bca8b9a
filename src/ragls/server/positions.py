"""LSP positions (0-based line, UTF-16 code units) <-> ragls positions (1-based line and column).

ragls columns count Python characters (code points), not bytes or UTF-16 units: a character
outside the Basic Multilingual Plane is one column here and two UTF-16 units in LSP.
Lines are split on "\\n" only, as `ragls.retrieval.cursor.Cursor` does; a trailing
"\\r" stays part of the line.
"""

from __future__ import annotations

from lsprotocol import types

from ragls.errors import WorkspaceError

UTF16 = "utf-16"
UTF8 = "utf-8"
UTF32 = "utf-32"


def _units(ch: str, encoding: str) -> int:
    if encoding == UTF32:
        return 1
    if encoding == UTF8:
        return len(ch.encode("utf-8", "surrogatepass"))
    return 2 if ord(ch) > 0xFFFF else 1


def column_from_units(line: str, units: int, encoding: str = UTF16) -> int:
    """0-based code-point index for `units` code units into `line` (clamped to the line end).

    A position inside a surrogate pair (or a UTF-8 sequence) snaps to the character's start.
    """
    if units <= 0:
        return 0
    seen = 0
    for index, ch in enumerate(line):
        width = _units(ch, encoding)
        if seen + width > units:
            return index
        seen += width
        if seen == units:
            return index + 1
    return len(line)


def units_from_column(line: str, column: int, encoding: str = UTF16) -> int:
    """Code units of the first `column` characters of `line`."""
    return sum(_units(ch, encoding) for ch in line[: max(column, 0)])


def to_cursor(text: str, position: types.Position, encoding: str = UTF16) -> tuple[int, int]:
    """LSP position -> (line, col), both 1-based; raises WorkspaceError when out of range."""
    lines = text.split("\n")
    if position.line < 0 or position.line >= len(lines):
        raise WorkspaceError(f"line {position.line} out of range (document has {len(lines)} lines)")
    line = lines[position.line]
    if position.character < 0 or position.character > units_from_column(line, len(line), encoding):
        raise WorkspaceError(f"character {position.character} out of range on line {position.line}")
    return position.line + 1, column_from_units(line, position.character, encoding) + 1


def to_position(text: str, line: int, col: int, encoding: str = UTF16) -> types.Position:
    """(line, col) 1-based -> LSP position."""
    lines = text.split("\n")
    index = min(max(line - 1, 0), max(len(lines) - 1, 0))
    source = lines[index] if lines else ""
    return types.Position(line=index, character=units_from_column(source, col - 1, encoding))


def word_end(text: str, position: types.Position, encoding: str = UTF16) -> types.Position:
    """The position at the end of the identifier that starts at `position` (or `position`)."""
    lines = text.split("\n")
    if position.line >= len(lines):
        return position
    line = lines[position.line]
    col = column_from_units(line, position.character, encoding)
    end = col
    while end < len(line) and (line[end].isalnum() or line[end] == "_"):
        end += 1
    return types.Position(line=position.line, character=units_from_column(line, end, encoding))
