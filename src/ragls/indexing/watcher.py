"""Keep a `WorkspaceIndex` current while files change on disk.

A watchdog observer (recursive on the root) reports file events; paths under skipped
directories or of unknown languages are dropped cheaply, the rest are collected and, once
no event arrived for `debounce_s`, handed to `index.update(paths=...)` on the watcher's own
thread. A moved file is a deletion of its source and a creation of its destination; a
deleted or moved directory triggers a full incremental scan. Errors are logged, never raised.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from ragls.filetypes import language_for_path
from ragls.indexing.config import SKIP_DIRS
from ragls.indexing.records import UpdateStats

if TYPE_CHECKING:
    from ragls.indexing.workspace import WorkspaceIndex

logger = logging.getLogger(__name__)

IGNORE_FILES = frozenset({".gitignore", ".ragignore"})
FULL_SCAN = "\0full"  # marker: something changed that only a full scan can sort out


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: IndexWatcher) -> None:
        self.watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        try:
            self.watcher._on_event(event)
        except Exception:  # a bad event must not kill the observer thread
            logger.exception("watcher failed on %r", event)


class IndexWatcher:
    """Feeds file changes under `index.root` into `index.update(paths=...)` after a quiet period."""

    def __init__(
        self,
        index: WorkspaceIndex,
        debounce_s: float = 0.3,
        on_update: Callable[[UpdateStats], None] | None = None,
    ) -> None:
        self.index = index
        self.debounce_s = debounce_s
        self.on_update = on_update
        self._root = str(index.root)
        self._skip_prefix = self._index_dir_prefix()
        self._pending: set[str] = set()
        self._last_event = 0.0
        self._cond = threading.Condition()
        self._stop = False
        self._observer: Observer | None = None  # type: ignore[valid-type]
        self._thread: threading.Thread | None = None

    def _index_dir_prefix(self) -> str | None:
        try:
            return Path(self.index.index_dir).resolve().relative_to(self.index.root).as_posix() + "/"
        except ValueError:
            return None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="ragls-index-watcher", daemon=True)
        self._thread.start()
        observer = Observer()
        observer.schedule(_Handler(self), self._root, recursive=True)
        observer.daemon = True
        observer.start()
        self._observer = observer
        logger.info("watching %s", self._root)

    def stop(self) -> None:
        observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
            observer.join(timeout=5)
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=30)

    def __enter__(self) -> IndexWatcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- events ---------------------------------------------------------------------------

    def _on_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        paths = [event.src_path]
        dest = getattr(event, "dest_path", "")
        if dest:
            paths.append(dest)
        wanted: list[str] = []
        for raw in paths:
            rel = self._relevant(os.fsdecode(raw), event.is_directory, event.event_type)
            if rel is not None:
                wanted.append(rel)
        if wanted:
            with self._cond:
                self._pending.update(wanted)
                self._last_event = time.monotonic()
                self._cond.notify_all()

    def _relevant(self, abs_path: str, is_dir: bool, kind: str) -> str | None:
        """The workspace-relative path worth re-checking, FULL_SCAN, or None (cheap filters only)."""
        rel = os.path.relpath(abs_path, self._root).replace(os.sep, "/")
        if rel == "." or rel.startswith("../"):
            return None
        parts = rel.split("/")
        if any(p in SKIP_DIRS for p in parts[:-1] if p) or (
            self._skip_prefix and rel.startswith(self._skip_prefix)
        ):
            return None
        if is_dir:
            # a directory that vanished or moved takes its files along; created ones report their files
            return FULL_SCAN if kind in ("deleted", "moved") and parts[-1] not in SKIP_DIRS else None
        if parts[-1] in IGNORE_FILES:
            return FULL_SCAN  # ignore rules changed: files may enter or leave the index
        return rel if language_for_path(rel) is not None else None

    # ---- the update thread ------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stop and not self._pending:
                    self._cond.wait()
                if self._stop:
                    return
                quiet = time.monotonic() - self._last_event
                if quiet < self.debounce_s:
                    self._cond.wait(self.debounce_s - quiet)
                    continue
                batch, self._pending = self._pending, set()
            self._apply(batch)

    def _apply(self, batch: set[str]) -> None:
        try:
            full = FULL_SCAN in batch
            stats = self.index.update() if full else self.index.update(paths=sorted(batch))
        except Exception:
            logger.exception("index update for %d changed paths failed", len(batch))
            return
        logger.debug("watcher update: %d parsed, %d removed", stats.reindexed, stats.removed)
        if self.on_update is not None:
            try:
                self.on_update(stats)
            except Exception:
                logger.exception("on_update callback failed")
