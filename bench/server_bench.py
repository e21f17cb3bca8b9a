"""Language-server benchmark (issue 5): what the server adds around the model, and typing bursts.

Everything goes through a real stdio connection to `python -m ragls serve` (server_client.py,
a hand-written JSON-RPC client; one server process per part). The workspace (sympy by
default, `--workspace` to override, requests with `--quick`) is opened with
initializationOptions and the client waits for the first indexing pass ($/progress end). The
index dir is bench/.cache/index-<pkg> (shared with the other benchmarks); background embedding
is off unless `--embeddings onnx` (on sympy it would embed for a long time on the same cores).

(a) overhead: `--requests` inline completions at the end of random non-blank lines of random
    files (didOpen first), one at a time, debounceMs 0, maxTokens `--max-tokens`. Per request:
    client round trip, and the stage timings the server reports for it (ragls.showContext
    returns them with the context). overhead = round trip - generation_ms (so it contains retrieval,
    prompt building, post-processing, grounding, scheduling and JSON-RPC); `transport` = round
    trip - all stage timings. Target: overhead p95 < 20 ms.
(b) typing: `--bursts` lines typed one character every 30 ms (incremental didChange, then
    inlineCompletion without waiting, as editors do) with the server's default debounce and
    model settings. Counts requests, non-empty answers, the ragls.indexStatus counters (deltas),
    and the time from the last keystroke to the last request's answer.

Prints tables and writes bench/results/server.json.
"""

from __future__ import annotations

import argparse
import ast
import random
import re
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import CACHE_DIR, PACKAGES, log, percentile, print_table, py_files, write_json
from server_client import LspClient, file_uri, utf16_len
from sources import ensure_source
from tasks import is_test_file

SEED = 4321
KEY_INTERVAL_S = 0.030
COUNTERS = (
    "completion_requests",
    "completions_started",
    "completions_computed",
    "completions_cancelled",
    "completions_failed",
    "cache_hits",
)
SHORT = {
    "completion_requests": "srv requests",
    "completions_started": "started",
    "completions_computed": "computed",
    "completions_cancelled": "cancelled",
    "completions_failed": "failed",
    "cache_hits": "cache hits",
}
LOG_RE = re.compile(
    r"completion (?P<path>\S+):(?P<line>\d+):(?P<col>\d+) model=.*? (?P<ms>[\d.]+) ms "
    r"timings=(?P<timings>\{[^}]*\}) chars=(?P<chars>\d+)"
)


def stats(values: list[float]) -> tuple[float, float]:
    return percentile(values, 50), percentile(values, 95)


def candidate_files(root: Path, rng: random.Random, max_bytes: int = 150_000) -> list[str]:
    files = [f for f in py_files(root) if not is_test_file(f) and (root / f).stat().st_size <= max_bytes]
    rng.shuffle(files)
    return files


def read(root: Path, rel: str) -> str:
    return (root / rel).read_text(encoding="utf-8", errors="replace")


def start(root: Path, cache: Path, options: dict, tag: str) -> tuple[LspClient, dict]:
    client = LspClient(CACHE_DIR / "server-bench" / f"{tag}.log", env={"RAGLS_CACHE_DIR": str(cache)})
    t0 = time.perf_counter()
    client.initialize(root, options)
    status = client.wait_indexed()
    info = {
        "index_wait_s": time.perf_counter() - t0,
        "state": status.get("state"),
        "index": status.get("index"),
        "settings": status.get("settings"),
        "model": status.get("model"),
    }
    log(f"  [{tag}] indexed in {info['index_wait_s']:.1f}s: {status.get('state')}")
    return client, info


def server_timings(client: LspClient, uri: str) -> dict | None:
    """The stage timings the server kept for the last completion of `uri` (ragls.showContext)."""
    shown = client.command("ragls.showContext", uri) or {}
    return shown.get("timings") or None


def overhead(root: Path, cache: Path, args, base: dict) -> dict:
    rng = random.Random(SEED)
    options = {
        **base,
        "completion": {"debounceMs": 0},
        "model": {**base.get("model", {}), "maxTokens": args.max_tokens},
    }
    client, info = start(root, cache, options, "overhead")
    rows: list[dict] = []
    try:
        positions: list[tuple[str, int, str]] = []
        for rel in candidate_files(root, rng):
            lines = read(root, rel).split("\n")
            good = [i for i, ln in enumerate(lines, 1) if ln.strip() and not ln.strip().startswith("#")]
            positions += [(rel, i, lines[i - 1]) for i in rng.sample(good, min(2, len(good)))]
            if len(positions) >= args.requests + args.warmup:
                break
        positions = positions[: args.requests + args.warmup]
        opened: set[str] = set()
        for n, (rel, line, text) in enumerate(positions):
            uri = file_uri(root / rel)
            if rel not in opened:
                client.did_open(uri, read(root, rel))
                opened.add(rel)
            pending = client.inline_completion(uri, line - 1, utf16_len(text))
            row: dict = {"path": rel, "line": line}
            try:
                result = pending.wait(args.request_timeout)
                row["rtt_ms"] = pending.rtt_ms
                row["items"] = len((result or {}).get("items", []))
                t = server_timings(client, uri)
                if t is None:
                    row["no_timings"] = True
                else:
                    row["timings"] = t
                    row["overhead_ms"] = row["rtt_ms"] - t.get("generation_ms", 0.0)
                    row["transport_ms"] = row["rtt_ms"] - sum(
                        t.get(k, 0.0)
                        for k in ("retrieval_ms", "prompt_ms", "generation_ms", "postprocess_ms")
                    )
            except Exception as exc:  # one failing request is counted, not fatal
                row["error"] = f"{type(exc).__name__}: {exc}"
            if n >= args.warmup:  # the first requests load the model: untimed
                rows.append(row)
            if (n + 1) % 10 == 0:
                log(f"  {n + 1}/{len(positions)} requests")
        info["counters"] = {k: v for k, v in client.command("ragls.indexStatus").items() if k in COUNTERS}
    finally:
        client.close()
    timed = [r for r in rows if "overhead_ms" in r]

    def col(key: str, sub: str | None = None) -> list[float]:
        return [r["timings"][sub] for r in timed] if sub else [r[key] for r in timed]

    info["summary"] = {
        "requests": len(rows),
        "timed": len(timed),
        "errors": sum("error" in r for r in rows),
        "no_timings": sum("no_timings" in r for r in rows),
        "non_empty": sum(r.get("items", 0) > 0 for r in rows),
        **{
            f"{name}_p{p}": v
            for name, vals in (
                ("rtt", col("rtt_ms")),
                ("generation", col("", "generation_ms")),
                ("overhead", col("overhead_ms")),
                ("retrieval", col("", "retrieval_ms")),
                ("prompt", col("", "prompt_ms")),
                ("postprocess", col("", "postprocess_ms")),
                ("transport", col("transport_ms")),
            )
            for p, v in zip((50, 95), stats(vals), strict=True)
        },
    }
    info["rows"] = rows
    return info


def bursts(root: Path, cache: Path, args, base: dict) -> dict:
    rng = random.Random(SEED + 1)
    client, info = start(root, cache, base, "typing")
    records: list[dict] = []
    try:
        before = client.command("ragls.indexStatus")
        info["debounce_ms"] = (before.get("settings") or {}).get("completion", {}).get("debounceMs")
        files = candidate_files(root, rng)
        # warm the model outside the bursts (it loads on the first completion)
        warm = files.pop()
        client.did_open(file_uri(root / warm), read(root, warm))
        client.inline_completion(file_uri(root / warm), 0, 0).wait(args.request_timeout)
        for rel in files:
            if len(records) >= args.bursts:
                break
            source = read(root, rel)
            lines = source.split("\n")
            good = [
                i for i in typable_lines(source) if 25 <= len(lines[i].strip()) <= 70 and lines[i].isascii()
            ]
            if not good:
                continue
            records.append(one_burst(client, root, rel, lines, rng.choice(good), args.request_timeout))
            log(f"  burst {len(records)}: {records[-1].get('last_ms', float('nan')):.0f} ms")
        after = client.command("ragls.indexStatus")
        info["counters"] = {k: after.get(k, 0) - before.get(k, 0) for k in COUNTERS}
    finally:
        client.close()
    last = [r["last_ms"] for r in records if "last_ms" in r]
    info["summary"] = {
        "bursts": len(records),
        "keystrokes": sum(r["requests"] for r in records),
        "requests": sum(r["requests"] for r in records),
        "non_empty": sum(r["non_empty"] for r in records),
        "last_non_empty": sum(r.get("last_non_empty", False) for r in records),
        "last_ms_p50": percentile(last, 50),
        "last_ms_max": max(last) if last else float("nan"),
        "errors": sum(r["errors"] for r in records),
    }
    info["records"] = records
    return info


def typable_lines(source: str) -> list[int]:
    """0-based lines holding one whole statement (no docstrings, no multi-line statements)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return sorted(
        {
            n.lineno - 1
            for n in ast.walk(tree)
            if isinstance(n, ast.stmt)
            and n.lineno == n.end_lineno
            and not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))
            and not isinstance(n, ast.Import | ast.ImportFrom)
        }
    )


def one_burst(client: LspClient, root: Path, rel: str, lines: list[str], idx: int, timeout: float) -> dict:
    """Type lines[idx] (after its indentation) one character at a time into the opened file."""
    target = lines[idx]
    indent = target[: len(target) - len(target.lstrip())]
    typed = target.strip()
    text = "\n".join([*lines[:idx], indent, *lines[idx + 1 :]])
    uri = file_uri(root / rel)
    client.did_open(uri, text)
    pendings = []
    version = 1
    last_key = time.perf_counter()
    for i, ch in enumerate(typed):
        tick = time.perf_counter()
        version += 1
        last_key = tick
        client.did_change(uri, version, idx, len(indent) + i, ch)
        pendings.append(client.inline_completion(uri, idx, len(indent) + i + 1))
        time.sleep(max(0.0, KEY_INTERVAL_S - (time.perf_counter() - tick)))
    rec = {
        "path": rel,
        "line": idx + 1,
        "typed": typed,
        "requests": len(pendings),
        "non_empty": 0,
        "errors": 0,
    }
    for p in pendings:
        try:
            items = (p.wait(timeout) or {}).get("items", [])
            rec["non_empty"] += bool(items and items[0].get("insertText"))
        except Exception:
            rec["errors"] += 1
    final = pendings[-1]
    if final.arrived is not None:
        rec["last_ms"] = (final.arrived - last_key) * 1000
        items = (final.result or {}).get("items", [])
        rec["last_non_empty"] = bool(items and items[0].get("insertText"))
        rec["suggestion"] = items[0].get("insertText") if items else ""
    client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    return rec


def print_report(ws: str, a: dict | None, b: dict | None) -> None:
    if a and "summary" in a:
        s = a["summary"]
        rows = [
            (name, s[f"{key}_p50"], s[f"{key}_p95"])
            for name, key in (
                ("round trip", "rtt"),
                ("generation (server)", "generation"),
                ("overhead = rtt - generation", "overhead"),
                ("  retrieval", "retrieval"),
                ("  prompt", "prompt"),
                ("  postprocess + grounding", "postprocess"),
                ("  transport + scheduling", "transport"),
            )
        ]
        print_table(
            f"(a) {ws}: inline completion overhead over {s['timed']}/{s['requests']} requests "
            f"(debounce 0), ms; target overhead p95 < 20",
            ["", "p50", "p95"],
            rows,
        )
    if b and "summary" in b:
        s, c = b["summary"], b["counters"]
        print_table(
            f"(b) {ws}: typing bursts, {KEY_INTERVAL_S * 1000:.0f} ms per key, debounce "
            f"{b.get('debounce_ms')} ms",
            [
                "bursts",
                "requests",
                "non-empty",
                "last non-empty",
                *(SHORT[k] for k in COUNTERS),
                "last key -> answer p50 ms",
                "max ms",
            ],
            [
                (
                    s["bursts"],
                    s["requests"],
                    s["non_empty"],
                    s["last_non_empty"],
                    *(c[k] for k in COUNTERS),
                    s["last_ms_p50"],
                    s["last_ms_max"],
                )
            ],
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="ragls language server benchmark over stdio")
    ap.add_argument("--workspace", type=Path, help="workspace root (default: the sympy source)")
    ap.add_argument("--quick", action="store_true", help="requests, 10 requests, 2 bursts")
    ap.add_argument("--requests", type=int, help="timed requests for (a) (default 50; 10 with --quick)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed first requests (model load)")
    ap.add_argument("--bursts", type=int, help="typing bursts for (b) (default 5; 2 with --quick)")
    ap.add_argument("--max-tokens", type=int, default=16, help="model maxTokens for (a) (default 16)")
    ap.add_argument("--model", help="GGUF path for the server (default: its default model)")
    ap.add_argument("--embeddings", choices=("none", "onnx"), default="none", help="background embedding")
    ap.add_argument("--parts", nargs="+", choices=("overhead", "typing"), default=["overhead", "typing"])
    ap.add_argument("--request-timeout", type=float, default=180.0)
    args = ap.parse_args(argv)
    args.requests = args.requests or (10 if args.quick else 50)
    args.bursts = args.bursts or (2 if args.quick else 5)
    if args.workspace:
        root = args.workspace.resolve()
        pkg = next((p for p in PACKAGES.values() if p.root.resolve() == root), None)
    else:
        pkg = PACKAGES["requests" if args.quick else "sympy"]
        root = ensure_source(pkg).resolve()
    cache = CACHE_DIR / (f"index-{pkg.name}" if pkg else f"index-server-{root.name}")
    base: dict = {"embeddings": {"kind": args.embeddings}}
    if args.model:
        base["model"] = {"path": str(Path(args.model).resolve())}
    log(f"workspace {root} (index dir under {cache})")
    report: dict = {"workspace": str(root), "options": base, "max_tokens_a": args.max_tokens}
    for part, fn in (("overhead", overhead), ("typing", bursts)):
        if part in args.parts:
            try:
                report[part] = fn(root, cache, args, base)
            except Exception as exc:
                log(f"{part} FAILED: {type(exc).__name__}: {exc}")
                report[part] = {"error": f"{type(exc).__name__}: {exc}"}
    print_report(root.name, report.get("overhead"), report.get("typing"))
    path = write_json("server-quick.json" if args.quick else "server.json", report)
    log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
