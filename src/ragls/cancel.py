"""Cooperative cancellation shared by retrieval stages and the token loop."""

from __future__ import annotations

import threading
import time

from ragls.errors import Cancelled


class CancelToken:
    """A flag that long-running work polls; optionally with a deadline.

    Work calls ``raise_if_cancelled()`` between stages (and between tokens);
    the owner calls ``cancel()`` when a newer request supersedes it.
    """

    __slots__ = ("_deadline", "_event", "reason")

    def __init__(self, timeout_s: float | None = None) -> None:
        self._event = threading.Event()
        self._deadline = time.monotonic() + timeout_s if timeout_s is not None else None
        self.reason = ""

    def cancel(self, reason: str = "cancelled") -> None:
        self.reason = reason
        self._event.set()

    @property
    def cancelled(self) -> bool:
        if self._event.is_set():
            return True
        if self._deadline is not None and time.monotonic() >= self._deadline:
            self.reason = self.reason or "deadline"
            return True
        return False

    def raise_if_cancelled(self) -> None:
        if self.cancelled:
            raise Cancelled(self.reason or "cancelled")


NEVER = CancelToken()
"""A token nobody cancels, for callers that do not need cancellation."""
