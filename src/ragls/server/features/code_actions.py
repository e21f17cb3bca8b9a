"""Code actions: "Fix with ragls", "Fix so that test_x passes" and "Generate unit tests for <symbol>".

Listing is instant (no model call, nothing run): actions carry `data` and no edit; in an
untrusted workspace they are listed disabled with the reason. codeAction/resolve runs the
verification job (`verify_actions`) and fills a minimal WorkspaceEdit titled with what was
checked ("Fix: tests pass (12/12)"); when nothing verified, the action comes back `disabled`
with the reason (and one showMessage). Nothing is ever edited outside the workspace root.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from lsprotocol import types

from ragls.errors import RaglsError
from ragls.server import positions
from ragls.server.features import verify_actions
from ragls.server.state import ServerState, show_message_once

logger = logging.getLogger(__name__)

FIX_KIND = types.CodeActionKind.QuickFix
TESTS_KIND = "refactor.ragls.generateTests"


def _wanted(kind: str, only: list[str] | None) -> bool:
    return not only or any(kind == k or kind.startswith(f"{k}.") for k in only)


def line_edits_to_text_edits(
    text: str, edits: list[Any], encoding: str = positions.UTF16
) -> list[types.TextEdit]:
    """ragls LineEdits (1-based inclusive line ranges) -> LSP TextEdits on `text`."""
    lines = text.split("\n")
    out: list[types.TextEdit] = []
    for edit in edits:
        start = types.Position(line=max(edit.start_line - 1, 0), character=0)
        new_text = edit.new_text
        if edit.end_line < edit.start_line:  # pure insertion before start_line
            end = start
        elif edit.end_line < len(lines):  # up to the start of the following line
            end = types.Position(line=edit.end_line, character=0)
        else:  # through the last line, which has no newline after it
            last = lines[-1]
            end = types.Position(
                line=len(lines) - 1, character=positions.units_from_column(last, len(last), encoding)
            )
            new_text = new_text[:-1] if new_text.endswith("\n") else new_text
        out.append(types.TextEdit(range=types.Range(start=start, end=end), new_text=new_text))
    return out


def _test_function_at(rel: str, text: str, line: int) -> str | None:
    """The Python test function at `line` of a test file (a failing test is a fix trigger)."""
    from ragls.engine.pytest_file import test_functions
    from ragls.engine.test_selection import is_test_file

    if not is_test_file(rel):
        return None
    for f in test_functions(text) or []:
        if f.start <= line <= f.end:
            return f.name.split("::")[-1]
    return None


def register(server: Any) -> None:
    options = types.CodeActionOptions(code_action_kinds=[FIX_KIND, TESTS_KIND], resolve_provider=True)

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION, options)
    async def code_action(ls: Any, params: types.CodeActionParams) -> list[types.CodeAction]:
        state: ServerState = ls.state
        uri = params.text_document.uri
        doc = ls.workspace.text_documents.get(uri)
        rel = state.rel_path(uri)
        if doc is None or rel is None:
            logger.info("code actions for a document that is not open or outside the root: %s", uri)
            return []
        only = [str(k) for k in params.context.only] if params.context.only else None
        rng = params.range
        start_line, end_line = rng.start.line + 1, rng.end.line + 1
        if rng.end.character == 0 and rng.end.line > rng.start.line:
            end_line -= 1  # a selection ending at column 0 does not include that line
        actions: list[types.CodeAction] = []
        diagnostics = list(params.context.diagnostics or [])
        selection = rng.start != rng.end
        if (diagnostics or selection) and _wanted(FIX_KIND, only):
            if diagnostics:
                start_line = min(start_line, *(d.range.start.line + 1 for d in diagnostics))
                end_line = max(end_line, *(d.range.end.line + 1 for d in diagnostics))
            message = "\n".join(d.message for d in diagnostics) or None
            actions.append(
                types.CodeAction(
                    title="Fix with ragls",
                    kind=FIX_KIND,
                    diagnostics=diagnostics or None,
                    data={
                        "action": "fix",
                        "uri": uri,
                        "version": doc.version,
                        "start_line": start_line,
                        "end_line": end_line,
                        "diagnostic": message,
                    },
                )
            )
        test_fn = _test_function_at(rel, doc.source, rng.start.line + 1)
        if test_fn is not None and _wanted(FIX_KIND, only):
            actions.append(
                types.CodeAction(
                    title=f"Fix so that {test_fn} passes",
                    kind=FIX_KIND,
                    data={
                        "action": "fix_test",
                        "uri": uri,
                        "version": doc.version,
                        "line": rng.start.line + 1,
                    },
                )
            )
        host = state.host
        if host is not None and _wanted(TESTS_KIND, only) and test_fn is None:
            line = rng.start.line + 1
            try:
                target = await state.pools.run(state.pools.reads, host.test_target, rel, doc.source, line)
            except Exception:
                logger.exception("test target lookup failed")
                target = None
            if target is not None:
                name = getattr(target, "qualname", None) or target.name
                actions.append(
                    types.CodeAction(
                        title=f"Generate unit tests for {name}",
                        kind=TESTS_KIND,
                        data={
                            "action": "tests",
                            "uri": uri,
                            "version": doc.version,
                            "line": line,
                            "symbol": name,
                        },
                    )
                )
        if not state.settings.trusted_workspace:
            for a in actions:  # listed, so the user learns why they cannot be used
                a.disabled = types.CodeActionDisabled(reason=verify_actions.UNTRUSTED)
        return actions

    @server.feature(types.CODE_ACTION_RESOLVE)
    async def resolve(ls: Any, action: types.CodeAction) -> types.CodeAction:
        data = action.data if isinstance(action.data, dict) else {}
        kind = data.get("action")
        try:
            if kind in ("fix", "fix_test"):
                return await _resolve_fix(ls, action, data)
            if kind == "tests":
                return await _resolve_tests(ls, action, data)
        except RaglsError as exc:
            return _disable(ls, action, str(exc))
        except Exception as exc:
            logger.exception("code action resolve failed")
            return _disable(ls, action, f"internal error: {exc}")
        return action


def _disable(ls: Any, action: types.CodeAction, reason: str) -> types.CodeAction:
    action.disabled = types.CodeActionDisabled(reason=reason)
    action.edit = None
    show_message_once(ls, f"action:{action.title}:{reason}", f"{action.title}: {reason}")
    return action


async def _document(ls: Any, data: dict[str, Any]) -> tuple[Any, str]:
    state: ServerState = ls.state
    uri = str(data.get("uri", ""))
    doc = ls.workspace.text_documents.get(uri)
    rel = state.rel_path(uri)
    if doc is None or rel is None:
        raise RaglsError("the document is not open in this workspace")
    if doc.version != data.get("version"):
        raise RaglsError("the document changed since the action was offered; ask again")
    if await state.wait_host() is None:
        raise RaglsError(f"engine not available: {state.host_error}")
    return doc, rel


async def _resolve_fix(ls: Any, action: types.CodeAction, data: dict[str, Any]) -> types.CodeAction:
    state: ServerState = ls.state
    if not state.settings.trusted_workspace:
        return _disable(ls, action, verify_actions.UNTRUSTED)
    doc, rel = await _document(ls, data)
    text = doc.source
    host = state.host
    assert host is not None
    config = verify_actions.verify_config(state.settings)
    overlays = verify_actions.open_overlays(ls)
    if data.get("action") == "fix_test":
        report = await verify_actions.run_job(
            ls, f"fix:{doc.uri}", "ragls: fix so that the test passes", host.fix_failing_test,
            rel, text, int(data["line"]), config=config, overlays=overlays)
    else:
        report = await verify_actions.run_job(
            ls, f"fix:{doc.uri}", "ragls: fix", host.verified_fix, rel, text, int(data["start_line"]),
            int(data["end_line"]), data.get("diagnostic"), config=config, overlays=overlays)
    if not report.offerable:
        return _disable(ls, action, f"no fix: {report.reason}")
    if not report.verified and not config.allow_unverified_fixes:
        return _disable(ls, action, f"no verified fix: {report.reason}")
    proposal = report.proposal
    target_uri = state.uri_for(proposal.path)
    current = ls.workspace.text_documents.get(target_uri)
    if proposal.path == rel and (current is None or current.version != doc.version):
        return _disable(ls, action, "the document changed while the fix was computed; ask again")
    base = current.source if current is not None else (state.root / proposal.path).read_text(  # type: ignore[operator]
        encoding="utf-8", errors="replace")
    edits = line_edits_to_text_edits(base, proposal.edits)
    if not edits:
        return _disable(ls, action, "the model proposed no change")
    state.remember_context(target_uri, proposal.context)
    if current is not None:
        action.edit = verify_actions.apply_to(state, current, edits)
    else:
        action.edit = types.WorkspaceEdit(changes={target_uri: edits})
    action.title = report.title
    return action


async def _resolve_tests(ls: Any, action: types.CodeAction, data: dict[str, Any]) -> types.CodeAction:
    state: ServerState = ls.state
    if not state.settings.trusted_workspace:
        return _disable(ls, action, verify_actions.UNTRUSTED)
    doc, rel = await _document(ls, data)
    host = state.host
    assert host is not None and state.root is not None
    report = await verify_actions.run_job(
        ls, f"tests:{doc.uri}", "ragls: generate tests", host.verified_tests, rel, doc.source,
        int(data["line"]), config=verify_actions.verify_config(state.settings),
        overlays=verify_actions.open_overlays(ls))
    if not report.verified or not report.code.strip():
        return _disable(ls, action, f"no test to offer: {report.reason or 'no generated test passed'}")
    target = state.root / report.test_file
    if Path(report.test_file).is_absolute() or not state.inside_root(target):
        return _disable(ls, action, f"refusing to write outside the workspace: {report.test_file}")
    action.edit = verify_actions.tests_edit(ls, report.test_file, report.code)
    cover = f", {report.coverage:.0%} of the lines covered" if report.coverage is not None else ""
    bugs = f"; possible bug: {report.possible_bugs[0]}" if report.possible_bugs else ""
    action.title = (f"Add {report.passed} passing test{'s' if report.passed != 1 else ''} for "
                    f"{report.symbol} to {report.test_file}{cover}{bugs}")
    return action
