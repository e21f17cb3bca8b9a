"""Retrieval benchmark: does the context at a cursor contain the definition the next line needs?

Tasks come from tasks.py (real cross-file usages; the buffer is the file text up to the cursor).
Methods, all over the same workspace and buffer:
  none, jaccard-20, bm25-windows    lexical baselines (baselines.py)
  aider-repomap                     Aider's RepoMap.get_ranked_tags, in its own venv (aider_driver.py)
  ragls-dense / -graph / -lexical   one ragls source: Retriever.retrieve(sources=[...])
  ragls-fused                       ragls with its default sources and fusion

Equal budget for everyone, in lines: each method's ranked spans are read in order, each costing
its line span (one line per aider tag), spans in the current file are dropped; hit@N means the
gold def line is within the first N lines (common.gold_position). ragls is called with a
generous token budget and top_k, then truncated the same way. Latency is wall time per query
(in-process for ragls and the baselines; aider's own timing of get_ranked_tags).

Before querying, the ragls index is refreshed (WorkspaceIndex.update) and every chunk embedded
(EmbeddingScheduler.run_until_done; vectors persist in the index dir, so later runs reuse them).
`--no-dense` skips embedding and the dense method; `--max-embed-files N` embeds only the task
files and their import neighbourhood (N files at most), as the scheduler would do first.

Prints one table per package and a total; writes bench/results/retrieval.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from baselines import WindowIndex, lexical_methods
from common import (
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
    write_json,
)
from sources import ensure_source
from tasks import CURSORS, Task, load_tasks

BUDGETS = (100, 200)
# name -> (sources, no deadline). The retriever skips dense retrieval that is not done within
# RetrievalConfig.latency_budget_ms; single-source runs and `ragls-fused-nodeadline` lift that
# deadline to measure what the sources find, `ragls-fused` is the product as configured.
RAGLS_SOURCES: dict[str, tuple[list[str] | None, bool]] = {
    "ragls-dense": (["dense"], True),
    "ragls-graph": (["graph"], True),
    "ragls-lexical": (["lexical"], True),
    "ragls-fused": (None, False),  # the retriever's default sources and deadline
    "ragls-fused-nodeadline": (None, True),
}
NO_DEADLINE_MS = 600_000.0
RAGLS_TOP_K = 60
RAGLS_BUDGET_TOKENS = 32_000  # generous: the line budget is applied afterwards
Span = tuple[str, int, int]
Method = Callable[[Task], list[Span]]


class Ragls:
    """The ragls index, embeddings and retriever of one package."""

    def __init__(self, pkg: Package, dense: bool, max_embed_files: int | None, tasks: list[Task],
                 latency_budget_ms: float | None):
        os.environ["RAGLS_CACHE_DIR"] = str(CACHE_DIR / f"index-{pkg.name}")
        from ragls.indexing.workspace import WorkspaceIndex
        from ragls.retrieval.retriever import Retriever
        from ragls.retrieval.types import RetrievalConfig

        self.info: dict = {}
        self.index = WorkspaceIndex.open(pkg.root)
        t0 = time.perf_counter()
        stats = self.index.update()
        self.info["update_s"] = time.perf_counter() - t0
        self.info["index"] = {"files": stats.files, "chunks": stats.chunks, "reindexed": stats.reindexed}
        embedder = store = None
        if dense:
            embedder, store = self._embed(max_embed_files, tasks)
        config = RetrievalConfig()
        if latency_budget_ms is not None:
            config.latency_budget_ms = latency_budget_ms
        self.info["latency_budget_ms"] = config.latency_budget_ms
        self.retriever = Retriever(self.index, embedder, store, config=config)
        self.retriever_nodeadline = Retriever(
            self.index, embedder, store, config=RetrievalConfig(latency_budget_ms=NO_DEADLINE_MS))

    def _embed(self, max_files: int | None, tasks: list[Task]):
        from ragls.indexing.vectors import VectorStore
        from ragls.models.embeddings import OnnxEmbedder
        from ragls.retrieval.embedding_jobs import EmbeddingScheduler, chunk_embedding_text

        embedder = OnnxEmbedder()
        store = VectorStore(self.index.index_dir, embedder.model_id, embedder.dim)
        before = len(store)
        t0 = time.perf_counter()
        if max_files:
            files = dict.fromkeys(t.file for t in tasks)
            for t in tasks:
                files.update(dict.fromkeys(x for imp in self.index.imports_of(t.file) for x in imp.targets))
            for t in tasks:
                files.update(dict.fromkeys(self.index.importers_of(t.file)))
            rows = [r for f in list(files)[:max_files] for r in self.index.chunks_in(f)]
            todo = {r.content_hash: r for r in rows if not store.has(r.content_hash)}
            batch = list(todo.values())
            for i in range(0, len(batch), 32):
                part = batch[i : i + 32]
                vecs = embedder.embed([chunk_embedding_text(r) for r in part])
                store.add([r.content_hash for r in part], vecs)
            store.save()
            embedded = len(batch)
        else:
            embedded = EmbeddingScheduler(self.index, embedder, store).run_until_done()
        self.info.update(embed_s=time.perf_counter() - t0, embedded=embedded, vectors_before=before,
                         vectors=len(store), max_embed_files=max_files)
        log(f"  embedded {embedded} chunks in {self.info['embed_s']:.1f}s ({len(store)} vectors)")
        return embedder, store

    def method(self, sources: list[str] | None, no_deadline: bool,
               text_of: Callable[[Any], str] | None = None, disable: tuple[str, ...] = (),
               enable: tuple[str, ...] = (), top_k: int = RAGLS_TOP_K,
               budget_tokens: int = RAGLS_BUDGET_TOKENS, no_fill_budget: bool = False) -> Method:
        """A method over `Task`s (or body tasks: `text_of` gives the buffer); body signals off / on."""
        from dataclasses import replace

        from ragls.retrieval.retriever import Retriever
        from ragls.retrieval.types import CursorQuery

        retriever = self.retriever_nodeadline if no_deadline else self.retriever
        if disable or enable or no_fill_budget:
            cfg = retriever.config
            kept = tuple(s for s in cfg.body_signals if s not in disable)
            cfg = replace(cfg, body_signals=kept + tuple(s for s in enable if s not in kept),
                          fill_budget=cfg.fill_budget and not no_fill_budget)
            retriever = Retriever(self.index, retriever.embedder, retriever.vectors, config=cfg)
        text_of = text_of or (lambda t: t.buffer_prefix_text)

        def run(task: Task) -> list[Span]:
            query = CursorQuery(task.file, task.line, task.col, text_of(task))
            res = retriever.retrieve(query, top_k=top_k, budget_tokens=budget_tokens, sources=sources)
            return [(s.path, s.start_line, s.end_line) for s in res.snippets]

        return run

    def close(self) -> None:
        self.index.close()


def evaluate(name: str, tasks: list[Task], run: Method) -> dict:
    """Positions and latencies of one in-process method over the tasks."""
    positions: list[int | None] = []
    ms: list[float] = []
    errors: list[str] = []
    for t in tasks:
        try:
            t0 = time.perf_counter()
            spans = run(t)
            ms.append((time.perf_counter() - t0) * 1000)
            positions.append(gold_position(spans, t.gold_path, t.gold_start, t.file))
        except Exception as exc:  # one failing task is counted, not fatal
            positions.append(None)
            errors.append(f"{t.id}: {type(exc).__name__}: {exc}")
    if errors:
        log(f"  {name}: {len(errors)} failed, first: {errors[0]}")
    return {"positions": positions, "ms": ms, "errors": errors}


def evaluate_aider(pkg: Package, tasks: list[Task], cursor: str, reuse: bool) -> dict:
    from aider_driver import run_aider

    meta, recs = run_aider(pkg, len(tasks), cursor, reuse=reuse)
    positions, ms, errors = [], [], []
    for t, r in zip(tasks, recs, strict=False):
        if (r["file"], r["line"]) != (t.file, t.line):
            raise RuntimeError("aider results out of step with the tasks")
        positions.append(gold_position([tuple(s) for s in r["spans"]], t.gold_path, t.gold_start, t.file))
        ms.append(r["elapsed_ms"])
        if "error" in r:
            errors.append(f"{t.id}: {r['error']}")
    positions += [None] * (len(tasks) - len(recs))
    return {"positions": positions, "ms": ms, "errors": errors, "meta": meta}


def summary(res: dict) -> dict:
    n = len(res["positions"])
    out = {f"hit@{b}": sum(hit_at(p, b) for p in res["positions"]) / n if n else None for b in BUDGETS}
    out.update(n=n, p50_ms=percentile(res["ms"], 50), p95_ms=percentile(res["ms"], 95),
               errors=len(res["errors"]))
    return out


def table(title: str, results: dict[str, dict]) -> None:
    rows = []
    for name, res in results.items():
        s = summary(res)
        hits = (pct(s[f"hit@{b}"]) for b in BUDGETS)
        rows.append((name, s["n"], *hits, s["p50_ms"], s["p95_ms"], s["errors"]))
    columns = ["method", "tasks", *(f"hit@{b}" for b in BUDGETS), "p50 ms", "p95 ms", "errors"]
    print_table(title, columns, rows)


def goals(results: dict[str, dict]) -> list[str]:
    """The targets, checked on the totals: fused > aider, >= 2x best lexical, p95 <= aider/10."""
    s = {k: summary(v) for k, v in results.items()}
    fused, aider = s.get("ragls-fused"), s.get("aider-repomap")
    lines = []
    for b in BUDGETS:
        key = f"hit@{b}"
        if fused and aider:
            lines.append(f"{key}: ragls-fused {pct(fused[key])} vs aider {pct(aider[key])}: "
                         f"{'MET' if fused[key] > aider[key] else 'NOT met'}")
        lex = [s[m][key] for m in ("jaccard-20", "bm25-windows") if m in s]
        if fused and lex:
            best = max(lex)
            ok = fused[key] >= 2 * best
            lines.append(f"{key}: ragls-fused {pct(fused[key])} vs 2 x best lexical {pct(best)}: "
                         f"{'MET' if ok else 'NOT met'}")
    if fused and aider:
        ok = fused["p95_ms"] <= aider["p95_ms"] / 10
        lines.append(f"p95: ragls-fused {fused['p95_ms']:.1f} ms vs aider/10 {aider['p95_ms'] / 10:.1f} ms: "
                     f"{'MET' if ok else 'NOT met'}")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="cross-file retrieval benchmark")
    add_package_args(ap)
    ap.add_argument("--limit", type=int, help="tasks per package (default all; 10 with --quick)")
    ap.add_argument("--methods", nargs="+", help="subset of methods to run")
    ap.add_argument("--cursor", choices=CURSORS, default="line-start", help="task variant (tasks.py)")
    ap.add_argument("--no-dense", action="store_true", help="no embedding, no dense method")
    ap.add_argument("--no-aider", action="store_true", help="skip the aider repo map")
    ap.add_argument("--reuse-aider", action="store_true", help="reuse aider's last results for these tasks")
    ap.add_argument("--no-ragls", action="store_true", help="baselines and aider only")
    ap.add_argument("--max-embed-files", type=int, help="embed only task files and their neighbourhood")
    ap.add_argument("--latency-budget-ms", type=float, help="override RetrievalConfig.latency_budget_ms")
    args = ap.parse_args(argv)
    limit = args.limit or (10 if args.quick else None)

    every: dict[str, dict] = {}
    report: dict[str, dict] = {}
    for pkg in select_packages(args.packages, args.quick):
        ensure_source(pkg)
        tasks = load_tasks(pkg, limit, args.cursor)
        log(f"{pkg.key}: {len(tasks)} tasks")
        results: dict[str, dict] = {}
        info: dict = {}
        wanted = (lambda m: m in args.methods) if args.methods else (lambda m: True)

        t0 = time.perf_counter()
        windows = WindowIndex(pkg.root)
        info["windows"] = {"count": len(windows), "build_s": time.perf_counter() - t0}
        for name, fn in lexical_methods(windows).items():
            if wanted(name):
                results[name] = evaluate(name, tasks, lambda t, fn=fn: fn(t.buffer_prefix_text, t.file))

        if not args.no_aider and wanted("aider-repomap"):
            try:
                results["aider-repomap"] = evaluate_aider(pkg, tasks, args.cursor, args.reuse_aider)
                info["aider"] = results["aider-repomap"].pop("meta")
            except Exception as exc:
                log(f"  aider-repomap FAILED: {exc}")
                info["aider_error"] = str(exc)

        if not args.no_ragls:
            try:
                ragls = Ragls(pkg, not args.no_dense, args.max_embed_files, tasks, args.latency_budget_ms)
            except Exception as exc:
                log(f"  ragls setup FAILED: {type(exc).__name__}: {exc}")
                info["ragls_error"] = f"{type(exc).__name__}: {exc}"
                ragls = None
            if ragls is not None:
                info["ragls"] = ragls.info
                for name, (sources, no_deadline) in RAGLS_SOURCES.items():
                    skip_dense = args.no_dense and (sources == ["dense"] or name.endswith("nodeadline"))
                    if not wanted(name) or skip_dense:
                        continue
                    run = ragls.method(sources, no_deadline)
                    for t in tasks[:3]:  # warm caches (connections, query embedder) untimed
                        try:
                            run(t)
                        except Exception:
                            break
                    results[name] = evaluate(name, tasks, run)
                ragls.close()

        table(f"{pkg.key}: {len(tasks)} tasks ({args.cursor}), context budget in lines", results)
        report[pkg.key] = {"info": info, "summary": {k: summary(v) for k, v in results.items()},
                           "positions": {k: v["positions"] for k, v in results.items()},
                           "errors": {k: v["errors"] for k, v in results.items() if v["errors"]}}
        for name, res in results.items():
            agg = every.setdefault(name, {"positions": [], "ms": [], "errors": []})
            for key in agg:
                agg[key] += res[key]

    if len(report) > 1:
        table("total (all packages)", every)
    report["total"] = {"summary": {k: summary(v) for k, v in every.items()}, "goals": goals(every)}
    for line in report["total"]["goals"]:
        print("goal", line)
    report["total"]["cursor"] = args.cursor
    name = "retrieval.json" if args.cursor == "line-start" else f"retrieval-{args.cursor}.json"
    path = write_json(name, report)
    log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
