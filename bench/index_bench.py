"""Indexing benchmark: cold index throughput and peak memory, then incremental update latency.

Per package (real PyPI sources, see sources.py):
- cold: `ragls index <root> --json` in a child process with a fresh cache
  (`RAGLS_CACHE_DIR=bench/.cache/index-<pkg>`, deleted first); wall time of the child and its
  peak RSS (`os.wait4` rusage of that one child, so runs do not mix);
- one-file update (targeted): append a comment line to a random file, then
  `WorkspaceIndex.update(paths=[file])` in-process (the watcher's path), `--repeat` times;
- full incremental scan: another edit, then `WorkspaceIndex.update()` (discover, hash, re-parse
  what changed), `--repeat` times.
Edited files are restored afterwards (and the index brought back in sync).

Prints one table and writes bench/results/index.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    CACHE_DIR,
    add_package_args,
    log,
    percentile,
    print_table,
    py_files,
    select_packages,
    write_json,
)
from sources import ensure_source, source_stats

EDIT_MARK = "# ragls-bench edit"


def index_cache_dir(pkg_name: str) -> Path:
    return CACHE_DIR / f"index-{pkg_name}"


def ragls_command() -> list[str]:
    script = Path(sys.executable).with_name("ragls")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "ragls"]


def run_measured(cmd: list[str], env: dict[str, str]) -> tuple[int, float, float, str, str]:
    """(exit code, wall s, peak RSS MB of that child, stdout, stderr)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        # ru_maxrss is KiB on Linux, bytes on macOS
        rss_mb = usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
        return proc.returncode, wall, rss_mb, out.read(), err.read()


# Used only while the CLI has no `index` command: the same work through the Python API.
_API_CHILD = """
import dataclasses, json, sys
from ragls.indexing.workspace import WorkspaceIndex
with WorkspaceIndex.open(sys.argv[1]) as index:
    print(json.dumps(dataclasses.asdict(index.update())))
"""


def cold_index(root: Path, cache: Path) -> dict:
    if cache.exists():
        shutil.rmtree(cache)
    cache.mkdir(parents=True)
    env = {**os.environ, "RAGLS_CACHE_DIR": str(cache)}
    how = "cli"
    rc, wall, rss, out, err = run_measured([*ragls_command(), "index", str(root), "--json"], env)
    if rc == 2 and "invalid choice" in err:
        how = "api"
        shutil.rmtree(cache)
        cache.mkdir(parents=True)
        rc, wall, rss, out, err = run_measured([sys.executable, "-c", _API_CHILD, str(root)], env)
    if rc != 0:
        raise RuntimeError(f"ragls index exited {rc}: {err.strip()[-1500:]}")
    stats = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
    return {"wall_s": wall, "peak_rss_mb": rss, "stats": stats, "via": how}


def incremental(root: Path, cache: Path, repeat: int, seed: int = 7) -> dict:
    """Targeted one-file updates and full incremental scans, each after a one-line edit."""
    os.environ["RAGLS_CACHE_DIR"] = str(cache)
    from ragls.indexing.workspace import WorkspaceIndex

    files = py_files(root)
    rng = random.Random(seed)
    originals: dict[str, bytes] = {}
    targeted: list[float] = []
    scans: list[float] = []
    errors: list[str] = []
    index = WorkspaceIndex.open(root)
    try:
        t0 = time.perf_counter()
        index.update()
        noop_ms = (time.perf_counter() - t0) * 1000
        counter = 0
        for _ in range(repeat):
            for kind, samples in (("targeted", targeted), ("scan", scans)):
                rel = rng.choice(files)
                path = root / rel
                originals.setdefault(rel, path.read_bytes())
                counter += 1
                with path.open("a", encoding="utf-8") as fh:
                    fh.write(f"\n{EDIT_MARK} {counter}\n")
                try:
                    t0 = time.perf_counter()
                    index.update(paths=[rel]) if kind == "targeted" else index.update()
                    samples.append((time.perf_counter() - t0) * 1000)
                except Exception as exc:  # counted, not fatal
                    errors.append(f"{kind} {rel}: {type(exc).__name__}: {exc}")
    finally:
        for rel, data in originals.items():
            (root / rel).write_bytes(data)
        try:
            index.update(paths=list(originals))
        finally:
            index.close()
    return {
        "noop_scan_ms": noop_ms,
        "targeted_ms": targeted,
        "scan_ms": scans,
        "errors": errors,
        "edited_files": len(originals),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="ragls indexing benchmark")
    add_package_args(ap)
    ap.add_argument("--repeat", type=int, help="edits per package and kind (default 50; 10 with --quick)")
    ap.add_argument("--no-cold", action="store_true", help="reuse the existing index; skip the cold run")
    args = ap.parse_args(argv)
    repeat = args.repeat or (10 if args.quick else 50)
    results: dict[str, dict] = {}
    rows = []
    failures = 0
    for pkg in select_packages(args.packages, args.quick):
        root = ensure_source(pkg)
        n_files, mb = source_stats(root)
        res: dict = {"package": pkg.key, "py_files": n_files, "mb": mb}
        cache = index_cache_dir(pkg.name)
        try:
            if not args.no_cold or not cache.exists():
                log(f"{pkg.key}: cold index ...")
                res["cold"] = cold_index(root, cache)
            log(f"{pkg.key}: {repeat} targeted updates + {repeat} full scans ...")
            res["incremental"] = incremental(root, cache, repeat)
        except Exception as exc:
            failures += 1
            res["error"] = f"{type(exc).__name__}: {exc}"
            log(f"{pkg.key}: FAILED {res['error']}")
        results[pkg.key] = res
        cold = res.get("cold", {})
        inc = res.get("incremental", {})
        wall = cold.get("wall_s")
        indexed = cold.get("stats", {}).get("files", n_files)
        rows.append((
            pkg.key, indexed, mb, wall,
            indexed / wall if wall else None, mb / wall if wall else None, cold.get("peak_rss_mb"),
            percentile(inc.get("targeted_ms", []), 50), percentile(inc.get("targeted_ms", []), 95),
            percentile(inc.get("scan_ms", []), 50), percentile(inc.get("scan_ms", []), 95),
            len(inc.get("errors", [])) + ("error" in res),
        ))
    print_table(
        f"ragls indexing (cold: child process; updates: in-process, {repeat} edits each)",
        ["package", "files", "MB", "cold s", "files/s", "MB/s", "peak RSS MB",
         "update p50 ms", "update p95 ms", "scan p50 ms", "scan p95 ms", "errors"],
        rows,
    )
    path = write_json("index.json", results)
    log(f"wrote {path}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
