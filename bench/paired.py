"""Paired comparisons of two methods over the same tasks, with bootstrap intervals.

Each task is one sample scored by both methods; resampling tasks (with replacement) keeps the
pairs together, so the interval reflects how much the result depends on which tasks were drawn.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

RESAMPLES = 2000


def paired_interval(a: Sequence[float], b: Sequence[float], *, ratio: bool = False,
                    level: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """(point, low, high) of mean(a) - mean(b), or mean(a) / mean(b) with `ratio`."""
    if len(a) != len(b) or not a:
        raise ValueError("paired samples of equal, non-zero length are needed")
    rng = random.Random(seed)
    n = len(a)

    def stat(idx: Sequence[int]) -> float:
        ma = sum(a[i] for i in idx) / n
        mb = sum(b[i] for i in idx) / n
        if ratio:
            return ma / mb if mb else float("nan")
        return ma - mb

    point = stat(range(n))
    draws = sorted(stat([rng.randrange(n) for _ in range(n)]) for _ in range(RESAMPLES))
    cut = int(RESAMPLES * (1 - level) / 2)
    return point, draws[cut], draws[RESAMPLES - 1 - cut]


def wins(a: Sequence[float], b: Sequence[float], margin: float = 0.0) -> tuple[int, int]:
    """(tasks where a beats b by more than `margin`, tasks where b beats a)."""
    return (sum(x - y > margin for x, y in zip(a, b, strict=True)),
            sum(y - x > margin for x, y in zip(a, b, strict=True)))


def paired_rows(records: dict[str, list[dict]], key: str, base: str, *, ratio: bool) -> list[list]:
    """One row per method against `base`: tasks, means, the difference (or ratio) with its 95%
    interval, and the tasks each side won (by more than 0.05 for ES, 0.1 nats for log-probability)."""
    by_task = {m: {r["task"]: r[key] for r in recs if key in r} for m, recs in records.items()}
    rows = []
    for method, scores in by_task.items():
        if method == base:
            continue
        common = [t for t in scores if t in by_task.get(base, {})]
        if not common:
            continue
        a = [scores[t] for t in common]
        b = [by_task[base][t] for t in common]
        margin = 0.05 if key == "es" else 0.1
        point, low, high = paired_interval(a, b, ratio=ratio)
        won, lost = wins(a, b, margin)
        rows.append([method, len(common), f"{sum(a) / len(a):.3f}", f"{sum(b) / len(b):.3f}",
                     f"{point:.3f} [{low:.3f}, {high:.3f}]", f"{won} / {lost}"])
    return rows


PAIRED_COLUMNS = ["method", "tasks", "mean", "base mean", "{what} (95% interval)", "won / lost"]
