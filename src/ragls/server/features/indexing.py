"""Background indexing with $/progress (workDoneProgress create, begin, report, end).

Indexing runs on the index pool; requests never wait for it. Only one full pass runs at a
time: asking again while a pass runs returns that pass.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import uuid
from collections.abc import Iterable
from typing import Any

from lsprotocol import types

from ragls.server.state import ServerState, show_message_once

logger = logging.getLogger(__name__)

REPORT_EVERY_S = 0.2


class _Progress:
    """$/progress for one indexing pass; a no-op when the client cannot show progress."""

    def __init__(self, ls: Any) -> None:
        self.ls = ls
        self.token = f"ragls-index-{uuid.uuid4().hex[:8]}"
        self.enabled = ls.state.client_progress
        self._last = 0.0

    async def begin(self) -> None:
        if not self.enabled:
            return
        try:
            await asyncio.wait_for(self.ls.work_done_progress.create_async(self.token), 5)
        except Exception as exc:  # the client refused or did not answer: no progress UI
            logger.info("workDoneProgress/create failed: %s", exc)
            self.enabled = False
            return
        self.ls.work_done_progress.begin(
            self.token, types.WorkDoneProgressBegin(title="ragls: indexing", percentage=0, cancellable=False)
        )

    def report(self, done: int, total: int, path: str) -> None:
        now = time.monotonic()
        if not self.enabled or now - self._last < REPORT_EVERY_S:
            return
        self._last = now
        pct = int(100 * done / total) if total else 0
        self.ls.work_done_progress.report(
            self.token,
            types.WorkDoneProgressReport(message=f"{done}/{total} {path}", percentage=min(pct, 100)),
        )

    def end(self, message: str) -> None:
        if self.enabled:
            self.ls.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message=message))


def say_if_volatile(ls: Any, host: Any) -> None:
    """Once per session: the index cache cannot be written, so the index lives in memory only."""
    if getattr(host.index, "persisted", True) is False:
        show_message_once(
            ls,
            "volatile-index",
            "the index folder cannot be written (read-only or full): the index is kept in memory "
            "only and is rebuilt next time",
        )


async def run_indexing(ls: Any, *, first: bool = False) -> dict[str, Any]:
    """One full incremental pass over the workspace; returns the UpdateStats as a dict."""
    state: ServerState = ls.state
    while state.index_task is not None and not state.index_task.done():
        if state.index_task_host is state.host:
            return await asyncio.shield(state.index_task)
        await asyncio.wait({state.index_task})  # a pass for a replaced engine: let it end first
    state.index_task_host = state.host
    state.index_task = asyncio.ensure_future(_index_pass(ls, first))
    return await asyncio.shield(state.index_task)


async def _index_pass(ls: Any, first: bool) -> dict[str, Any]:
    state: ServerState = ls.state
    host = state.host
    if host is None:
        return {"error": state.host_error or "engine not ready"}
    loop = asyncio.get_running_loop()
    progress = _Progress(ls)
    await progress.begin()
    state.index_state = "indexing"

    def on_progress(done: int, total: int, path: str) -> None:
        state.index_progress = (done, total)
        loop.call_soon_threadsafe(progress.report, done, total, path)

    def update() -> Any:
        if state.host is not host:  # restarted while this pass waited: the new host indexes
            return None
        return host.index.update(progress=on_progress)

    try:
        stats = await state.pools.run(state.pools.index, update)
    except Exception as exc:
        if state.host is not host:
            logger.info("indexing for a replaced engine stopped: %s", exc)
            progress.end("restarted")
            return {"error": "the engine restarted"}
        logger.exception("indexing failed")
        state.index_state = "failed"
        progress.end(f"indexing failed: {exc}")
        show_message_once(ls, "indexing", f"indexing failed: {exc}", types.MessageType.Error)
        return {"error": str(exc)}
    if stats is None:
        progress.end("restarted")
        return {"error": "the engine restarted"}
    say_if_volatile(ls, host)
    result = (
        dataclasses.asdict(stats)
        if dataclasses.is_dataclass(stats) and not isinstance(stats, type)
        else dict(stats or {})
    )
    state.last_update = result
    state.index_state = "ready"
    progress.end(f"{result.get('files', 0)} files, {result.get('symbols', 0)} symbols")
    logger.info("index ready: %s", result)
    state.cache.clear()
    if first:
        try:
            await state.pools.run(state.pools.index, host.start_background)
        except Exception:
            logger.exception("background work (embeddings) could not start")
    return result


async def update_paths(ls: Any, paths: Iterable[str]) -> None:
    """Re-index the given workspace-relative paths (watcher events, saves)."""
    state: ServerState = ls.state
    host = state.host
    wanted = sorted(set(paths))
    if host is None or not wanted:
        return

    def update() -> None:
        if state.host is host:  # not for an engine replaced in the meantime
            host.index.update(paths=wanted)

    try:
        await state.pools.run(state.pools.index, update)
        say_if_volatile(ls, host)
        state.cache.clear()
        if (hook := getattr(host, "index_changed", None)) is not None:
            hook(wanted)
        logger.debug("re-indexed %d path(s)", len(wanted))
    except Exception as exc:
        if state.host is not host:
            return
        logger.exception("re-indexing %s failed", wanted[:5])
        show_message_once(ls, "indexing", f"re-indexing failed: {exc}")
