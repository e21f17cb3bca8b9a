"""Empty-body retrieval benchmark (issue 9): context for a function body still to be written.

Tasks come from body_tasks.py: the buffer is the whole file with one function's body removed
(signature, docstring and the rest of the file kept), the cursor at the start of the empty body,
the gold the cross-file definitions of the names the removed body used. hit@N: at least one
gold definition's def line lies within the first N lines of the context (each method's spans
read in rank order, spans of the current file dropped, as in retrieval_bench.py); `all@N`:
every gold within N lines.

Methods, in the same run over the same buffers:
  jaccard-20, bm25-windows   windows ranked against the last 20 lines before the cursor
  aider-repomap              Aider's RepoMap.get_ranked_tags with the edited buffer as the chat file
  ragls-graph / -lexical / -dense   one ragls source
  ragls-dense-header-query   dense with the header + docstring as the query ("header_dense")
  ragls-fused                ragls as configured (all sources, fusion, the dense deadline), top_k 60
                             and 32,000 tokens, cut at the line budget like every method
  ragls-fused-1024-tokens    the editor's defaults: top_k 8, 1,024 tokens (filled with stubs)
  ragls-fused-1024-tokens-no-fill  the same without filling (top_k 8 snippets at most)
  ragls-fused-no-<signal>    ragls-fused with one body signal turned off (--ablations)
  ragls-fused-only-<signal>  ragls-fused with that body signal alone (--ablations)
  ragls-fused-no-body-signals  the ranking without any body signal (before issue 9; packing fills)

    python bench/body_bench.py [--packages ...] [--limit N] [--no-dense] [--dense-packages ...]
        [--ablations] [--no-aider] [--reuse-aider] [--methods ...] [--quick]

Latency: wall time per query (p50 / p95) and the querying thread's CPU time (`cpu p50/p95`,
`time.thread_time`), which a busy machine inflates far less than wall time; the dense query
embedding runs on its own thread and is only in the wall time.

Dense retrieval needs every chunk embedded; by default only the five smallest packages are
(`--dense-packages` chooses), see bench/README.md. Writes bench/results/body.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from baselines import WindowIndex, query_text
from body_tasks import BodyTask, load_body_tasks, task_path
from common import log, pct, percentile, print_table, select_packages, write_json
from retrieval_bench import Ragls
from sources import ensure_source

BUDGETS = (100, 200)
# Embedding every chunk takes minutes per package on two busy cores: rich, pydantic and sympy
# are left out by default (--dense-packages to choose).
SMALL_DENSE_DEFAULT = ["requests", "flask", "httpx", "starlette", "click"]
Span = tuple[str, int, int]


def gold_positions(spans: list[Span], task: BodyTask) -> list[int | None]:
    """Per gold: where its def line falls in the context, in lines (None: not found)."""
    out: list[int | None] = []
    for _sym, path, start, _end in task.golds:
        used, found = 0, None
        for sp, s, e in spans:
            if sp == task.file:
                continue
            if sp == path and s <= start <= e:
                found = used + start - s + 1
                break
            used += e - s + 1
        out.append(found)
    return out


def evaluate(name: str, tasks: list[BodyTask], run: Callable[[BodyTask], list[Span]],
             index=None) -> dict:
    """Positions and latencies; with a ragls `index`, each buffer is first set as its overlay.

    That is the editor's path: the server sets the overlay (and parses it) on every change, so
    a completion request finds the buffer parsed. The parse is timed apart (`parse_ms`).
    """
    per_task: list[list[int | None]] = []
    ms: list[float] = []
    parse_ms: list[float] = []
    cpu_ms: list[float] = []
    errors: list[str] = []
    for t in tasks:
        try:
            if index is not None:
                t0 = time.perf_counter()
                index.set_overlay(t.file, t.buffer_text)
                index.parsed(t.file)
                parse_ms.append((time.perf_counter() - t0) * 1000)
            t0, c0 = time.perf_counter(), time.thread_time()
            spans = run(t)
            ms.append((time.perf_counter() - t0) * 1000)
            cpu_ms.append((time.thread_time() - c0) * 1000)
            per_task.append(gold_positions(spans, t))
        except Exception as exc:
            per_task.append([None] * len(t.golds))
            errors.append(f"{t.id}: {type(exc).__name__}: {exc}")
        finally:
            if index is not None:
                index.clear_overlay(t.file)
    if errors:
        log(f"  {name}: {len(errors)} failed, first: {errors[0]}")
    return {"positions": per_task, "ms": ms, "errors": errors, "parse_ms": parse_ms, "cpu_ms": cpu_ms}


def evaluate_aider(pkg, tasks: list[BodyTask], reuse: bool) -> dict:
    from aider_driver import run_aider_file

    meta, recs = run_aider_file(pkg, task_path(pkg), tasks, reuse=reuse)
    per_task, ms, errors = [], [], []
    for t, r in zip(tasks, recs, strict=False):
        if (r["file"], r["line"]) != (t.file, t.line):
            raise RuntimeError("aider results out of step with the tasks")
        per_task.append(gold_positions([tuple(s) for s in r["spans"]], t))
        ms.append(r["elapsed_ms"])
        if "error" in r:
            errors.append(f"{t.id}: {r['error']}")
    per_task += [[None] * len(t.golds) for t in tasks[len(recs):]]
    return {"positions": per_task, "ms": ms, "errors": errors, "meta": meta}


def _empty() -> dict[str, list]:
    return {"positions": [], "ms": [], "errors": [], "parse_ms": [], "cpu_ms": []}


def _hit(positions: list[int | None], budget: int, every: bool = False) -> bool:
    ok = [p is not None and p <= budget for p in positions]
    return all(ok) if every else any(ok)


def summary(res: dict) -> dict:
    n = len(res["positions"])
    out: dict = {f"hit@{b}": sum(_hit(p, b) for p in res["positions"]) / n if n else None for b in BUDGETS}
    for b in BUDGETS:
        out[f"all@{b}"] = sum(_hit(p, b, every=True) for p in res["positions"]) / n if n else None
    cpu = res.get("cpu_ms", [])
    out.update(n=n, p50_ms=percentile(res["ms"], 50), p95_ms=percentile(res["ms"], 95),
               errors=len(res["errors"]),
               cpu_p50_ms=percentile(cpu, 50), cpu_p95_ms=percentile(cpu, 95))
    return out


def table(title: str, results: dict[str, dict]) -> None:
    rows = []
    for name, res in results.items():
        s = summary(res)
        rows.append((name, s["n"], pct(s["hit@100"]), pct(s["hit@200"]), pct(s["all@100"]), pct(s["all@200"]),
                     s["p50_ms"], s["p95_ms"], s["cpu_p50_ms"], s["cpu_p95_ms"], s["errors"]))
    print_table(title, ["method", "tasks", "hit@100", "hit@200", "all@100", "all@200", "p50 ms", "p95 ms",
                        "cpu p50", "cpu p95", "errors"], rows)
    parse = next((r["parse_ms"] for r in results.values() if r.get("parse_ms")), None)
    if parse:
        print(f"  buffer parse on change (set_overlay, not in the latencies above): "
              f"p50 {percentile(parse, 50):.1f} ms, p95 {percentile(parse, 95):.1f} ms")


def goals(results: dict[str, dict]) -> list[str]:
    s = {k: summary(v) for k, v in results.items()}
    fused, aider = s.get("ragls-fused"), s.get("aider-repomap")
    lines = []
    if fused and aider:
        d = 100 * (fused["hit@100"] - aider["hit@100"])
        lines.append(f"hit@100: ragls-fused {pct(fused['hit@100'])} vs aider {pct(aider['hit@100'])} "
                     f"({d:+.1f} points; target +10): {'MET' if d >= 10 else 'NOT met'}")
    if fused:
        d = 100 * (fused["hit@200"] - fused["hit@100"])
        lines.append(f"hit@200 {pct(fused['hit@200'])} vs own hit@100 {pct(fused['hit@100'])} "
                     f"({d:+.1f} points; target +5): {'MET' if d >= 5 else 'NOT met'}")
    return lines


def ragls_methods(ragls: Ragls, dense: bool, ablations: bool) -> dict[str, Callable[[BodyTask], list[Span]]]:
    from ragls.retrieval.body_context import BODY_SIGNALS

    text_of = lambda t: t.buffer_text  # noqa: E731 - the whole edited buffer
    out = {"ragls-graph": ragls.method(["graph"], True, text_of),
           "ragls-lexical": ragls.method(["lexical"], True, text_of)}
    if dense:
        out["ragls-dense"] = ragls.method(["dense"], True, text_of)
        out["ragls-dense-header-query"] = ragls.method(["dense"], True, text_of, enable=("header_dense",))
    out["ragls-fused"] = ragls.method(None, False, text_of)
    # the editor's defaults (top_k 8, 1024 tokens), whose budget packing now fills with stubs
    defaults = ragls.retriever.config
    out["ragls-fused-1024-tokens"] = ragls.method(None, False, text_of, top_k=defaults.top_k,
                                                  budget_tokens=defaults.budget_tokens)
    out["ragls-fused-1024-tokens-no-fill"] = ragls.method(
        None, False, text_of, top_k=defaults.top_k, budget_tokens=defaults.budget_tokens,
        disable=("fill",), no_fill_budget=True)
    if ablations:
        default = ragls.retriever.config.body_signals
        for sig in BODY_SIGNALS:  # each signal off (when on by default) or on alone
            if sig in default:
                out[f"ragls-fused-no-{sig}"] = ragls.method(None, False, text_of, disable=(sig,))
        for sig in BODY_SIGNALS:
            others = tuple(s for s in BODY_SIGNALS if s != sig)
            out[f"ragls-fused-only-{sig}"] = ragls.method(None, False, text_of, disable=others, enable=(sig,))
    out["ragls-fused-no-body-signals"] = ragls.method(None, False, text_of, disable=tuple(BODY_SIGNALS))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="empty-body retrieval benchmark")
    ap.add_argument("--packages", nargs="+")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--limit", type=int)
    ap.add_argument("--methods", nargs="+", help="subset of methods to run")
    ap.add_argument("--no-dense", action="store_true", help="no dense retrieval anywhere")
    ap.add_argument("--dense-packages", nargs="+", default=SMALL_DENSE_DEFAULT,
                    help="packages whose chunks are all embedded (default: the five smallest)")
    ap.add_argument("--ablations", action="store_true", help="ragls-fused with each body signal off")
    ap.add_argument("--no-aider", action="store_true")
    ap.add_argument("--reuse-aider", action="store_true")
    args = ap.parse_args(argv)
    limit = args.limit or (10 if args.quick else None)
    wanted = (lambda m: m in args.methods) if args.methods else (lambda m: True)

    every: dict[str, dict] = {}
    groups: dict[str, dict[str, dict]] = {"small packages": {}, "sympy": {}}
    report: dict = {}
    for pkg in select_packages(args.packages, args.quick, body=True):
        ensure_source(pkg)
        tasks = load_body_tasks(pkg, limit)
        log(f"{pkg.key}: {len(tasks)} empty-body tasks")
        results: dict[str, dict] = {}
        windows = WindowIndex(pkg.root)
        for name, fn in (("jaccard-20", windows.jaccard), ("bm25-windows", windows.bm25)):
            if wanted(name):
                run = lambda t, fn=fn: fn(query_text(t.buffer_prefix_text), t.file)  # noqa: E731
                results[name] = evaluate(name, tasks, run)
        if not args.no_aider and wanted("aider-repomap"):
            try:
                results["aider-repomap"] = evaluate_aider(pkg, tasks, args.reuse_aider)
                results["aider-repomap"].pop("meta")
            except Exception as exc:
                log(f"  aider-repomap FAILED: {exc}")
        dense = not args.no_dense and pkg.name in args.dense_packages
        ragls = Ragls(pkg, dense, None, [], None)
        for name, run in ragls_methods(ragls, dense, args.ablations).items():
            if not wanted(name):
                continue
            evaluate(name, tasks[:3], run, ragls.index)  # warm caches untimed
            results[name] = evaluate(name, tasks, run, ragls.index)
            if name == "ragls-fused":
                parse = results[name]["parse_ms"]
                ragls.info["buffer_parse_ms"] = {"p50": percentile(parse, 50), "p95": percentile(parse, 95)}
        ragls.close()
        table(f"{pkg.key}: {len(tasks)} empty-body tasks, context budget in lines", results)
        report[pkg.key] = {"summary": {k: summary(v) for k, v in results.items()},
                           "info": ragls.info, "dense": dense,
                           "positions": {k: v["positions"] for k, v in results.items()}}
        group = groups["sympy" if pkg.name == "sympy" else "small packages"]
        for name, res in results.items():
            for agg in (every.setdefault(name, _empty()), group.setdefault(name, _empty())):
                for key in agg:
                    agg[key] += res.get(key, [])
    for title, res in groups.items():
        if res and len(report) > 1:
            table(f"{title} (latency group)", res)
    table("total (all packages)", every)
    report["total"] = {"summary": {k: summary(v) for k, v in every.items()}, "goals": goals(every)}
    for line in report["total"]["goals"]:
        print("goal", line)
    log(f"wrote {write_json('body.json', report)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
