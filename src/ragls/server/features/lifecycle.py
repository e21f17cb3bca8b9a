"""initialize / initialized / configuration changes / shutdown: settings and the engine host."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.uris import to_fs_path

from ragls.server.features import indexing, watch
from ragls.server.settings import SECTION, resolve_settings, settings_to_json
from ragls.server.state import ServerState, show_message_once

logger = logging.getLogger(__name__)

SHUTDOWN_WAIT_S = 20.0  # for work in flight at shutdown; clients wait a little longer


def _root_of(params: types.InitializeParams) -> Path | None:
    for uri in [f.uri for f in params.workspace_folders or []] + [params.root_uri or ""]:
        if uri and (path := to_fs_path(uri)) is not None:
            return Path(path).resolve()
    if params.root_path:
        return Path(params.root_path).resolve()
    return None


def _get(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if obj is None:
            return None
        obj = getattr(obj, part, None)
    return obj


def _apply_log_level(level: str) -> None:
    logging.getLogger("ragls").setLevel(level.upper())


def _settings_problems(ls: Any, errors: list[str]) -> None:
    if errors:
        summary = errors[0] if len(errors) == 1 else f"{errors[0]} (and {len(errors) - 1} more, see the log)"
        show_message_once(ls, f"settings:{len(errors)}:{errors[0]}", f"invalid settings ignored: {summary}")


def _trust_warning(ls: Any, warning: str | None) -> None:
    """Once per set of ignored settings: which project settings trust held back, and how to trust."""
    if warning:
        show_message_once(ls, f"untrusted:{warning}", warning)


async def start_host(ls: Any) -> None:
    """Build the engine host off the loop, apply open buffers, then index in the background."""
    state: ServerState = ls.state
    if state.root is None:
        state.host_error = "no workspace root"
        state.host_ready.set()
        return
    try:
        host = await state.pools.run(state.pools.index, state.engine_factory, state.root, state.settings)
    except Exception as exc:  # a broken model path must not stop the server
        logger.exception("could not start the engine")
        state.host_error = str(exc)
        state.host_ready.set()
        show_message_once(ls, "engine", f"cannot start: {exc}", types.MessageType.Error)
        return
    state.host = host
    state.host_error = None
    state.host_ready.set()
    for doc in list(ls.workspace.text_documents.values()):
        if (rel := state.rel_path(doc.uri)) is not None:
            state.pools.submit(state.pools.overlay, _safe_overlay, host, rel, doc.source)
    await indexing.run_indexing(ls, first=True)
    watch.start_watching(ls)
    days = state.settings.index.remove_after_days
    if days > 0:
        state.pools.submit(state.pools.index, _remove_stale_indexes, days)


def _remove_stale_indexes(days: int) -> None:
    from ragls.indexing.config import remove_stale_indexes

    try:
        remove_stale_indexes(days)
    except Exception:  # housekeeping must never disturb the session
        logger.exception("removing stale indexes failed")


def _safe_overlay(host: Any, rel: str, text: str) -> None:
    try:
        host.index.set_overlay(rel, text)
    except Exception:
        logger.exception("set_overlay failed for %s", rel)


async def restart_host(ls: Any) -> None:
    """Replace the engine host: cancel its requests, let running work finish, then close it.

    Nothing closes the index or the model under a thread still using them: the worker pools
    are drained first (cancelled requests stop at their next token), indexing finishes on its
    own pool before the close queued behind it, and the host waits for calls still inside it."""
    state: ServerState = ls.state
    old, state.host = state.host, None
    state._host_ready = None
    state.cache.clear()
    state.latest.cancel_all("settings changed")
    watch.stop_watching(ls)
    if old is not None:
        # indexing is not waited for here: the close below queues behind it on the index pool
        if not await state.pools.drain(skip=(state.pools.index,)):
            logger.warning("closing the old engine while work is still running on it")
        await state.pools.run(state.pools.index, old.close)
    await start_host(ls)


def register(server: Any) -> None:
    @server.feature(types.INITIALIZE)
    def initialize(ls: Any, params: types.InitializeParams) -> None:
        state: ServerState = ls.state
        state.root = _root_of(params)
        state.init_options = params.initialization_options
        caps = params.capabilities
        state.client_inline_completion = _get(caps, "text_document.inline_completion") is not None
        state.client_dynamic_watch = bool(
            _get(caps, "workspace.did_change_watched_files.dynamic_registration")
        )
        state.client_progress = bool(_get(caps, "window.work_done_progress"))
        state.client_document_changes = bool(_get(caps, "workspace.workspace_edit.document_changes"))
        resolved = resolve_settings(state.root, params.initialization_options)
        state.settings = resolved.settings
        state.settings_errors = resolved.errors
        state.trust_warning = resolved.warning
        _apply_log_level(state.settings.log_level)
        client = params.client_info.name if params.client_info else "unknown client"
        logger.info(
            "initialize from %s: root=%s inlineCompletion=%s dynamicWatch=%s settings=%s",
            client,
            state.root,
            state.client_inline_completion,
            state.client_dynamic_watch,
            settings_to_json(state.settings),
        )

    @server.feature(types.INITIALIZED)
    async def initialized(ls: Any, params: types.InitializedParams) -> None:
        state: ServerState = ls.state
        _settings_problems(ls, getattr(state, "settings_errors", []))
        _trust_warning(ls, state.trust_warning)
        state.startup_task = state.spawn(start_host(ls))

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(ls: Any, params: types.DidChangeConfigurationParams) -> None:
        state: ServerState = ls.state
        raw = params.settings
        if isinstance(raw, dict) and SECTION in raw:
            raw = raw[SECTION]
        elif raw is None or raw == {}:
            if not _get(ls.client_capabilities, "workspace.configuration"):
                return
            try:
                result = await ls.workspace_configuration_async(
                    types.ConfigurationParams(items=[types.ConfigurationItem(section=SECTION)])
                )
                raw = result[0] if result else None
            except Exception as exc:
                logger.warning("workspace/configuration failed: %s", exc)
                return
        previous = state.settings
        resolved = resolve_settings(state.root, state.init_options, raw)
        state.settings = resolved.settings
        state.trust_warning = resolved.warning
        _settings_problems(ls, resolved.errors)
        _trust_warning(ls, resolved.warning)
        _apply_log_level(state.settings.log_level)
        heavy = ("model", "embeddings", "index", "context")
        if any(getattr(previous, k) != getattr(state.settings, k) for k in heavy) and state.host is not None:
            logger.info("settings changed: restarting the engine")
            await restart_host(ls)
        else:
            state.cache.clear()

    @server.feature(types.SHUTDOWN)
    async def shutdown(ls: Any, params: Any) -> None:
        """Cancel requests, let the workers finish what they hold, then close the engine on the
        index pool (behind any update still running there): never under a thread using it."""
        state: ServerState = ls.state
        state.latest.cancel_all("shutdown")
        watch.stop_watching(ls)
        host, state.host = state.host, None
        await state.pools.drain(SHUTDOWN_WAIT_S, skip=(state.pools.index,))
        if host is not None:
            try:
                await asyncio.wait_for(state.pools.run(state.pools.index, host.close), SHUTDOWN_WAIT_S)
            except TimeoutError:
                logger.error("the engine did not close within %.0fs", SHUTDOWN_WAIT_S)
            except Exception:
                logger.exception("closing the engine failed")
        state.pools.shutdown()
