"""One generated test per case, so one wrong expectation drops (or reports) that case alone.

A small model writes many checks into one test: asserts one after another, or cases spelled
out as `text = "a\\nb"`, `expected = 2`, `assert line_count(text) == expected`, then the same
names bound again for the next case. One wrong expected value then fails the whole test, and
the cases it got right are lost with it. `make demo`'s 0.5B model wrote eight such cases for
`line_count`: the first four right, the rest counting lines that were not there.

A test body splits only when it is nothing but cases, each made of plain name assignments
followed by asserts, and no case reads a name that another case binds. A last case that a
reply cut off before its assert asserts nothing and is left out.
"""

from __future__ import annotations

import ast
import itertools


def split_cases(code: str) -> str:
    """`code` with each top-level test function that holds independent cases split into one
    test per case (`test_x_1`, `test_x_2`, ...); the same case twice is kept once."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return code
    lines = code.split("\n")
    out: list[str] = []
    pos = 0  # lines[pos:] not yet copied
    for node in tree.body:
        if not (isinstance(node, ast.FunctionDef) and node.name.startswith("test")
                and not node.decorator_list and not node.args.args):
            continue
        cases = _cases(node.body)
        if cases is None or len(cases) < 2:
            continue
        texts = dict.fromkeys("\n".join(_source(lines, st) for st in case) for case in cases)
        out.extend(lines[pos : node.lineno - 1])
        for i, text in enumerate(texts, 1):
            out += [f"def {node.name}_{i}():", text, "", ""]
        pos = node.end_lineno or node.lineno
        while pos < len(lines) and (not lines[pos].strip() or lines[pos][:1] in " \t"):
            pos += 1  # the function's trailing comments (a case cut off before its code) go too
    if pos == 0:
        return code
    out.extend(lines[pos:])
    return "\n".join(out).rstrip() + "\n"


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
