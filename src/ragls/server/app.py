"""Builds the ragls language server: protocol hardening, error reporting, feature registration."""

from __future__ import annotations

import logging
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcMethodNotFound, JsonRpcRequestCancelled
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol

from ragls import __version__
from ragls.server.state import EngineFactory, ServerState, show_message_once

logger = logging.getLogger(__name__)

_INVALID = object()  # a message that could not be structured; already answered


class RaglsProtocol(LanguageServerProtocol):
    """pygls protocol that answers requests whose params do not match the LSP types.

    pygls logs such messages and drops them, which would leave the client waiting forever;
    here a request gets an InvalidParams (or InternalError) response instead.
    """

    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            msg_id = data.get("id")
            method = data.get("method")
            if isinstance(method, str) and isinstance(msg_id, int | str):
                known = self.get_message_type(method) is not None or method in self.fm.features
                error = exc if known else JsonRpcMethodNotFound.of(method)
                logger.warning("cannot read request %r (id %s): %s", method, msg_id, error)
                self._send_response(msg_id, error=error.to_response_error())
            else:
                logger.warning("dropping malformed message: %.200r", data)
            return _INVALID

    def _execute_handler(
        self,
        msg_id: Any,
        handler: Any,
        callback: Any,
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> None:
        """Run a handler as pygls does, and forget its future once it is done.

        pygls 2.1 keeps the future of each handler it runs in `_request_futures`, keyed by the
        request id, and removes it only when it answers a request. Notifications (keyed by a
        fresh uuid4) and the steps of its generator handlers (didOpen, didChange, didClose,
        executeCommand...) stay there forever: about 1 kB per message, the steady growth of a
        long editing session. A future that finishes is removed here (a cancellation can only
        reach a request that is still running).
        """

        def forget_then(future: Any) -> None:
            if self._request_futures.get(msg_id) is future:
                self._request_futures.pop(msg_id, None)
            callback(future)

        super()._execute_handler(msg_id, handler, forget_then, args=args, kwargs=kwargs)

    def handle_message(self, message: Any) -> None:
        if message is _INVALID:
            return
        if isinstance(message, dict) or not hasattr(message, "jsonrpc"):
            logger.warning("ignoring a message that is not JSON-RPC: %.200r", message)
            return
        super().handle_message(message)


class RaglsServer(LanguageServer):
    """The language server; `state` holds everything ragls keeps between requests."""

    def __init__(self, engine_factory: EngineFactory) -> None:
        super().__init__(
            "ragls",
            __version__,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            protocol_cls=RaglsProtocol,
            max_workers=2,
        )
        self.state = ServerState(engine_factory)

    def report_server_error(self, error: Exception, source: Any) -> None:
        """Log every server error; show one message per kind of error."""
        if isinstance(error, JsonRpcMethodNotFound | JsonRpcRequestCancelled):
            logger.info("%s", error)
            return
        logger.error("server error (%s): %s", getattr(source, "__name__", source), error)
        show_message_once(
            self, f"server:{type(error).__name__}", f"internal error: {error}", types.MessageType.Error
        )


def default_engine_factory(root: Any, settings: Any) -> Any:
    """The real engine host (imported lazily: models and indexes are heavy)."""
    from ragls.server.engine_host import SessionHost

    return SessionHost(root, settings)


def build_server(engine_factory: EngineFactory | None = None) -> RaglsServer:
    """A ready-to-start server; `engine_factory` replaces the real pipelines (tests)."""
    from ragls.server.features import (
        code_actions,
        commands,
        completion_fallback,
        documents,
        inline_completion,
        lifecycle,
        watch,
    )

    server = RaglsServer(engine_factory or default_engine_factory)
    for module in (
        lifecycle,
        documents,
        watch,
        inline_completion,
        completion_fallback,
        code_actions,
        commands,
    ):
        module.register(server)
    return server
