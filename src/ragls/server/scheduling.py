"""Request scheduling: newest-wins per document, debounce, a bounded LRU cache, counters, pools.

Every completion request takes a `Ticket` for its document; taking a new one cancels the
CancelToken of the previous ticket, so the model thread working for a superseded request
stops at its next token and the superseded request answers with an empty result.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ragls.cancel import CancelToken

logger = logging.getLogger(__name__)


@dataclass
class Ticket:
    """One request's claim on a document: its sequence number and cancel token."""

    key: str
    seq: int
    token: CancelToken = field(default_factory=CancelToken)


class LatestWins:
    """Per-key registry where the newest ticket supersedes (and cancels) older ones."""

    def __init__(self) -> None:
        self._seq = itertools.count(1)
        self._current: dict[str, Ticket] = {}

    def start(self, key: str, timeout_s: float | None = None) -> Ticket:
        ticket = Ticket(key, next(self._seq), CancelToken(timeout_s))
        previous = self._current.get(key)
        if previous is not None:
            previous.token.cancel("superseded")
        self._current[key] = ticket
        return ticket

    def busy(self, key: str) -> bool:
        """True while a request for `key` is in flight."""
        return key in self._current

    def is_current(self, ticket: Ticket) -> bool:
        return self._current.get(ticket.key) is ticket and not ticket.token.cancelled

    def cancel(self, key: str, reason: str) -> None:
        """Cancel the live ticket of `key`, if any (it stays registered until it finishes)."""
        ticket = self._current.get(key)
        if ticket is not None:
            ticket.token.cancel(reason)

    def finish(self, ticket: Ticket) -> None:
        if self._current.get(ticket.key) is ticket:
            del self._current[ticket.key]

    def cancel_all(self, reason: str = "shutdown") -> None:
        for ticket in list(self._current.values()):
            ticket.token.cancel(reason)
        self._current.clear()


async def debounce(ticket: Ticket, delay_s: float, step_s: float = 0.01) -> bool:
    """Sleep `delay_s` unless the ticket is cancelled first; True if it is still live."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + delay_s
    while not ticket.token.cancelled:
        left = deadline - loop.time()
        if left <= 0:
            return True
        await asyncio.sleep(min(step_s, left))
    return False


class Stats:
    """Thread-safe named counters (exposed through the ragls.indexStatus command)."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def incr(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counts[name] += n

    def get(self, name: str) -> int:
        return self._counts[name]

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


class Pools:
    """Worker threads by latency class: completions, long model jobs, indexing, and short reads.

    Fix and test jobs get their own thread: a completion never queues behind a job (the job
    steps aside inside the model between its generation steps, see ``ragls.models.gate``).
    """

    def __init__(self) -> None:
        self.model = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ragls-model")
        self.jobs = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ragls-jobs")
        self.index = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ragls-index")
        self.reads = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ragls-read")
        # buffer overlays, in arrival order, never behind a long re-index
        self.overlay = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ragls-overlay")
        self._pending: dict[Future[Any], ThreadPoolExecutor] = {}  # submitted, not finished
        self._track_lock = threading.Lock()

    def submit(self, pool: ThreadPoolExecutor, fn: Any, *args: Any) -> Future[Any] | None:
        """Queue `fn(*args)` on `pool` (tracked for `drain`); None once the pools are shut down."""
        try:
            future = pool.submit(fn, *args)
        except RuntimeError:  # shut down
            return None
        with self._track_lock:
            self._pending[future] = pool
        future.add_done_callback(self._forget)
        return future

    def _forget(self, future: Future[Any]) -> None:
        with self._track_lock:
            self._pending.pop(future, None)

    async def run(self, pool: ThreadPoolExecutor, fn: Any, *args: Any, **kwargs: Any) -> Any:
        future = self.submit(pool, lambda: fn(*args, **kwargs))
        if future is None:
            raise RuntimeError("the server is shutting down")
        return await asyncio.wrap_future(future)

    async def drain(self, timeout_s: float = 30.0, *, skip: tuple[ThreadPoolExecutor, ...] = ()) -> bool:
        """Wait until every job submitted before this call has finished, except on the pools in
        `skip` (False on timeout)."""
        with self._track_lock:
            pending = [
                asyncio.wrap_future(f) for f, p in self._pending.items() if p not in skip and not f.done()
            ]
        if not pending:
            return True
        done, left = await asyncio.wait(pending, timeout=timeout_s)
        for waiter in (*done, *left):  # the owner of each job sees its outcome; these copies don't
            waiter.add_done_callback(lambda w: w.cancelled() or w.exception())
        if left:
            logger.warning("%d job(s) still running after %.0fs", len(left), timeout_s)
            return False
        return True

    def shutdown(self) -> None:
        for pool in (self.model, self.jobs, self.index, self.reads, self.overlay):
            pool.shutdown(wait=False, cancel_futures=True)
