"""Model speed on this machine (issue 8): prompt tokens read per second and tokens written per
second, for each installed model, with the llama.cpp build that is installed.

Prompt speed is measured twice: one 512-token batch (llama.cpp's best case) and 32-token chunks
(how ragls reads prompts, so that a completion never waits long behind background work and a
cancelled request stops within a chunk). Run once per build to compare builds:

    python bench/model_speed_bench.py [--models qwen2.5-coder-0.5b smollm2 ...] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import log, print_table, write_json

SOURCE = Path(__file__).resolve().parents[1] / "src" / "ragls" / "engine" / "completion.py"


def measure(name: str, threads: int, repeats: int) -> dict:
    import llama_cpp

    from ragls.models.catalog import resolve_model

    path = resolve_model(name)
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=2048, n_threads=threads, n_batch=512, verbose=False)
    tokens = llm.tokenize(SOURCE.read_text().encode(), add_bos=False, special=True)[:512]
    out: dict = {"model": name, "file": path.name}
    for label, chunk in (("batch512", 512), ("chunk32", 32)):
        best = 0.0
        for _ in range(repeats):
            llm.reset()
            t0 = time.perf_counter()
            for i in range(0, len(tokens), chunk):
                llm.eval(tokens[i : i + chunk])
            best = max(best, len(tokens) / (time.perf_counter() - t0))
        out[f"read_tps_{label}"] = best
    best = 0.0
    for _ in range(repeats):
        llm.reset()
        llm.eval(tokens[:64])
        t0 = time.perf_counter()
        for _ in range(32):
            llm.eval([llm.sample(temp=0.0)])
        best = max(best, 32 / (time.perf_counter() - t0))
    out["write_tps"] = best
    llm.close()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="prompt and generation speed of the installed models")
    ap.add_argument("--models", nargs="+", default=["smollm2", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2, help="best of N runs")
    ap.add_argument("--label", default="", help="name of this build in the output file")
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as ragls.models sets it, before llama_cpp loads
    import llama_cpp

    system = llama_cpp.llama_print_system_info().decode()
    flags = " ".join(p.split("=")[0].strip() for p in system.split("|") if "= 1" in p and "AVX" in p)
    rows, results = [], []
    for name in args.models:
        try:
            r = measure(name, args.threads, args.repeats)
        except Exception as exc:  # a model that is not installed is skipped
            log(f"{name}: skipped ({exc})")
            continue
        results.append(r)
        rows.append([name, f"{r['read_tps_batch512']:.0f}", f"{r['read_tps_chunk32']:.0f}",
                     f"{r['write_tps']:.1f}"])
    policy = os.environ.get("OMP_WAIT_POLICY", "")
    print_table(f"model speed, {args.threads} threads, OMP_WAIT_POLICY={policy}, llama.cpp kernels: {flags}",
                ["model", "read tok/s (512 batch)", "read tok/s (32 chunks)", "write tok/s"], rows)
    label = f"-{args.label}" if args.label else ""
    write_json(f"model-speed{label}.json", {"flags": flags, "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
