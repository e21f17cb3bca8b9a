"""Saved KV states and lean prompts: coming back to a prompt costs a copy; a cold editor request
is answered from a short prompt while the full one is warmed (tiny GGUF, real llama.cpp)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("llama_cpp")

from ragls.engine.completion import CompletionEngine
from ragls.indexing.workspace import WorkspaceIndex
from ragls.models.backend import GenerationRequest
from ragls.models.kv_slots import MIN_TOKENS
from ragls.models.local_gguf import LocalGGUFBackend
from ragls.retrieval.retriever import Retriever
from ragls.retrieval.types import CursorQuery

FILE_A = "<|file_sep|>a.py\n<|fim_prefix|>" + "".join(f"alpha_{i} = compute({i}, 'a')\n" for i in range(20))
FILE_B = "<|file_sep|>b.py\n<|fim_prefix|>" + "".join(f"beta_{i} = other({i}) + {i}\n" for i in range(20))


@pytest.fixture()
def backend(tiny_server_model: Path):
    b = LocalGGUFBackend(tiny_server_model, n_ctx=1024, threads=1)
    yield b
    b.close()


def ask(backend: LocalGGUFBackend, head: str, tail: str = "x = "):
    return backend.generate(GenerationRequest(head + tail + "<|fim_suffix|><|fim_middle|>", max_tokens=6,
                                              temperature=0.0, stable_chars=len(head), interactive=True))


def evaluated(backend: LocalGGUFBackend) -> list[int]:
    """Count the tokens llama.cpp evaluates from now on (prompt reads and generated tokens)."""
    seen: list[int] = []
    real = backend._llm.eval

    def counting(tokens):
        seen.append(len(tokens))
        return real(tokens)

    backend._llm.eval = counting
    return seen


def test_coming_back_to_a_prompt_reads_only_its_tail(backend: LocalGGUFBackend) -> None:
    head_a = backend.count_tokens(FILE_A)
    assert head_a > MIN_TOKENS and backend.count_tokens(FILE_B) > MIN_TOKENS
    first_a = ask(backend, FILE_A)
    ask(backend, FILE_B)  # another file: A's cells would be thrown away without a saved state
    seen = evaluated(backend)
    again = ask(backend, FILE_A)
    assert again.cached_tokens >= head_a
    # llama.cpp evaluated only the last prompt token and the answer, not A's head again
    assert sum(seen) <= again.tokens + 2
    assert again.text == first_a.text  # the restored cells give the same greedy answer


def test_without_saved_states_the_prompt_is_read_again(backend: LocalGGUFBackend) -> None:
    backend._kv._max_slots = 0  # the control: nothing is kept
    ask(backend, FILE_A)
    ask(backend, FILE_B)
    seen = evaluated(backend)
    again = ask(backend, FILE_A)
    assert again.cached_tokens < 8
    assert sum(seen) >= backend.count_tokens(FILE_A)


def test_missing_tokens_counts_what_no_state_holds(backend: LocalGGUFBackend) -> None:
    total_a = len(backend._prompt_tokens(GenerationRequest(FILE_A, stable_chars=len(FILE_A))))
    assert backend.missing_tokens(FILE_A) == total_a
    ask(backend, FILE_A)
    assert backend.missing_tokens(FILE_A) == 0
    ask(backend, FILE_B)
    assert backend.missing_tokens(FILE_A) == 0  # saved, not live
    assert backend.missing_tokens(FILE_B) == 0
    assert backend.missing_tokens("<|file_sep|>c.py\nnothing_like_it = 1\n") > 5


PROJECT = {
    "shop/models.py": "".join(
        f"def load_item_{i}(item_id):\n    return {{'id': item_id, 'kind': {i}}}\n\n\n" for i in range(12)
    ),
    "shop/service.py": "from shop.models import load_item_3\n\n\ndef total(order_id):\n    return 1\n",
}


@pytest.fixture()
def project(write_workspace) -> WorkspaceIndex:
    index = WorkspaceIndex.open(write_workspace(PROJECT))
    index.update()
    yield index
    index.close()


def test_a_cold_editor_request_is_lean_and_the_next_one_full(project: WorkspaceIndex,
                                                              backend: LocalGGUFBackend) -> None:
    engine = CompletionEngine(project, Retriever(project), backend, budget_tokens=300, max_tokens=12,
                              lean_read_ms=1000.0)
    # as slow as the 0.5B model on two cores: the full head (with context: 450 tokens leave room
    # beside the code's floor) is cold, more than a second's reading
    engine.read_speed.tps = 150.0
    engine.read_speed.observe = lambda res: None
    buffer = "from shop.models import load_item_3\n\n\ndef total(order_id):\n    item = load_item_3("
    query = CursorQuery("shop/service.py", 5, 24, buffer)
    first = engine.complete(query)
    assert first.source == "lean"
    assert first.context == []  # the lean prompt has no cross-file context
    assert "\n" not in first.completion  # and answers one line
    backend._executor.submit(lambda: None).result()  # the full head was warmed behind the answer
    second = engine.complete(query)
    assert second.source == "model"
    assert any(s.path == "shop/models.py" for s in second.context)
    assert second.cached_tokens > 0.9 * second.prompt_tokens  # only the cursor line and suffix were read


def test_the_cli_engine_never_answers_lean(project: WorkspaceIndex, backend: LocalGGUFBackend) -> None:
    engine = CompletionEngine(project, Retriever(project), backend, budget_tokens=300, max_tokens=8)
    engine.read_speed.tps = 150.0
    buffer = "from shop.models import load_item_3\n\n\ndef total(order_id):\n    item = load_item_3("
    result = engine.complete(CursorQuery("shop/service.py", 5, 24, buffer))
    assert result.source == "model"
    assert any(s.path == "shop/models.py" for s in result.context)
