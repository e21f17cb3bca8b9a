"""textDocument/inlineCompletion: typed-ahead, debounce, newest-wins, cancellation, cache, staleness;
and warming the model's cache where the cursor goes (`ragls/cursorMoved`, didOpen).

Flow of one request: take a ticket for the document (cancelling the previous request's token);
if the user typed what the last suggestion predicted, answer with the rest at once; else sleep
the debounce, check the version and the cache, run retrieval + generation on the model pool
with the ticket's token, and answer only if the document is still at the version the request
saw. Every request gets exactly one answer; superseded ones answer empty.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from lsprotocol import types

from ragls.errors import Cancelled, RaglsError
from ragls.server import positions
from ragls.server.features import documents
from ragls.server.scheduling import Ticket, debounce
from ragls.server.state import ServerState, show_message_once

logger = logging.getLogger(__name__)

MAX_DOCUMENT_CHARS = 5_000_000
PREFIX_KEY_CHARS = 1500
SUFFIX_KEY_CHARS = 300
CURSOR_MOVED = "ragls/cursorMoved"  # {textDocument: {uri}, position}: our clients send it
WARM_DELAY_S = 0.1  # the cursor must rest this long before its prompt head is warmed


@dataclass
class Suggestion:
    text: str
    model: str
    line: int  # 1-based cursor line
    col: int  # 1-based cursor column (characters)
    position: types.Position  # the cursor in client units


@dataclass
class Snapshot:
    """The document as the request saw it."""

    uri: str
    rel: str
    version: int
    text: str
    line: int
    col: int
    position: types.Position

    def query(self) -> Any:
        from ragls.retrieval.types import CursorQuery

        return CursorQuery(path=self.rel, line=self.line, col=self.col, text=self.text)

    def cache_key(self, model: str) -> tuple[str, str, str, str]:
        offset = sum(len(s) + 1 for s in self.text.split("\n")[: self.line - 1]) + self.col - 1
        return (
            self.uri,
            self.text[max(0, offset - PREFIX_KEY_CHARS) : offset],
            self.text[offset : offset + SUFFIX_KEY_CHARS],
            model,
        )


def _encoding(ls: Any) -> str:
    enc = str(getattr(ls.workspace, "position_encoding", None) or positions.UTF16)
    return {"utf-8": positions.UTF8, "utf-32": positions.UTF32}.get(enc, positions.UTF16)


def snapshot(ls: Any, uri: str, position: types.Position) -> Snapshot | None:
    """The open document at `position`, or None (not open, outside the root, too large, bad position)."""
    state: ServerState = ls.state
    doc = ls.workspace.text_documents.get(uri)
    if doc is None:
        logger.info("completion for a document that is not open: %s", uri)
        return None
    rel = state.rel_path(uri)
    if rel is None:
        logger.info("completion outside the workspace root: %s", uri)
        return None
    text = doc.source
    if len(text) > MAX_DOCUMENT_CHARS:
        logger.warning("%s is too large for completion (%d characters)", rel, len(text))
        return None
    try:
        line, col = positions.to_cursor(text, position, _encoding(ls))
    except RaglsError as exc:
        logger.info("completion at an invalid position in %s: %s", rel, exc)
        return None
    return Snapshot(uri, rel, doc.version, text, line, col, position)


def _is_current(ls: Any, snap: Snapshot, ticket: Ticket) -> bool:
    doc = ls.workspace.text_documents.get(snap.uri)
    return ls.state.latest.is_current(ticket) and doc is not None and doc.version == snap.version


def _typed_ahead(host: Any, snap: Snapshot) -> Any:
    """The rest of the visible suggestion when the user typed its beginning (no model, no wait)."""
    lookup = getattr(host, "typed_ahead", None)
    return lookup(snap.query()) if lookup is not None else None


async def _generate(ls: Any, host: Any, snap: Snapshot, ticket: Ticket, received: float) -> Any:
    """Retrieval + generation on the model pool; None when superseded or stale meanwhile."""
    state: ServerState = ls.state
    await documents.overlays_applied(state)  # retrieval reuses the overlay's parse
    state.stats.incr("completions_started")
    result = await state.pools.run(state.pools.model, host.complete, snap.query(), cancel=ticket.token)
    state.stats.incr("completions_computed")
    if ticket.token.cancelled or not _is_current(ls, snap, ticket):
        logger.debug("dropping a completion for %s: superseded or stale", snap.rel)
        return None
    return result


def _record(state: ServerState, snap: Snapshot, result: Any, received: float, debounced: float) -> None:
    """Timings (what ragls itself cost), the context for ragls.showContext, the log line."""
    timings = dict(getattr(result, "timings", {}))
    timings["debounce_ms"] = (debounced - received) * 1000
    timings["server_ms"] = (time.perf_counter() - received) * 1000
    # what ragls itself costs: everything but the debounce wait and the model's generation
    timings["overhead_ms"] = timings["server_ms"] - timings["debounce_ms"] - timings.get("generation_ms", 0.0)
    state.remember_context(snap.uri, result.context, timings=timings,
                           ungrounded=getattr(result, "ungrounded", ()))
    logger.info(
        "completion %s:%d:%d model=%s source=%s timings=%s chars=%d prompt=%s cached=%s context=%s",
        snap.rel, snap.line, snap.col, result.model, getattr(result, "source", "model"),
        {k: round(v, 1) for k, v in timings.items()}, len(result.completion),
        getattr(result, "prompt_tokens", "?"), getattr(result, "cached_tokens", "?"),
        [f"{s.path}:{s.start_line}-{s.end_line}" for s in result.context],
    )


async def compute(
    ls: Any, uri: str, position: types.Position, *, debounce_s: float | None = None
) -> Suggestion | None:
    """The completion at `position`, or None (cancelled, superseded, stale, failed, nothing)."""
    state: ServerState = ls.state
    state.stats.incr("completion_requests")
    received = time.perf_counter()
    snap = snapshot(ls, uri, position)
    if snap is None:
        return None
    settings = state.settings.completion
    ticket = state.latest.start(uri, timeout_s=settings.timeout_ms / 1000)
    try:
        host = state.host
        ahead = _typed_ahead(host, snap) if host is not None else None
        if ahead is not None:
            state.stats.incr("typed_ahead_hits")
            _record(state, snap, ahead, received, received)
            return Suggestion(ahead.completion, ahead.model, snap.line, snap.col, snap.position)
        prepared = _prepare(state, snap)
        delay = settings.debounce_ms / 1000 if debounce_s is None else debounce_s
        if not await debounce(ticket, delay) or not _is_current(ls, snap, ticket):
            state.stats.incr("completions_cancelled")
            logger.debug("completion for %s superseded while debouncing", snap.rel)
            return None
        debounced = time.perf_counter()
        if prepared is not None:
            await prepared
        host = await state.wait_host()
        if host is None:
            logger.info("no engine (%s): no completion", state.host_error)
            return None
        if not state.latest.is_current(ticket):  # superseded while the engine was starting
            state.stats.incr("completions_cancelled")
            return None
        key = snap.cache_key(host.model_name)
        cached = state.cache.get(key)
        if cached is not None:
            state.stats.incr("cache_hits")
            return Suggestion(cached, host.model_name, snap.line, snap.col, snap.position)
        result = await _generate(ls, host, snap, ticket, received)
        if result is None:
            state.stats.incr("completions_cancelled")
            return None
        _record(state, snap, result, received, debounced)
        state.cache.put(key, result.completion)
        return Suggestion(result.completion, result.model, snap.line, snap.col, snap.position)
    except asyncio.CancelledError:  # $/cancelRequest: stop the model thread too
        ticket.token.cancel("client cancelled")
        state.stats.incr("completions_cancelled")
        raise
    except Cancelled:
        state.stats.incr("completions_cancelled")
        return None
    except RaglsError as exc:
        state.stats.incr("completions_failed")
        show_message_once(ls, f"completion:{type(exc).__name__}", f"completion failed: {exc}")
        return None
    except Exception as exc:
        state.stats.incr("completions_failed")
        logger.exception("completion failed")
        show_message_once(
            ls, f"completion:{type(exc).__name__}", f"completion failed: {exc}", types.MessageType.Error
        )
        return None
    finally:
        state.latest.finish(ticket)


def _prepare(state: ServerState, snap: Snapshot) -> asyncio.Task | None:
    """Start the request's own retrieval and prompt (and warm the model with its head) while the
    debounce runs, so that what follows the wait is mostly the model. The line's context is
    cached, so the keystrokes after the first on a line cost next to nothing here."""
    host = state.host
    if getattr(host, "warm", None) is None:
        return None  # the engine is not up yet (or cannot warm): the request does it all

    async def run() -> None:
        try:
            await documents.overlays_applied(state)
            await state.pools.run(state.pools.reads, host.warm, snap.query())
        except Exception as exc:  # an optimisation: the request computes what is missing
            logger.debug("preparing %s failed: %s", snap.rel, exc)

    return asyncio.ensure_future(run())


async def warm_at(ls: Any, uri: str, position: types.Position) -> None:
    """Warm the model's cache with the prompt head for a cursor that came to rest at `position`."""
    state: ServerState = ls.state
    state.cursors[uri] = position
    if len(state.cursors) > 256:
        state.cursors.pop(next(iter(state.cursors)))
    await asyncio.sleep(WARM_DELAY_S)
    if state.cursors.get(uri) is not position or state.latest.busy(uri):
        return  # the cursor moved on, or a request is already reading the prompt
    host = state.host
    warm = getattr(host, "warm", None)
    snap = snapshot(ls, uri, position)
    if warm is None or snap is None:
        return
    try:
        await documents.overlays_applied(state)
        chars = await state.pools.run(state.pools.reads, warm, snap.query())
        state.stats.incr("warmings")
        logger.debug("warming %s:%d (%s characters of prompt head)", snap.rel, snap.line, chars)
    except Exception as exc:  # warming is an optimisation: never an error for the user
        logger.debug("warming %s failed: %s", snap.rel, exc)


def register(server: Any) -> None:
    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(ls: Any, params: types.InlineCompletionParams) -> types.InlineCompletionList:
        suggestion = await compute(ls, params.text_document.uri, params.position)
        if suggestion is None or not suggestion.text:
            return types.InlineCompletionList(items=[])
        cursor = suggestion.position
        item = types.InlineCompletionItem(
            insert_text=suggestion.text, range=types.Range(start=cursor, end=cursor)
        )
        return types.InlineCompletionList(items=[item])

    @server.feature(CURSOR_MOVED)
    async def cursor_moved(ls: Any, params: Any) -> None:
        try:
            uri = params.textDocument.uri
            line, character = int(params.position.line), int(params.position.character)
            position = types.Position(line=line, character=character)
        except (AttributeError, TypeError, ValueError):
            logger.debug("ignoring a malformed %s: %r", CURSOR_MOVED, params)
            return
        await warm_at(ls, uri, position)
