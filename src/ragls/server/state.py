"""What the server holds between requests: root, settings, the engine host, pools, caches, counters.

The engine host (`EngineHost`) is the server's single door to indexing, retrieval and models;
`ragls.server.engine_host.SessionHost` is the real one, tests inject a fake through
`build_server(engine_factory=...)`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from lsprotocol import types
from pygls.uris import from_fs_path, to_fs_path

from ragls.cancel import CancelToken
from ragls.lru import LRUCache
from ragls.redact import redact, redact_obj
from ragls.server.scheduling import LatestWins, Pools, Stats
from ragls.server.settings import Settings

logger = logging.getLogger(__name__)

REPORTED_MAX = 512  # error kinds remembered for show_message_once
CONTEXTS_MAX = 64  # documents whose last completion context ragls.showContext keeps


class EngineHost(Protocol):
    """The pipelines and the index, as the server uses them (all calls are blocking)."""

    index: Any  # WorkspaceIndex: set_overlay, clear_overlay, update, stats, files
    model_name: str

    def complete(self, query: Any, *, cancel: CancelToken) -> Any: ...  # -> CompletionResult
    def test_target(self, path: str, buffer: str, line: int) -> Any: ...  # -> Definition | None
    # verification jobs (blocking; keyword arguments: config, overlays, cancel, progress)
    def verified_fix(self, path: str, buffer: str, start_line: int, end_line: int, diagnostic: str | None,
                     **kw: Any) -> Any: ...  # -> FixReport
    def fix_failing_test(self, path: str, buffer: str, line: int, **kw: Any) -> Any: ...  # -> FixReport
    def verified_tests(self, path: str, buffer: str, line: int, **kw: Any) -> Any: ...  # -> TestReport
    def select_model(self, name_or_path: str) -> str: ...
    def start_background(self) -> None: ...  # embeddings etc. after the first index pass
    def close(self) -> None: ...


EngineFactory = Callable[[Path, Settings], EngineHost]


class ServerState:
    """Mutable server state; touched from the event loop, read from worker threads."""

    def __init__(self, engine_factory: EngineFactory) -> None:
        self.engine_factory = engine_factory
        self.root: Path | None = None
        self.settings = Settings()
        self.init_options: Any = None
        self.host: EngineHost | None = None
        self.host_error: str | None = None
        self._host_ready: asyncio.Event | None = None
        self.index_state = "not started"  # not started | indexing | ready | failed
        self.index_progress: tuple[int, int] = (0, 0)
        self.pools = Pools()
        self.latest = LatestWins()
        self.cache: LRUCache[tuple[Any, ...], Any] = LRUCache(256)
        self.stats = Stats()
        # uri -> what its last completion used: snippets, stage timings, ungrounded names
        self.contexts: dict[str, dict[str, Any]] = {}
        self.last_context: dict[str, Any] | None = None
        # where each document's cursor last came to rest (ragls/cursorMoved), newest last; bounded
        self.cursors: dict[str, types.Position] = {}
        self.client_inline_completion = False
        self.client_dynamic_watch = False
        self.client_progress = False
        self.client_document_changes = True
        self.settings_errors: list[str] = []
        self.trust_warning: str | None = None  # project settings ignored in an untrusted workspace
        self.startup_task: asyncio.Future[None] | None = None
        self.index_task: asyncio.Future[Any] | None = None
        self.index_task_host: EngineHost | None = None  # the engine that pass indexes
        self.last_update: dict[str, Any] = {}
        self.watcher: Any = None
        # latest unsaved text per document waiting for the overlay worker (None: clear it);
        # one parse per document is queued at most, however fast the user types
        self.overlay_pending: dict[str, str | None] = {}
        self.overlay_lock = threading.Lock()
        self._tasks: set[asyncio.Future[Any]] = set()
        self._reported: OrderedDict[bytes, None] = OrderedDict()
        self._lock = threading.Lock()

    # ---- engine host lifecycle ----------------------------------------------------------------

    @property
    def host_ready(self) -> asyncio.Event:
        if self._host_ready is None:
            self._host_ready = asyncio.Event()
        return self._host_ready

    async def wait_host(self, timeout_s: float = 10.0) -> EngineHost | None:
        """The engine host once it is built (None if building failed or takes too long)."""
        if self.host is not None:
            return self.host
        try:
            await asyncio.wait_for(self.host_ready.wait(), timeout_s)
        except TimeoutError:
            logger.warning("engine not ready after %.1fs", timeout_s)
        return self.host

    def spawn(self, coro: Any) -> asyncio.Future[Any]:
        """Run a coroutine in the background, keeping a reference until it finishes."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # ---- paths -----------------------------------------------------------------------------

    def rel_path(self, uri: str) -> str | None:
        """Workspace-relative POSIX path of `uri`, or None when it is outside the root."""
        fs_path = to_fs_path(uri)
        if fs_path is None or self.root is None:
            return None
        try:  # symlinks followed: a link out of the workspace is outside
            return Path(fs_path).resolve().relative_to(self.root).as_posix()
        except (ValueError, OSError, RuntimeError):  # outside, NUL bytes, link loops
            return None

    def uri_for(self, rel: str) -> str:
        assert self.root is not None
        return from_fs_path(str(self.root / rel)) or f"file://{self.root / rel}"

    def inside_root(self, path: Path) -> bool:
        """True when `path` (resolved, symlinks followed) lies under the workspace root."""
        if self.root is None:
            return False
        try:
            path.resolve().relative_to(self.root)
        except (ValueError, OSError, RuntimeError):
            return False
        return True

    # ---- error reporting -------------------------------------------------------------------

    def should_report(self, kind: str) -> bool:
        """True the first time an error of this kind happens (one message per kind).

        Kinds often carry message text, so only a digest of the latest `REPORTED_MAX` is kept:
        memory stays bounded however many distinct errors a long session sees."""
        key = hashlib.blake2b(kind.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        with self._lock:
            if key in self._reported:
                self._reported.move_to_end(key)
                return False
            self._reported[key] = None
            if len(self._reported) > REPORTED_MAX:
                self._reported.popitem(last=False)
            return True

    def remember_context(
        self,
        uri: str,
        snippets: Sequence[Any],
        *,
        timings: dict[str, float] | None = None,
        ungrounded: Sequence[str] = (),
    ) -> None:
        """Keep what the last completion of `uri` used, for ragls.showContext (bounded)."""
        record = {
            "uri": uri,
            "snippets": redact_obj([s.to_json() if hasattr(s, "to_json") else dict(s) for s in snippets]),
            "timings": {k: round(float(v), 3) for k, v in (timings or {}).items()},
            "ungrounded": list(ungrounded),
        }
        self.contexts.pop(uri, None)  # re-inserted last: the oldest document goes first
        self.contexts[uri] = record
        self.last_context = record
        while len(self.contexts) > CONTEXTS_MAX:
            self.contexts.pop(next(iter(self.contexts)))


def show_message_once(
    ls: Any, kind: str, message: str, level: types.MessageType = types.MessageType.Warning
) -> None:
    """window/showMessage for the first error of each kind; every occurrence is logged."""
    state: ServerState = ls.state
    message = redact(message)
    logger.warning("%s", message)
    if state.should_report(kind):
        try:
            ls.window_show_message(types.ShowMessageParams(type=level, message=f"ragls: {message}"))
        except Exception:  # the transport may be gone; the log has it
            logger.debug("could not send showMessage", exc_info=True)
