"""Drives `aider_repomap.py` inside aider's own virtualenv and reads back its ranked spans.

`ensure_venv()` creates `bench/.cache/aider-venv` with `pip install aider-chat` on first use
(aider-chat 0.86.2 installs cleanly on Python 3.11; set AIDER_VERSION to pin another). The
tags cache lives in `bench/.cache/aider-tags/<pkg>/` and persists across runs.

Standalone: `python bench/aider_driver.py [--packages ...] [--limit N]` prints aider's hit rates.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    BENCH_DIR,
    CACHE_DIR,
    Package,
    add_package_args,
    gold_position,
    hit_at,
    log,
    pct,
    percentile,
    print_table,
    select_packages,
)
from tasks import CURSORS, load_tasks, task_path

VENV = CACHE_DIR / "aider-venv"
VENV_PY = VENV / "bin" / "python"
SCRIPT = BENCH_DIR / "aider_repomap.py"


def ensure_venv() -> Path:
    """The aider venv's python, creating the venv on first use."""
    if VENV_PY.is_file():
        return VENV_PY
    spec = "aider-chat" + (f"=={os.environ['AIDER_VERSION']}" if os.environ.get("AIDER_VERSION") else "")
    log(f"creating {VENV} and installing {spec} (a few minutes) ...")
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(VENV_PY), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    subprocess.run([str(VENV_PY), "-m", "pip", "install", "-q", spec], check=True)
    return VENV_PY


def _read(out: Path) -> tuple[dict, list[dict]]:
    lines = [json.loads(x) for x in out.read_text().splitlines() if x.strip()]
    return lines[0]["meta"], lines[1:]


def run_aider(pkg: Package, limit: int | None = None, cursor: str = "line-start",
              timeout_s: float = 7200, reuse: bool = False) -> tuple[dict, list[dict]]:
    """(meta, one record per task: file, line, symbol, spans, elapsed_ms[, error]).

    reuse: return the last run's records when they cover the same first `limit` tasks (aider
    takes seconds per sympy query; its numbers do not change with ragls).
    """
    tasks = load_tasks(pkg, limit, cursor)  # builds the task file if missing
    return run_aider_file(pkg, task_path(pkg, cursor), tasks, timeout_s, reuse)


def run_aider_file(pkg: Package, tasks_file: Path, tasks: list, timeout_s: float = 7200,
                   reuse: bool = False) -> tuple[dict, list[dict]]:
    """`run_aider` over any task file whose records have file, line and a buffer (`tasks` loaded)."""
    limit = len(tasks)
    out = CACHE_DIR / f"aider-results-{tasks_file.stem.removeprefix('tasks-')}.jsonl"
    if reuse and out.is_file():
        meta, recs = _read(out)
        if len(recs) >= len(tasks) and all(
            (r["file"], r["line"]) == (t.file, t.line) for t, r in zip(tasks, recs, strict=False)
        ):
            log(f"  aider: reusing {out.name}")
            return {**meta, "reused": True}, recs[: len(tasks)]
    python = ensure_venv()
    cmd = [
        str(python), str(SCRIPT), "--root", str(pkg.root), "--tasks", str(tasks_file),
        "--out", str(out), "--cache-dir", str(CACHE_DIR / "aider-tags" / pkg.name),
    ]
    if limit:
        cmd += ["--limit", str(limit)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    if proc.returncode != 0:
        raise RuntimeError(f"aider_repomap.py failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return _read(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="aider repo-map hit rates")
    add_package_args(ap)
    ap.add_argument("--limit", type=int, default=0, help="tasks per package (0: all)")
    ap.add_argument("--cursor", choices=CURSORS, default="line-start")
    ap.add_argument("--reuse", action="store_true", help="reuse the last run's results if they match")
    args = ap.parse_args(argv)
    rows = []
    for pkg in select_packages(args.packages, args.quick):
        tasks = load_tasks(pkg, args.limit or (10 if args.quick else None), args.cursor)
        meta, recs = run_aider(pkg, len(tasks), args.cursor, reuse=args.reuse)
        pairs = zip(tasks, recs, strict=False)
        pos = [gold_position(r["spans"], t.gold_path, t.gold_start, t.file) for t, r in pairs]
        ms = [r["elapsed_ms"] for r in recs]
        n = len(recs)
        rows.append((
            pkg.key, n, pct(sum(hit_at(p, 100) for p in pos) / n), pct(sum(hit_at(p, 200) for p in pos) / n),
            percentile(ms, 50), percentile(ms, 95), meta["warmup_s"], sum("error" in r for r in recs),
        ))
    print_table("aider repo map", ["package", "tasks", "hit@100", "hit@200", "p50 ms", "p95 ms",
                                   "warm-up s", "errors"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
