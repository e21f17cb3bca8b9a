"""Prompt budgets follow the model's read speed, but measurement noise does not move them."""

from __future__ import annotations

from ragls.engine.prompt_memory import ReadSpeed, StableBudget
from ragls.models.backend import GenerationResult


def test_small_changes_in_read_speed_keep_the_budget():
    budget = StableBudget()
    first = budget.follow(159 * 8, floor=256)  # 8 s at 159 tokens/s
    assert first == 1248  # whole 32-token steps
    for tps in (150, 171, 140, 175):  # what single requests measure on a busy machine
        assert budget.follow(tps * 8, floor=256) == first
    assert budget.follow(100 * 8, floor=256) == 800  # a machine really slower: the budget follows
    assert budget.follow(40, floor=256) == 256


def test_read_speed_moves_with_requests_that_read_enough():
    speed = ReadSpeed(100.0)
    speed.observe(GenerationResult("x", "m", 1, "stop", 1.0, prompt_tokens=8, prompt_ms=10.0))
    assert speed.tps == 100.0  # 8 tokens say nothing
    speed.observe(GenerationResult("x", "m", 1, "stop", 1.0, prompt_tokens=200, prompt_ms=1000.0))
    assert 100.0 < speed.tps < 200.0
