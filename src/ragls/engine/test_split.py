"""One generated test per case, so one wrong expectation drops (or reports) that case alone.

A small model writes many checks into one test: asserts one after another, or cases spelled
out as `text = "a\\nb"`, `expected = 2`, `assert line_count(text) == expected`, then the same
names bound again for the next case. One wrong expected value then fails the whole test, and
the cases it got right are lost with it. `make demo`'s 0.5B model wrote eight such cases for
`line_count`: the first four right, the rest counting lines that were not there.

A test body splits only when it is nothing but cases, each made of plain name assignments
followed by asserts, and no case reads a name that another case binds. A last case that a
reply cut off before its assert asserts nothing and is left out.

A test parametrized over literal values is the same thing written another way, and pytest
would keep its right cases if one failed, but our verdict is per function: so it is unrolled
into one test per value set, the values bound by plain assignments (`unroll_parametrize`).
"""

from __future__ import annotations

import ast
import itertools
import re
from collections.abc import Callable


def split_cases(code: str) -> str:
    """`code` with each top-level test function that holds independent cases split into one
    test per case (`test_x_1`, `test_x_2`, ...); the same case twice is kept once."""
    return _rewrite_tests(code, _split)


def unroll_parametrize(code: str) -> str:
    """`code` with each top-level test whose only decorator is `pytest.mark.parametrize` over
    literal values (no ids, no `pytest.param`), and whose parameters are exactly its names,
    written as one test per value set (`test_x_1`, ...); the same value set twice is kept once."""
    return _rewrite_tests(code, _unroll)


Rewrite = Callable[[ast.FunctionDef, list[str], str], "tuple[int, list[str], int] | None"]


def _rewrite_tests(code: str, rewrite: Rewrite) -> str:
    """`code` with the top-level test functions `rewrite(node, lines, code)` replaces: it returns
    the first line it replaces (1-based), the lines instead, and the last line it replaces; or None."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return code
    lines = code.split("\n")
    out: list[str] = []
    pos = 0  # lines[pos:] not yet copied
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
            new = rewrite(node, lines, code)
            if new is not None:
                first, replacement, pos_after = new
                out += [*lines[pos : first - 1], *replacement]
                pos = pos_after
    if pos == 0:
        return code
    out.extend(lines[pos:])
    return re.sub(r"\n{4,}", "\n\n\n", "\n".join(out)).rstrip() + "\n"


def _split(node: ast.FunctionDef, lines: list[str], code: str) -> tuple[int, list[str], int] | None:
    if node.decorator_list or node.args.args:
        return None
    cases = _cases(node.body)
    if cases is None or len(cases) < 2:
        return None
    texts = dict.fromkeys("\n".join(_source(lines, st) for st in case) for case in cases)
    out: list[str] = []
    for i, text in enumerate(texts, 1):
        out += [f"def {node.name}_{i}():", text, "", ""]
    pos = node.end_lineno or node.lineno
    while pos < len(lines) and (not lines[pos].strip() or lines[pos][:1] in " \t"):
        pos += 1  # the function's trailing comments (a case cut off before its code) go too
    return node.lineno, out, pos


def _unroll(node: ast.FunctionDef, lines: list[str], code: str) -> tuple[int, list[str], int] | None:
    if len(node.decorator_list) != 1 or node.body[0].lineno == node.lineno:
        return None
    spec = _parametrized(node.decorator_list[0], code)
    args = node.args
    if (spec is None or [a.arg for a in args.args] != spec[0] or args.vararg or args.kwarg
            or args.kwonlyargs or args.defaults or args.posonlyargs):
        return None
    names, value_sets = spec
    body = lines[node.body[0].lineno - 1 : node.end_lineno or node.lineno]
    indent = body[0][: len(body[0]) - len(body[0].lstrip())] or "    "
    out: list[str] = []
    for i, values in enumerate(dict.fromkeys(value_sets), 1):
        out += [f"def {node.name}_{i}():"]
        out += [f"{indent}{name} = {value}" for name, value in zip(names, values, strict=True)]
        out += [*body, "", ""]
    return node.decorator_list[0].lineno, out, node.end_lineno or node.lineno


def _parametrized(deco: ast.expr, code: str) -> tuple[list[str], list[tuple[str, ...]]] | None:
    """(argument names, the source of each value set) of a plain parametrize decorator."""
    if not (isinstance(deco, ast.Call) and ast.unparse(deco.func).split(".")[-1] == "parametrize"
            and len(deco.args) == 2 and not deco.keywords):
        return None
    spec, values = deco.args
    if isinstance(spec, ast.Constant) and isinstance(spec.value, str):
        names = [n.strip() for n in spec.value.split(",") if n.strip()]
    elif isinstance(spec, (ast.List, ast.Tuple)) and all(
            isinstance(e, ast.Constant) and isinstance(e.value, str) for e in spec.elts):
        names = [e.value for e in spec.elts]
    else:
        return None
    if not names or not isinstance(values, (ast.List, ast.Tuple)) or not values.elts:
        return None
    sets: list[tuple[str, ...]] = []
    for elt in values.elts:
        parts = [elt] if len(names) == 1 else elt.elts if isinstance(elt, (ast.List, ast.Tuple)) else None
        if parts is None or len(parts) != len(names):
            return None
        if any(isinstance(n, ast.Call) and ast.unparse(n.func).split(".")[-1] == "param"
               for part in parts for n in ast.walk(part)):
            return None  # pytest.param carries marks and ids of its own
        source = tuple(ast.get_source_segment(code, part) for part in parts)
        if any(v is None for v in source):
            return None
        sets.append(source)  # type: ignore[arg-type]
    return names, sets


def _source(lines: list[str], st: ast.stmt) -> str:
    """A statement's lines as written, moved to the indentation of a function body."""
    text = lines[st.lineno - 1 : st.end_lineno or st.lineno]
    cut = len(text[0]) - len(text[0].lstrip())
    return "\n".join("    " + line[cut:] if line[:cut].strip() == "" else line for line in text)


def _targets(st: ast.Assign) -> set[str] | None:
    names: set[str] = set()
    for target in st.targets:
        parts = target.elts if isinstance(target, ast.Tuple) else [target]
        if not all(isinstance(p, ast.Name) for p in parts):
            return None
        names.update(p.id for p in parts if isinstance(p, ast.Name))
    return names


def _cases(body: list[ast.stmt]) -> list[list[ast.stmt]] | None:
    """The body as independent cases, or None when it is not only assignments and asserts.
    An assert with no assignment before it in its case is a case of its own; the asserts after
    an assignment stay in its case."""
    body = [b for b in body if not (isinstance(b, ast.Expr) and isinstance(b.value, ast.Constant))]
    cases: list[list[ast.stmt]] = []
    current: list[ast.stmt] = []
    binds: dict[ast.stmt, set[str]] = {}  # assignment -> the names it binds
    for st in body:
        if isinstance(st, ast.Assert):
            current.append(st)
            if len(current) == 1:  # no set-up before it: this assert alone
                cases.append(current)
                current = []
            continue
        if not isinstance(st, ast.Assign) or (names := _targets(st)) is None:
            return None
        if current and isinstance(current[-1], ast.Assert):
            cases.append(current)
            current = []
        current.append(st)
        binds[st] = names
    bound = set().union(*binds.values())  # names any case binds
    if current and isinstance(current[-1], ast.Assert):
        cases.append(current)  # a case cut off before its assert is left out
    lines_used = [(st.lineno, st.end_lineno or st.lineno) for st in body]
    if any(end >= start for (_, end), (start, _) in itertools.pairwise(lines_used)):
        return None  # two statements on one line
    for case in cases:
        own: set[str] = set()
        for st in case:
            value = st if isinstance(st, ast.Assert) else st.value
            read = {n.id for n in ast.walk(value) if isinstance(n, ast.Name)}
            if read & bound - own:
                return None  # reads a name another case binds: not independent
            own |= binds.get(st, set())
    return cases
