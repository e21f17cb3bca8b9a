"""`--batch QUERIES.jsonl` shared by `ragls context` and `ragls complete`.

Each input line is {"file": str, "line": int, "col": int, "text": str (optional)};
each output line is the command's JSON object, in the same order. A bad line
yields {"error": "..."} on its output line and the batch goes on.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import IO, Any

from ragls.errors import RaglsError, WorkspaceError
from ragls.retrieval.types import CursorQuery


def parse_query(raw: str) -> CursorQuery:
    """One batch line as a CursorQuery; ValueError with a clear message when it is malformed."""
    item = json.loads(raw)
    if not isinstance(item, dict):
        raise ValueError("a query must be a JSON object")
    text = item.get("text")
    if text is not None and not isinstance(text, str):
        raise ValueError('"text" must be a string')
    return CursorQuery(
        path=_field(item, "file", str), line=_field(item, "line", int), col=int(item.get("col", 1)), text=text
    )


def run_batch(path: str, answer: Callable[[CursorQuery], dict[str, Any]], out: IO[str]) -> int:
    """Answer every query of the JSONL file at `path` (or "-" for stdin), one output line each."""
    source = sys.stdin if path == "-" else _open(path)
    try:
        for raw in source:
            if not raw.strip():
                continue
            try:
                line = answer(parse_query(raw))
            except (ValueError, TypeError, RaglsError) as exc:
                line = {"error": str(exc) or type(exc).__name__}
            out.write(json.dumps(line) + "\n")
            out.flush()
    finally:
        if source is not sys.stdin:
            source.close()
    return 0


def _open(path: str) -> IO[str]:
    try:
        return open(path, encoding="utf-8")
    except OSError as exc:
        raise WorkspaceError(f"cannot read batch file {path}: {exc.strerror}") from exc


def _field(item: dict[str, Any], name: str, kind: type) -> Any:
    if name not in item:
        raise ValueError(f'missing field "{name}"')
    value = item[name]
    if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
        raise ValueError(f'field "{name}" must be {"an integer" if kind is int else "a string"}')
    return value
