"""A cloned repository whose ragls.toml points at an attacker's endpoint: opening a file sends it
nothing (not the code, not the key) unless the workspace is trusted.

The attacker is a real HTTP server on 127.0.0.1 that records every request; the server under test
is a real `ragls serve` over stdio, with a tiny local model so completions work without it.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from test_server_harness import initialize, open_doc, start_client, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

SECRET = "sk-test-0123456789abcdef"
CODE = "def area(w, h):\n    return w * h\n\n\ndef total(xs):\n    return "


class Recorder(BaseHTTPRequestHandler):
    """Answers /v1/completions (SSE) and /v1/embeddings; remembers every request."""

    seen: list[dict[str, Any]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8", "replace")
        self.server.seen.append(  # type: ignore[attr-defined]
            {"path": self.path, "headers": dict(self.headers), "body": body}
        )
        if self.path.endswith("/embeddings"):
            n = len(json.loads(body).get("input", []))
            reply = {"data": [{"index": i, "embedding": [1.0, 0.5, 0.25, 0.0]} for i in range(n)]}
            payload = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
        else:
            event = {"choices": [{"text": "sum(xs)", "finish_reason": "stop"}]}
            payload = f"data: {json.dumps(event)}\n\ndata: [DONE]\n\n".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def attacker() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def cloned_repo(tmp_path: Path, endpoint: str, embed_endpoint: str) -> Path:
    root = tmp_path / "cloned"
    root.mkdir()
    (root / "calc.py").write_text(CODE, encoding="utf-8")
    (root / "ragls.toml").write_text(
        f'[model]\nsource = "remote"\nendpoint = "{endpoint}"\napiKeyEnv = "RAGLS_TEST_SECRET"\n'
        f'[embeddings]\nkind = "remote"\nendpoint = "{embed_endpoint}"\nmodel = "e"\n'
        'apiKeyEnv = "RAGLS_TEST_SECRET"\n',
        encoding="utf-8",
    )
    return root


async def _open_and_complete(tmp_path: Path, port: int, model: Path, trusted: bool) -> tuple[Any, Any, str]:
    # credentials in the embeddings URL: they must show nowhere (httpx sends them as Basic auth)
    root = cloned_repo(
        tmp_path, f"http://127.0.0.1:{port}/v1", f"http://someone:p4ssw0rd@127.0.0.1:{port}/v1"
    )
    client = await start_client(
        [sys.executable, "-m", "ragls", "serve", "--log-level", "debug", "--log-file", str(tmp_path / "log")],
        env={"RAGLS_TEST_SECRET": SECRET},
    )
    options: dict[str, Any] = {"model": {"path": str(model), "nCtx": 2048, "maxTokens": 4, "threads": 1}}
    if trusted:
        options["trustedWorkspace"] = True
    try:
        await initialize(client, "neovim_v0.12.0", root, options)
        uri = (root / "calc.py").as_uri()
        open_doc(client, uri, CODE)
        for _ in range(300):
            status = await client.workspace_execute_command_async(
                types.ExecuteCommandParams(command="ragls.indexStatus", arguments=[])
            )
            if status["state"] == "ready":
                break
            await asyncio.sleep(0.05)
        got = await client.text_document_inline_completion_async(
            types.InlineCompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line=5, character=len("    return ")),
                context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
            )
        )
        await asyncio.sleep(1.0)  # time for background embedding to call out, if it would
        return got, status, "\n".join(m.message for m in client.messages)
    finally:
        await client.shutdown_session()
        await client.stop()


async def test_untrusted_workspace_sends_nothing(
    attacker: ThreadingHTTPServer, tmp_path: Path, tiny_server_model: Path
) -> None:
    got, status, messages = await _open_and_complete(
        tmp_path, attacker.server_port, tiny_server_model, trusted=False
    )
    assert attacker.seen == []  # type: ignore[attr-defined]
    assert got is not None and len(got.items) == 1  # the local model answered instead
    assert status["settings"]["model"]["endpoint"] is None
    assert "model.endpoint" in messages and "not trusted" in messages
    log = (tmp_path / "log").read_text(encoding="utf-8")
    assert SECRET not in log


async def test_trusted_workspace_uses_the_project_endpoint(
    attacker: ThreadingHTTPServer, tmp_path: Path, tiny_server_model: Path
) -> None:
    got, status, messages = await _open_and_complete(
        tmp_path, attacker.server_port, tiny_server_model, trusted=True
    )
    seen = attacker.seen  # type: ignore[attr-defined]
    await wait_for(lambda: any(r["path"].endswith("/completions") for r in seen))
    completion = next(r for r in seen if r["path"].endswith("/completions"))
    assert completion["headers"].get("Authorization") == f"Bearer {SECRET}"
    assert "def area" in completion["body"]  # the code went where the user allowed it to
    assert got is not None and got.items and "sum(xs)" in got.items[0].insert_text
    await wait_for(lambda: any(r["path"].endswith("/embeddings") for r in seen))
    # the credentials in the URL show nowhere: status, messages, log
    assert "p4ssw0rd" not in json.dumps(status) and "p4ssw0rd" not in messages
    log = (tmp_path / "log").read_text(encoding="utf-8")
    assert "p4ssw0rd" not in log and SECRET not in log


def test_the_cli_trusts_the_workspace_it_is_pointed_at(
    attacker: ThreadingHTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ragls complete` reads the user file and the project file (trusted: the user chose the
    folder): the project's endpoint and key variable are used."""
    import subprocess

    port = attacker.server_port
    root = cloned_repo(tmp_path, f"http://127.0.0.1:{port}/v1", f"http://127.0.0.1:{port}/v1")
    user = tmp_path / "config.toml"
    user.write_text("[model]\nmaxTokens = 3\n", encoding="utf-8")
    monkeypatch.setenv("RAGLS_CONFIG_FILE", str(user))
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "ragls",
            "complete",
            "--workspace",
            str(root),
            "--file",
            "calc.py",
            "--line",
            "6",
            "--col",
            "12",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "RAGLS_TEST_SECRET": SECRET},
    )
    assert out.returncode == 0, out.stderr
    assert "sum(xs)" in json.loads(out.stdout)["completion"]
    seen = attacker.seen  # type: ignore[attr-defined]
    completion = next(r for r in seen if r["path"] == "/v1/completions")
    assert completion["headers"].get("Authorization") == f"Bearer {SECRET}"
    assert json.loads(completion["body"])["max_tokens"] == 3  # from the user file
