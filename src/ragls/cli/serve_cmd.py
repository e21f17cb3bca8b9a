"""`ragls serve`: the language server over stdio (default) or TCP.

stdout carries the protocol only: logs go to stderr and, with --log-file, to a file.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import BinaryIO

from ragls.redact import install_log_redaction

logger = logging.getLogger(__name__)

LEVELS = ("debug", "info", "warning", "error")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("serve", help="run the language server (stdio by default)")
    parser.add_argument("--stdio", action="store_true", help="serve over stdin/stdout (the default)")
    parser.add_argument("--tcp", action="store_true", help="serve over TCP instead of stdio")
    parser.add_argument("--host", default="127.0.0.1", help="TCP host (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=2087, help="TCP port (default 2087)")
    parser.add_argument("--log-file", help="also write the log to this file")
    parser.add_argument("--log-level", choices=LEVELS, default=None, help="log level (default info)")
    parser.set_defaults(func=run)


def configure_logging(level: str, log_file: str | None) -> None:
    """Logs to stderr (+ file); pygls' per-message chatter only at debug level."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "stream", None) is sys.stdout:
            root.removeHandler(handler)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    for handler in root.handlers[:]:
        root.removeHandler(handler)
    for handler in handlers:
        handler.setFormatter(fmt)
        root.addHandler(handler)
    install_log_redaction()  # URL credentials and API keys never reach the log
    root.setLevel(level.upper())
    if level != "debug":
        logging.getLogger("pygls").setLevel(logging.WARNING)


def run(args: argparse.Namespace) -> int:
    verbose = getattr(args, "verbose", 0)
    level = args.log_level or ("debug" if verbose >= 2 else "info")
    configure_logging(level, args.log_file)
    from ragls.server.app import build_server

    server = build_server()
    if args.tcp:
        logger.info("ragls serving on tcp %s:%d", args.host, args.port)
        server.start_tcp(args.host, args.port)
    else:
        logger.info("ragls serving on stdio")
        server.start_io(sys.stdin.buffer, protocol_stdout())
    return 0


def protocol_stdout() -> BinaryIO:
    """Keep fd 1 for the protocol alone: a private copy carries the messages and fd 1 itself
    is pointed at stderr, so stray prints (native libraries too) cannot corrupt the stream."""
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    return out
