"""Resolving the fix and test code actions: background jobs that run code before offering it.

Each job runs on its own worker (not the model's: the model is called once per candidate or
repair step, so a completion waits for at most one generation step), reports `$/progress`
("generating candidate 2/3", "running 12 tests"), and is cancellable from the progress UI
or by cancelling the resolve request. Nothing runs in an untrusted workspace.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path
from typing import Any

from lsprotocol import types

from ragls.server import positions
from ragls.server.state import ServerState

logger = logging.getLogger(__name__)

UNTRUSTED = "the workspace is not trusted: ragls runs no tests or code in it (trustedWorkspace)"


class JobProgress:
    """$/progress for one job, cancellable by the user; a no-op when the client has no progress UI."""

    def __init__(self, ls: Any, title: str, on_cancel: Any) -> None:
        self.ls = ls
        self.title = title
        self.token = f"ragls-job-{uuid.uuid4().hex[:8]}"
        self.enabled = ls.state.client_progress
        self.on_cancel = on_cancel

    async def begin(self) -> None:
        if not self.enabled:
            return
        try:
            await asyncio.wait_for(self.ls.work_done_progress.create_async(self.token), 5)
        except Exception as exc:
            logger.info("workDoneProgress/create failed: %s", exc)
            self.enabled = False
            return
        future = self.ls.work_done_progress.tokens.get(self.token)
        if future is not None:  # window/workDoneProgress/cancel cancels this future
            future.add_done_callback(lambda f: self.on_cancel() if f.cancelled() else None)
        self.ls.work_done_progress.begin(
            self.token, types.WorkDoneProgressBegin(title=self.title, cancellable=True, message="starting")
        )

    def report(self, message: str) -> None:
        if self.enabled:
            self.ls.work_done_progress.report(self.token, types.WorkDoneProgressReport(message=message))

    def end(self, message: str) -> None:
        if self.enabled:
            self.ls.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message=message))
            self.ls.work_done_progress.tokens.pop(self.token, None)


def verify_config(settings: Any) -> Any:  # -> VerifyConfig
    from ragls.engine.sandbox import Limits
    from ragls.engine.verify_config import VerifyConfig

    v = settings.verify
    return VerifyConfig(
        trusted=settings.trusted_workspace,
        test_candidates=v.test_candidates,
        test_repair_rounds=v.test_repair_rounds,
        fix_candidates=v.fix_candidates,
        fix_repair_rounds=v.fix_repair_rounds,
        fix_other_tests_s=v.fix_other_tests_s,
        allow_unverified_fixes=v.allow_unverified_fixes,
        test_command=settings.test_command if settings.trusted_workspace else None,
        secret_env=tuple(x for x in (settings.model.api_key_env, settings.embeddings.api_key_env) if x),
        limits=Limits(timeout_s=v.timeout_s, cpu_s=v.cpu_s, memory_mb=v.memory_mb),
    )


def open_overlays(ls: Any) -> dict[str, str]:
    """Unsaved buffers of the workspace, by relative path (applied to the sandbox copy)."""
    state: ServerState = ls.state
    out: dict[str, str] = {}
    for uri, doc in list(ls.workspace.text_documents.items()):
        rel = state.rel_path(uri)
        if rel is not None:
            out[rel] = doc.source
    return out


async def run_job(ls: Any, key: str, title: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run fn(*args, cancel=..., progress=..., **kwargs) on the verify worker with $/progress."""
    state: ServerState = ls.state
    ticket = state.latest.start(key, timeout_s=600)
    loop = asyncio.get_running_loop()
    progress = JobProgress(ls, title, lambda: ticket.token.cancel("cancelled by the user"))
    await progress.begin()

    def report(message: str) -> None:
        loop.call_soon_threadsafe(progress.report, message)

    outcome = "cancelled"
    try:
        result = await state.pools.run(
            state.pools.jobs, lambda: fn(*args, cancel=ticket.token, progress=report, **kwargs)
        )
        outcome = "done"
        return result
    except asyncio.CancelledError:  # the client cancelled the resolve request
        ticket.token.cancel("request cancelled")
        raise
    finally:
        state.latest.finish(ticket)
        progress.end(outcome)


def apply_to(state: ServerState, doc: Any, edits: list[types.TextEdit]) -> types.WorkspaceEdit:
    if state.client_document_changes:
        ident = types.OptionalVersionedTextDocumentIdentifier(uri=doc.uri, version=doc.version)
        return types.WorkspaceEdit(
            document_changes=[types.TextDocumentEdit(text_document=ident, edits=edits)]
        )
    return types.WorkspaceEdit(changes={doc.uri: edits})


def tests_edit(ls: Any, test_path: str, code: str) -> types.WorkspaceEdit:
    """Create the test file, or append the tests to it (open buffer or disk)."""
    state: ServerState = ls.state
    assert state.root is not None
    target = state.root / test_path
    uri = state.uri_for(Path(test_path).as_posix())
    open_doc = ls.workspace.text_documents.get(uri)
    changes: list[Any] = []
    if open_doc is None and not target.exists():
        changes.append(types.CreateFile(uri=uri, options=types.CreateFileOptions(ignore_if_exists=True)))
        start = types.Position(line=0, character=0)
        content, version = code, None
    else:
        existing = (
            open_doc.source if open_doc is not None else target.read_text(encoding="utf-8", errors="replace")
        )
        lines = existing.split("\n")
        start = types.Position(
            line=len(lines) - 1, character=positions.units_from_column(lines[-1], len(lines[-1]))
        )
        content = code.lstrip("\n")
        if existing.strip():  # one blank line between the old tests and the new ones
            sep = "\n\n" if existing.endswith("\n") else "\n\n\n"
            content = sep + content
        version = open_doc.version if open_doc is not None else None
    ident = types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version)
    changes.append(
        types.TextDocumentEdit(
            text_document=ident,
            edits=[types.TextEdit(range=types.Range(start=start, end=start), new_text=content)],
        )
    )
    return types.WorkspaceEdit(document_changes=changes)
