"""The tables of completion_bench.py: per-method summaries of its task records."""

from __future__ import annotations

import math

from common import pct, percentile, print_table

STAGES = ("retrieval_ms", "prompt_ms", "generation_ms", "total_ms")


def summary(recs: list[dict]) -> dict:
    ok = [r for r in recs if "error" not in r]
    n = len(ok)

    def share(key: str) -> float:
        return sum(bool(r[key]) for r in ok) / n if n else math.nan

    out = {
        "tasks": len(recs),
        "errors": len(recs) - n,
        "em": share("em"),
        "ungrounded": share("ungrounded"),
        "shown_ungrounded": share("shown_ungrounded"),
        "prompt_tokens_p50": percentile([r["prompt_tokens"] for r in ok], 50),
        "uses_symbol": share("uses_symbol"),
        "gold_in_context": share("gold_in_context"),
        "es": sum(r["es"] for r in ok) / n if n else math.nan,
        "empty": sum(not r["first_line"] for r in ok) / n if n else math.nan,
    }
    for stage in STAGES:
        vals = [r["timings"].get(stage, 0.0) for r in ok]
        out[f"{stage}_p50"], out[f"{stage}_p95"] = percentile(vals, 50), percentile(vals, 95)
    return out


def logprob_summary(recs: list[dict]) -> dict:
    ok = [r for r in recs if "error" not in r]
    n = len(ok) or 1
    return {
        "tasks": len(recs),
        "errors": len(recs) - len(ok),
        "logprob_per_token": sum(r["logprob_per_token"] for r in ok) / n,
        "logprob": sum(r["logprob"] for r in ok) / n,
        "prompt_tokens_p50": percentile([r["prompt_tokens"] for r in ok], 50),
    }


def print_summary(title: str, summaries: dict[str, dict]) -> None:
    cols = ["method", "tasks", "EM", "ES", "ungrounded written / shown", "uses-gold", "gold in ctx",
            "prompt tok p50", "errors"]
    for stage in STAGES:
        cols += [f"{stage[:-3]} p50", f"{stage[:-3]} p95"]
    rows = []
    for method, s in summaries.items():
        row = [
            method,
            s["tasks"],
            pct(s["em"]),
            f"{s['es']:.3f}",
            f"{pct(s['ungrounded'])} / {pct(s['shown_ungrounded'])}",
            pct(s["uses_symbol"]),
            pct(s["gold_in_context"]),
            s["prompt_tokens_p50"],
            s["errors"],
        ]
        for stage in STAGES:
            row += [s[f"{stage}_p50"], s[f"{stage}_p95"]]
        rows.append(row)
    print_table(title, cols, rows)
