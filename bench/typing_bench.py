"""Typing benchmark (issue 4): what a stable prompt saves while the user types.

For each task (cursor at the start of a usage line, buffer = prefix), complete, then type the
expected line one character at a time and complete after every key, as an editor asks for a
suggestion after each keystroke. Two engines over the same model and context: stable prompts
(the default: the context stays verbatim while its best snippets do, the prefix window starts
on 16-line boundaries) and unstable ones (context re-ordered by every retrieval, window
sliding with the cursor). llama.cpp re-reads the prompt from its first changed token, so the
stable engine should only pay for the first request at a place.

    python bench/typing_bench.py [--packages ...] [--tasks 6] [--keys 8] [--max-tokens 16]
"""

from __future__ import annotations

import argparse
import os
import time

from common import CACHE_DIR, log, percentile, print_table, select_packages, write_json
from tasks import load_tasks


def expected_line(task) -> str:
    full = task.buffer_full_text.split("\n")[task.line - 1]
    return full[task.col - 1 :]


def run(args: argparse.Namespace) -> dict:
    from ragls.engine.completion import CompletionEngine
    from ragls.engine.session import open_session
    from ragls.models.backend import ModelConfig
    from ragls.retrieval.types import CursorQuery

    rows: dict[str, dict[str, list[float]]] = {
        m: {"first": [], "keys": [], "reused": []} for m in ("stable", "unstable")
    }
    packages = select_packages(args.packages, args.quick)
    per_pkg = max(1, args.tasks // len(packages))
    for pkg in packages:
        os.environ["RAGLS_CACHE_DIR"] = str(CACHE_DIR / f"index-{pkg.name}")
        session = open_session(
            pkg.root, model_config=ModelConfig(model=args.model, max_tokens=args.max_tokens)
        )
        try:
            session.index.update()
            backend = session.backend
            engines = {
                "stable": session.completion_engine(),
                "unstable": CompletionEngine(
                    session.index,
                    session.retriever,
                    backend,
                    budget_tokens=session.config.retrieval.budget_tokens,
                    max_tokens=args.max_tokens,
                    stable_prompts=False,
                ),
            }
            tasks = [t for t in load_tasks(pkg) if len(expected_line(t)) >= args.keys][:per_pkg]
            log(f"{pkg.key}: {len(tasks)} tasks x {args.keys + 1} requests per engine")
            for task in tasks:
                typed = expected_line(task)[: args.keys]
                for name, engine in engines.items():
                    for i in range(len(typed) + 1):
                        buffer = task.buffer_prefix_text + typed[:i]
                        query = CursorQuery(task.file, task.line, task.col + i, buffer)
                        t0 = time.perf_counter()
                        engine.complete(query)
                        ms = (time.perf_counter() - t0) * 1000
                        rows[name]["first" if i == 0 else "keys"].append(ms)
                        if i:
                            rows[name]["reused"].append(float(getattr(backend, "last_prefix_reuse", 0)))
        finally:
            session.close()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", nargs="+")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--tasks", type=int, default=6)
    parser.add_argument("--keys", type=int, default=8, help="characters typed after the first request")
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--model")
    args = parser.parse_args()
    t0 = time.perf_counter()
    rows = run(args)
    table = []
    for name, r in rows.items():
        table.append(
            [
                name,
                len(r["first"]),
                len(r["keys"]),
                percentile(r["first"], 50),
                percentile(r["keys"], 50),
                percentile(r["keys"], 95),
                percentile(r["reused"], 50),
            ]
        )
    print_table(
        "completion latency while typing (ms; same model, same context source)",
        ["prompts", "places", "keystrokes", "first p50", "per key p50", "per key p95", "tokens reused p50"],
        table,
    )
    path = write_json("typing.json", {"args": vars(args), "rows": rows, "wall_s": time.perf_counter() - t0})
    log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
