"""`ragls serve` end to end over stdio: the real index, retrieval and a tiny generated GGUF,
driven by pytest-lsp with recorded Neovim 0.12 and VS Code capability profiles."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
from lsprotocol import types
from test_server_harness import PROFILES, change_doc, initialize, open_doc, start_client, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

CALC = '''from util import clamp


def add(a, b):
    """Add two numbers."""
    return clamp(a + b)


class Box:
    def get(self):
        return 1
'''
UTIL = "def clamp(x, lo=0, hi=100):\n    return max(lo, min(hi, x))\n"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "calc.py").write_text(CALC, encoding="utf-8")
    (root / "util.py").write_text(UTIL, encoding="utf-8")
    return root


def _options(model: Path, **completion: object) -> dict:
    return {
        "model": {"path": str(model), "nCtx": 2048, "maxTokens": 16, "threads": 1},
        "trustedWorkspace": True,
        "verify": {"testCandidates": 1, "testRepairRounds": 1, "fixCandidates": 1, "fixRepairRounds": 0},
        "context": {"budgetTokens": 256},
        "embeddings": {"kind": "none"},
        "completion": {"debounceMs": 20, **completion},
    }


@pytest.fixture
async def client():
    c = await start_client([sys.executable, "-m", "ragls", "serve", "--log-level", "info"])
    yield c
    await c.shutdown_session()
    await c.stop()


async def _command(client, name: str, *args: object) -> dict:
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=name, arguments=list(args))
    )


async def _indexed(client) -> dict:
    for _ in range(300):
        status = await _command(client, "ragls.indexStatus")
        if status["state"] == "ready":
            return status
        await asyncio.sleep(0.05)
    raise AssertionError(f"index not ready: {status}")


@pytest.mark.parametrize("profile", PROFILES)
async def test_real_stack_completion(client, workspace: Path, tiny_server_model: Path, profile: str) -> None:
    await initialize(client, profile, workspace, _options(tiny_server_model))
    status = await _indexed(client)
    assert status["index"]["files"] == 2 and status["index"]["symbols"] >= 3
    ends = await wait_for(lambda: [v for r in client.progress_reports.values() for v in r if v.kind == "end"])
    kinds = [v.kind for r in client.progress_reports.values() for v in r]
    assert ends and kinds[0] == "begin" and kinds[-1] == "end"

    uri = (workspace / "calc.py").as_uri()
    open_doc(client, uri, CALC)
    text = CALC + "\n\ndef total(xs):\n    return "
    change_doc(client, uri, 2, text)
    pos = types.Position(line=text.count("\n"), character=len("    return "))
    doc = types.TextDocumentIdentifier(uri=uri)
    if profile.startswith("neovim"):
        got = await client.text_document_inline_completion_async(
            types.InlineCompletionParams(
                text_document=doc,
                position=pos,
                context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
            )
        )
        assert len(got.items) == 1 and got.items[0].insert_text
    else:
        got = await client.text_document_completion_async(
            types.CompletionParams(text_document=doc, position=pos)
        )
        assert len(got.items) == 1 and got.items[0].text_edit.new_text
        assert got.items[0].detail == "ragls (tiny-qwen)"  # the backend's model name
    status = await _command(client, "ragls.indexStatus")
    assert status["completions_computed"] == 1
    context = await _command(client, "ragls.showContext", uri)
    assert any(s["path"] == "util.py" for s in context["snippets"])  # the imported helper
    timings = context["timings"]  # so a user (and bench/server_bench.py) can see where time went
    assert {"retrieval_ms", "generation_ms", "server_ms", "overhead_ms"} <= set(timings)
    assert 0 <= timings["overhead_ms"] <= timings["server_ms"]


async def test_real_stack_storm_and_code_actions(client, workspace: Path, tiny_server_model: Path) -> None:
    await initialize(client, "neovim_v0.12.0", workspace, _options(tiny_server_model))
    await _indexed(client)
    uri = (workspace / "storm.py").as_uri()
    text = "from util import clamp\nv = "
    open_doc(client, uri, text)
    futures = []
    for version in range(2, 52):
        text += "x"
        change_doc(client, uri, version, text)
        lines = text.split("\n")
        futures.append(
            asyncio.ensure_future(
                client.text_document_inline_completion_async(
                    types.InlineCompletionParams(
                        text_document=types.TextDocumentIdentifier(uri=uri),
                        position=types.Position(line=len(lines) - 1, character=len(lines[-1])),
                        context=types.InlineCompletionContext(
                            trigger_kind=types.InlineCompletionTriggerKind.Automatic
                        ),
                    )
                )
            )
        )
        await asyncio.sleep(0.002)
    results = await asyncio.wait_for(asyncio.gather(*futures), 60)
    assert len(results) == 50 and all(not r.items for r in results[:-1])
    status = await _command(client, "ragls.indexStatus")
    assert status["completion_requests"] == 50 and status["completions_started"] <= 3
    assert status["completions_failed"] == 0 and status["completions_computed"] >= 1

    # code actions: listed instantly without edits, resolved by the engine; a random-weight
    # model's tests and patches never pass, so nothing is offered (no skeleton, no unrun patch)
    uri = (workspace / "calc.py").as_uri()
    open_doc(client, uri, CALC)
    rng = types.Range(start=types.Position(line=5, character=4), end=types.Position(line=5, character=10))
    diag = types.Diagnostic(range=rng, message="undefined name 'clamp'")
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=rng,
            context=types.CodeActionContext(diagnostics=[diag]),
        )
    )
    assert [a.title for a in actions] == ["Fix with ragls", "Generate unit tests for add"]
    tests = await client.code_action_resolve_async(actions[1])
    assert tests.edit is None and tests.disabled.reason.startswith("no test to offer")
    fix = await client.code_action_resolve_async(actions[0])
    assert fix.edit is None and fix.disabled.reason.startswith("no ")
    assert not (workspace / "tests").exists()


BUGGY = CALC.replace("clamp(a + b)", "clamp(a - b)")
TEST_CALC = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"


async def test_real_stack_verified_fix_and_tests(client, workspace: Path) -> None:
    """The whole server with a scripted model over HTTP: known replies, so the verdicts are known."""
    from scripted_openai import scripted_server

    (workspace / "tests").mkdir()
    (workspace / "tests" / "test_calc.py").write_text(TEST_CALC, encoding="utf-8")
    with scripted_server() as model:
        options = {
            "model": {"source": "remote", "endpoint": model.url},
            "embeddings": {"kind": "none"},
            "trustedWorkspace": True,
            "verify": {"fixCandidates": 2, "testCandidates": 1, "testRepairRounds": 0},
        }
        await initialize(client, "visual_studio_code_v1.65.2", workspace, options)
        await _indexed(client)
        uri = (workspace / "calc.py").as_uri()
        open_doc(client, uri, BUGGY)  # unsaved: the disk still has the old text
        rng = types.Range(start=types.Position(line=5, character=4), end=types.Position(line=5, character=10))
        params = types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=rng,
            context=types.CodeActionContext(diagnostics=[types.Diagnostic(range=rng, message="wrong sum")]),
        )
        actions = await client.text_document_code_action_async(params)
        wrong = 'def add(a, b):\n    """Add two numbers."""\n    return clamp(a * b)\n'
        right = 'def add(a, b):\n    """Add two numbers."""\n    return clamp(a + b)\n'
        model.script(f"```python\n{wrong}```", f"```python\n{right}```")
        fix = await client.code_action_resolve_async(actions[0])
        assert fix.title == "Fix: tests pass (1/1)"
        edits = fix.edit.document_changes[0].edits
        assert [(e.range.start.line, e.new_text) for e in edits] == [(5, "    return clamp(a + b)\n")]
        assert len(model.requests) == 2  # the wrong patch failed test_add, the second passed

        at = types.Position(line=10, character=8)
        box = types.Range(start=at, end=at)
        actions = await client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri), range=box,
                context=types.CodeActionContext(diagnostics=[]),
            )
        )
        assert [a.title for a in actions] == ["Generate unit tests for Box.get"]
        model.script("```python\nfrom calc import Box\n\n\ndef test_get():\n    assert Box().get() == 1\n```")
        tests = await client.code_action_resolve_async(actions[0])
        want = "Add 1 passing test for Box.get to tests/test_calc.py, 100% of the lines covered"
        assert tests.title == want
        inserted = tests.edit.document_changes[-1].edits[0].new_text
        assert "def test_get():\n    assert Box().get() == 1" in inserted
    assert (workspace / "calc.py").read_text() == CALC  # nothing ran against the real files


async def test_bad_model_path_keeps_serving(client, workspace: Path) -> None:
    options = {
        "model": {"path": str(workspace / "nope.gguf")},
        "embeddings": {"kind": "none"},
        "completion": {"debounceMs": "soon"},
    }
    await initialize(client, "neovim_v0.12.0", workspace, options)
    await wait_for(lambda: client.messages)
    assert client.messages[0].type == types.MessageType.Warning and "debounceMs" in client.messages[0].message
    uri = (workspace / "calc.py").as_uri()
    open_doc(client, uri, CALC)
    params = types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=5, character=4),
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
    )
    for _ in range(3):
        assert not (await client.text_document_inline_completion_async(params)).items
    await wait_for(lambda: len(client.messages) >= 2)
    await asyncio.sleep(0.2)
    assert len(client.messages) == 2  # one settings warning, one model error (not one per request)
    assert (await _command(client, "ragls.indexStatus"))["completions_failed"] == 3


def _frame(payload: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(payload) + payload


def _read_messages(data: bytes) -> list[dict]:
    out = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        length = int(head.split(b"Content-Length:")[1].split(b"\r\n")[0])
        out.append(json.loads(rest[:length]))
        data = rest[length:]
    return out


def test_malformed_input_over_raw_stdio(workspace: Path) -> None:
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "processId": None,
            "rootUri": workspace.as_uri(),
            "capabilities": {},
            "initializationOptions": {"embeddings": {"kind": "none"}},
        },
    }
    stream = b"".join(
        [
            _frame(json.dumps(init).encode()),
            _frame(b"{this is not json"),
            _frame(b"\xff\xfe\x00 invalid utf-8 \xc3\x28"),
            _frame(
                json.dumps(
                    {
                        "jsonrpc": "2.0",
                        "id": 2,
                        "method": "textDocument/inlineCompletion",
                        "params": {"textDocument": 5},
                    }
                ).encode()
            ),
            _frame(json.dumps({"jsonrpc": "2.0", "id": 3, "method": "no/such"}).encode()),
            _frame(json.dumps({"jsonrpc": "2.0", "id": 4, "method": "shutdown"}).encode()),
            _frame(json.dumps({"jsonrpc": "2.0", "method": "exit"}).encode()),
        ]
    )
    proc = subprocess.run(
        [sys.executable, "-m", "ragls", "serve"], input=stream, capture_output=True, timeout=60
    )
    # stdout parses as nothing but framed JSON-RPC messages
    replies = {m["id"]: m for m in _read_messages(proc.stdout) if "id" in m}
    assert replies[1]["result"]["serverInfo"]["name"] == "ragls"
    assert replies[2]["error"]["code"] == -32602  # invalid params, answered
    assert replies[3]["error"]["code"] == -32601  # method not found
    assert "result" in replies[4]  # still serving after the garbage
    assert b"Unable to handle message" in proc.stderr or b"not JSON" in proc.stderr


def test_tcp_transport(workspace: Path) -> None:
    import socket
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = workspace.parent / "tcp.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "ragls", "serve", "--tcp", "--port", str(port), "--log-file", str(log)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                conn = socket.create_connection(("127.0.0.1", port), timeout=10)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        init = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {"processId": None, "rootUri": workspace.as_uri(), "capabilities": {}},
        }
        with conn:
            conn.sendall(_frame(json.dumps(init).encode()))
            data = b""
            while b"serverInfo" not in data or len(_read_messages_partial(data)) < 1:
                chunk = conn.recv(65536)
                assert chunk, "connection closed"
                data += chunk
        # window/logMessage notifications may come first
        reply = next(m for m in _read_messages_partial(data) if m.get("id") == 1)
        assert reply["result"]["serverInfo"]["name"] == "ragls"
    finally:
        proc.terminate()
        proc.wait(10)
    assert "serving on tcp" in log.read_text()


def _read_messages_partial(data: bytes) -> list[dict]:
    try:
        return _read_messages(data)
    except (ValueError, IndexError):
        return []


async def test_background_embedding_reports_progress(
    client, workspace: Path, tiny_server_model: Path
) -> None:
    options = _options(tiny_server_model)
    options["embeddings"] = {"kind": "onnx", "threads": 1}
    await initialize(client, PROFILES[0], workspace, options)
    await _indexed(client)
    for _ in range(600):
        emb = (await _command(client, "ragls.indexStatus"))["embeddings"]
        if emb and emb["total"] and emb["done"] == emb["total"]:
            break
        await asyncio.sleep(0.05)
    assert emb is not None and emb["total"] >= 2 and emb["done"] == emb["total"], emb
