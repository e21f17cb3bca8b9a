"""The style example a test-generation prompt shows: an existing test of the project, in the
target's language, from the test file nearest the target, cut to what shows the style.

A small model copies what it is shown. Shown the first 40 lines of whichever test file sorted
first (ragls' own demo showed `tests/test_answer_start.py` for `records.line_count`), the 0.5B
model wrote that file's tests again. So the example comes from a test file that imports the
target's module when there is one (its imports are the ones the new tests need), and a Python
example is only its imports and one short test that needs no fixture.
"""

from __future__ import annotations

import ast
import re
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from ragls.engine.file_head import import_statements
from ragls.engine.test_selection import importing_test_files

if TYPE_CHECKING:
    from ragls.indexing.workspace import WorkspaceIndex

# Test file names per language: a TypeScript test shown for a Python function came back as TypeScript.
_JS_TESTS = re.compile(r".*\.(test|spec)\.[jt]sx?$")
STYLE_EXAMPLE_NAMES = {
    "python": re.compile(r"(test_.*|.*_test)\.py$"),
    "go": re.compile(r".*_test\.go$"),
    "javascript": _JS_TESTS,
    "typescript": _JS_TESTS,
    "tsx": _JS_TESTS,
    "java": re.compile(r".*Test\.java$"),
}
TEST_MARK = re.compile(r"def test|\btest\(|\bit\(|#\[test\]|@Test|func Test")
MAX_LINES = 40  # an example in another language: its first lines
MAX_TEST_LINES = 6  # a Python example test longer than this shows more than style
MAX_TESTS = 1


def style_example(index: WorkspaceIndex, path: str, test_path: str, language: str, symbol: str = "") -> str:
    """The example for tests of `symbol` in `path` that go to `test_path` ("" when the project
    has none). Of the test files importing `path`, one that names the symbol comes first: its
    imports are likely the ones the new tests need."""
    names = STYLE_EXAMPLE_NAMES.get(language)
    if names is None:
        return ""
    related = importing_test_files(index, path) if language == "python" else []
    if symbol:
        word = re.compile(rf"\b{re.escape(symbol)}\b")
        related.sort(key=lambda p: not word.search(index.read_text(p) or ""))  # stable: nearest first
    for candidate in dict.fromkeys([test_path, *related, *index.files()]):
        if not names.match(PurePosixPath(candidate).name):
            continue
        text = index.read_text(candidate)
        if not text or not TEST_MARK.search(text):  # a module named test_*.py is not a test
            continue
        excerpt = python_excerpt(text) if language == "python" else "\n".join(text.split("\n")[:MAX_LINES])
        if excerpt:
            return excerpt
    return ""


def python_excerpt(text: str) -> str:
    """The file's imports and its first short test that needs no fixture ("" when it has none)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return ""
    lines = text.split("\n")
    imports = [st.text for st in import_statements("python", lines, len(lines))]
    tests = [
        "\n".join(lines[node.lineno - 1 : node.end_lineno])
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and node.name.startswith("test")
        and not node.decorator_list
        and not node.args.args
        and (node.end_lineno or node.lineno) - node.lineno < MAX_TEST_LINES
    ][:MAX_TESTS]
    if not tests:
        return ""
    return "\n".join(imports) + "\n\n\n" + "\n\n\n".join(tests)
