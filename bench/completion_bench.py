"""Completion benchmark (issues 4, 8): does ragls' context make the model write the right line?

Tasks (``--kind``):
  body  (default) body_tasks.py: a function or method body removed, its signature and docstring
        and the rest of the file kept after the cursor, which sits at the start of the empty
        body; the expected line is the removed body's first line (issue 8).
  line  tasks.py: a line that uses an imported symbol, cursor at its start, the buffer is the
        file up to the cursor (issue 4).
One model, one run, three methods side by side, interleaved per task so machine load hits
them alike:

  ragls      CompletionEngine.complete with retrieval (graph + lexical, + dense when vectors
             already exist in the index dir; nothing is embedded here)
  none       CompletionEngine.complete(no_context=True)
  jaccard-20 the RepoCoder / Cody windows of baselines.py (query = last 20 lines), best first,
             overlapping windows dropped, packed greedily into the same token budget and top_k
             as ragls (count_tokens of the model), passed as context_override
  oracle     (only when asked) the task's gold definitions, those the expected line names
             first, then ragls' own snippets, packed the same way, in ragls' own prompt (the
             file's imports and scope headers in front of the code): an upper bound for ragls'
             ranking, since it reads the answer

Ground truth: the rest of the original line from the cursor (stripped). Metrics per method:
  EM           first non-empty completion line (stripped) == expected line
  ES           edit similarity 1 - Levenshtein(a, b) / max(len a, len b) on those two lines
               (character level, unit costs; 1.0 when both are empty)
  ungrounded   share of completions with CompletionResult.ungrounded non-empty
  uses-symbol  share of completions that mention the gold symbol (\\bname\\b, whole completion)
  latency      p50/p95 of timings retrieval_ms, prompt_ms, generation_ms and elapsed_ms; for
               jaccard-20 retrieval_ms is the window query + packing, measured here, and added
               to the total (the window index is built once per package, untimed)

Generation is greedy (--temperature 0 by default) so methods differ only by their context.
Prints one table and writes bench/results/completion.json.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    CACHE_DIR,
    Package,
    add_package_args,
    log,
    print_table,
    select_packages,
    write_json,
)
from completion_report import logprob_summary, print_summary, summary
from completion_tasks import (
    Jaccard,
    Oracle,
    buffer_of,
    edit_similarity,
    expected_line,
    first_line,
    golds_of,
    sample_tasks,
)
from paired import PAIRED_COLUMNS, paired_rows
from sources import ensure_source
from tasks import Task

METHODS = ("ragls", "none", "jaccard-20", "chat", "oracle")
DEFAULT_TASKS = 60
QUICK_TASKS = 6
# how snippets become files in the prompt (engine/context_layout.py); "grouped" is the engine's default
LAYOUTS = {
    "ranked": {"group": False, "same_file": "keep"},  # one file entry per snippet, as ranked
    "grouped": {},
    "grouped-keep": {"same_file": "keep"},
    "grouped-drop": {"same_file": "drop"},
}

def run_package(pkg: Package, tasks: list[Task], args) -> tuple[dict[str, list[dict]], dict]:
    """Per method, one record per task; plus setup info."""
    os.environ["RAGLS_CACHE_DIR"] = str(CACHE_DIR / f"index-{pkg.name}")
    from ragls.engine.context_layout import ContextLayout
    from ragls.engine.session import open_session
    from ragls.models.backend import ModelConfig
    from ragls.retrieval.types import CursorQuery, RetrievalConfig

    info: dict = {}
    config = ModelConfig(model=args.model, max_tokens=args.max_tokens, temperature=args.temperature,
                         cold_prompt_ms=args.cold_prompt_ms or None)
    retrieval = RetrievalConfig(budget_tokens=args.budget_tokens) if args.budget_tokens else RetrievalConfig()
    session = open_session(pkg.root, model_config=config, retrieval_config=retrieval)
    records: dict[str, list[dict]] = {m: [] for m in args.methods}
    try:
        t0 = time.perf_counter()
        stats = session.index.update()
        info["update_s"] = time.perf_counter() - t0
        info["index"] = {"files": stats.files, "chunks": stats.chunks, "reindexed": stats.reindexed}
        info["dense"] = False if args.no_dense else session.enable_dense()
        t0 = time.perf_counter()
        engine = session.completion_engine()  # loads the model
        info["model_load_s"] = time.perf_counter() - t0
        if args.read_tps:  # the prompt size follows read speed: pin it, so load cannot change quality
            engine.read_speed.tps = args.read_tps
            engine.read_speed.observe = lambda res: None
        info["read_tps"] = engine.read_speed.tps
        if args.no_repo_name:
            engine.repo_name = None
        engine.context_layout = ContextLayout(**LAYOUTS[args.layout])
        if args.prefix_share is not None:
            engine.prefix_share = args.prefix_share
        if args.head_share is not None:
            engine.head_share = args.head_share
        engine.mend_window = not args.raw_window
        engine.heal = not args.no_heal
        if args.suffix_share is not None:
            engine.suffix_share = args.suffix_share
        if args.min_code_tokens is not None:
            engine.min_code_tokens = args.min_code_tokens
        engine.own_block = not args.whole_suffix
        # every task is a file just opened: measure the full prompt, not the quick cold-cache one
        engine.lean_read_ms = None
        info["model"] = engine.backend.name
        info["budget_tokens"], info["top_k"] = engine.budget_tokens, retrieval.top_k
        overrides: dict = {}  # method -> what chooses its context instead of ragls' retrieval
        # they get the same context budget as ragls' retrieval (the prompt's context share)
        packing = (engine.context_budget(), retrieval.top_k, engine.backend.count_tokens)
        if "jaccard-20" in args.methods:
            t0 = time.perf_counter()
            overrides["jaccard-20"] = Jaccard(pkg.root, *packing)
            info["windows"] = {"count": len(overrides["jaccard-20"].windows),
                               "build_s": time.perf_counter() - t0}
        if "oracle" in args.methods:  # an upper bound for ranking: the gold definitions first
            def fill(task):  # then ragls' own snippets
                return engine.prompt_for(CursorQuery(task.file, task.line, task.col, buffer_of(task))).context

            overrides["oracle"] = Oracle(pkg.root, *packing, fill=fill)
        log(f"{pkg.key}: {len(tasks)} tasks, dense={info['dense']}, model {info['model']}")
        warm = CursorQuery(tasks[0].file, tasks[0].line, tasks[0].col, buffer_of(tasks[0]))
        scorer = None
        if args.score == "logprob":
            from gold_logprob import GoldScorer

            scorer = GoldScorer(engine.backend.path, n_ctx=engine.backend.n_ctx)
        else:
            engine.complete(warm)  # untimed: first-call costs (read connections, model warm-up)
        for i, task in enumerate(tasks):
            query = CursorQuery(task.file, task.line, task.col, buffer_of(task))
            want = expected_line(task)
            for method in args.methods:
                records[method].append(
                    score_one(engine, overrides, method, task, query, want, scorer) if scorer
                    else run_one(engine, overrides, method, task, query, want))
            if (i + 1) % 5 == 0:
                log(f"  {i + 1}/{len(tasks)}")
    finally:
        if scorer is not None:
            scorer.close()
        session.close()
    return records, info


def score_one(engine, overrides: dict, method: str, task: Task, query, want: str, scorer) -> dict:
    """The expected line's log-probability under the prompt `method` builds (no generation)."""
    rec: dict = {"task": task.id, "expected": want}
    try:
        prompt = engine.prompt_for(query, **method_context(method, overrides, task)[0])
        t0 = time.perf_counter()
        score = scorer.score(prompt.text, prompt.heal + want)  # a healed prompt left that part out
    except Exception as exc:  # one failing task is counted, not fatal
        rec["error"] = f"{type(exc).__name__}: {exc}"
        return rec
    rec.update(logprob=score.logprob, logprob_per_token=score.per_token, gold_tokens=score.tokens,
               prompt_tokens=engine.backend.count_tokens(prompt.text),
               context=[f"{s.path}:{s.start_line}-{s.end_line}" for s in prompt.context],
               timings={"score_ms": round((time.perf_counter() - t0) * 1000, 3)})
    return rec


def method_context(method: str, overrides: dict, task: Task) -> tuple[dict, float]:
    """The engine arguments that give `method` its context, and the ms spent choosing it."""
    if method == "none":
        return {"no_context": True}, 0.0
    if method in overrides:
        t0 = time.perf_counter()
        chooser = overrides[method]
        return ({"context_override": chooser.snippets(task), "override_head": chooser.file_head},
                (time.perf_counter() - t0) * 1000)
    return {}, 0.0


def run_one(engine, overrides: dict, method: str, task: Task, query, want: str) -> dict:
    rec: dict = {"task": task.id, "expected": want}
    try:
        context, extra_ms = method_context(method, overrides, task)
        if method == "chat":  # the same ragls context, as an instruction to the chat template
            engine.prompt_style = "chat"
            try:
                res = engine.complete(query)  # the line's context is cached: the same snippets
            finally:
                engine.prompt_style = "fim"
        else:
            res = engine.complete(query, **context)
    except Exception as exc:  # one failing task is counted, not fatal
        rec["error"] = f"{type(exc).__name__}: {exc}"
        return rec
    from ragls.engine.grounding import ungrounded_names

    got = first_line(res.completion)
    timings = dict(res.timings)
    golds = golds_of(task)
    shown_ungrounded = ungrounded_names(res.completion, language="python", path=task.file,
                                        buffer=query.text, index=engine.index) if res.completion else []
    if method in overrides:
        timings["retrieval_ms"] = timings.get("retrieval_ms", 0.0) + extra_ms
    timings["total_ms"] = res.elapsed_ms + extra_ms
    rec.update(
        completion=res.completion,
        first_line=got,
        em=got == want,
        es=edit_similarity(got, want),
        ungrounded=list(res.ungrounded),
        shown_ungrounded=shown_ungrounded,
        uses_symbol=any(re.search(rf"\b{re.escape(sym)}\b", res.completion) for sym, _, _ in golds),
        context=[f"{s.path}:{s.start_line}-{s.end_line}" for s in res.context],
        gold_in_context=any(
            s.path == path and s.start_line <= start <= s.end_line
            for _, path, start in golds
            for s in res.context
        ),
        prompt_tokens=res.prompt_tokens,
        timings={k: round(v, 3) for k, v in timings.items()},
    )
    return rec


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="cross-file completion benchmark (ragls vs none vs jaccard-20, oracle on request)")
    add_package_args(ap)
    ap.add_argument(
        "--tasks",
        type=int,
        help=f"tasks in total, spread over the packages "
        f"(default {DEFAULT_TASKS}; {QUICK_TASKS} with --quick)",
    )
    ap.add_argument("--model", help="GGUF path or model name: qwen2.5-coder-0.5b (default), "
                    "qwen2.5-coder-1.5b, smollm2, or a discovered GGUF")
    ap.add_argument("--kind", choices=("body", "line"), default="body", help="task set (default body)")
    ap.add_argument("--read-tps", type=float, help="pin the model's prompt speed (tokens/s) that sizes "
                    "the prompt, e.g. the figure bench/model_speed_bench.py printed on a quiet machine")
    ap.add_argument("--no-repo-name", action="store_true", help="prompts without the <|repo_name|> head")
    ap.add_argument("--cold-prompt-ms", type=float, default=3000.0,
                    help="prompt sized to be read in this time (0: the token budget alone)")
    ap.add_argument("--max-tokens", type=int, default=48, help="generation limit (default 48)")
    ap.add_argument("--temperature", type=float, default=0.0, help="default 0: greedy")
    ap.add_argument("--budget-tokens", type=int, help="context budget (default RetrievalConfig's)")
    ap.add_argument("--methods", nargs="+", choices=METHODS, default=["ragls", "none", "jaccard-20"])
    ap.add_argument("--no-dense", action="store_true", help="never attach dense retrieval")
    ap.add_argument("--layout", choices=sorted(LAYOUTS), default="grouped",
                    help="how snippets become files in the prompt (default: the engine's)")
    ap.add_argument("--prefix-share", type=float, help="share of the prompt for the code before the "
                    "cursor when there is cross-file context (default: the engine's)")
    ap.add_argument("--label", default="", help="suffix of the results file name")
    ap.add_argument("--score", choices=("es", "logprob"), default="es",
                    help="es: generate and compare first lines (default); logprob: the expected line's "
                    "log-probability under each method's prompt, no generation (gold_logprob.py)")
    ap.add_argument("--raw-window", action="store_true",
                    help="the code window without the scope headers above it (to measure them)")
    ap.add_argument("--suffix-share", type=float, help="share of the prompt for the code after the "
                    "cursor (default: the engine's; with --methods none --cold-prompt-ms 1000 it is "
                    "the editor's lean first prompt)")
    ap.add_argument("--min-code-tokens", type=int, help="the code's floor in the prompt before "
                    "context gets any (default: the engine's)")
    ap.add_argument("--whole-suffix", action="store_true", help="the suffix runs on into the next "
                    "definition (to measure code_window.block_suffix)")
    ap.add_argument("--no-heal", action="store_true",
                    help="no token healing: the prompt ends exactly at the cursor (to measure healing)")
    ap.add_argument("--head-share", type=float, help="share of the prompt for the file's own imports "
                    "(default: the engine's; 0: none)")
    args = ap.parse_args(argv)
    total = args.tasks or (QUICK_TASKS if args.quick else DEFAULT_TASKS)
    pkgs = select_packages(args.packages, args.quick)
    for pkg in pkgs:
        ensure_source(pkg)
    chosen = sample_tasks(pkgs, total, args.kind)

    started = time.perf_counter()
    every: dict[str, list[dict]] = {m: [] for m in args.methods}
    report: dict = {
        "config": {
            "tasks": total,
            "max_tokens": args.max_tokens,
            "temperature": args.temperature,
            "model": args.model,
            "kind": args.kind,
            "cold_prompt_ms": args.cold_prompt_ms,
            "read_tps": args.read_tps,
            "methods": args.methods,
            "layout": args.layout,
            "prefix_share": args.prefix_share,
            "head_share": args.head_share,
            "raw_window": args.raw_window,
            "heal": not args.no_heal,
            "suffix_share": args.suffix_share,
            "min_code_tokens": args.min_code_tokens,
            "whole_suffix": args.whole_suffix,
            "score": args.score,
            "es": "1 - Levenshtein / max(len) of the stripped first lines",
        },
        "packages": {},
    }
    for pkg in pkgs:
        tasks = chosen[pkg.name]
        if not tasks:
            continue
        try:
            records, info = run_package(pkg, tasks, args)
        except Exception as exc:
            log(f"{pkg.key}: FAILED: {type(exc).__name__}: {exc}")
            report["packages"][pkg.key] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        summarise = summary if args.score == "es" else logprob_summary
        sums = {m: summarise(r) for m, r in records.items()}
        report["packages"][pkg.key] = {"info": info, "summary": sums, "records": records}
        for m, r in records.items():
            every[m] += r
            errs = [x["error"] for x in r if "error" in x]
            if errs:
                log(f"  {m}: {len(errs)} failed, first: {errs[0]}")
    report["wall_s"] = time.perf_counter() - started
    model = next((p["info"]["model"] for p in report["packages"].values() if "info" in p), args.model)
    n_pkgs = sum("info" in p for p in report["packages"].values())
    key = "es" if args.score == "es" else "logprob_per_token"
    if args.score == "es":
        report["total"] = totals = {m: summary(r) for m, r in every.items()}
        print_summary(
            f"completion: {model}, {n_pkgs} package(s), max_tokens {args.max_tokens}, latency in ms", totals
        )
    else:
        report["total"] = totals = {m: logprob_summary(r) for m, r in every.items()}
        print_table(f"expected first line under each prompt: {model}, {n_pkgs} package(s)",
                    ["method", "tasks", "errors", "log-prob / token", "log-prob / line", "prompt tok p50"],
                    [[m, s["tasks"], s["errors"], f"{s['logprob_per_token']:.3f}", f"{s['logprob']:.2f}",
                      s["prompt_tokens_p50"]] for m, s in totals.items()])
    if "none" in every and len(every) > 1:
        what = "ratio" if args.score == "es" else "difference"
        rows = paired_rows(every, key, "none", ratio=args.score == "es")
        report["paired_vs_none"] = rows
        print_table(f"paired against none, {key}, tasks resampled",
                    [c.format(what=what) for c in PAIRED_COLUMNS], rows)
    label = f"{args.kind}-{(model or 'default').replace('/', '_')}-cold{int(args.cold_prompt_ms)}"
    label += "-norepo" if args.no_repo_name else ""
    label += f"-{args.label}" if args.label else ""
    path = write_json(f"completion-{label}.json" if not args.quick else "completion-quick.json", report)
    log(f"wrote {path} ({report['wall_s']:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
