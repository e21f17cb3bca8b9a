"""Unit-test generation in the project's own convention.

Python: pytest in tests/test_<module>.py; TS/JS: <name>.test.ts|js beside the file
(vitest or jest imports when package.json names them); Go: <name>_test.go in the
same package; Rust: a #[cfg(test)] module appended to the file; Java: JUnit 5 in
src/test/java mirroring the package. The model writes the tests from the symbol's
source, the definitions it uses and an existing test as a style example. The generator only
asks; `verified_tests` runs what comes back and keeps what passes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from ragls.cancel import NEVER, CancelToken
from ragls.engine.buffer import extract_code
from ragls.engine.prompt_fit import chat_max_tokens, chat_tokens, fit_items, same_language
from ragls.engine.pytest_file import add_import, complete_part
from ragls.engine.test_split import split_cases, unroll_parametrize
from ragls.engine.test_style import TEST_MARK, style_example
from ragls.errors import WorkspaceError
from ragls.indexing.parser import parse_source
from ragls.indexing.records import Definition, ParsedFile
from ragls.retrieval.types import CursorQuery

if TYPE_CHECKING:
    from ragls.indexing.workspace import WorkspaceIndex
    from ragls.models.backend import CompletionBackend
    from ragls.retrieval.retriever import Retriever

logger = logging.getLogger(__name__)

TESTABLE_KINDS = {"function", "method", "class", "struct", "interface", "enum", "trait"}


@dataclass
class TestPlan:
    """What to test and how to ask for it; the model is called per candidate and repair step."""

    __test__ = False

    path: str  # the file under test (workspace-relative)
    symbol: Definition
    language: str
    framework: str
    test_path: str  # where the tests go (workspace-relative); == path for Rust (appended module)
    module: str  # what a Python test imports from
    target: str  # the name a test imports (a method's class)
    existing: str  # the test file's current text ("" when new)
    append: bool
    messages: list[dict]
    max_tokens: int | None  # None: the prompt cannot fit the model's window
    # the same request without the style example: a repair starts from the model's own test file,
    # and a small model shown another test again writes that test again
    repair_messages: list[dict] | None = None


def python_module(path: str) -> str:
    """'src/pkg/mod.py' -> 'pkg.mod'; 'pkg/__init__.py' -> 'pkg'."""
    parts = list(PurePosixPath(path).with_suffix("").parts)
    if parts and parts[0] in ("src", "lib"):
        parts = parts[1:]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def locate_test_file(
    path: str, language: str, symbol: Definition, package: str | None, js_runner: str = "jest"
) -> tuple[str, str]:
    """(test file path, framework) following the project's convention."""
    p = PurePosixPath(path)
    if language == "python":
        return f"tests/test_{p.stem}.py", "pytest"
    if language in ("typescript", "tsx", "javascript"):
        ext = {"typescript": "ts", "tsx": "tsx", "javascript": "js"}[language]
        return str(p.with_name(f"{p.stem}.test.{ext}")), js_runner
    if language == "go":
        return str(p.with_name(f"{p.stem}_test.go")), "go test"
    if language == "rust":
        return path, "cargo test"
    if language == "java":
        cls = (symbol.parent or symbol.name).split(".")[0]
        pkg_dir = package.replace(".", "/") + "/" if package else ""
        return f"src/test/java/{pkg_dir}{cls}Test.java", "junit5"
    return str(p.with_name(f"test_{p.name}")), "unknown"


_FENCES = re.compile(r"```[^\n`]*\n(.*?)(?:```|\Z)", re.DOTALL)


def fenced_tests(reply: str) -> str:
    """The fenced block of a reply that holds tests (models often paste the code first)."""
    blocks = _FENCES.findall(reply)
    for block in blocks:
        if TEST_MARK.search(block):
            return block.strip("\n")
    return extract_code(reply)


def drop_top_level(code: str, names: set[str]) -> str:
    """Python `code` without top-level functions or classes named in `names` (as it parses)."""
    import ast

    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return code
    lines = code.split("\n")
    cut: set[int] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.name in names:
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            cut.update(range(first, (node.end_lineno or node.lineno) + 1))
    return "\n".join(x for i, x in enumerate(lines, 1) if i not in cut) if cut else code


def _innermost_testable(parsed: ParsedFile, line: int) -> Definition | None:
    best: Definition | None = None
    for d in parsed.definitions:
        inside = d.kind in TESTABLE_KINDS and d.start_line <= line <= d.end_line
        if inside and (best is None or d.end_line - d.start_line <= best.end_line - best.start_line):
            best = d
    return best


class TestGenerator:
    """Writes unit tests for the function, method or class under the cursor."""

    __test__ = False

    def __init__(self, index: WorkspaceIndex, retriever: Retriever, backend: CompletionBackend) -> None:
        self.index = index
        self.retriever = retriever
        self.backend = backend

    def target_at(self, path: str, buffer: str, line: int) -> Definition | None:
        """The innermost testable definition containing 1-based `line`."""
        try:
            parsed = parse_source(path, buffer.encode("utf-8", "surrogatepass"))
        except ValueError:
            return None
        return _innermost_testable(parsed, line)

    def plan(
        self, path: str, buffer: str, line: int, cancel: CancelToken = NEVER, max_tokens: int = 512
    ) -> TestPlan:
        """Where the tests go, in which framework, and the prompt that asks for them."""
        try:
            parsed = parse_source(path, buffer.encode("utf-8", "surrogatepass"))
        except ValueError:
            parsed = None
        symbol = _innermost_testable(parsed, line) if parsed is not None else None
        if parsed is None or symbol is None:
            raise WorkspaceError(f"no function, method or class at {path}:{line}")
        language = parsed.language
        package = next((d.name for d in parsed.definitions if d.kind == "package"), None)
        js_runner = "jest"
        if language in ("typescript", "tsx", "javascript"):
            js_runner = "vitest" if "vitest" in (self.index.read_text("package.json") or "") else "jest"
        test_path, framework = locate_test_file(path, language, symbol, package, js_runner)
        module = python_module(path) if language == "python" else PurePosixPath(path).stem
        existing = self.index.read_text(test_path) if test_path != path else buffer
        append = test_path == path or bool(existing)

        source = "\n".join(buffer.split("\n")[symbol.start_line - 1 : symbol.end_line])
        try:
            found = self.retriever.retrieve(CursorQuery(path, symbol.start_line, 1, buffer), cancel=cancel)
            context = same_language(self.index, found.snippets, language)
        except Exception:
            logger.exception("retrieval for test generation failed")
            context = []
        style = style_example(self.index, path, test_path, language, symbol.name)
        target = symbol.parent.split(".")[0] if symbol.parent else symbol.name
        imp = f"from {module} import {target}" if language == "python" else f"`{module}`"

        def render(parts: Sequence[str]) -> list[dict]:
            user = (
                "".join(parts)
                + f"Write {framework} unit tests for `{symbol.qualname}` from {path}"
                + f" (import it with {imp}):\n"
                + f"```\n{source}\n```\n"
                + "Each test calls it with concrete inputs and asserts the exact expected result."
                + " Reply with the complete test file in one fenced code block."
            )
            return [
                {"role": "system", "content": "You write small, correct, deterministic unit tests."},
                {"role": "user", "content": user},
            ]

        parts = [f"Used by it or using it, from {s.path}:\n```\n{s.text}\n```\n" for s in context[:3]]
        example = f"An existing test of this project, follow its style:\n```\n{style}\n```\n" if style else ""
        kept, messages = fit_items(self.backend, [example, *parts] if style else parts, render, max_tokens,
                                   measure=chat_tokens)
        reply_tokens = chat_max_tokens(self.backend, messages, max_tokens)
        return TestPlan(path, symbol, language, framework, test_path, module, target, existing or "",
                        append, messages, reply_tokens, render([p for p in kept if p != example]))

    def write(self, plan: TestPlan, temperature: float = 0.2, cancel: CancelToken = NEVER) -> str:
        """One model call: a test file for the plan ("" when the prompt cannot fit)."""
        if plan.max_tokens is None:
            return ""
        reply = self.backend.chat(plan.messages, max_tokens=plan.max_tokens, temperature=temperature,
                                  cancel=cancel)
        logger.debug("test candidate reply: %s", reply.text)
        return self._with_import(plan, fenced_tests(reply.text).strip() + "\n")

    def repair(self, plan: TestPlan, code: str, failure: str, temperature: float = 0.2,
               cancel: CancelToken = NEVER, off_target: bool = False) -> str:
        """One model call: the test file again, given how the last run failed. When the tests
        were `off_target` (none called the symbol: a small model copied another test) the request
        starts over without them, since shown its copy again the model copies it again."""
        if plan.max_tokens is None:
            return ""
        base = plan.repair_messages or plan.messages
        if off_target:
            ask = f"Earlier tests were rejected: {failure}\n\n{base[-1]['content']}"
            messages = [*base[:-1], {"role": "user", "content": ask}]
        else:
            messages = [
                *base,
                {"role": "assistant", "content": f"```\n{code}\n```"},
                {"role": "user", "content": "Running these tests failed:\n```\n" + failure + "\n```\n"
                 + f"Correct the tests (not `{plan.symbol.name}` itself): fix wrong imports, wrong"
                 + " expected values and wrong calls. Reply with the complete test file in one fenced"
                 + " code block."},
            ]
        max_tokens = chat_max_tokens(self.backend, messages, plan.max_tokens) or plan.max_tokens
        reply = self.backend.chat(messages, max_tokens=max_tokens, temperature=temperature, cancel=cancel)
        logger.debug("test repair reply: %s", reply.text)
        return self._with_import(plan, fenced_tests(reply.text).strip() + "\n")

    @staticmethod
    def _with_import(plan: TestPlan, code: str) -> str:
        """Python tests test the workspace's code: a copy of the target the model pasted into the
        test file is removed, and the target is imported when the model forgot to."""
        if plan.language == "python":
            code = split_cases(unroll_parametrize(drop_top_level(complete_part(code) or code, {plan.target})))
        if plan.language == "python" and code.strip() and plan.target not in code.split("def test")[0]:
            code = add_import(code, f"from {plan.module} import {plan.target}")
        return code
