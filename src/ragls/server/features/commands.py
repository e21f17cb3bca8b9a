"""workspace/executeCommand: ragls.reindex, ragls.indexStatus, ragls.showContext, ragls.selectModel."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from lsprotocol import types

from ragls.server.features import indexing
from ragls.server.settings import settings_to_json
from ragls.server.state import ServerState, show_message_once

logger = logging.getLogger(__name__)

REINDEX = "ragls.reindex"
INDEX_STATUS = "ragls.indexStatus"
SHOW_CONTEXT = "ragls.showContext"
SELECT_MODEL = "ragls.selectModel"


def _first_str(args: tuple[Any, ...], *keys: str) -> str | None:
    """The first argument as a string: plain, or an object's field (clients differ)."""
    if not args:
        return None
    arg = args[0]
    if isinstance(arg, str):
        return arg
    if isinstance(arg, dict):
        for key in keys:
            if isinstance(arg.get(key), str):
                return arg[key]
    return None


def status(ls: Any) -> dict[str, Any]:
    state: ServerState = ls.state
    counters = dict.fromkeys(
        (
            "completion_requests",
            "completions_started",
            "completions_computed",
            "completions_cancelled",
            "completions_failed",
            "cache_hits",
        ),
        0,
    )
    counters.update(state.stats.snapshot())
    index_stats: dict[str, Any] = {}
    if state.host is not None:
        try:
            raw = state.host.index.stats()
            index_stats = (
                dataclasses.asdict(raw)
                if dataclasses.is_dataclass(raw) and not isinstance(raw, type)
                else dict(raw)
            )
        except Exception as exc:
            logger.warning("index stats failed: %s", exc)
            index_stats = {"error": str(exc)}
    done, total = state.index_progress
    return {
        "root": str(state.root) if state.root else None,
        "state": state.index_state,
        "progress": {"done": done, "total": total},
        "embeddings": _embedding_progress(state.host),
        "index": index_stats,
        "last_update": state.last_update,
        "model": state.host.model_name if state.host is not None else None,
        "model_state": getattr(state.host, "model_state", None),  # for the clients' status
        "model_error": getattr(state.host, "model_error", None),
        "engine_error": state.host_error,
        "settings": settings_to_json(state.settings),
        **counters,
    }


def _embedding_progress(host: Any) -> dict[str, Any] | None:
    report = getattr(host, "embedding_progress", None)
    try:
        return report() if report is not None else None
    except Exception as exc:  # a failing scheduler must not break the status command
        logger.warning("embedding progress unavailable: %s", exc)
        return None


def register(server: Any) -> None:
    @server.command(REINDEX)
    async def reindex(ls: Any, *args: Any) -> dict[str, Any]:
        return await indexing.run_indexing(ls)

    @server.command(INDEX_STATUS)
    def index_status(ls: Any, *args: Any) -> dict[str, Any]:
        return status(ls)

    @server.command(SHOW_CONTEXT)
    def show_context(ls: Any, *args: Any) -> dict[str, Any]:
        state: ServerState = ls.state
        uri = _first_str(args, "uri", "textDocument")
        empty = {"uri": uri, "snippets": [], "timings": {}, "ungrounded": []}
        if uri is not None:
            return state.contexts.get(uri, empty)
        return state.last_context or empty

    @server.command(SELECT_MODEL)
    async def select_model(ls: Any, *args: Any) -> dict[str, Any]:
        state: ServerState = ls.state
        name = _first_str(args, "path", "name", "model")
        if not name:
            return {"ok": False, "error": "usage: ragls.selectModel <path or name>"}
        host = await state.wait_host()
        if host is None:
            return {"ok": False, "error": f"engine not available: {state.host_error}"}
        state.latest.cancel_all("model change")
        try:
            model = await state.pools.run(state.pools.model, host.select_model, name)
        except Exception as exc:
            logger.exception("selecting model %s failed", name)
            show_message_once(
                ls, f"model:{name}", f"cannot load model {name}: {exc}", types.MessageType.Error
            )
            return {"ok": False, "error": str(exc)}
        state.cache.clear()
        logger.info("model is now %s", model)
        return {"ok": True, "model": model}
