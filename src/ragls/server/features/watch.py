"""File watching: the client's workspace/didChangeWatchedFiles when it can register one
dynamically, else ragls' own watchdog-based IndexWatcher."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from lsprotocol import types

from ragls.server.features import indexing
from ragls.server.state import ServerState

logger = logging.getLogger(__name__)

SOURCE_GLOB = "**/*.{py,js,mjs,cjs,jsx,ts,mts,cts,tsx,go,rs,java}"
CONFIG_GLOBS = ("**/.gitignore", "**/.ragignore", "**/go.mod", "**/tsconfig.json", "**/jsconfig.json")


def start_watching(ls: Any) -> None:
    """Register a client watcher, or start the watchdog one (called once the index is ready)."""
    state: ServerState = ls.state
    if state.host is None:
        return
    if state.client_dynamic_watch:
        state.spawn(_register_client_watcher(ls))
        return
    try:
        from ragls.indexing.watcher import IndexWatcher

        debounce = getattr(state.host.index.config, "watch_debounce_s", 0.3)
        state.watcher = IndexWatcher(state.host.index, debounce)
        state.watcher.start()
        logger.info("watching %s with watchdog", state.root)
    except Exception as exc:  # no watcher: saves still re-index through didSave
        logger.warning("file watcher not started: %s", exc)
        state.watcher = None


async def _register_client_watcher(ls: Any) -> None:
    watchers = [types.FileSystemWatcher(glob_pattern=g) for g in (SOURCE_GLOB, *CONFIG_GLOBS)]
    registration = types.Registration(
        id=f"ragls-watch-{uuid.uuid4().hex[:8]}",
        method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
        register_options=types.DidChangeWatchedFilesRegistrationOptions(watchers=watchers),
    )
    try:
        await asyncio.wait_for(
            ls.client_register_capability_async(types.RegistrationParams(registrations=[registration])), 10
        )
        logger.info("client file watcher registered")
    except Exception as exc:
        logger.warning("client refused the file watcher (%s); using watchdog", exc)
        ls.state.client_dynamic_watch = False
        start_watching(ls)


def stop_watching(ls: Any) -> None:
    state: ServerState = ls.state
    if state.watcher is not None:
        try:
            state.watcher.stop()
        except Exception:
            logger.exception("stopping the watcher failed")
        state.watcher = None


def register(server: Any) -> None:
    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    async def did_change_watched_files(ls: Any, params: types.DidChangeWatchedFilesParams) -> None:
        state: ServerState = ls.state
        paths = []
        full = False
        for change in params.changes:
            rel = state.rel_path(change.uri)
            if rel is None:
                continue
            if rel.rsplit("/", 1)[-1] in {
                ".gitignore",
                ".ragignore",
                "go.mod",
                "tsconfig.json",
                "jsconfig.json",
            }:
                full = True
            else:
                paths.append(rel)
        if full:
            await indexing.run_indexing(ls)
        elif paths:
            await indexing.update_paths(ls, paths)
