"""Where `ragls serve` logs: routine lines to the log file and to the client (window/logMessage),
only warnings and errors to stderr (editors show a server's stderr as errors)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ragls.server import client_log

pytestmark = pytest.mark.timeout(120)


def _frame(message: dict) -> bytes:
    payload = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(payload) + payload


def _messages(data: bytes) -> list[dict]:
    out = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        length = int(head.split(b"Content-Length:")[1].split(b"\r\n")[0])
        out.append(json.loads(rest[:length]))
        data = rest[length:]
    return out


def _session(root: Path, options: dict) -> bytes:
    return b"".join(
        _frame(m)
        for m in (
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {"processId": None, "rootUri": root.as_uri(), "capabilities": {},
                           "initializationOptions": options},
            },
            {"jsonrpc": "2.0", "method": "initialized", "params": {}},
            # a request the server answers only after initialized ran: the log lines are out
            {"jsonrpc": "2.0", "id": 2, "method": "workspace/executeCommand",
             "params": {"command": "ragls.indexStatus", "arguments": []}},
            {"jsonrpc": "2.0", "id": 3, "method": "shutdown"},
            {"jsonrpc": "2.0", "method": "exit"},
        )
    )


def _serve(root: Path, options: dict, *args: str) -> tuple[list[dict], str]:
    proc = subprocess.run(
        [sys.executable, "-m", "ragls", "serve", *args],
        input=_session(root, options),
        capture_output=True,
        timeout=100,
        env={**os.environ},
    )
    return _messages(proc.stdout), proc.stderr.decode(errors="replace")


def test_routine_lines_go_to_the_file_and_the_client_not_stderr(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "a.py").write_text("def f():\n    return 1\n")
    log = tmp_path / "serve.log"
    # one invalid setting: a warning, which stderr must still carry
    options = {"embeddings": {"kind": "none"}, "completion": {"debounceMs": "soon"}}
    messages, stderr = _serve(root, options, "--log-file", str(log))
    logged = [m["params"] for m in messages if m.get("method") == "window/logMessage"]
    assert any("initialize from" in p["message"] and p["type"] == 3 for p in logged), logged  # Info
    assert any("debounceMs" in p["message"] and p["type"] == 2 for p in logged), logged  # Warning
    text = log.read_text()
    assert " INFO ragls.server.features.lifecycle: initialize from" in text
    assert " INFO " not in stderr and "initialize from" not in stderr, stderr
    assert "WARNING" in stderr and "debounceMs" in stderr


def test_client_log_level_and_default_log_file(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    # logLevel "warning": the client gets no info lines; no --log-file: the cache's logs/serve.log
    messages, stderr = _serve(root, {"embeddings": {"kind": "none"}, "logLevel": "warning"})
    logged = [m["params"] for m in messages if m.get("method") == "window/logMessage"]
    assert not [p for p in logged if p["type"] >= 3], logged
    default = Path(os.environ["RAGLS_CACHE_DIR"]) / "logs" / "serve.log"
    assert default.is_file() and "serving on stdio" in default.read_text()
    assert " INFO " not in stderr


def test_message_types_follow_levels() -> None:
    assert client_log.message_type(logging.ERROR) == 1
    assert client_log.message_type(logging.CRITICAL) == 1
    assert client_log.message_type(logging.WARNING) == 2
    assert client_log.message_type(logging.INFO) == 3
    assert client_log.message_type(logging.DEBUG) == 4
