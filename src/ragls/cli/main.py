"""Entry point of the `ragls` command: one sub-command module per feature.

Each module under ragls.cli exposes ``register(subparsers)``, which adds its
sub-command(s) and sets ``func`` on the parser; heavy imports happen inside
the command functions so `ragls --help` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from ragls import __version__
from ragls.errors import RaglsError
from ragls.redact import install_log_redaction, redact

COMMAND_MODULES = (
    "ragls.cli.index_cmds",  # index, deps, symbols
    "ragls.cli.context_cmd",  # context
    "ragls.cli.complete_cmd",  # complete
    "ragls.cli.models_cmd",  # models
    "ragls.cli.serve_cmd",  # serve
    "ragls.cli.demo_cmd",  # demo
    "ragls.cli.doctor_cmd",  # doctor (editors' health checks)
    "ragls.cli.verify_cmds",  # tests, fix
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ragls", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"ragls {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more to stderr (-vv: debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a feature module not present in this build
            if exc.name != name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)]
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    install_log_redaction()  # URL credentials and API keys never reach a log line
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except RaglsError as exc:
        print(f"ragls: error: {redact(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ragls: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
