"""ragls log records -> the client's log as window/logMessage.

The client decides what to keep: VS Code shows them in the ragls output channel, Neovim writes
them to its LSP log at its own level (`vim.lsp.log.set_level`). Which records are sent follows
the `logLevel` setting (applied to the ``ragls`` logger on initialize). Records made on worker
threads are handed to the event loop, so only the loop writes to the protocol stream.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from lsprotocol import types

LEVELS = (
    (logging.ERROR, types.MessageType.Error),
    (logging.WARNING, types.MessageType.Warning),
    (logging.INFO, types.MessageType.Info),
)


def message_type(levelno: int) -> types.MessageType:
    for threshold, kind in LEVELS:
        if levelno >= threshold:
            return kind
    return types.MessageType.Log


class ClientLogHandler(logging.Handler):
    """Sends each record as window/logMessage once the protocol has a transport."""

    def __init__(self, server: Any) -> None:
        super().__init__()
        self.server = server
        self.loop: asyncio.AbstractEventLoop | None = None
        self._sending = threading.local()
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(self._sending, "active", False):  # a log line made while sending one
            return
        try:
            params = types.LogMessageParams(type=message_type(record.levelno), message=self.format(record))
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is not None:
                self.loop = running
                self._send(params)
            elif self.loop is not None and not self.loop.is_closed():
                self.loop.call_soon_threadsafe(self._send, params)
            # else: a worker thread before the loop was seen; the log file still has the line
        except Exception:
            self.handleError(record)

    def _send(self, params: types.LogMessageParams) -> None:
        if getattr(self.server.protocol, "writer", None) is None:
            return
        self._sending.active = True
        try:
            self.server.window_log_message(params)
        except Exception:  # the client is gone: nothing to tell it
            pass
        finally:
            self._sending.active = False


def attach(server: Any, logger_name: str = "ragls") -> ClientLogHandler:
    """Forward the records of `logger_name` (and its children) to the client of `server`."""
    handler = ClientLogHandler(server)
    logging.getLogger(logger_name).addHandler(handler)
    return handler
