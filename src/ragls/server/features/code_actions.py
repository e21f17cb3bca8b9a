"""Code actions: "Fix with ragls" (quickfix) and "Generate unit tests for <symbol>".

Listing is instant (no model call): actions carry `data` and no edit. codeAction/resolve runs
the engine and fills a minimal WorkspaceEdit; an unverified fix comes back `disabled` with the
reason (and one showMessage). Nothing is ever edited outside the workspace root.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from lsprotocol import types

from ragls.errors import RaglsError
from ragls.server import positions
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
        host = state.host
        if host is not None and _wanted(TESTS_KIND, only):
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
        return actions

    @server.feature(types.CODE_ACTION_RESOLVE)
    async def resolve(ls: Any, action: types.CodeAction) -> types.CodeAction:
        data = action.data if isinstance(action.data, dict) else {}
        kind = data.get("action")
        try:
            if kind == "fix":
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
    doc, rel = await _document(ls, data)
    text = doc.source
    host = state.host
    assert host is not None
    ticket = state.latest.start(f"fix:{doc.uri}", timeout_s=120)
    try:
        proposal = await state.pools.run(
            state.pools.jobs,
            host.propose_fix,
            rel,
            text,
            int(data["start_line"]),
            int(data["end_line"]),
            data.get("diagnostic"),
            cancel=ticket.token,
        )
    finally:
        state.latest.finish(ticket)
    if proposal is None:
        return _disable(ls, action, "no fix found")
    if not proposal.verified:
        return _disable(ls, action, f"the proposed fix did not verify: {proposal.reason}")
    current = ls.workspace.text_documents.get(doc.uri)
    if current is None or current.version != doc.version:
        return _disable(ls, action, "the document changed while the fix was computed; ask again")
    edits = line_edits_to_text_edits(text, proposal.edits)
    if not edits:
        return _disable(ls, action, "the model proposed no change")
    state.remember_context(doc.uri, proposal.context)
    if state.client_document_changes:
        ident = types.OptionalVersionedTextDocumentIdentifier(uri=doc.uri, version=doc.version)
        action.edit = types.WorkspaceEdit(
            document_changes=[types.TextDocumentEdit(text_document=ident, edits=edits)]
        )
    else:
        action.edit = types.WorkspaceEdit(changes={doc.uri: edits})
    if proposal.title:
        action.title = f"Fix with ragls: {proposal.title}"
    return action


async def _resolve_tests(ls: Any, action: types.CodeAction, data: dict[str, Any]) -> types.CodeAction:
    state: ServerState = ls.state
    doc, rel = await _document(ls, data)
    host = state.host
    assert host is not None and state.root is not None
    ticket = state.latest.start(f"tests:{doc.uri}", timeout_s=180)
    try:
        test_file = await state.pools.run(
            state.pools.jobs, host.generate_tests, rel, doc.source, int(data["line"]), cancel=ticket.token
        )
    finally:
        state.latest.finish(ticket)
    target = state.root / test_file.path
    if Path(test_file.path).is_absolute() or not state.inside_root(target):
        return _disable(ls, action, f"refusing to write outside the workspace: {test_file.path}")
    uri = state.uri_for(Path(test_file.path).as_posix())
    open_doc = ls.workspace.text_documents.get(uri)
    exists = open_doc is not None or target.exists()
    changes: list[Any] = []
    if not exists:
        changes.append(types.CreateFile(uri=uri, options=types.CreateFileOptions(ignore_if_exists=True)))
        start = types.Position(line=0, character=0)
        content = test_file.content
        version = None
    else:
        existing = (
            open_doc.source if open_doc is not None else target.read_text(encoding="utf-8", errors="replace")
        )
        lines = existing.split("\n")
        start = types.Position(
            line=len(lines) - 1, character=positions.units_from_column(lines[-1], len(lines[-1]))
        )
        content = test_file.content.lstrip("\n")
        if existing.strip():  # one blank line between the old tests and the new ones
            sep = "" if existing.endswith("\n\n") else "\n" if existing.endswith("\n") else "\n\n"
            content = sep + content
        version = open_doc.version if open_doc is not None else None
    ident = types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version)
    insert = types.TextEdit(range=types.Range(start=start, end=start), new_text=content)
    changes.append(types.TextDocumentEdit(text_document=ident, edits=[insert]))
    action.edit = types.WorkspaceEdit(document_changes=changes)
    action.title = f"Generate unit tests for {test_file.symbol} in {test_file.path}"
    return action
