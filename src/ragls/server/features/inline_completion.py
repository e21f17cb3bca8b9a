"""textDocument/inlineCompletion: debounce, newest-wins, cancellation, cache, stale-version checks.

Flow of one request: take a ticket for the document (cancelling the previous request's token),
sleep the debounce, check the version, look in the cache, run retrieval + generation on the
model pool with the ticket's token, and answer only if the document is still at the version
the request saw. Every request gets exactly one answer; superseded ones answer empty.
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
from ragls.server.scheduling import debounce
from ragls.server.state import ServerState, show_message_once

logger = logging.getLogger(__name__)

MAX_DOCUMENT_CHARS = 5_000_000
PREFIX_KEY_CHARS = 1500
SUFFIX_KEY_CHARS = 300


@dataclass
class Suggestion:
    text: str
    model: str
    line: int  # 1-based cursor line
    col: int  # 1-based cursor column (characters)
    position: types.Position  # the cursor in client units


def _encoding(ls: Any) -> str:
    enc = str(getattr(ls.workspace, "position_encoding", None) or positions.UTF16)
    return {"utf-8": positions.UTF8, "utf-32": positions.UTF32}.get(enc, positions.UTF16)


async def compute(
    ls: Any, uri: str, position: types.Position, *, debounce_s: float | None = None
) -> Suggestion | None:
    """The completion at `position`, or None (cancelled, superseded, stale, failed, nothing)."""
    state: ServerState = ls.state
    state.stats.incr("completion_requests")
    received = time.perf_counter()
    doc = ls.workspace.text_documents.get(uri)
    if doc is None:
        logger.info("completion for a document that is not open: %s", uri)
        return None
    rel = state.rel_path(uri)
    if rel is None:
        logger.info("completion outside the workspace root: %s", uri)
        return None
    settings = state.settings.completion
    ticket = state.latest.start(uri, timeout_s=settings.timeout_ms / 1000)
    version = doc.version
    try:
        delay = settings.debounce_ms / 1000 if debounce_s is None else debounce_s
        if not await debounce(ticket, delay) or not state.latest.is_current(ticket):
            state.stats.incr("completions_cancelled")
            logger.debug("completion for %s superseded while debouncing", rel)
            return None
        debounced = time.perf_counter()
        doc = ls.workspace.text_documents.get(uri)
        if doc is None or doc.version != version:
            state.stats.incr("completions_cancelled")
            logger.debug("completion for %s: document changed while debouncing", rel)
            return None
        text = doc.source
        if len(text) > MAX_DOCUMENT_CHARS:
            logger.warning("%s is too large for completion (%d characters)", rel, len(text))
            return None
        encoding = _encoding(ls)
        try:
            line, col = positions.to_cursor(text, position, encoding)
        except RaglsError as exc:
            logger.info("completion at an invalid position in %s: %s", rel, exc)
            return None
        host = await state.wait_host()
        if host is None:
            logger.info("no engine (%s): no completion", state.host_error)
            return None
        if not state.latest.is_current(ticket):  # superseded while the engine was starting
            state.stats.incr("completions_cancelled")
            return None
        offset = sum(len(s) + 1 for s in text.split("\n")[: line - 1]) + col - 1
        key = (
            uri,
            text[max(0, offset - PREFIX_KEY_CHARS) : offset],
            text[offset : offset + SUFFIX_KEY_CHARS],
            host.model_name,
        )
        cached = state.cache.get(key)
        if cached is not None:
            state.stats.incr("cache_hits")
            return Suggestion(cached, host.model_name, line, col, position)
        from ragls.retrieval.types import CursorQuery

        await documents.overlays_applied(state)  # retrieval reuses the overlay's parse
        query = CursorQuery(path=rel, line=line, col=col, text=text)
        started = time.perf_counter()
        state.stats.incr("completions_started")
        result = await state.pools.run(state.pools.model, host.complete, query, cancel=ticket.token)
        state.stats.incr("completions_computed")
        doc = ls.workspace.text_documents.get(uri)
        if ticket.token.cancelled or doc is None or doc.version != version:
            state.stats.incr("completions_cancelled")
            logger.debug("dropping a completion for %s: superseded or stale", rel)
            return None
        done = time.perf_counter()
        timings = dict(getattr(result, "timings", {}))
        timings["debounce_ms"] = (debounced - received) * 1000
        timings["server_ms"] = (done - received) * 1000
        # what ragls itself costs: everything but the debounce wait and the model's generation
        waited = timings["debounce_ms"] + timings.get("generation_ms", 0.0)
        timings["overhead_ms"] = timings["server_ms"] - waited
        ungrounded = getattr(result, "ungrounded", ())
        state.remember_context(uri, result.context, timings=timings, ungrounded=ungrounded)
        state.cache.put(key, result.completion)
        logger.info(
            "completion %s:%d:%d model=%s %.0f ms timings=%s chars=%d context=%s",
            rel,
            line,
            col,
            result.model,
            (time.perf_counter() - started) * 1000,
            {k: round(v, 1) for k, v in timings.items()},
            len(result.completion),
            [f"{s.path}:{s.start_line}-{s.end_line}" for s in result.context],
        )
        return Suggestion(result.completion, result.model, line, col, position)
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
