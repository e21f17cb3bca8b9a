"""Python test files as the verifier sees them: test functions, what they assert, keeping a subset.

A test is worth offering only when it can fail: it asserts something about behaviour
(`assert` on a value, `pytest.raises`, `self.assert*`), not merely that the symbol exists
(`assert callable(f)`, `assert f is not None`, `hasattr`).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

_EXISTENCE_CALLS = {"callable", "hasattr", "isinstance", "issubclass", "getattr", "type"}


@dataclass
class TestFunction:
    __test__ = False

    name: str  # "test_x" or "TestCls::test_x"
    start: int  # first line, decorators included (1-based)
    end: int
    asserts: bool  # asserts something about behaviour
    exercises: bool = True  # uses the symbol under test, or a helper or fixture of the file that does


def _is_existence_check(test: ast.expr, symbols: set[str]) -> bool:
    """`assert f`, `assert callable(f)`, `assert f is not None`, `assert hasattr(m, 'f')`..."""
    if isinstance(test, ast.Name | ast.Attribute):
        return True
    if isinstance(test, ast.Call) and isinstance(test.func, ast.Name) and test.func.id in _EXISTENCE_CALLS:
        return True
    if isinstance(test, ast.Compare) and all(isinstance(op, ast.IsNot | ast.Is) for op in test.ops):
        return all(isinstance(c, ast.Constant) and c.value is None for c in test.comparators)
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return _is_existence_check(test.operand, symbols)
    return False


def _asserts_behaviour(fn: ast.FunctionDef | ast.AsyncFunctionDef, symbols: set[str]) -> bool:
    for node in ast.walk(fn):
        if isinstance(node, ast.Assert) and not _is_existence_check(node.test, symbols):
            return True
        if isinstance(node, ast.With | ast.AsyncWith):
            for item in node.items:
                call = item.context_expr
                if (
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Attribute)
                    and call.func.attr in ("raises", "warns", "assertRaises")
                ):
                    return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            attr = node.func.attr
            if attr.startswith("assert") and attr not in (
                "assertTrue",
                "assertIsNotNone",
                "assertIsInstance",
            ):
                return True
            if attr in ("raises", "approx") or (attr == "fail" and isinstance(node.func.value, ast.Name)):
                return True
    return False


def _mentioned(node: ast.AST) -> set[str]:
    """Every name and attribute `node` refers to (calls, references, fixture parameters)."""
    out: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            out.add(sub.id)
        elif isinstance(sub, ast.Attribute):
            out.add(sub.attr)
        elif isinstance(sub, ast.arg):
            out.add(sub.arg)
    return out


_IMPLICIT_SETUP = {"setup_method", "setUp", "setup_class", "setUpClass", "setup"}


def _users_of(body: list[ast.stmt], symbols: set[str]) -> set[str]:
    """`symbols` and the helpers and fixtures in `body` (a module's or a Test class's) that use
    them, directly or through one another: a test that calls such a helper exercises the symbol."""
    helpers = {
        node.name: _mentioned(node)
        for node in body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not node.name.startswith("test")
    }
    users = set(symbols)
    grew = True
    while grew:
        grew = False
        for name, refs in helpers.items():
            if name not in users and refs & users:
                users.add(name)
                grew = True
    return users


def _start(node: ast.AST) -> int:
    decos = getattr(node, "decorator_list", [])
    return min([node.lineno, *(d.lineno for d in decos)])  # type: ignore[attr-defined]


def test_functions(code: str, symbols: set[str] = frozenset()) -> list[TestFunction] | None:  # type: ignore[assignment]
    """The file's test functions (top level and in Test* classes); None when it does not parse.
    With `symbols`, a test `exercises` them only when it refers to one (a test copied from another
    file that never calls the symbol under test proves nothing about it)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return None
    users = _users_of(tree.body, symbols) if symbols else set()

    def exercises(fn: ast.AST, cls: ast.ClassDef | None = None) -> bool:
        if not symbols:
            return True
        if cls is None:
            return bool(_mentioned(fn) & users)
        own = _users_of(cls.body, users)  # the class's own helpers; its setup runs before each test
        return bool(_mentioned(fn) & own) or bool(own & _IMPLICIT_SETUP - users)

    out: list[TestFunction] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
            out.append(
                TestFunction(
                    node.name, _start(node), node.end_lineno or node.lineno,
                    _asserts_behaviour(node, symbols), exercises(node),
                )
            )
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name.startswith("test"):
                    out.append(
                        TestFunction(
                            f"{node.name}::{item.name}",
                            _start(item),
                            item.end_lineno or item.lineno,
                            _asserts_behaviour(item, symbols),
                            exercises(item, node),
                        )
                    )
    return out


def _parses(text: str) -> bool:
    try:
        ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return True


def complete_part(code: str, max_cut: int = 80) -> str:
    """The longest start of `code`, cut at a line end, that parses: a reply cut off by the token
    limit keeps its finished statements ("" when nothing parses)."""
    lines = code.rstrip().split("\n")
    for cut in range(min(max_cut, len(lines))):
        text = "\n".join(lines[: len(lines) - cut]).rstrip() + "\n"
        if text.strip() and _parses(text):
            return text
    return ""


def drop_functions(code: str, names: set[str]) -> str:
    """`code` without the named test functions (a class left with no test is dropped too)."""
    funcs = test_functions(code)
    if funcs is None:
        return ""  # nothing to keep from a file that does not parse
    lines = code.split("\n")
    cut = [False] * (len(lines) + 2)
    for f in funcs:
        if f.name in names:
            for i in range(f.start, f.end + 1):
                cut[i] = True
    tree = ast.parse(code)
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            own = [f for f in funcs if f.name.startswith(f"{node.name}::")]
            if own and all(f.name in names for f in own):
                for i in range(_start(node), (node.end_lineno or node.lineno) + 1):
                    cut[i] = True
    kept = [line for i, line in enumerate(lines, 1) if not cut[i]]
    return re.sub(r"\n{4,}", "\n\n\n", "\n".join(kept)).strip("\n") + "\n"


def add_import(code: str, statement: str) -> str:
    """`code` with `statement` as its first import: after a module docstring and any
    `from __future__` import, which must come first."""
    lines = code.split("\n")
    at = 0
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        tree = None
    for node in tree.body if tree else []:
        docstring = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and at == 0
        if not (docstring or (isinstance(node, ast.ImportFrom) and node.module == "__future__")):
            break
        at = node.end_lineno or node.lineno
    if at == 0:
        return f"{statement}\n\n\n{code}"
    return "\n".join([*lines[:at], statement, *lines[at:]])


def rename_clashes(code: str, taken: set[str]) -> str:
    """Rename top-level test functions whose names an existing test file already uses."""
    for f in test_functions(code) or []:
        if "::" in f.name or f.name not in taken:
            continue
        n = 2
        while f"{f.name}_{n}" in taken:
            n += 1
        code = re.sub(
            rf"^(\s*(?:async\s+)?def\s+){f.name}\b", rf"\g<1>{f.name}_{n}", code, count=1, flags=re.M
        )
    return code


def trim_failure(message: str, details: str, max_lines: int = 14, max_chars: int = 1200) -> str:
    """The assertion and the traceback's last frames, short enough for a repair prompt."""
    lines = [x for x in details.strip("\n").split("\n") if x.strip()]
    tail = "\n".join(lines[-max_lines:])
    text = tail if message and message.split("\n")[0] in tail else f"{message}\n{tail}".strip()
    return text[-max_chars:]


_ASSERT_EQ = re.compile(r"assert (.+?) == (.+?)(?:\n|$)")


def possible_bug(name: str, message: str) -> str | None:
    """'test_x expects 3, the code returns 4' from a failed `assert 4 == 3`; None for other errors."""
    first = message.strip().split("\n")[0]
    if not first.startswith(("AssertionError", "assert ")):
        return None
    m = _ASSERT_EQ.search(message)
    if m:
        got, want = m.group(1).strip(), m.group(2).strip()
        return f"{name} expects {want}, the code returns {got}"
    return f"{name}: {first[:200]}"


def _body_key(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    """What a test does: its decorators, parameters and statements, name and docstring aside."""
    body = fn.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    parts = [*fn.decorator_list, fn.args, *body]
    return "\n".join(ast.dump(p, annotate_fields=False) for p in parts)


def repeated_tests(code: str) -> set[str]:
    """Test functions that repeat an earlier test of the same scope statement for statement (a
    small model often writes the same check twice under two names): one of them proves it."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return set()
    out: set[str] = set()
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name.startswith("Test")]
    scopes = [("", tree.body)] + [(f"{n.name}::", n.body) for n in classes]
    for prefix, body in scopes:
        seen: set[str] = set()
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
                key = _body_key(node)
                if key in seen:
                    out.add(prefix + node.name)
                seen.add(key)
    return out


def _bound_names(node: ast.Import | ast.ImportFrom) -> list[str]:
    return [a.asname or a.name.split(".")[0] for a in node.names]


def drop_unused_imports(code: str) -> str:
    """`code` without the one-line top-level imports none of whose names it uses (a generated
    test file imports what it never needs: `import threading`), and without the unused names of
    one that it partly uses (`from records import Import, line_count` -> `from records import
    line_count`). `__future__` and `*` imports stay; a name inside a string counts as used (a
    string annotation, `importorskip`)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return code
    used: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            used.add(node.id)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            used.update(re.findall(r"[A-Za-z_]\w*", node.value))
    lines = code.split("\n")
    changed: dict[int, str | None] = {}  # 1-based line -> its new text (None: dropped)
    for node in tree.body:
        if not isinstance(node, ast.Import | ast.ImportFrom) or node.lineno != node.end_lineno:
            continue
        if isinstance(node, ast.ImportFrom) and (node.module == "__future__" or node.names[0].name == "*"):
            continue
        kept = [a for a, bound in zip(node.names, _bound_names(node), strict=True) if bound in used]
        if not kept:
            changed[node.lineno] = None
        elif len(kept) < len(node.names) and ";" not in lines[node.lineno - 1]:
            node.names = kept
            changed[node.lineno] = ast.unparse(node)
    if not changed:
        return code
    out = [changed.get(i, line) for i, line in enumerate(lines, 1)]
    return "\n".join(line for line in out if line is not None)


def tidy(code: str) -> str:
    """A generated test file without repeated tests and unused imports (before it is run, so
    what is run is what is offered)."""
    repeats = repeated_tests(code)
    return drop_unused_imports(drop_functions(code, repeats) if repeats else code)
