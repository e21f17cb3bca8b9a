"""A raw LSP client over stdio and a seeded generator of random and mutated LSP messages.

Used by tests/test_fuzz_server.py (thousands of messages against a live `ragls serve`) and by
bench/editing_session.py (a long simulated editing session). The framing is always valid (a
lying Content-Length would desynchronise any server); everything inside it is fair game.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

REQUESTS = [
    "textDocument/inlineCompletion",
    "textDocument/completion",
    "textDocument/codeAction",
    "codeAction/resolve",
    "workspace/executeCommand",
    "textDocument/hover",  # not provided: must still be answered (method not found)
    "ragls/unknown",
]
NOTIFICATIONS = [
    "textDocument/didOpen",
    "textDocument/didChange",
    "textDocument/didSave",
    "textDocument/didClose",
    "workspace/didChangeWatchedFiles",
    "workspace/didChangeConfiguration",
    "$/cancelRequest",
    "$/setTrace",
    "ragls/unknownNotification",
]
COMMANDS = ["ragls.indexStatus", "ragls.showContext", "ragls.reindex", "ragls.selectModel", "ragls.nope"]
WEIRD_STRINGS = [
    "",
    "\x00",
    "\ud800",
    "../../etc/passwd",
    "a/../../outside.py",
    "file:///etc/passwd",
    "http://127.0.0.1:9/v1",
    "x" * 5000,
    "é" * 10,
    "🙂",
    "\r\n",
    "%00",
]


class RawClient:
    """A language client that writes framed JSON-RPC to a server's stdin and reads its stdout.

    Server-to-client requests (progress, registrations, configuration) are answered at once with
    null; every response the server sends is counted per request id."""

    def __init__(
        self,
        cmd: list[str],
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        stderr_path: Path | None = None,
    ) -> None:
        self._stderr = open(stderr_path, "wb") if stderr_path else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            cwd=cwd,
            env={**os.environ, **(env or {})},
        )
        self.responses: Counter[Any] = Counter()
        self.results: dict[Any, dict[str, Any]] = {}
        self.notifications: list[dict[str, Any]] = []
        self.protocol_errors: list[str] = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    # ---- writing -----------------------------------------------------------------------------

    def send_raw(self, body: bytes) -> None:
        assert self.proc.stdin is not None
        with self._write_lock:
            self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            self.proc.stdin.flush()

    def send(self, message: dict[str, Any]) -> None:
        self.send_raw(json.dumps(message, ensure_ascii=False).encode("utf-8", "surrogatepass"))

    def request(self, rid: Any, method: str, params: Any = None, timeout_s: float = 30.0) -> dict[str, Any]:
        self.send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        return self.wait_response(rid, timeout_s)

    def wait_response(self, rid: Any, timeout_s: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while rid not in self.results:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise TimeoutError(f"no response to {rid!r}")
                self._cond.wait(min(left, 0.2))
            return self.results[rid]

    def wait_all(self, ids: set[Any], timeout_s: float) -> set[Any]:
        """Wait until every id in `ids` has a response; returns those still missing."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                missing = {i for i in ids if i not in self.results}
                if not missing or time.monotonic() > deadline or self.proc.poll() is not None:
                    return missing
                self._cond.wait(0.2)

    # ---- reading -----------------------------------------------------------------------------

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
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            if length is None:
                self.protocol_errors.append("header without Content-Length")
                continue
            body = out.read(length)
            try:
                message = json.loads(body)
            except ValueError:
                self.protocol_errors.append(f"invalid JSON from the server: {body[:200]!r}")
                continue
            self._dispatch(message)

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "method" in message and "id" in message:  # a request from the server: answer null
            with contextlib.suppress(BrokenPipeError, ValueError):
                self.send({"jsonrpc": "2.0", "id": message["id"], "result": None})
            return
        if "method" in message:
            with self._lock:
                if len(self.notifications) < 10_000:
                    self.notifications.append(message)
            return
        rid = message.get("id")
        key = json.dumps(rid)
        with self._cond:
            self.responses[key] += 1
            self.results[rid if isinstance(rid, int | str) else key] = message
            self._cond.notify_all()

    def close(self, timeout_s: float = 20.0) -> int | None:
        try:
            self.request("shutdown-final", "shutdown", None, timeout_s)
            self.send({"jsonrpc": "2.0", "method": "exit"})
        except (TimeoutError, BrokenPipeError, OSError):
            pass
        try:
            code = self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = None
        if self._stderr is not subprocess.DEVNULL:
            self._stderr.close()
        return code


def initialize_params(root: Path, options: Any) -> dict[str, Any]:
    return {
        "processId": None,
        "rootUri": root.as_uri(),
        "workspaceFolders": [{"uri": root.as_uri(), "name": root.name}],
        "capabilities": {
            "textDocument": {"inlineCompletion": {}, "completion": {}, "codeAction": {}},
            "window": {"workDoneProgress": True},
            "workspace": {"didChangeWatchedFiles": {"dynamicRegistration": True}, "configuration": True},
        },
        "initializationOptions": options,
    }


class MessageFactory:
    """Seeded random and mutated LSP messages for one workspace."""

    def __init__(self, seed: int, root: Path, files: dict[str, str]) -> None:
        self.rng = random.Random(seed)
        self.root = root
        self.files = files
        self.texts = dict(files)  # the client's idea of each open buffer
        self.versions: Counter[str] = Counter()
        self.next_id = 1000

    # ---- values --------------------------------------------------------------------------------

    def uri(self) -> str:
        r = self.rng.random()
        if r < 0.75:
            return (self.root / self.rng.choice(list(self.files))).as_uri()
        if r < 0.85:
            return (self.root / f"new_{self.rng.randrange(5)}.py").as_uri()
        return self.rng.choice(
            [
                "file:///etc/passwd",
                self.root.as_uri() + "/a/../../outside.py",
                "untitled:Untitled-1",
                "http://example.invalid/x.py",
                "not a uri",
                self.root.as_uri(),
            ]
        )

    def position(self, uri: str) -> dict[str, Any]:
        text = self.texts.get(self._rel(uri), "")
        lines = text.split("\n") or [""]
        if self.rng.random() < 0.85:
            line = self.rng.randrange(len(lines))
            return {"line": line, "character": self.rng.randrange(len(lines[line]) + 1)}
        return {"line": self.rng.choice([-1, 10**6, 2**31]), "character": self.rng.choice([-5, 0, 10**9])}

    def _rel(self, uri: str) -> str:
        prefix = self.root.as_uri() + "/"
        return uri[len(prefix) :] if uri.startswith(prefix) else uri

    def edited_text(self, uri: str) -> str:
        text = self.texts.get(self._rel(uri), "")
        r = self.rng.random()
        if r < 0.6:  # type or delete a few characters, as an editor does
            at = self.rng.randrange(len(text) + 1)
            if self.rng.random() < 0.7:
                piece = self.rng.choice(
                    ["x", "(", ")", ":", "\n", "    ", "def f(", "return ", "import os\n"]
                )
                text = text[:at] + piece + text[at:]
            else:
                text = text[:at] + text[at + self.rng.randrange(1, 8) :]
        elif r < 0.8:
            text = self.rng.choice(WEIRD_STRINGS) * self.rng.randrange(1, 4)
        elif r < 0.9:
            text = "".join(chr(self.rng.randrange(0, 0x2FFF)) for _ in range(self.rng.randrange(200)))
        self.texts[self._rel(uri)] = text
        return text

    def junk(self, depth: int = 0) -> Any:
        r = self.rng.random()
        if depth > 2 or r < 0.3:
            return self.rng.choice([None, True, 0, -1, 2**63, 1.5, float("1e308"), "", "x", *WEIRD_STRINGS])
        if r < 0.6:
            return [self.junk(depth + 1) for _ in range(self.rng.randrange(4))]
        return {
            self.rng.choice(["uri", "line", "data", "textDocument", "x", "range"]): self.junk(depth + 1)
            for _ in range(self.rng.randrange(4))
        }

    def mutate(self, value: Any, rate: float = 0.15) -> Any:
        """Replace, drop or retype parts of a valid value."""
        if self.rng.random() < rate:
            return self.junk()
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                if self.rng.random() < rate / 2:
                    continue
                out[k] = self.mutate(v, rate)
            return out
        if isinstance(value, list):
            return [self.mutate(v, rate) for v in value]
        return value

    # ---- messages ------------------------------------------------------------------------------

    def params(self, method: str) -> Any:
        uri = self.uri()
        doc = {"uri": uri}
        pos = self.position(uri)
        rng = {"start": pos, "end": self.position(uri)}
        if method == "textDocument/inlineCompletion":
            return {"textDocument": doc, "position": pos, "context": {"triggerKind": self.rng.choice([1, 2])}}
        if method in ("textDocument/completion", "textDocument/hover"):
            return {"textDocument": doc, "position": pos}
        if method == "textDocument/codeAction":
            diags = [{"range": rng, "message": "NameError: x"}] if self.rng.random() < 0.5 else []
            return {"textDocument": doc, "range": rng, "context": {"diagnostics": diags}}
        if method == "codeAction/resolve":
            return {
                "title": "Fix with ragls",
                "data": {
                    "action": self.rng.choice(["fix", "tests", "x"]),
                    "uri": uri,
                    "version": self.versions[uri],
                    "start_line": 1,
                    "end_line": 2,
                    "line": 1,
                },
            }
        if method == "workspace/executeCommand":
            command = self.rng.choice(COMMANDS)
            args = (
                [uri] if command != "ragls.selectModel" else [self.rng.choice(["/nonexistent.gguf", "", "x"])]
            )
            return {"command": command, "arguments": args}
        if method == "textDocument/didOpen":
            self.versions[uri] += 1
            return {
                "textDocument": {
                    "uri": uri,
                    "languageId": "python",
                    "version": self.versions[uri],
                    "text": self.edited_text(uri),
                }
            }
        if method == "textDocument/didChange":
            self.versions[uri] += 1
            return {
                "textDocument": {"uri": uri, "version": self.versions[uri]},
                "contentChanges": [{"text": self.edited_text(uri)}],
            }
        if method in ("textDocument/didSave", "textDocument/didClose"):
            return {"textDocument": doc}
        if method == "workspace/didChangeWatchedFiles":
            return {"changes": [{"uri": uri, "type": self.rng.choice([1, 2, 3])}]}
        if method == "workspace/didChangeConfiguration":
            return {
                "settings": {
                    "ragls": {
                        "completion": {"debounceMs": self.rng.choice([0, 5, "x", -1])},
                        "context": {"topK": self.rng.choice([4, 8, None, "many"])},
                        "logLevel": self.rng.choice(["info", "loud"]),
                    }
                }
            }
        if method == "$/cancelRequest":
            return {"id": self.rng.randrange(1000, self.next_id + 1)}
        if method == "$/setTrace":
            return {"value": self.rng.choice(["off", "messages", "bogus"])}
        return self.junk()

    def message(self) -> tuple[dict[str, Any] | bytes, Any]:
        """One message to send and, when it is a well-formed request, its id (else None)."""
        r = self.rng.random()
        if r < 0.03:  # not JSON at all, or JSON that is not a message
            return self.rng.choice([b"{", b"null", b"[]", b"\xff\xfe", b'{"jsonrpc": "2.0"}', b"42"]), None
        if r < 0.45:
            method = self.rng.choice(REQUESTS)
            self.next_id += 1
            rid: Any = self.next_id if self.rng.random() < 0.9 else f"s-{self.next_id}"
            params = self.params(method)
            if self.rng.random() < 0.3:
                params = self.mutate(params)
            return {"jsonrpc": "2.0", "id": rid, "method": method, "params": params}, rid
        method = self.rng.choice(NOTIFICATIONS)
        params = self.params(method)
        if self.rng.random() < 0.2:
            params = self.mutate(params)
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
        if self.rng.random() < 0.02:  # a "response" to a request the server never sent
            message = {"jsonrpc": "2.0", "id": self.rng.randrange(10**6), "result": self.junk()}
        return message, None
