"""A seeded fuzzer drives a live `ragls serve` over stdio with thousands of random and mutated
LSP messages: the server must not crash, must answer every well-formed request exactly once,
and must leave an index that matches a fresh one of the same workspace.

Bounded in count (RAGLS_FUZZ_MESSAGES, default 3000) and time (RAGLS_FUZZ_SECONDS, default 25 s
of sending); RAGLS_FUZZ_SEED picks the seed (printed on failure).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
from lsp_fuzz import MessageFactory, RawClient, initialize_params

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]

FILES = {
    "pkg/__init__.py": "",
    "pkg/geometry.py": (
        'def area(w, h):\n    """Area."""\n    return w * h\n\n\n'
        "class Box:\n    def size(self):\n        return area(1, 2)\n"
    ),
    "pkg/report.py": (
        "from pkg.geometry import area, Box\n\n\ndef describe(w, h):\n    return f'{area(w, h)} m2'\n"
    ),
    "app.js": "import { run } from './lib.js';\nexport function main() { return run(1); }\n",
    "lib.js": "export function run(x) { return x + 1; }\n",
}


def _write(root: Path) -> None:
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _index_summary(root: Path) -> tuple[list[str], int, int, str]:
    from ragls.indexing.workspace import WorkspaceIndex

    with WorkspaceIndex.open(root) as index:
        stats = index.stats()
        check = index._conn().execute("PRAGMA integrity_check").fetchone()[0]
        return index.files(), stats.symbols, stats.chunks, check


def test_fuzzed_messages_never_crash_the_server(tmp_path: Path) -> None:
    seed = int(os.environ.get("RAGLS_FUZZ_SEED", "1234"))
    budget_n = int(os.environ.get("RAGLS_FUZZ_MESSAGES", "3000"))
    budget_s = float(os.environ.get("RAGLS_FUZZ_SECONDS", "25"))
    root = tmp_path / "ws"
    _write(root)
    log = tmp_path / "server.log"
    client = RawClient([sys.executable, "-m", "ragls", "serve", "--log-level", "warning"], stderr_path=log)
    options = {
        # no model file: completions fail fast and the failure path is fuzzed too (no llama needed)
        "model": {"path": str(tmp_path / "no-model.gguf")},
        "embeddings": {"kind": "none"},
        "completion": {"debounceMs": 0},
    }
    try:
        init = client.request(1, "initialize", initialize_params(root, options))
        assert "result" in init, init
        client.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        factory = MessageFactory(seed, root, FILES)
        sent: set[object] = set()
        start = time.monotonic()
        count = 0
        while count < budget_n and time.monotonic() - start < budget_s:
            message, rid = factory.message()
            if isinstance(message, bytes):
                client.send_raw(message)
            else:
                client.send(message)
            if rid is not None:
                sent.add(rid)
            count += 1
            if count % 50 == 0:
                assert client.proc.poll() is None, f"server died after {count} messages (seed {seed})"
        missing = client.wait_all(sent, timeout_s=60)
        assert client.proc.poll() is None, f"server died (seed {seed}); log: {log.read_text()[-2000:]}"
        assert not missing, (
            f"{len(missing)} of {len(sent)} unanswered (seed {seed}): {sorted(map(str, missing))[:10]}"
        )
        twice = {k: n for k, n in client.responses.items() if n > 1}
        assert not twice, f"answered more than once (seed {seed}): {twice}"
        assert not client.protocol_errors, client.protocol_errors[:3]
        # the server still works: the index is ready and complete after the storm
        reindex = {"command": "ragls.reindex", "arguments": []}
        status = client.request(2, "workspace/executeCommand", reindex, 60)
        assert "result" in status and "error" not in status["result"], status
        status = client.request(
            3, "workspace/executeCommand", {"command": "ragls.indexStatus", "arguments": []}
        )
        assert status["result"]["state"] == "ready", status
        served_files = status["result"]["index"]["files"]
        print(f"fuzz: seed {seed}, {count} messages, {len(sent)} requests in {time.monotonic() - start:.1f}s")
        # a last burst (re-indexing, restarts) still in flight when the client shuts the server
        # down: shutdown must wait for it instead of closing the index under it
        for _ in range(300):
            message, _rid = factory.message()
            client.send_raw(message) if isinstance(message, bytes) else client.send(message)
        client.send(
            {
                "jsonrpc": "2.0",
                "id": "reindex-last",
                "method": "workspace/executeCommand",
                "params": {"command": "ragls.reindex", "arguments": []},
            }
        )
    finally:
        code = client.close()
    assert code == 0, f"exit code {code} (seed {seed}); log tail: {log.read_text()[-2000:]}"
    # the index on disk is intact and the same as a fresh index of the same files
    files, symbols, chunks, check = _index_summary(root)
    assert check == "ok" and len(files) == served_files
    fresh = tmp_path / "fresh"
    _write(fresh)
    from ragls.indexing.workspace import WorkspaceIndex

    with WorkspaceIndex.open(fresh) as index:
        index.update()
        assert (index.files(), index.stats().symbols, index.stats().chunks) == (files, symbols, chunks)
