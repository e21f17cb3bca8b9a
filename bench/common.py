"""Shared pieces of the benchmarks: paths, the package list, percentiles, tables, JSON output.

Benchmarks are scripts that print tables; nothing here imports ragls, so the task builder and
the lexical baselines stay independent of the code they measure.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
CACHE_DIR = BENCH_DIR / ".cache"
SRC_DIR = CACHE_DIR / "src"
RESULTS_DIR = BENCH_DIR / "results"

# Directories never part of a benchmark workspace (tool caches written next to the sources).
IGNORED_DIRS = {"__pycache__", ".git", ".ragls", ".venv", "node_modules"}
IGNORED_PREFIXES = (".aider.tags.cache",)

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Package:
    """A PyPI sdist whose import package becomes one benchmark workspace."""

    name: str  # PyPI name
    version: str
    import_name: str  # the package directory kept from the sdist

    @property
    def key(self) -> str:
        return f"{self.name}-{self.version}"

    @property
    def root(self) -> Path:
        """Workspace root: holds only `<import_name>/`, so absolute imports resolve from it."""
        return SRC_DIR / self.key


PACKAGES: dict[str, Package] = {
    p.name: p
    for p in (
        Package("sympy", "1.13.3", "sympy"),
        Package("requests", "2.32.3", "requests"),
        Package("rich", "13.9.4", "rich"),
        Package("httpx", "0.28.1", "httpx"),
        Package("flask", "3.1.0", "flask"),
        # Deep internal imports (issue 9's empty-body tasks): a web framework, a CLI library, a data library.
        Package("starlette", "0.41.3", "starlette"),
        Package("click", "8.1.8", "click"),
        Package("pydantic", "2.10.3", "pydantic"),
    )
}
DEFAULT_PACKAGES = ["requests", "flask", "httpx", "rich", "sympy"]
QUICK_PACKAGES = ["requests", "flask"]
# The empty-body task set (body_tasks.py) adds the packages with deep internal imports.
BODY_PACKAGES = ["requests", "flask", "httpx", "rich", "starlette", "click", "pydantic", "sympy"]


def select_packages(names: Sequence[str] | None, quick: bool = False, body: bool = False) -> list[Package]:
    default = BODY_PACKAGES if body else DEFAULT_PACKAGES
    chosen = list(names) if names else (QUICK_PACKAGES if quick else default)
    unknown = [n for n in chosen if n not in PACKAGES]
    if unknown:
        raise SystemExit(f"unknown package(s): {', '.join(unknown)}; known: {', '.join(PACKAGES)}")
    return [PACKAGES[n] for n in chosen]


def add_package_args(parser) -> None:
    parser.add_argument("--packages", nargs="+", help=f"subset of {', '.join(PACKAGES)}")
    parser.add_argument("--quick", action="store_true", help="small packages, few repetitions")


def py_files(root: Path) -> list[str]:
    """Workspace-relative POSIX paths of the .py files under `root`, sorted."""
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(
            d for d in dirnames if d not in IGNORED_DIRS and not d.startswith(IGNORED_PREFIXES)
        )
        for name in filenames:
            if name.endswith(".py"):
                out.append((Path(dirpath) / name).relative_to(root).as_posix())
    return sorted(out)


def identifiers(text: str) -> list[str]:
    return _IDENT.findall(text)


def percentile(values: Sequence[float], p: float) -> float:
    """Linear-interpolated percentile (p in 0..100); NaN for no values."""
    if not values:
        return math.nan
    xs = sorted(values)
    k = (len(xs) - 1) * p / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def fmt(value: object, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:.{digits}f}"
    return str(value)


def print_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """A rich table on stdout (plain text when not a terminal)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for i, col in enumerate(columns):
        table.add_column(col, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*(fmt(v) for v in row))
    Console(width=max(120, len(columns) * 14)).print(table)


def write_json(name: str, data: object) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / name
    meta = {"python": sys.version.split()[0], "cpus": os.cpu_count(), "time": time.strftime("%FT%T")}
    path.write_text(json.dumps({"meta": meta, "results": data}, indent=2) + "\n")
    return path


def log(msg: str) -> None:
    """Progress on stderr, so stdout keeps only the tables."""
    print(msg, file=sys.stderr, flush=True)


def gold_position(
    spans: Iterable[tuple[str, int, int]], gold_path: str, gold_start: int, exclude_path: str | None = None
) -> int | None:
    """Where the gold definition's first line falls in the returned context, in lines.

    Spans are read in rank order; each costs its line span (end - start + 1). A span is a hit
    when it is in the gold file and contains `gold_start` (the def/class line); the position is
    the lines before it plus the lines of the hit span up to the def line. Spans from
    `exclude_path` (the current file, already in the prompt) are dropped and cost nothing.
    None: never found. hit@N <=> position <= N.
    """
    used = 0
    for path, start, end in spans:
        if path == exclude_path:
            continue
        if path == gold_path and start <= gold_start <= end:
            return used + gold_start - start + 1
        used += end - start + 1
    return None


def hit_at(position: int | None, budget: int) -> bool:
    return position is not None and position <= budget


def pct(x: float | None) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.0f}%"
