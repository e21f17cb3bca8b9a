"""`ragls serve`: the language server over stdio (default) or TCP.

stdout carries the protocol only. The log goes to a file (--log-file, default under the cache
directory) and to the client as window/logMessage; stderr gets warnings and errors only, since
editors show a server's stderr as errors (Neovim files every line under [ERROR] in :LspLog).
"""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import os
import sys
from pathlib import Path
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
    parser.add_argument(
        "--log-file", help="write the log to this file (default: <cache dir>/logs/serve.log; '' for none)"
    )
    parser.add_argument("--log-level", choices=LEVELS, default=None, help="log level (default info)")
    parser.set_defaults(func=run)


LOG_BYTES = 5_000_000  # per file; two older files are kept


def default_log_file() -> Path:
    """`<cache>/logs/serve.log`, the cache being $RAGLS_CACHE_DIR or the user cache directory."""
    env = os.environ.get("RAGLS_CACHE_DIR")
    if env:
        return Path(env).expanduser() / "logs" / "serve.log"
    import platformdirs

    return Path(platformdirs.user_cache_dir("ragls")) / "logs" / "serve.log"


def _file_handler(log_file: str) -> logging.Handler | None:
    try:
        Path(log_file).expanduser().parent.mkdir(parents=True, exist_ok=True)
        return logging.handlers.RotatingFileHandler(
            Path(log_file).expanduser(), maxBytes=LOG_BYTES, backupCount=2, encoding="utf-8"
        )
    except OSError as exc:
        print(f"ragls: cannot write the log file {log_file}: {exc}", file=sys.stderr)
        return None


def configure_logging(level: str, log_file: str | None) -> None:
    """Warnings and errors to stderr, everything at `level` to the log file; pygls' per-message
    chatter only at debug level."""
    root = logging.getLogger()
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setLevel(logging.WARNING)
    handlers: list[logging.Handler] = [stderr]
    if log_file and (file_handler := _file_handler(log_file)) is not None:
        handlers.append(file_handler)
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
    log_file = str(default_log_file()) if args.log_file is None else args.log_file
    configure_logging(level, log_file)
    from ragls.server import client_log
    from ragls.server.app import build_server

    server = build_server()
    client_log.attach(server)
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
