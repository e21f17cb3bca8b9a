"""Empty-body tasks: a function or method whose body is still to be written (issue 9).

From the benchmark sources (stdlib `ast`, independent of ragls): take a function or method
(top level, or a method of a top-level class), remove its body but keep its decorators,
signature and docstring and everything after it in the file; the buffer is that text with one
blank line, indented as the body, where the body was; the cursor is at the start of that
line. The gold is the set of cross-file definitions of the names the removed body uses: names
imported from another module of the same package (imports that stay in the buffer, i.e. not
inside the removed body) and `module.attr` through an imported package module
(`from . import utils` / `import pkg.x as m`). Re-exports through `__init__.py` are followed
(`tasks.ModuleGraph.find_def`). A task needs at least one gold; trivial bodies (`pass`,
`...`, `raise NotImplementedError`) are skipped.

Sampling: seeded per package, at most 2 tasks per file first, then filled from the rest.
Default counts: 100 for sympy, 50 for the others. Cached in
`bench/.cache/body-tasks-<pkg>.jsonl`; delete to rebuild.

    python bench/body_tasks.py [--packages ...] [--count N] [--show 5]
"""

from __future__ import annotations

import argparse
import ast
import json
import random
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import CACHE_DIR, Package, add_package_args, log, print_table, py_files, select_packages
from sources import ensure_source
from tasks import ModuleGraph, _scopes, is_test_file

DEFAULT_COUNTS = {"sympy": 100}
DEFAULT_COUNT = 50
MAX_PER_FILE = 2
SEED = 4321
FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)


@dataclass
class BodyTask:
    pkg: str
    root: str
    file: str
    line: int  # the empty body line (1-based)
    col: int  # the body's indentation + 1
    function: str  # qualname of the function whose body was removed
    golds: list[list] = field(default_factory=list)  # [symbol, path, start, end]
    buffer_text: str = ""  # the file with the body removed (what the editor holds)
    buffer_prefix_text: str = ""  # buffer_text up to the cursor (for prefix-only baselines)
    removed_body: str = ""

    @property
    def id(self) -> str:
        return f"{self.pkg}:{self.file}:{self.line}:{self.function}"

    @property
    def symbol(self) -> str:  # what the aider driver records per task
        return self.function


def task_path(pkg: Package) -> Path:
    return CACHE_DIR / f"body-tasks-{pkg.name}.jsonl"


def load_body_tasks(pkg: Package, limit: int | None = None) -> list[BodyTask]:
    path = task_path(pkg)
    if not path.is_file():
        build_and_save(pkg)
    tasks = [BodyTask(**json.loads(x)) for x in path.read_text().splitlines() if x.strip()]
    return tasks[:limit] if limit else tasks


def _functions(tree: ast.Module):
    """(qualname, node) of top-level functions and methods of top-level classes."""
    for node in tree.body:
        if isinstance(node, FUNCS):
            yield node.name, node
        elif isinstance(node, ast.ClassDef):
            for sub in node.body:
                if isinstance(sub, FUNCS):
                    yield f"{node.name}.{sub.name}", sub


def _body_statements(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[list[ast.stmt], int] | None:
    """(statements after the docstring, last line kept: the docstring's or the header's)."""
    body = list(fn.body)
    keep_end = None
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str):
        keep_end = body[0].end_lineno
        body = body[1:]
    if not body:
        return None
    if keep_end is None:
        keep_end = body[0].lineno - 1
        if keep_end < fn.lineno:  # `def f(): return x` on one line
            return None
    return body, keep_end


def _trivial(body: list[ast.stmt]) -> bool:
    if len(body) != 1:
        return False
    s = body[0]
    if isinstance(s, ast.Pass):
        return True
    if isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant):
        return True
    if isinstance(s, ast.Raise):
        exc = s.exc.func if isinstance(s.exc, ast.Call) else s.exc
        return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"
    return False


def _bindings(graph: ModuleGraph, rel: str, tree: ast.Module, n_lines: int, pkg_name: str):
    """local name -> [(import line, scope end, module, name or None for a module alias)]."""
    out: dict[str, list[tuple[int, int, int, str, str | None]]] = {}
    for node, scope_end in _scopes(tree, n_lines):
        first, end = node.lineno, node.end_lineno or node.lineno
        if isinstance(node, ast.ImportFrom):
            target = graph.absolute(rel, node.module, node.level)
            if not target or target.split(".")[0] != pkg_name:
                continue
            for alias in node.names:
                if alias.name == "*":
                    continue
                local = alias.asname or alias.name
                sub = f"{target}.{alias.name}"
                entry = (first, end, scope_end, sub, None) if sub in graph.by_module else \
                    (first, end, scope_end, target, alias.name)
                out.setdefault(local, []).append(entry)
        else:
            for alias in node.names:
                if alias.asname and alias.name.split(".")[0] == pkg_name and alias.name in graph.by_module:
                    out.setdefault(alias.asname, []).append((first, end, scope_end, alias.name, None))
    return out


def function_task(graph: ModuleGraph, rel: str, text: str, qualname: str, fn, bindings,
                  pkg: Package, root: Path) -> BodyTask | None:
    found = _body_statements(fn)
    if found is None:
        return None
    body, keep_end = found
    if _trivial(body):
        return None
    body_start, body_end = keep_end + 1, fn.end_lineno or fn.lineno
    golds: dict[tuple[str, int], list] = {}
    for stmt in body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                base, attr = node, None
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                base, attr = node.value, node.attr
            else:
                continue
            live = [b for b in bindings.get(base.id, ())
                    if b[1] < fn.lineno and fn.lineno <= b[2] and not (body_start <= b[0] <= body_end)]
            if not live:
                continue
            _first, _end, _scope, module, name = max(live, key=lambda b: b[1])
            if name is None:
                if attr is None:
                    continue
                symbol, gold = attr, graph.find_def(module, attr)
            else:
                if attr is not None:
                    continue  # the Name node of this attribute is visited on its own
                symbol, gold = name, graph.find_def(module, name)
            if gold is None or gold[0] == rel:
                continue
            golds.setdefault((gold[0], gold[1]), [symbol, gold[0], gold[1], gold[2]])
    if not golds:
        return None
    lines = text.splitlines(keepends=True)
    indent = " " * body[0].col_offset
    buffer_lines = [*lines[:keep_end], indent + "\n", *lines[body_end:]]
    buffer_text = "".join(buffer_lines)
    prefix = "".join(lines[:keep_end]) + indent
    return BodyTask(
        pkg=pkg.name, root=str(root), file=rel, line=keep_end + 1, col=len(indent) + 1, function=qualname,
        golds=sorted(golds.values(), key=lambda g: (g[1], g[2])), buffer_text=buffer_text,
        buffer_prefix_text=prefix, removed_body="".join(lines[keep_end:body_end]),
    )


def build_tasks(pkg: Package, count: int, seed: int = SEED) -> tuple[list[BodyTask], int]:
    root = ensure_source(pkg)
    files = py_files(root)
    graph = ModuleGraph(root, files)
    candidates: list[BodyTask] = []
    for rel in files:
        if is_test_file(rel):
            continue
        tree = graph.tree(rel)
        if tree is None:
            continue
        text = (root / rel).read_text(encoding="utf-8", errors="replace")
        bindings = _bindings(graph, rel, tree, text.count("\n") + 1, pkg.import_name)
        if not bindings:
            continue
        for qualname, fn in _functions(tree):
            task = function_task(graph, rel, text, qualname, fn, bindings, pkg, root)
            if task is not None:
                candidates.append(task)
    rng = random.Random(f"{seed}:{pkg.key}")
    rng.shuffle(candidates)
    per_file: dict[str, int] = {}
    picked: list[int] = []
    for cap in (MAX_PER_FILE, len(candidates)):
        for i, t in enumerate(candidates):
            if len(picked) >= count:
                break
            if i in picked or per_file.get(t.file, 0) >= cap:
                continue
            per_file[t.file] = per_file.get(t.file, 0) + 1
            picked.append(i)
    log(f"{pkg.key}: {len(candidates)} candidate bodies, {len(picked)} tasks")
    return [candidates[i] for i in picked], len(candidates)


def build_and_save(pkg: Package, count: int | None = None) -> list[BodyTask]:
    tasks, _ = build_tasks(pkg, count or DEFAULT_COUNTS.get(pkg.name, DEFAULT_COUNT))
    path = task_path(pkg)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(asdict(t)) + "\n" for t in tasks))
    return tasks


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Build empty-body retrieval tasks.")
    add_package_args(ap)
    ap.add_argument("--count", type=int, help="tasks per package (default: 100 sympy, 50 others)")
    ap.add_argument("--show", type=int, default=0, help="print the first N tasks of each package")
    args = ap.parse_args(argv)
    rows = []
    for pkg in select_packages(args.packages, args.quick, body=True):
        tasks = build_and_save(pkg, args.count)
        golds = [len(t.golds) for t in tasks]
        rows.append((pkg.key, len(tasks), len({t.file for t in tasks}),
                     sum(golds) / len(golds) if golds else 0.0, task_path(pkg).name))
        for t in tasks[: args.show]:
            print(f"  {t.file}:{t.line}:{t.col} {t.function} -> {[g[0] for g in t.golds]}")
    print_table("empty-body tasks", ["package", "tasks", "task files", "golds per task", "saved to"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
