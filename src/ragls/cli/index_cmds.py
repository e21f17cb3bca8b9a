"""`ragls index`, `ragls deps` and `ragls symbols`: build and query the workspace index."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ragls.errors import WorkspaceError

if TYPE_CHECKING:
    from ragls.indexing.workspace import WorkspaceIndex


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("index", help="build or refresh the index of a workspace")
    p.add_argument("path", nargs="?", default=".", help="workspace folder (default: current folder)")
    p.add_argument("--json", action="store_true", help="print the update statistics as one JSON object")
    p.add_argument(
        "--gc",
        action="store_true",
        help="instead of indexing: remove the cached indexes of workspaces that no longer exist",
    )
    p.add_argument(
        "--idle-days",
        type=float,
        default=0.0,
        help="with --gc: only indexes unused for this many days (default 0: all of them)",
    )
    p.set_defaults(func=cmd_index)

    p = subparsers.add_parser("deps", help="imports of a file (resolved or external) and its importers")
    p.add_argument("file", help="file, absolute or relative to the current folder or the workspace")
    p.add_argument("--workspace", "-w", help="workspace folder (default: current folder)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_deps)

    p = subparsers.add_parser("symbols", help="definitions whose name matches QUERY")
    p.add_argument("query")
    p.add_argument("--workspace", "-w", help="workspace folder (default: current folder)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(func=cmd_symbols)


def _open(path: str | None) -> WorkspaceIndex:
    from ragls.cli.workspace_settings import session_kwargs
    from ragls.indexing.workspace import WorkspaceIndex

    root = Path(path or os.getcwd()).expanduser()
    if not root.is_dir():
        raise WorkspaceError(f"workspace folder does not exist: {root}")
    return WorkspaceIndex.open(root, session_kwargs(root.resolve())["index_config"])


def _progress_bar(enabled: bool) -> tuple[AbstractContextManager[Any], Any]:
    """A rich progress bar on stderr when it is a terminal, else nothing."""
    if not enabled:
        return nullcontext(), None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("indexing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=Console(stderr=True),
        transient=True,
    )
    task = bar.add_task("", total=None)

    def update(done: int, total: int, path: str) -> None:
        bar.update(task, completed=done, total=total, description=path[-50:])

    return bar, update


def cmd_gc(args: argparse.Namespace) -> int:
    from ragls.indexing.config import cache_root, remove_stale_indexes

    removed = remove_stale_indexes(max(args.idle_days, 0.0))
    if args.json:
        print(json.dumps([{"index_dir": str(r.index_dir), "root": r.root} for r in removed]))
        return 0
    for r in removed:
        print(f"removed {r.index_dir} ({r.root or 'unknown workspace'}, idle {r.idle_days:.0f} days)")
    print(f"{len(removed)} stale index(es) removed from {cache_root()}")
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    if args.gc:
        return cmd_gc(args)
    with _open(args.path) as index:
        context, progress = _progress_bar(sys.stderr.isatty())
        with context:
            stats = index.update(progress=progress)
        out = dataclasses.asdict(stats)
        out["index_dir"] = str(index.index_dir)
    if args.json:
        print(json.dumps(out, sort_keys=False))
        return 0
    reasons = ", ".join(f"{k} {v}" for k, v in stats.skip_reasons.items())
    print(
        f"{index.root}: {stats.files} files, {stats.symbols} symbols, {stats.chunks} chunks, "
        f"{stats.edges} edges"
    )
    print(
        f"parsed {stats.reindexed}, removed {stats.removed}, skipped {stats.skipped}"
        f"{f' ({reasons})' if reasons else ''} in {stats.seconds:.2f}s"
    )
    print(f"index: {index.index_dir}")
    return 0


def _ensure_indexed(index: WorkspaceIndex) -> None:
    if index.is_empty():
        index.update()


def _workspace_file(index: WorkspaceIndex, file: str) -> str:
    """FILE as a workspace-relative path: absolute, relative to the cwd, or to the workspace."""
    candidates = [Path(file)] if os.path.isabs(file) else [Path.cwd() / file, index.root / file]
    for cand in candidates:
        try:
            rel = cand.resolve().relative_to(index.root).as_posix()
        except ValueError:
            continue
        if cand.exists() or rel in set(index.files()):
            return rel
    raise WorkspaceError(f"{file} is not a file of the workspace {index.root}")


def cmd_deps(args: argparse.Namespace) -> int:
    with _open(args.workspace) as index:
        rel = _workspace_file(index, args.file)
        _ensure_indexed(index)
        imports = index.imports_of(rel)
        importers = index.importers_of(rel)
    if args.json:
        print(
            json.dumps(
                {
                    "path": rel,
                    "imports": [
                        {
                            "module": i.module,
                            "names": list(i.names),
                            "line": i.line,
                            "targets": list(i.targets),
                            "external": i.external,
                        }
                        for i in imports
                    ],
                    "importers": importers,
                }
            )
        )
        return 0
    print(f"{rel}")
    print(f"imports ({len(imports)}):")
    for imp in imports:
        names = f" ({', '.join(imp.names)})" if imp.names else ""
        where = ", ".join(imp.targets) if imp.targets else "external"
        print(f"  {imp.line:>5}  {imp.module}{names} -> {where}")
    print(f"imported by ({len(importers)}):")
    for path in importers:
        print(f"  {path}")
    return 0


def cmd_symbols(args: argparse.Namespace) -> int:
    with _open(args.workspace) as index:
        _ensure_indexed(index)
        rows = index.search_definitions(args.query, limit=max(args.limit, 1))
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "path": s.path,
                        "line": s.start_line,
                        "end_line": s.end_line,
                        "kind": s.kind,
                        "name": s.name,
                        "qualname": s.qualname,
                        "signature": s.signature,
                    }
                    for s in rows
                ]
            )
        )
        return 0
    for s in rows:
        print(f"{s.path}:{s.start_line} {s.kind} {s.qualname} {s.signature}".rstrip())
    if not rows:
        print(f"no definitions match {args.query!r}", file=sys.stderr)
    return 0
