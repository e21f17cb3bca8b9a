"""Document sync: pygls keeps the text (full and incremental); ragls mirrors it into the index
overlay so unsaved edits override the disk. Handlers stay fast: the overlay is applied on its
own single-thread pool, in arrival order."""

from __future__ import annotations

import logging
from typing import Any

from lsprotocol import types

from ragls.server.features import indexing
from ragls.server.state import ServerState

logger = logging.getLogger(__name__)

MAX_OVERLAY_CHARS = 5_000_000  # larger buffers are not mirrored into the index


def _overlay(state: ServerState, host: Any, rel: str) -> None:
    """Apply the newest pending text of `rel` (older versions typed meanwhile are skipped)."""
    with state.overlay_lock:
        if rel not in state.overlay_pending:
            return
        text = state.overlay_pending.pop(rel)
    try:
        if text is None:
            host.index.clear_overlay(rel)
        else:
            host.index.set_overlay(rel, text)
    except Exception:
        logger.exception("overlay update failed for %s", rel)


async def overlays_applied(state: ServerState) -> None:
    """Wait until every buffer change received so far is in the index overlay.

    The overlay worker runs jobs in order, so a no-op job finishing means the ones before it
    did; retrieval then reuses the overlay's parse instead of parsing the buffer again.
    """
    await state.pools.run(state.pools.overlay, lambda: None)


def _mirror(ls: Any, uri: str, clear: bool = False) -> None:
    state: ServerState = ls.state
    rel = state.rel_path(uri)
    if rel is None:
        logger.debug("not in the workspace, not mirrored: %s", uri)
        return
    host = state.host
    if host is None:  # start_host applies the open buffers once the engine exists
        return
    text = None
    if not clear:
        text = ls.workspace.get_text_document(uri).source
        if len(text) > MAX_OVERLAY_CHARS:
            logger.warning("%s is %d characters: not mirrored into the index", rel, len(text))
            return
    with state.overlay_lock:
        queued = rel in state.overlay_pending
        state.overlay_pending[rel] = text
    if not queued:
        state.pools.submit(state.pools.overlay, _overlay, state, host, rel)


def register(server: Any) -> None:
    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: Any, params: types.DidOpenTextDocumentParams) -> None:
        state: ServerState = ls.state
        _mirror(ls, params.text_document.uri)
        rel = state.rel_path(params.text_document.uri)
        hook = getattr(state.host, "index_changed", None)
        if rel is not None and hook is not None:  # embed open files (and neighbours) first
            state.pools.submit(state.pools.overlay, hook, [rel])

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: Any, params: types.DidChangeTextDocumentParams) -> None:
        state: ServerState = ls.state
        uri = params.text_document.uri
        # a newer version makes any in-flight completion for this document stale
        state.latest.cancel(uri, "document changed")
        _mirror(ls, uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: Any, params: types.DidCloseTextDocumentParams) -> None:
        state: ServerState = ls.state
        uri = params.text_document.uri
        state.latest.cancel(uri, "document closed")
        state.contexts.pop(uri, None)
        _mirror(ls, uri, clear=True)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: Any, params: types.DidSaveTextDocumentParams) -> None:
        state: ServerState = ls.state
        rel = state.rel_path(params.text_document.uri)
        if rel is not None and state.watcher is None and not state.client_dynamic_watch:
            state.spawn(indexing.update_paths(ls, [rel]))
