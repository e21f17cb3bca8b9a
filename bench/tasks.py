"""Cross-file completion tasks built automatically from the benchmark sources.

A task is a line that uses a symbol imported from another module of the same package:
`from .x import Foo` (or `from pkg.x import Foo`, or `import pkg.x as m` / `from . import x`
then `m.Foo`), used as a call (`Foo(...)`) or an attribute base (`Foo.bar`) on a line after
the import, inside the import's scope.

Cursor (`--cursor`): `line-start` (default) puts it at the first token of the usage line
(1-based line and column), so the code to complete (that whole line) needs the symbol, which
the buffer names only in its imports (and earlier uses); `after-symbol` puts it right after the
symbol name on the usage line (the completion is the call's arguments or the attribute), saved
as `tasks-<pkg>-after-symbol.jsonl`; both modes sample the same usages. The buffer given to
every method is the prefix (file text up to the cursor); the full file is kept in the task for
reference only, because anything after the cursor can leak the answer.

Gold: the definition (`def`/`class`, found with `ast` in the target module; re-exports such as
`from .core import Basic` in an `__init__.py` are followed up to 3 levels, star imports too):
workspace-relative path plus the 1-based line range `gold_start..gold_end`, where `gold_start`
is the `def`/`class` line (decorators excluded).

Sampling is deterministic (seeded per package): at most 2 tasks per file (small packages
then fill up from the remaining usages), one per (file, symbol); test files (`tests/`,
`test_*.py`, `conftest.py`) are not task files by default but stay in the workspace. Tasks
are written to `bench/.cache/tasks-<pkg>.jsonl`.
"""

from __future__ import annotations

import argparse
import ast
import json
import random
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import CACHE_DIR, Package, add_package_args, log, print_table, py_files, select_packages
from sources import ensure_source

DEFAULT_COUNTS = {"sympy": 100}
DEFAULT_COUNT = 50
MAX_PER_FILE = 2
REEXPORT_DEPTH = 3
SEED = 1234


@dataclass
class Task:
    pkg: str
    root: str
    file: str
    line: int
    col: int
    symbol: str
    gold_path: str
    gold_start: int
    gold_end: int
    buffer_prefix_text: str
    buffer_full_text: str

    @property
    def id(self) -> str:
        return f"{self.pkg}:{self.file}:{self.line}:{self.symbol}"


CURSORS = ("line-start", "after-symbol")


def task_path(pkg: Package, cursor: str = "line-start") -> Path:
    suffix = "" if cursor == "line-start" else f"-{cursor}"
    return CACHE_DIR / f"tasks-{pkg.name}{suffix}.jsonl"


def load_tasks(pkg: Package, limit: int | None = None, cursor: str = "line-start") -> list[Task]:
    """The cached tasks of `pkg` (built first if missing), the first `limit` of them."""
    path = task_path(pkg, cursor)
    if not path.is_file():
        build_and_save(pkg, cursor=cursor)
    tasks = [Task(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]
    return tasks[:limit] if limit else tasks


def is_test_file(rel: str) -> bool:
    parts = rel.split("/")
    name = parts[-1]
    return "tests" in parts or "testing" in parts or name.startswith("test_") or name == "conftest.py"


class ModuleGraph:
    """Maps dotted module names to files of one workspace and finds definitions in them."""

    def __init__(self, root: Path, files: list[str]):
        self.root = root
        self.by_module: dict[str, str] = {}
        for rel in files:
            mod = rel[:-3].replace("/", ".")
            if mod.endswith(".__init__"):
                mod = mod[: -len(".__init__")]
            self.by_module[mod] = rel
        self._trees: dict[str, ast.Module | None] = {}

    def tree(self, rel: str) -> ast.Module | None:
        if rel not in self._trees:
            try:
                src = (self.root / rel).read_text(encoding="utf-8", errors="replace")
                self._trees[rel] = ast.parse(src)
            except (SyntaxError, ValueError):
                self._trees[rel] = None
        return self._trees[rel]

    @staticmethod
    def package_of(rel: str) -> list[str]:
        parts = rel[:-3].split("/")
        return parts[:-1]  # for __init__.py: the package itself; else the containing package

    def absolute(self, rel: str, module: str | None, level: int) -> str | None:
        if level == 0:
            return module
        base = self.package_of(rel)
        if level - 1 > len(base):
            return None
        base = base[: len(base) - (level - 1)]
        return ".".join([*base, *([module] if module else [])])

    def find_def(self, module: str, name: str, depth: int = REEXPORT_DEPTH) -> tuple[str, int, int] | None:
        rel = self.by_module.get(module)
        tree = self.tree(rel) if rel else None
        if rel is None or tree is None:
            return None
        stars: list[str] = []
        for node in _top_level(tree.body):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.name == name:
                return rel, node.lineno, node.end_lineno or node.lineno
        if depth <= 0:
            return None
        for node in _top_level(tree.body):
            if not isinstance(node, ast.ImportFrom):
                continue
            target = self.absolute(rel, node.module, node.level)
            if target is None:
                continue
            for alias in node.names:
                if alias.name == "*":
                    stars.append(target)
                elif (alias.asname or alias.name) == name:
                    if f"{target}.{alias.name}" in self.by_module:
                        return None  # a submodule, not a definition
                    return self.find_def(target, alias.name, depth - 1)
        for target in stars:
            found = self.find_def(target, name, depth - 1)
            if found:
                return found
        return None


def _top_level(body: list[ast.stmt]):
    """Module-level statements, looking into `if`/`try` blocks but not into defs."""
    for node in body:
        yield node
        if isinstance(node, ast.If):
            yield from _top_level(node.body)
            yield from _top_level(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                yield from _top_level(block)


@dataclass
class _Binding:
    line: int  # the import statement's last line
    scope_end: int
    module: str
    name: str | None  # None: the binding is a module alias (`m.foo` uses `foo` of `module`)


def _scopes(tree: ast.Module, n_lines: int):
    """(import node, end line of its enclosing scope) for every import in the file."""
    stack: list[tuple[ast.AST, int]] = [(tree, n_lines)]
    while stack:
        node, end = stack.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                yield child, end
            child_end = end
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                child_end = child.end_lineno or end
            stack.append((child, child_end))


def file_candidates(graph: ModuleGraph, rel: str, pkg_name: str) -> list[tuple]:
    """(usage line, symbol, gold, end byte offset of the symbol) per in-package import usage."""
    tree = graph.tree(rel)
    if tree is None:
        return []
    text = (graph.root / rel).read_text(encoding="utf-8", errors="replace")
    n_lines = text.count("\n") + 1
    bindings: dict[str, list[_Binding]] = {}
    for node, scope_end in _scopes(tree, n_lines):
        end = node.end_lineno or node.lineno
        if isinstance(node, ast.ImportFrom):
            target = graph.absolute(rel, node.module, node.level)
            if not target or target.split(".")[0] != pkg_name:
                continue
            for alias in node.names:
                if alias.name == "*":
                    continue
                local = alias.asname or alias.name
                sub = f"{target}.{alias.name}"
                if sub in graph.by_module:
                    bindings.setdefault(local, []).append(_Binding(end, scope_end, sub, None))
                else:
                    bindings.setdefault(local, []).append(_Binding(end, scope_end, target, alias.name))
        else:
            for alias in node.names:
                if alias.asname and alias.name.split(".")[0] == pkg_name and alias.name in graph.by_module:
                    bindings.setdefault(alias.asname, []).append(_Binding(end, scope_end, alias.name, None))
    if not bindings:
        return []
    out: list[tuple[int, str, tuple[str, int, int]]] = []
    seen: set[str] = set()
    for node in ast.walk(tree):
        base: ast.Name | None = None
        attr: str | None = None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            base = node.func
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            base, attr = node.value, node.attr
        if base is None or base.id not in bindings:
            continue
        line = base.lineno
        live = [b for b in bindings[base.id] if b.line < line <= b.scope_end]
        if not live:
            continue
        b = max(live, key=lambda b: b.line)
        if b.name is None:  # module alias: the symbol is the attribute
            if attr is None:
                continue
            symbol, gold, end = attr, graph.find_def(b.module, attr), node.end_col_offset
            if node.end_lineno != line:
                continue
        else:
            symbol, gold, end = b.name, graph.find_def(b.module, b.name), base.end_col_offset
        if gold is None or gold[0] == rel or symbol in seen:
            continue
        seen.add(symbol)
        out.append((line, symbol, gold, end))
    return out


def build_tasks(pkg: Package, count: int, include_tests: bool = False, seed: int = SEED,
                cursor: str = "line-start") -> list[Task]:
    root = ensure_source(pkg)
    files = py_files(root)
    graph = ModuleGraph(root, files)
    candidates: list[tuple[str, int, str, tuple[str, int, int]]] = []
    for rel in files:
        if not include_tests and is_test_file(rel):
            continue
        candidates.extend((rel, *c) for c in file_candidates(graph, rel, pkg.import_name))
    rng = random.Random(f"{seed}:{pkg.key}")
    rng.shuffle(candidates)
    # First pass: at most MAX_PER_FILE per file; small packages then fill up from the rest.
    per_file: dict[str, int] = {}
    picked: list[int] = []
    for cap in (MAX_PER_FILE, len(candidates)):
        for i, (rel, *_rest) in enumerate(candidates):
            if len(picked) >= count:
                break
            if i in picked or per_file.get(rel, 0) >= cap:
                continue
            per_file[rel] = per_file.get(rel, 0) + 1
            picked.append(i)
    tasks: list[Task] = []
    for i in picked:
        rel, line, symbol, (gpath, gstart, gend), end_byte = candidates[i]
        text = (root / rel).read_text(encoding="utf-8", errors="replace")
        lines = text.splitlines(keepends=True)
        cur = lines[line - 1]
        if cursor == "after-symbol":  # ast columns are UTF-8 byte offsets
            cut = len(cur.encode("utf-8")[:end_byte].decode("utf-8", errors="replace"))
        else:
            cut = len(cur) - len(cur.lstrip(" \t"))
        prefix = "".join(lines[: line - 1]) + cur[:cut]
        tasks.append(Task(pkg.name, str(root), rel, line, cut + 1, symbol, gpath, gstart, gend, prefix, text))
    log(f"{pkg.key}: {len(candidates)} candidate usages, {len(tasks)} tasks")
    return tasks


def build_and_save(pkg: Package, count: int | None = None, include_tests: bool = False,
                   cursor: str = "line-start") -> list[Task]:
    n = count or DEFAULT_COUNTS.get(pkg.name, DEFAULT_COUNT)
    tasks = build_tasks(pkg, n, include_tests, cursor=cursor)
    path = task_path(pkg, cursor)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(asdict(t)) + "\n" for t in tasks))
    return tasks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build cross-file completion tasks.")
    add_package_args(parser)
    parser.add_argument("--count", type=int, help="tasks per package (default: 100 sympy, 50 others)")
    parser.add_argument("--include-tests", action="store_true", help="use test files as task files too")
    parser.add_argument("--cursor", choices=CURSORS, default="line-start", help="where the cursor goes")
    parser.add_argument("--show", type=int, default=0, help="print the first N tasks of each package")
    args = parser.parse_args(argv)
    rows = []
    for pkg in select_packages(args.packages, args.quick):
        tasks = build_and_save(pkg, args.count, args.include_tests, args.cursor)
        files = {t.file for t in tasks}
        golds = {t.gold_path for t in tasks}
        rows.append((pkg.key, len(tasks), len(files), len(golds), str(task_path(pkg, args.cursor).name)))
        for t in tasks[: args.show]:
            print(f"  {t.file}:{t.line}:{t.col} {t.symbol} -> {t.gold_path}:{t.gold_start}-{t.gold_end}")
    print_table("completion tasks", ["package", "tasks", "task files", "gold files", "saved to"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
