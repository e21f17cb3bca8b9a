"""The model reads only what changed: stable heads, warming, preemption, typed-ahead (tiny GGUF)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("llama_cpp")

from ragls.cancel import CancelToken
from ragls.engine.completion_prompt import gains_from_context, stable_head
from ragls.engine.typed_ahead import TypedAhead
from ragls.models.backend import GenerationRequest
from ragls.models.fim import TEMPLATES, ContextFile, build_prompt
from ragls.models.gate import GATE
from ragls.models.local_gguf import LocalGGUFBackend
from ragls.retrieval.cursor import Cursor

HEAD = (
    "<|file_sep|>lib.py\ndef helper(x):\n    return x + 1\n"
    "<|file_sep|>main.py\n<|fim_prefix|>import lib\n\n"
)


@pytest.fixture()
def backend(tiny_server_model: Path):
    b = LocalGGUFBackend(tiny_server_model, n_ctx=1024, threads=1)
    yield b
    b.close()


def request(tail: str, **kw) -> GenerationRequest:
    return GenerationRequest(HEAD + tail, max_tokens=4, temperature=0.0, stable_chars=len(HEAD),
                             interactive=True, **kw)


def settle(backend: LocalGGUFBackend) -> None:
    """Wait until the model's worker has finished what was submitted before (warming)."""
    backend._executor.submit(lambda: None).result()


def test_only_the_tail_is_read_on_the_next_keystroke(backend: LocalGGUFBackend) -> None:
    head_tokens = backend.count_tokens(HEAD)
    first = backend.generate(request("def main():\n    lib.h"))
    assert first.cached_tokens == 0 and first.prompt_tokens > head_tokens
    second = backend.generate(request("def main():\n    lib.he"))
    # what llama.cpp holds in its KV cache covers the whole head; only the changed tail is read
    assert second.cached_tokens >= head_tokens
    assert second.read_tokens <= second.prompt_tokens - head_tokens
    assert backend.last_prefix_reuse == second.cached_tokens


def test_head_tokens_do_not_depend_on_the_tail(backend: LocalGGUFBackend) -> None:
    a = backend._prompt_tokens(request("x"))
    b = backend._prompt_tokens(request("xyz = 3"))
    n = len(backend._prompt_tokens(GenerationRequest(HEAD, stable_chars=len(HEAD))))
    assert a[:n] == b[:n]


def test_warming_puts_the_head_in_the_cache(backend: LocalGGUFBackend) -> None:
    backend.warm(HEAD)
    settle(backend)
    res = backend.generate(request("def main():\n"))
    assert res.cached_tokens >= backend.count_tokens(HEAD)


def test_warming_stops_for_a_request_and_its_work_is_kept(backend: LocalGGUFBackend) -> None:
    llm = backend._llm
    real_eval = llm.eval

    def slow_eval(tokens):  # make the tiny model as slow as a real one on two cores
        time.sleep(0.05)
        return real_eval(tokens)

    llm.eval = slow_eval
    long_head = HEAD + "".join(f"value_{i} = lib.helper({i})\n" for i in range(12))
    total = len(backend._prompt_tokens(GenerationRequest(long_head, stable_chars=len(long_head))))
    backend.warm(long_head)
    time.sleep(0.08)  # a chunk or two
    res = backend.generate(GenerationRequest(long_head + "x = ", max_tokens=2, temperature=0.0,
                                             stable_chars=len(long_head), interactive=True))
    llm.eval = real_eval
    # warming stepped aside at its next chunk (the request did not wait for the whole head),
    # and the chunks it had read were not thrown away
    assert 0 < res.cached_tokens < total


def test_warming_does_nothing_while_a_completion_runs(backend: LocalGGUFBackend) -> None:
    with GATE.interactive():
        backend.warm(HEAD)
        settle(backend)
    assert int(backend._llm.n_tokens) == 0


def test_background_generation_steps_aside_for_a_completion(backend: LocalGGUFBackend) -> None:
    ctx = backend._llm._ctx  # every read and every written token goes through its decode
    real_decode = ctx.decode
    ctx.decode = lambda batch: (time.sleep(0.01), real_decode(batch))[1]
    job: dict = {}

    def background() -> None:
        req = GenerationRequest("def long_job():\n", max_tokens=60, temperature=0.0)
        job["result"] = backend.generate(req)
        job["done"] = time.perf_counter()

    worker = threading.Thread(target=background)
    worker.start()
    time.sleep(0.15)
    res = backend.generate(request("y = "))
    completion_done = time.perf_counter()
    worker.join(30)
    ctx.decode = real_decode
    assert res.finish_reason in ("length", "stop", "callback")
    assert completion_done < job["done"]  # the completion did not wait for the job
    assert backend.preemptions >= 1
    assert job["result"].tokens == 60 or job["result"].finish_reason == "stop"


def test_cancel_stops_between_prompt_chunks(backend: LocalGGUFBackend) -> None:
    token = CancelToken()
    token.cancel("superseded")
    res = backend.generate(request("z = "), cancel=token)
    assert res.finish_reason == "cancelled" and res.text == ""


def test_stable_head_ends_at_the_cursor_line() -> None:
    template = TEMPLATES["qwen25coder"]
    prefix = "import lib\n\ndef main():\n    lib.he"
    context = [ContextFile("lib.py", "def helper(): ...")]
    prompt = build_prompt(template, prefix=prefix, suffix="\n", context=context, path="main.py")
    cut = stable_head(prompt, prefix, template)
    assert prompt[:cut].endswith("def main():\n")
    assert prompt[cut:].startswith("    lib.he<|fim_suffix|>")
    assert stable_head(prompt, prefix, TEMPLATES["codestral"]) == 0  # suffix first: no stable head


def test_typed_ahead_serves_the_rest_of_the_suggestion() -> None:
    ahead = TypedAhead()
    text = "def f():\n    return lib.help"
    at = Cursor.at(text, 2, 20)
    ahead.remember("m.py", at, "er(3)", "tiny", [])
    hit = ahead.lookup("m.py", Cursor.at(text + "er", 2, 22))
    assert hit is not None and hit[1] == "(3)"
    assert ahead.lookup("m.py", Cursor.at(text + "xx", 2, 22)) is None  # typed something else
    assert ahead.lookup("m.py", Cursor.at("# edited\n" + text + "er", 3, 22)) is None  # edited above
    assert ahead.lookup("other.py", Cursor.at(text + "er", 2, 22)) is None


def test_no_retrieval_where_context_cannot_help() -> None:
    assert not gains_from_context(Cursor.at("", 1, 1), "python")
    assert not gains_from_context(Cursor.at("x = 1\n# explain th", 2, 13), "python")
    assert not gains_from_context(Cursor.at('name = "hello wor', 1, 18), "python")
    assert not gains_from_context(Cursor.at('def f():\n    """Docs of', 2, 16), "python")
    assert gains_from_context(Cursor.at("import lib\nlib.", 2, 5), "python")
