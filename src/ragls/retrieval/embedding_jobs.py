"""Background embedding of index chunks into the vector store.

One daemon thread owns the embedder for indexing work: it embeds chunks whose content
hash has no vector yet, serving prioritised files (open files and their import
neighbourhood) before the walk over the whole index, and drops vectors of chunks that
left the index once per full pass. Callers never wait on it, except ``run_until_done``
(CLI, benchmarks), which does the same work synchronously in the calling thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ragls.cancel import NEVER, CancelToken
from ragls.errors import Cancelled
from ragls.indexing.records import ChunkRow
from ragls.indexing.vectors import VectorStore
from ragls.models.embeddings import Embedder

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


def chunk_embedding_text(row: ChunkRow) -> str:
    """What is embedded for a chunk: its path, its name, then its text (the tokenizer truncates)."""
    head = f"{row.path}\n{row.name}\n" if row.name else f"{row.path}\n"
    return head + row.text


class EmbeddingScheduler:
    """Keeps ``store`` in step with ``index``: missing chunks embedded, dead vectors dropped."""

    def __init__(
        self,
        index: Any,
        embedder: Embedder,
        store: VectorStore,
        batch_size: int = 16,
        save_every_s: float = 10.0,
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.store = store
        self.batch_size = max(1, batch_size)
        self.save_every_s = save_every_s
        self._cond = threading.Condition()
        self._queue: deque[list[str]] = deque()  # newest prioritize() call first
        self._pass_needed = True
        self._busy = 0  # runs in progress (thread and run_until_done)
        self._work_lock = threading.Lock()  # one embedding run at a time (thread or caller)
        self._thread: threading.Thread | None = None
        self._stop_token = CancelToken()
        self._unpaused = threading.Event()
        self._unpaused.set()
        self._done = 0
        self._total = 0
        self._embedded = 0
        self._last_save = time.monotonic()
        self.last_error: str | None = None

    # ---- control -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the background thread (no-op if running)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop_token = CancelToken()
        self._thread = threading.Thread(target=self._run, name="ragls-embedding", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 5.0) -> bool:
        """Stop after the current batch and save; returns whether the thread ended in time."""
        self._stop_token.cancel("stopped")
        with self._cond:
            self._cond.notify_all()
        ended = True
        if self._thread is not None:
            self._thread.join(timeout)
            ended = not self._thread.is_alive()
            if ended:
                self._thread = None
        if ended:
            self._save(force=True)
        return ended

    def pause(self) -> None:
        """Hold embedding after the current batch (e.g. while a completion needs the cores)."""
        self._unpaused.clear()

    def resume(self) -> None:
        self._unpaused.set()

    def prioritize(self, paths: Iterable[str]) -> None:
        """Embed chunks of these files, then of the files they import or that import them, first."""
        wanted = [p for p in dict.fromkeys(paths) if p]
        if not wanted:
            return
        with self._cond:
            self._queue.appendleft(wanted)
            self._cond.notify_all()

    def notify_changed(self) -> None:
        """The index changed: schedule a new full pass."""
        with self._cond:
            self._pass_needed = True
            self._cond.notify_all()

    def progress(self) -> tuple[int, int]:
        """(chunks with a vector, live chunks) as of the last pass, deduplicated by hash."""
        return self._done, self._total

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until nothing is queued or running; returns False on timeout."""
        with self._cond:
            return self._cond.wait_for(
                lambda: not (self._busy or self._queue or self._pass_needed), timeout=timeout
            )

    def run_until_done(self, progress: Progress | None = None, cancel: CancelToken = NEVER) -> int:
        """Embed everything missing now, in the caller's thread; returns how many were embedded."""
        before = self._embedded
        with self._cond:
            self._busy += 1
            self._pass_needed = True
        try:
            self._work(cancel, progress)
        finally:
            self._save(force=True)
            with self._cond:
                self._busy -= 1
                self._cond.notify_all()
        return self._embedded - before

    # ---- the worker ----------------------------------------------------------------------

    def _run(self) -> None:
        token = self._stop_token
        while not token.cancelled:
            with self._cond:
                has_work = self._cond.wait_for(
                    lambda: token.cancelled or bool(self._queue) or self._pass_needed,
                    timeout=self.save_every_s,
                )
                if token.cancelled:
                    break
                if has_work:
                    self._busy += 1
            if not has_work:
                self._save(force=True)  # idle: flush what priorities added
                continue
            try:
                self._work(token, None)
                self.last_error = None
            except Cancelled:
                break
            except Exception as exc:  # a broken model or index must not kill the server
                self.last_error = str(exc)
                logger.exception("background embedding failed; waiting for the next change")
                with self._cond:
                    self._pass_needed = False
                    self._queue.clear()
            finally:
                self._save(force=False)
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()
        logger.debug("embedding thread stopped")

    def _work(self, cancel: CancelToken, progress: Progress | None) -> None:
        with self._work_lock:
            while True:
                self._serve_priorities(cancel)
                with self._cond:
                    if not self._pass_needed:
                        return
                    self._pass_needed = False
                try:
                    self._full_pass(cancel, progress)
                except Cancelled:
                    with self._cond:  # resume the walk on the next start or run
                        self._pass_needed = True
                    raise

    def _serve_priorities(self, cancel: CancelToken) -> None:
        while True:
            with self._cond:
                if not self._queue:
                    return
                paths = self._queue.popleft()
            hashes: list[str] = []
            rows: dict[str, ChunkRow] = {}
            for path in self._with_neighbours(paths):
                for row in self.index.chunks_in(path):
                    if row.content_hash not in rows:
                        rows[row.content_hash] = row
                        hashes.append(row.content_hash)
            missing = self.store.missing(hashes)
            try:
                for start in range(0, len(missing), self.batch_size):
                    self._between_batches(cancel)
                    self._embed_rows([rows[h] for h in missing[start : start + self.batch_size]])
            except Cancelled:
                with self._cond:  # keep the request for the next start or run
                    self._queue.appendleft(paths)
                raise

    def _with_neighbours(self, paths: Sequence[str]) -> list[str]:
        """The paths themselves first, then what they import, then what imports them."""
        ordered = dict.fromkeys(paths)
        for path in paths:
            for imp in self.index.imports_of(path):
                ordered.update(dict.fromkeys(imp.targets))
        for path in paths:
            ordered.update(dict.fromkeys(self.index.importers_of(path)))
        return list(ordered)

    def _full_pass(self, cancel: CancelToken, progress: Progress | None) -> None:
        live: set[str] = set()
        pending: list[str] = []
        for batch in self.index.iter_chunks():
            cancel.raise_if_cancelled()
            for row in batch:
                h = row.content_hash
                if h not in live:
                    live.add(h)
                    if not self.store.has(h):
                        pending.append(h)
        dropped = self.store.retain(live)
        if dropped:
            logger.info("dropped %d vectors of chunks no longer indexed", dropped)
        self._total = len(live)
        self._done = len(live) - len(pending)
        logger.debug("embedding pass: %d live chunks, %d to embed", len(live), len(pending))
        if progress:
            progress(self._done, self._total)
        for start in range(0, len(pending), self.batch_size):
            self._serve_priorities(cancel)
            self._between_batches(cancel)
            wanted = self.store.missing(pending[start : start + self.batch_size])
            if wanted:
                rows = {r.content_hash: r for r in reversed(self.index.chunks_by_hash(wanted))}
                self._embed_rows([rows[h] for h in wanted if h in rows])
            self._done = min(self._total, self._done + len(pending[start : start + self.batch_size]))
            if progress:
                progress(self._done, self._total)
            self._save(force=False)
        self._save(force=True)

    def _between_batches(self, cancel: CancelToken) -> None:
        """Yield to request threads; wait while paused; raise Cancelled when stopped."""
        cancel.raise_if_cancelled()
        if self._unpaused.is_set():
            time.sleep(0)
            return
        while not self._unpaused.wait(0.05):
            cancel.raise_if_cancelled()
        cancel.raise_if_cancelled()

    def _embed_rows(self, rows: list[ChunkRow]) -> None:
        if not rows:
            return
        vectors = self.embedder.embed([chunk_embedding_text(r) for r in rows])
        self._embedded += self.store.add([r.content_hash for r in rows], vectors)

    def _save(self, force: bool) -> None:
        if not self.store.dirty:
            return
        if force or time.monotonic() - self._last_save >= self.save_every_s:
            try:
                self.store.save()
            except OSError as exc:
                logger.warning("cannot save vectors to %s: %s", self.store.path, exc)
            self._last_save = time.monotonic()
