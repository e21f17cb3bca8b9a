"""The completion benchmark's statistics: paired intervals and the gold line's log-probability."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from paired import paired_interval, paired_rows, wins


def test_identical_methods_have_a_zero_interval():
    a = [0.1, 0.5, 0.9, 0.3]
    assert paired_interval(a, list(a)) == (0.0, 0.0, 0.0)
    point, low, high = paired_interval(a, list(a), ratio=True)
    assert point == low == high == 1.0


def test_a_consistent_gain_excludes_zero_and_noise_does_not():
    base = [0.2 + 0.01 * (i % 7) for i in range(60)]
    better = [x + 0.05 for x in base]
    point, low, high = paired_interval(better, base)
    assert math.isclose(point, 0.05) and low > 0
    flips = [x + (0.5 if i % 2 else -0.5) for i, x in enumerate(base)]  # wins and losses cancel
    point, low, high = paired_interval(flips, base)
    assert low < 0 < high
    assert wins(flips, base, 0.05) == (30, 30)


def test_rows_pair_records_by_task_and_skip_errors():
    records = {
        "none": [{"task": "a", "es": 0.2}, {"task": "b", "es": 0.4}, {"task": "c", "error": "x"}],
        "ragls": [{"task": "b", "es": 0.6}, {"task": "a", "es": 0.2}, {"task": "c", "es": 1.0}],
    }
    [row] = paired_rows(records, "es", "none", ratio=False)
    assert row[0] == "ragls" and row[1] == 2  # task c has no base score: not paired
    assert row[2] == "0.400" and row[3] == "0.300" and row[5] == "1 / 0"


def test_gold_logprob_scores_the_line_token_by_token(tmp_path: Path):
    pytest.importorskip("llama_cpp")
    from gguf_tiny import make_tiny_gguf
    from gold_logprob import GoldScorer

    scorer = GoldScorer(make_tiny_gguf(tmp_path / "tiny.gguf", "llama"), n_ctx=256, threads=1)
    try:
        one = scorer.score("def f(x):\n    ", "return x")
        again = scorer.score("def f(x):\n    ", "return x")
        assert one == again  # the cache is reset between lines: same prompt, same score
        assert one.tokens == len(scorer.llm.tokenize(b"return x", add_bos=False)) and one.logprob < 0
        other = scorer.score("class A:\n    ", "return x")
        assert other.tokens == one.tokens and other.logprob != one.logprob  # the prompt conditions it
        longer = scorer.score("def f(x):\n    ", "return x + 1")
        assert longer.tokens > one.tokens
        with pytest.raises(ValueError):
            scorer.score("x " * 300, "y")
    finally:
        scorer.close()
