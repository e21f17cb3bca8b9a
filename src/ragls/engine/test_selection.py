"""Which tests exercise a change: found through the dependency graph, not by running everything.

Test files are those that import the changed module, directly or through other workspace
modules (bounded breadth-first walk over `importers_of`). Within them, the test functions that
mention a changed symbol run first; the rest of those files runs after they pass.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from ragls.engine import pytest_file

if TYPE_CHECKING:
    from ragls.indexing.workspace import WorkspaceIndex

TEST_NAME = re.compile(r"(test_.*\.py|.*_test\.py)$")
MAX_DEPTH = 3
MAX_FILES = 20


@dataclass
class SelectedTests:
    file: str
    first: list[str] = field(default_factory=list)  # functions that reference a changed symbol
    rest: list[str] = field(default_factory=list)  # the other test functions of the file


def is_test_file(path: str) -> bool:
    return bool(TEST_NAME.match(PurePosixPath(path).name))


def importing_test_files(index: WorkspaceIndex, path: str) -> list[str]:
    """Test files that import `path`, transitively (nearest first)."""
    seen = {path}
    found: list[str] = []
    queue = deque([(path, 0)])
    while queue and len(found) < MAX_FILES:
        current, depth = queue.popleft()
        if depth >= MAX_DEPTH:
            continue
        for importer in index.importers_of(current):
            if importer in seen:
                continue
            seen.add(importer)
            if is_test_file(importer):
                found.append(importer)
            else:
                queue.append((importer, depth + 1))
    return found


def select_tests(
    index: WorkspaceIndex, path: str, symbols: set[str], extra_files: list[str] | None = None
) -> list[SelectedTests]:
    """Python tests to run for a change of `symbols` in `path` (plus `extra_files`, e.g. a failing test)."""
    files = list(dict.fromkeys([*(extra_files or []), *importing_test_files(index, path)]))
    words = re.compile(r"\b(" + "|".join(map(re.escape, sorted(symbols))) + r")\b") if symbols else None
    out: list[SelectedTests] = []
    for test_path in files:
        text = index.read_text(test_path) or ""
        funcs = pytest_file.test_functions(text)
        if not funcs:
            continue
        lines = text.split("\n")
        sel = SelectedTests(test_path)
        for f in funcs:
            body = "\n".join(lines[f.start - 1 : f.end])
            (sel.first if words and words.search(body) else sel.rest).append(f.name)
        if not sel.first and words and words.search(text):
            # the file uses the symbol through helpers or fixtures: all of it is "first"
            sel.first, sel.rest = sel.rest, []
        out.append(sel)
    return out
