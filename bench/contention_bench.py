"""How long a completion waits for the model while a fix or test is being written (issue 8).

A background thread keeps the model writing a fix (a chat asking for a method of ragls' own
source again, with a planted bug: the answer copies the method, which is where prompt-lookup
drafts are longest). Every 0.5-1.5 s (seeded) the main thread asks for an inline completion
(interactive, 8 tokens, greedy). The completion's wait is its wall time minus the time the
model's worker spent on it: the part it queued behind the background job's current step. Run
with `model.lookupDecoding` off (a step is one written token) and on (a step may be a batch of
up to 1 + MAX_DRAFT tokens; no draft is read while a completion waits), and with no background
job, on one loaded model.

    .venv/bin/python bench/contention_bench.py [--model qwen2.5-coder-0.5b] [--requests 30]
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import percentile, print_table, write_json

SOURCE = Path(__file__).resolve().parent.parent / "src" / "ragls" / "engine" / "code_window.py"


def fix_chat() -> list[dict]:
    text = SOURCE.read_text()
    method = text[text.index("    def build("):text.index("    def fit(")]
    buggy = method.replace("cursor.line - prefix.count", "cursor.line + prefix.count")
    return [{"role": "user", "content": "This method computes the window's first line wrongly. Write the "
             f"corrected method in full.\n```python\n{buggy}```"}]


def completion_prompts(backend, places: int) -> list[str]:
    """FIM prompts at `places` places of the same file, asked in turn (a completion's own prompt
    is read again when the job moved the cache and no saved KV state holds it: reading, not
    waiting)."""
    from ragls.models.fim import build_prompt

    lines = SOURCE.read_text().splitlines(keepends=True)
    out = []
    for at in (40, 80, 120, 160)[:places]:
        prefix, suffix = "".join(lines[max(0, at - 30):at]), "".join(lines[at:at + 5])
        out.append(build_prompt(backend.template, prefix=prefix, suffix=suffix, context=[],
                                path="code_window.py", language="python", repo="ragls"))
    return out


def run(backend, mode: str, n: int, seed: int, places: int) -> list[dict]:
    from ragls.models.backend import GenerationRequest

    stop = threading.Event()
    messages = fix_chat()

    def background() -> None:
        while not stop.is_set():
            backend.chat(messages, max_tokens=400, temperature=0.2)

    worker = None
    if mode != "no background job":
        worker = threading.Thread(target=background, daemon=True)
        worker.start()
        time.sleep(3.0)  # the job is writing by now
    rng = random.Random(seed)
    prompts = completion_prompts(backend, places)
    rows = []
    for i in range(n):
        time.sleep(rng.uniform(0.5, 1.5))
        req = GenerationRequest(prompts[i % len(prompts)], max_tokens=8, temperature=0.0, interactive=True)
        t0 = time.perf_counter()
        res = backend.generate(req)
        wall = (time.perf_counter() - t0) * 1000
        rows.append({"wall_ms": wall, "model_ms": res.elapsed_ms, "wait_ms": max(0.0, wall - res.elapsed_ms)})
    stop.set()
    if worker is not None:
        worker.join(120)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="qwen2.5-coder-0.5b", help="GGUF path or model name")
    ap.add_argument("--requests", type=int, default=30, help="completions per mode")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--places", type=int, default=1, choices=(1, 2, 3, 4),
                    help="cursor places the completions rotate through (1: typing at one place)")
    args = ap.parse_args(argv)

    from ragls.models.backend import ModelConfig, load_backend
    from ragls.models.lookup_decoding import MAX_DRAFT

    backend = load_backend(ModelConfig(model=args.model, n_ctx=4096))
    lookup = backend._lookup
    results: dict[str, list[dict]] = {}
    try:
        for mode in ("no background job", "fix writing, lookup off", "fix writing, lookup on"):
            backend._lookup = lookup if mode.endswith("on") else None
            results[mode] = run(backend, mode, args.requests, args.seed, args.places)
    finally:
        backend.close()
    rows = []
    for mode, recs in results.items():
        waits = [r["wait_ms"] for r in recs]
        walls = [r["wall_ms"] for r in recs]
        rows.append([mode, str(len(recs)), f"{percentile(waits, 50):.0f}", f"{percentile(waits, 95):.0f}",
                     f"{max(waits):.0f}", f"{percentile(walls, 50):.0f}", f"{percentile(walls, 95):.0f}"])
    print_table(f"a completion while a fix is written, {backend.name}, drafts up to {MAX_DRAFT}, "
                f"{args.places} cursor place(s) (ms)",
                ["background", "completions", "wait p50", "wait p95", "wait max", "total p50", "total p95"],
                rows)
    write_json(f"contention-{backend.name}-places{args.places}.json",
               {"config": vars(args), "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
