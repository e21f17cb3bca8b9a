"""Who gets the cores: interactive requests (completions) before background work.

Two cores cannot run a completion and a fix job at once without both slowing down, so every
local model in the process shares one gate. A completion holds it while it runs; background
work (fix and test jobs, cache warming) checks it between generation steps and prompt chunks,
steps aside at once, and resumes when the gate is free again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from ragls.cancel import CancelToken


class ModelGate:
    """Counts interactive requests in flight; background work waits while there are any."""

    def __init__(self) -> None:
        self._active = 0
        self._last_end = float("-inf")  # time.monotonic() when the last interactive request ended
        self._cond = threading.Condition()

    @contextmanager
    def interactive(self) -> Iterator[None]:
        with self._cond:
            self._active += 1
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                self._last_end = time.monotonic()
                self._cond.notify_all()

    def busy(self) -> bool:
        return self._active > 0

    def quiet_for(self, seconds: float) -> bool:
        """No interactive request runs, and none ended in the last `seconds` (no one is typing)."""
        return self._active == 0 and time.monotonic() - self._last_end >= seconds

    def wait_idle(self, cancel: CancelToken | None = None, poll_s: float = 0.05) -> bool:
        """Block until no interactive request runs; False if ``cancel`` fires first."""
        with self._cond:
            while self._active > 0:
                if cancel is not None and cancel.cancelled:
                    return False
                self._cond.wait(poll_s)
        return True


GATE = ModelGate()
