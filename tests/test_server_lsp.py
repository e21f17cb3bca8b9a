"""LSP mechanics through a real pytest-lsp client over stdio, with the fake engine host
(tests/test_server_harness.py run as the server) and recorded Neovim / VS Code profiles."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcMethodNotFound
from test_server_harness import PROFILES, change_doc, initialize, open_doc, start_client, wait_for

HARNESS = str(Path(__file__).with_name("test_server_harness.py"))

SOURCE = (
    "import os\n\n\ndef add(a, b):\n    retrun a + b\n\n\nclass Box:\n    def get(self):\n        return 1\n"
)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "tests").mkdir(parents=True)
    (root / "calc.py").write_text(SOURCE, encoding="utf-8")
    (root / "lib.py").write_text("def helper():\n    return 1\n", encoding="utf-8")
    return root


async def _serve(fake: dict | None = None):
    return await start_client([sys.executable, HARNESS], {"RAGLS_FAKE": json.dumps(fake or {})})


@pytest.fixture
async def client():
    c = await _serve()
    yield c
    await c.shutdown_session()
    await c.stop()


async def _status(client) -> dict:
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="ragls.indexStatus")
    )


async def _ready(client) -> dict:
    async def check():
        return (await _status(client))["state"] == "ready"

    for _ in range(200):
        if await check():
            return await _status(client)
        await asyncio.sleep(0.05)
    raise AssertionError("index never became ready")


def _inline(uri: str, line: int, character: int) -> types.InlineCompletionParams:
    return types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=line, character=character),
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic),
    )


@pytest.mark.parametrize("profile", PROFILES)
async def test_initialize_progress_and_completion(client, workspace: Path, profile: str) -> None:
    result = await initialize(client, profile, workspace)
    caps = result.capabilities
    assert caps.inline_completion_provider is not None
    assert caps.code_action_provider.resolve_provider is True
    assert "ragls.indexStatus" in caps.execute_command_provider.commands
    status = await _ready(client)
    assert status["last_update"]["files"] == 2
    # $/progress: begin ... end for indexing, with the token created first
    reports = await wait_for(
        lambda: (
            [v for r in client.progress_reports.values() for v in r if v.kind == "end"]
            and client.progress_reports
        )
    )
    kinds = [v.kind for r in reports.values() for v in r]
    assert kinds[0] == "begin" and kinds[-1] == "end"

    uri = (workspace / "calc.py").as_uri()
    open_doc(client, uri, SOURCE)
    text2 = SOURCE.replace("import os\n", "import os\nx = ad\n")
    change_doc(client, uri, 2, text2)
    if profile.startswith("neovim"):
        got = await client.text_document_inline_completion_async(_inline(uri, 1, 6))
        assert len(got.items) == 1
        item = got.items[0]
        assert item.insert_text.startswith("completion('x = ad')")
        assert item.range.start == types.Position(line=1, character=6) == item.range.end
        # the fallback is off for a client that has inline completion
        assert (
            await client.text_document_completion_async(
                types.CompletionParams(
                    text_document=types.TextDocumentIdentifier(uri=uri),
                    position=types.Position(line=1, character=6),
                )
            )
            is None
        )
    else:
        got = await client.text_document_completion_async(
            types.CompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line=1, character=6),
            )
        )
        assert len(got.items) == 1
        item = got.items[0]
        assert item.label == "ragls: completion('x = ad')"
        assert item.insert_text_format == types.InsertTextFormat.PlainText
        assert "\n    return x" in item.text_edit.new_text
        assert item.detail == "ragls (fake-model)"
    # the overlay mirrors the unsaved buffer into the index
    status = await _status(client)
    assert status["index"]["overlays"] == ["calc.py"]
    shown = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="ragls.showContext", arguments=[uri])
    )
    assert shown["snippets"][0]["path"] == "lib.py"
    assert status["completions_computed"] == 1
    if profile.startswith("visual_studio_code"):  # dynamic registration of the file watcher
        await wait_for(lambda: client.registrations)
        assert client.registrations[0].method == types.WORKSPACE_DID_CHANGE_WATCHED_FILES
        updates = status["index"]["updates"]
        client.workspace_did_change_watched_files(
            types.DidChangeWatchedFilesParams(
                changes=[
                    types.FileEvent(uri=(workspace / "lib.py").as_uri(), type=types.FileChangeType.Changed)
                ]
            )
        )
        await asyncio.sleep(0.5)
        assert (await _status(client))["index"]["updates"] == updates + 1


async def test_repeat_request_hits_cache_and_stale_versions_answer_empty(client, workspace: Path) -> None:
    await initialize(client, "neovim_v0.12.0", workspace)
    uri = (workspace / "calc.py").as_uri()
    open_doc(client, uri, SOURCE)
    first = await client.text_document_inline_completion_async(_inline(uri, 4, 4))
    second = await client.text_document_inline_completion_async(_inline(uri, 4, 4))
    assert first.items[0].insert_text == second.items[0].insert_text
    status = await _status(client)
    assert status["cache_hits"] == 1 and status["completions_computed"] == 1
    # a change while the model runs makes the result stale: it is dropped
    pending = asyncio.ensure_future(client.text_document_inline_completion_async(_inline(uri, 3, 4)))
    await asyncio.sleep(0.3)
    change_doc(client, uri, 2, SOURCE + "\n")
    assert not (await pending).items
    # unopened documents and positions out of range answer empty
    other = (workspace / "lib.py").as_uri()
    assert not (await client.text_document_inline_completion_async(_inline(other, 0, 0))).items
    assert not (await client.text_document_inline_completion_async(_inline(uri, 99, 0))).items
    assert not (await client.text_document_inline_completion_async(_inline(uri, 0, 500))).items


async def test_cancellation_storm_newest_wins(client, workspace: Path) -> None:
    await initialize(client, "neovim_v0.12.0", workspace)
    uri = (workspace / "calc.py").as_uri()
    text = SOURCE
    open_doc(client, uri, text)
    futures = []
    for version in range(2, 52):
        text = text + f"v{version} = 1\n"
        change_doc(client, uri, version, text)
        futures.append(
            asyncio.ensure_future(
                client.text_document_inline_completion_async(_inline(uri, text.count("\n") - 1, 3))
            )
        )
        await asyncio.sleep(0.005)
    results = await asyncio.wait_for(asyncio.gather(*futures), 30)
    assert len(results) == 50
    assert all(not r.items for r in results[:-1])
    assert results[-1].items and results[-1].items[0].insert_text.startswith("completion('v51')")
    status = await _status(client)
    assert status["completion_requests"] == 50
    assert status["completions_started"] <= 3
    assert status["completions_cancelled"] >= 47


async def test_cancel_request_stops_the_model(workspace: Path) -> None:
    client = await _serve({"delay_s": 5})
    try:
        await initialize(client, "neovim_v0.12.0", workspace)
        uri = (workspace / "calc.py").as_uri()
        open_doc(client, uri, SOURCE)
        fut = asyncio.ensure_future(
            client.protocol.send_request_async(
                types.TEXT_DOCUMENT_INLINE_COMPLETION, _inline(uri, 4, 4), msg_id=777
            )
        )
        await asyncio.sleep(0.5)  # past the debounce: the model thread is running
        client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=777))
        started = asyncio.get_running_loop().time()
        with pytest.raises(Exception, match="cancel"):
            await asyncio.wait_for(fut, 10)
        # the model thread stopped at its next cancellation check: selectModel, which runs on
        # the same single model worker, does not wait for the fake's 5 s of "generation"
        selected = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="ragls.selectModel", arguments=["other"])
        )
        assert selected["ok"] is True
        assert asyncio.get_running_loop().time() - started < 2.5
        status = await _status(client)
        assert status["completions_cancelled"] >= 1
        assert status["completions_started"] == 1 and status["completions_computed"] == 0
    finally:
        await client.shutdown_session()
        await client.stop()


TRUSTED = {"trustedWorkspace": True}


@pytest.mark.parametrize("profile", PROFILES)
async def test_code_actions_list_and_resolve(client, workspace: Path, profile: str) -> None:
    await initialize(client, profile, workspace, TRUSTED)
    await _ready(client)
    uri = (workspace / "calc.py").as_uri()
    open_doc(client, uri, SOURCE)
    diag = types.Diagnostic(
        range=types.Range(
            start=types.Position(line=4, character=4), end=types.Position(line=4, character=10)
        ),
        message="invalid syntax",
    )
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=diag.range,
            context=types.CodeActionContext(diagnostics=[diag]),
        )
    )
    titles = [a.title for a in actions]
    assert titles == ["Fix with ragls", "Generate unit tests for add"]
    assert all(a.edit is None and a.disabled is None for a in actions)
    fix = await client.code_action_resolve_async(actions[0])
    assert fix.title == "Fix: tests pass (2/2)"  # the title says what was checked
    changes = fix.edit.document_changes or []
    edits = changes[0].edits if changes else fix.edit.changes[uri]
    assert len(edits) == 1
    assert edits[0].new_text == "    return a + b\n"
    assert edits[0].range == types.Range(
        start=types.Position(line=4, character=0), end=types.Position(line=5, character=0)
    )
    if profile.startswith("visual"):  # VS Code shows job progress: begin, what happens, end
        reports = [v for r in client.progress_reports.values() for v in r]
        assert any(getattr(v, "message", "") == "running 2 tests" for v in reports)
        assert any(v.kind == "begin" and v.cancellable for v in reports)

    # nothing passed: no test is offered, the action is disabled with the reason
    tests = await client.code_action_resolve_async(actions[1])
    assert tests.edit is None and "no generated test passed" in tests.disabled.reason

    # no verified fix: disabled with the reason, never an empty edit
    for message, reason in (("unfixable thing", "does not parse"), ("untested code", "no test covers this")):
        bad = types.Diagnostic(range=diag.range, message=message)
        actions = await client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=diag.range,
                context=types.CodeActionContext(diagnostics=[bad], only=[types.CodeActionKind.QuickFix]),
            )
        )
        assert [a.title for a in actions] == ["Fix with ragls"]
        resolved = await client.code_action_resolve_async(actions[0])
        assert resolved.edit is None and reason in resolved.disabled.reason
    await wait_for(lambda: any("no test covers this" in m.message for m in client.messages))


async def test_unverified_fix_only_when_allowed(client, workspace: Path) -> None:
    options = {**TRUSTED, "verify": {"allowUnverifiedFixes": True}}
    await initialize(client, "neovim_v0.12.0", workspace, options)
    uri = (workspace / "calc.py").as_uri()
    open_doc(client, uri, SOURCE)
    rng = types.Range(start=types.Position(line=4, character=4), end=types.Position(line=4, character=10))
    diag = types.Diagnostic(range=rng, message="untested code")
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), range=rng,
            context=types.CodeActionContext(diagnostics=[diag], only=[types.CodeActionKind.QuickFix]),
        )
    )
    resolved = await client.code_action_resolve_async(actions[0])
    assert resolved.title == "Fix (unverified: no test covers this)" and resolved.edit is not None


async def test_untrusted_workspace_lists_actions_disabled(client, workspace: Path) -> None:
    await initialize(client, "neovim_v0.12.0", workspace)
    uri = (workspace / "calc.py").as_uri()
    open_doc(client, uri, SOURCE)
    rng = types.Range(start=types.Position(line=4, character=4), end=types.Position(line=4, character=10))
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), range=rng,
            context=types.CodeActionContext(diagnostics=[types.Diagnostic(range=rng, message="x")]),
        )
    )
    assert len(actions) == 2 and all("not trusted" in a.disabled.reason for a in actions)
    resolved = await client.code_action_resolve_async(actions[0])
    assert resolved.edit is None and "not trusted" in resolved.disabled.reason


async def test_failing_test_is_offered_as_a_fix_trigger(client, workspace: Path) -> None:
    await initialize(client, "neovim_v0.12.0", workspace, TRUSTED)
    text = "from calc import add\n\n\ndef test_x():\n    assert add(1, 2) == 3\n"
    uri = (workspace / "tests" / "test_calc.py").as_uri()
    open_doc(client, uri, text)
    at = types.Range(start=types.Position(line=4, character=6), end=types.Position(line=4, character=6))
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), range=at,
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    assert [a.title for a in actions] == ["Fix so that test_x passes"]
    resolved = await client.code_action_resolve_async(actions[0])
    assert "already passes" in resolved.disabled.reason


async def test_generate_tests_appends_to_existing_file(client, workspace: Path) -> None:
    (workspace / "tests" / "test_calc.py").write_text("def test_old():\n    pass\n", encoding="utf-8")
    await initialize(client, "neovim_v0.12.0", workspace, TRUSTED)
    uri = (workspace / "calc.py").as_uri()
    open_doc(client, uri, SOURCE)
    at_def = types.Range(start=types.Position(line=8, character=8), end=types.Position(line=8, character=8))
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=at_def,
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    assert [a.title for a in actions] == ["Generate unit tests for get"]
    resolved = await client.code_action_resolve_async(actions[0])
    assert resolved.title == "Add 1 passing test for get to tests/test_calc.py, 100% of the lines covered"
    ops = resolved.edit.document_changes
    assert len(ops) == 1 and ops[0].edits[0].range.start == types.Position(line=2, character=0)
    assert ops[0].edits[0].new_text.startswith("\n\nfrom calc import get")


async def test_bad_settings_warn_once_and_unknown_method(client, workspace: Path) -> None:
    options = {"model": {"nCtx": "lots", "bogus": 1}, "completion": {"debounceMs": 0}, "nonsense": True}
    result = await initialize(client, "visual_studio_code_v1.65.2", workspace, options)
    assert result.server_info.name == "ragls"
    await wait_for(lambda: client.messages)
    await asyncio.sleep(0.3)
    assert len(client.messages) == 1
    assert client.messages[0].type == types.MessageType.Warning
    assert "nCtx" in client.messages[0].message
    status = await _status(client)
    assert status["settings"]["completion"]["debounceMs"] == 0  # the valid part is kept
    assert status["settings"]["model"]["nCtx"] == 4096
    with pytest.raises(JsonRpcMethodNotFound):
        await client.protocol.send_request_async("ragls/noSuchMethod", {})
    # still serving
    assert (await _status(client))["root"] == str(workspace.resolve())


async def test_engine_failures_are_contained(workspace: Path) -> None:
    client = await _serve({"fail_start": True})
    try:
        await initialize(client, "neovim_v0.12.0", workspace)
        uri = (workspace / "calc.py").as_uri()
        open_doc(client, uri, SOURCE)
        assert not (await client.text_document_inline_completion_async(_inline(uri, 4, 4))).items
        await wait_for(lambda: any("cannot start" in m.message for m in client.messages))
        status = await _status(client)
        assert "refuses" in status["engine_error"]
    finally:
        await client.shutdown_session()
        await client.stop()


async def test_select_model_and_configuration_change(client, workspace: Path) -> None:
    await initialize(client, "neovim_v0.12.0", workspace)
    await _ready(client)
    bad = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="ragls.selectModel", arguments=["/missing.gguf"])
    )
    assert bad["ok"] is False
    good = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="ragls.selectModel", arguments=[{"name": "other"}])
    )
    assert good == {"ok": True, "model": "other"}
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(
            settings={"ragls": {"completion": {"debounceMs": 5, "enableCompletionFallback": True}}}
        )
    )
    await asyncio.sleep(0.2)
    status = await _status(client)
    assert status["settings"]["completion"] == {
        "debounceMs": 5,
        "coldPromptMs": 3000,
        "enableCompletionFallback": True,
        "timeoutMs": 30000,
    }
    uri = (workspace / "calc.py").as_uri()
    open_doc(client, uri, SOURCE)
    got = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=4, character=4)
        )
    )
    assert got.items and got.items[0].detail == "ragls (other)"
