"""A small LSP client over the stdio pipes of `python -m ragls serve` (for server_bench.py).

JSON-RPC with Content-Length framing, written by hand so the timings are the client's own: a
reader thread stamps every response with `time.perf_counter()` on arrival; requests can be
sent without waiting (`send_request` returns a Pending), as editors do while typing. Requests
from the server (workDoneProgress/create, registerCapability, configuration) get a null
answer; `$/progress` end events are counted so a caller can wait for indexing to finish.
The server log goes to a file (`--log-file`), which `log_lines()` reads incrementally.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from common import REPO_DIR


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def file_uri(path: Path) -> str:
    return path.resolve().as_uri()


class Pending:
    """One request in flight; `wait()` gives its result once the response arrived."""

    def __init__(self, method: str) -> None:
        self.method = method
        self.id = 0
        self.sent = 0.0
        self.arrived: float | None = None
        self.result: Any = None
        self.error: Any = None
        self.done = threading.Event()

    def wait(self, timeout: float = 120.0) -> Any:
        if not self.done.wait(timeout):
            raise TimeoutError(f"{self.method}: no response in {timeout}s")
        if self.error is not None:
            raise RuntimeError(f"{self.method}: {self.error}")
        return self.result

    @property
    def rtt_ms(self) -> float:
        return ((self.arrived or time.perf_counter()) - self.sent) * 1000


class LspClient:
    """`python -m ragls serve` as a child process, spoken to over its stdin/stdout."""

    def __init__(self, log_file: Path, env: dict[str, str] | None = None, python: str = sys.executable):
        self.log_file = log_file
        log_file.parent.mkdir(parents=True, exist_ok=True)
        if log_file.exists():
            log_file.unlink()
        self._stderr = open(log_file.with_suffix(".stderr"), "wb")  # noqa: SIM115 (closed in close())
        self.proc = subprocess.Popen(
            [python, "-m", "ragls", "serve", "--log-file", str(log_file)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            cwd=REPO_DIR,
            env={**os.environ, **(env or {})},
        )
        self._ids = itertools.count(1)
        self._pending: dict[int, Pending] = {}
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self.progress_ends = 0
        self.progress_cond = threading.Condition()
        self.messages: list[dict] = []  # window/showMessage and friends
        self._log_pos = 0
        self._reader = threading.Thread(target=self._read_loop, name="lsp-reader", daemon=True)
        self._reader.start()

    # ---- framing -----------------------------------------------------------------------------
    def _write(self, msg: dict) -> None:
        body = json.dumps(msg, separators=(",", ":")).encode("utf-8")
        with self._write_lock:
            assert self.proc.stdin is not None
            self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            self.proc.stdin.flush()

    def _read_loop(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    return
                line = line.strip()
                if not line:
                    break
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            if length is None:
                continue
            msg = json.loads(out.read(length))
            now = time.perf_counter()
            try:
                self._dispatch(msg, now)
            except Exception as exc:  # never let the reader die
                print(f"lsp client: {exc}", file=sys.stderr)

    def _dispatch(self, msg: dict, now: float) -> None:
        if "id" in msg and "method" not in msg:  # a response
            with self._lock:
                pending = self._pending.pop(msg["id"], None)
            if pending is not None:
                pending.arrived = now
                pending.result, pending.error = msg.get("result"), msg.get("error")
                pending.done.set()
        elif "id" in msg:  # a request from the server
            result: Any = (
                [None] * len(msg.get("params", {}).get("items", []))
                if (msg["method"] == "workspace/configuration")
                else None
            )
            self._write({"jsonrpc": "2.0", "id": msg["id"], "result": result})
        elif msg.get("method") == "$/progress":
            if msg.get("params", {}).get("value", {}).get("kind") == "end":
                with self.progress_cond:
                    self.progress_ends += 1
                    self.progress_cond.notify_all()
        else:
            self.messages.append(msg)

    # ---- requests and notifications ------------------------------------------------------------
    def send_request(self, method: str, params: Any) -> Pending:
        msg_id = next(self._ids)
        pending = Pending(method)
        pending.id = msg_id
        with self._lock:
            self._pending[msg_id] = pending
        pending.sent = time.perf_counter()
        self._write({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        return pending

    def request(self, method: str, params: Any, timeout: float = 120.0) -> Any:
        return self.send_request(method, params).wait(timeout)

    def notify(self, method: str, params: Any) -> None:
        self._write({"jsonrpc": "2.0", "method": method, "params": params})

    def cancel(self, pending: Pending) -> None:
        """$/cancelRequest for a request still in flight (as editors do when the user types on)."""
        if not pending.done.is_set():
            self.notify("$/cancelRequest", {"id": pending.id})

    def cursor_moved(self, uri: str, line: int, char: int) -> None:
        """ragls/cursorMoved, as ragls' editor clients send it when the cursor comes to rest."""
        position = {"line": line, "character": char}
        self.notify("ragls/cursorMoved", {"textDocument": {"uri": uri}, "position": position})

    def command(self, name: str, *args: Any) -> Any:
        return self.request("workspace/executeCommand", {"command": name, "arguments": list(args)})

    # ---- LSP helpers ---------------------------------------------------------------------------
    def initialize(self, root: Path, options: dict) -> dict:
        caps = {
            "general": {"positionEncodings": ["utf-16"]},
            "window": {"workDoneProgress": True},
            "textDocument": {
                "inlineCompletion": {"dynamicRegistration": False},
                "synchronization": {"didSave": True},
            },
            "workspace": {"configuration": False, "workspaceFolders": True},
        }
        uri = file_uri(root)
        result = self.request(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": uri,
                "capabilities": caps,
                "workspaceFolders": [{"uri": uri, "name": root.name}],
                "clientInfo": {"name": "ragls-server-bench"},
                "initializationOptions": options,
            },
        )
        self.notify("initialized", {})
        return result

    def wait_indexed(self, timeout: float = 900.0) -> dict:
        """Until the first indexing pass ended ($/progress end), then the index status."""
        deadline = time.monotonic() + timeout
        with self.progress_cond:
            self.progress_cond.wait_for(lambda: self.progress_ends > 0, timeout)
        while time.monotonic() < deadline:  # also covers a server that sent no progress
            status = self.command("ragls.indexStatus")
            if status.get("state") in ("ready", "failed"):
                return status
            time.sleep(0.2)
        raise TimeoutError("indexing did not finish")

    def did_open(self, uri: str, text: str, version: int = 1) -> None:
        self.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": "python", "version": version, "text": text}},
        )

    def did_change(self, uri: str, version: int, line: int, char: int, text: str) -> None:
        """Insert `text` at (0-based line, UTF-16 character)."""
        pos = {"line": line, "character": char}
        self.notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": uri, "version": version},
                "contentChanges": [{"range": {"start": pos, "end": pos}, "text": text}],
            },
        )

    def inline_completion(self, uri: str, line: int, char: int) -> Pending:
        return self.send_request(
            "textDocument/inlineCompletion",
            {
                "textDocument": {"uri": uri},
                "position": {"line": line, "character": char},
                "context": {"triggerKind": 2},
            },
        )  # Automatic, as while typing

    def log_lines(self) -> list[str]:
        """Server log lines written since the last call."""
        try:
            with open(self.log_file, "rb") as fh:
                fh.seek(self._log_pos)
                data = fh.read()
        except FileNotFoundError:
            return []
        complete = data[: data.rfind(b"\n") + 1]  # a line still being written waits for next time
        self._log_pos += len(complete)
        return complete.decode("utf-8", errors="replace").splitlines()

    def close(self) -> None:
        try:
            self.request("shutdown", None, timeout=10)
            self.notify("exit", None)
            self.proc.wait(10)
        except Exception:
            self.proc.kill()
            self.proc.wait(10)
        finally:
            self._stderr.close()
