"""The style example a test-generation prompt shows: an existing test of the project, in the
target's language, from the test file nearest the target, cut to what shows the style.

A small model copies what it is shown. Shown the first 40 lines of whichever test file sorted
first (ragls' own demo showed `tests/test_answer_start.py` for `records.line_count`), the 0.5B
model wrote that file's tests again. So the example comes from a test file that imports the
target's module when there is one (its imports are the ones the new tests need), and a Python
example is only its imports and one short test that needs no fixture.

That test is shown only when it is nothing but asserts, the shape the new tests should have; a
test with set-up code is copied instead of followed. For `records.line_count` the example was a
5-line parser test with an f-string of 80 parameters: with it the 0.5B model's tests passed on
1 of 8 seeds (`make demo`'s budget), with the file's imports alone on 6 of 8. On HumanEval
problems whose workspace has a 2-assert test of other code (`bench/verify_bench.py
--existing-tests`, 20 problems) showing that test is what works: tests offered for 20 of 20,
imports alone 18, no example 16. A related test file without such a test lends its imports.
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
    has none). Of the test files importing `path`, one that imports the symbol comes first, then
    one that names it: its imports are likely the ones the new tests need."""
    names = STYLE_EXAMPLE_NAMES.get(language)
    if names is None:
        return ""
    related = importing_test_files(index, path) if language == "python" else []
    if symbol:
        word = re.compile(rf"\b{re.escape(symbol)}\b")
        imported = re.compile(rf"^[ \t]*(?:from|import)\b.*\b{re.escape(symbol)}\b", re.MULTILINE)
        related.sort(key=lambda p: (not imported.search(text := index.read_text(p) or ""),
                                    not word.search(text)))  # stable: nearest first
    for candidate in dict.fromkeys([test_path, *related, *index.files()]):
        if not names.match(PurePosixPath(candidate).name):
            continue
        text = index.read_text(candidate)
        if not text or not TEST_MARK.search(text):  # a module named test_*.py is not a test
            continue
        if language == "python":
            excerpt = python_excerpt(text, imports_alone=candidate == test_path or candidate in related)
        else:
            excerpt = "\n".join(text.split("\n")[:MAX_LINES])
        if excerpt:
            return excerpt
    return ""


def python_excerpt(text: str, imports_alone: bool = False) -> str:
    """The file's imports and its first short test that needs no fixture and only asserts; with
    `imports_alone`, the imports when there is no such test ("" when there is nothing to show)."""
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
        and _only_asserts(node)
    ][:MAX_TESTS]
    if not tests:
        return "\n".join(imports) if imports_alone else ""
    return "\n".join(imports) + "\n\n\n" + "\n\n\n".join(tests)


def _only_asserts(node: ast.FunctionDef) -> bool:
    body = [b for b in node.body if not (isinstance(b, ast.Expr) and isinstance(b.value, ast.Constant))]
    return bool(body) and all(isinstance(b, ast.Assert) for b in body)

