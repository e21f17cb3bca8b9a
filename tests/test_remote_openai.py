"""RemoteOpenAIBackend against a real llama_cpp.server and a misbehaving local HTTP server."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import httpx
import pytest

from ragls.cancel import CancelToken
from ragls.errors import BackendError, ConfigError
from ragls.models.backend import CompletionBackend, GenerationRequest, ModelConfig, load_backend
from ragls.models.remote_openai import RemoteOpenAIBackend, normalise_endpoint

sys.path.insert(0, str(Path(__file__).parent))
from gguf_tiny import make_tiny_gguf

SECRET = "sk-test-very-secret-4242"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- a scripted server ------------------------------------------------------------------

def _sse(events: list[dict | str]) -> bytes:
    out = b""
    for e in events:
        data = e if isinstance(e, str) else json.dumps(e)
        out += f"data: {data}\n\n".encode()
    return out


def _chunk(text: str, finish: str | None = None) -> dict:
    return {"choices": [{"index": 0, "text": text, "finish_reason": finish}]}


class Handler(BaseHTTPRequestHandler):
    seen: ClassVar[list[dict]] = []

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: bytes, ctype: str = "text/event-stream") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length) or b"{}")
        Handler.seen.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        scenario = self.path.split("/")[1]
        if scenario == "ok":
            self._send(200, _sse([_chunk("def "), _chunk("f"), _chunk("():", None), _chunk("", "length"),
                                  "[DONE]"]))
        elif scenario == "stopper":
            self._send(200, _sse([_chunk("a = 1\n"), _chunk("b = 2\nEND"), _chunk("c = 3"), "[DONE]"]))
        elif scenario == "chat":
            self._send(200, _sse([{"choices": [{"delta": {"role": "assistant"}}]},
                                  {"choices": [{"delta": {"content": "Hel"}}]},
                                  {"choices": [{"delta": {"content": "lo"}, "finish_reason": "stop"}]},
                                  "[DONE]"]))
        elif scenario == "plainjson":
            self._send(200, json.dumps({"choices": [{"text": "x = 1", "finish_reason": "stop"}]}).encode(),
                       "application/json")
        elif scenario == "err500":
            self._send(500, b"model exploded: out of memory while loading", "text/plain")
        elif scenario == "echo401":
            self._send(401, f"bad key {self.headers.get('Authorization')}".encode(), "text/plain")
        elif scenario == "hang":
            time.sleep(3)
            # the client timed out long ago: socketserver would print the broken pipe to stderr,
            # in the middle of a later test
            with contextlib.suppress(OSError):
                self._send(200, _sse(["[DONE]"]))
        elif scenario == "badsse":
            self._send(200, b'data: {"choices": [{"text": "ok"}]}\n\ndata: {not json\n\n')
        elif scenario == "garbageline":
            self._send(200, b"this is not an event stream\n")
        elif scenario == "badjson":
            self._send(200, b"{oops", "application/json")
        elif scenario == "empty":
            self._send(200, _sse([{"choices": []}, "[DONE]"]))
        elif scenario == "close":
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Content-Length", "5000")
            self.end_headers()
            self.wfile.write(_sse([_chunk("partial")]))
            self.wfile.flush()
            self.close_connection = True
        elif scenario == "slow":
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            try:
                for i in range(200):
                    self.wfile.write(_sse([_chunk(f"t{i} ")]))
                    self.wfile.flush()
                    time.sleep(0.02)
                self.wfile.write(_sse(["[DONE]"]))
            except OSError:
                pass
            self.close_connection = True
        else:
            self._send(404, b"no such scenario", "text/plain")


@pytest.fixture(scope="module")
def fake_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def backend(base: str, scenario: str, **kw) -> RemoteOpenAIBackend:
    kw.setdefault("read_timeout_s", 2)
    return RemoteOpenAIBackend(f"{base}/{scenario}", **kw)


def test_normalise_endpoint() -> None:
    assert normalise_endpoint("http://h:8080") == "http://h:8080/v1"
    assert normalise_endpoint("http://h:8080/v1/") == "http://h:8080/v1"
    assert normalise_endpoint("https://api.x.com/v1/completions") == "https://api.x.com/v1"
    with pytest.raises(ConfigError):
        normalise_endpoint("h:8080")


def test_streamed_completion_and_request_body(fake_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGLS_TEST_KEY", SECRET)
    seen: list[str] = []
    with backend(fake_server, "ok", model="m1", api_key_env="RAGLS_TEST_KEY", use_suffix=True) as b:
        req = GenerationRequest("p", max_tokens=7, temperature=0.3, stop=["\n\n"], suffix="S")
        res = b.generate(req, on_text=lambda t: seen.append(t) is not None)
    assert (res.text, res.tokens, res.finish_reason, res.model) == ("def f():", 3, "length", "m1")
    assert seen == ["def ", "def f", "def f():"]
    sent = Handler.seen[-1]
    assert sent["path"] == "/ok/v1/completions"
    assert sent["auth"] == f"Bearer {SECRET}"
    assert sent["body"] == {"prompt": "p", "max_tokens": 7, "temperature": 0.3, "stream": True, "model": "m1",
                            "stop": ["\n\n"], "suffix": "S"}


def test_suffix_not_sent_unless_enabled(fake_server: str) -> None:
    with backend(fake_server, "ok") as b:
        b.generate(GenerationRequest("p", suffix="S"))
    assert "suffix" not in Handler.seen[-1]["body"] and "model" not in Handler.seen[-1]["body"]
    assert Handler.seen[-1]["auth"] is None


def test_stop_strings_cut_locally(fake_server: str) -> None:
    with backend(fake_server, "stopper") as b:
        res = b.generate(GenerationRequest("p", stop=["END"]))
    assert res.text == "a = 1\nb = 2\n" and res.finish_reason == "stop"


def test_on_text_stop_and_plain_json_reply(fake_server: str) -> None:
    with backend(fake_server, "stopper") as b:
        res = b.generate(GenerationRequest("p"), on_text=lambda t: "\n" in t)
    assert res.text == "a = 1\n" and res.finish_reason == "callback"
    with backend(fake_server, "plainjson") as b:
        assert b.generate(GenerationRequest("p")).text == "x = 1"


def test_chat_stream(fake_server: str) -> None:
    with backend(fake_server, "chat", model="m") as b:
        res = b.chat([{"role": "user", "content": "hi"}], max_tokens=5)
    assert (res.text, res.finish_reason) == ("Hello", "stop")
    assert Handler.seen[-1]["path"] == "/chat/v1/chat/completions"
    assert Handler.seen[-1]["body"]["messages"] == [{"role": "user", "content": "hi"}]


def test_cancel_stops_reading_the_stream(fake_server: str) -> None:
    token = CancelToken()

    def cb(text: str) -> bool:
        if text.count("t") >= 3:
            token.cancel()
        return False

    t0 = time.monotonic()
    with backend(fake_server, "slow") as b:
        res = b.generate(GenerationRequest("p"), token, cb)
    assert res.finish_reason == "cancelled"
    assert res.tokens <= 4
    assert time.monotonic() - t0 < 2  # the full stream would take 4 s


@pytest.mark.parametrize(
    ("scenario", "pattern"),
    [
        ("err500", r"HTTP 500: model exploded"),
        ("badsse", r"malformed JSON in the stream"),
        ("garbageline", r"malformed event stream line"),
        ("badjson", r"invalid JSON"),
        ("empty", r"empty stream"),
        ("close", r"closed the connection"),
        ("nosuch", r"HTTP 404"),
    ],
)
def test_bad_replies_raise_backend_error(fake_server: str, scenario: str, pattern: str) -> None:
    with backend(fake_server, scenario) as b, pytest.raises(BackendError, match=pattern):
        b.generate(GenerationRequest("p"))


def test_read_timeout(fake_server: str) -> None:
    t0 = time.monotonic()
    with backend(fake_server, "hang", read_timeout_s=0.5) as b, pytest.raises(BackendError, match="timeout"):
        b.generate(GenerationRequest("p"))
    assert time.monotonic() - t0 < 2.5


def test_connection_refused() -> None:
    port = _free_port()
    with RemoteOpenAIBackend(f"http://127.0.0.1:{port}", connect_timeout_s=1) as b, \
            pytest.raises(BackendError, match=rf"cannot reach http://127.0.0.1:{port}"):
        b.generate(GenerationRequest("p"))


def test_api_key_never_in_errors_or_logs(fake_server: str, monkeypatch: pytest.MonkeyPatch,
                                         caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("RAGLS_TEST_KEY", SECRET)
    caplog.set_level(logging.DEBUG)
    with backend(fake_server, "echo401", api_key_env="RAGLS_TEST_KEY") as b, \
            pytest.raises(BackendError) as info:
        b.generate(GenerationRequest("p"))
    assert "HTTP 401" in str(info.value) and "***" in str(info.value)
    assert Handler.seen[-1]["auth"] == f"Bearer {SECRET}"
    assert SECRET not in str(info.value)
    assert SECRET not in caplog.text


def test_load_backend_remote(fake_server: str) -> None:
    b = load_backend(ModelConfig(source="remote", endpoint=f"{fake_server}/ok/v1", remote_model="rm",
                                 template="qwen25coder"))
    try:
        assert isinstance(b, RemoteOpenAIBackend) and isinstance(b, CompletionBackend)
        assert b.template.name == "qwen25coder" and b.name == "rm"
        assert b.generate(GenerationRequest("p")).text == "def f():"
        assert b.count_tokens("x" * 35) == 10
    finally:
        b.close()


# --- a real llama.cpp server ------------------------------------------------------------

@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    pytest.importorskip("llama_cpp")
    pytest.importorskip("uvicorn")
    pytest.importorskip("sse_starlette")
    model = make_tiny_gguf(tmp_path_factory.mktemp("srv") / "tiny-qwen2.gguf", "qwen2")
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    log_path = tmp_path_factory.mktemp("srvlog") / "server.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
             "--port", str(port), "--n_ctx", "256", "--n_threads", "1", "--model_alias", "tiny"],
            stdout=log_file, stderr=subprocess.STDOUT, env=env,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"llama_cpp.server exited: {log_path.read_text(errors='replace')[-2000:]}")
                try:
                    if httpx.get(f"{base}/v1/models", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail("llama_cpp.server did not start within 90 s")
                time.sleep(0.2)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def test_real_llama_server_completion_chat_and_streaming(llama_server: str) -> None:
    seen: list[str] = []
    with RemoteOpenAIBackend(llama_server, model="tiny", read_timeout_s=30) as b:
        res = b.generate(GenerationRequest("def f(x):\n    ", max_tokens=10, temperature=0.0),
                         on_text=lambda t: seen.append(t) is not None)
        assert res.text and 0 < res.tokens <= 10
        assert len(seen) >= 2 and seen[-1] == res.text
        again = b.generate(GenerationRequest("def f(x):\n    ", max_tokens=10, temperature=0.0))
        assert again.text == res.text
        stop = res.text[2:4]
        cut = b.generate(GenerationRequest("def f(x):\n    ", max_tokens=10, temperature=0.0, stop=[stop]))
        assert cut.text == res.text[: res.text.index(stop)] and cut.finish_reason == "stop"
        chat = b.chat([{"role": "user", "content": "hi"}], max_tokens=6, temperature=0.0)
        assert chat.text and chat.tokens <= 6
        early = b.generate(GenerationRequest("x = ", max_tokens=50, temperature=0.0),
                           on_text=lambda t: len(t) >= 3)
        assert early.finish_reason == "callback" and early.tokens < 50
