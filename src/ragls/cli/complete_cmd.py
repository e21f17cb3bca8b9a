"""`ragls complete`: a completion at a cursor, with the cross-file context it used."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("complete", help="complete code at a cursor with repository context")
    p.add_argument("--workspace", default=".", help="workspace root (default: current directory)")
    p.add_argument("--file", help="file to complete in, relative to the workspace or absolute")
    p.add_argument("--line", type=int, help="1-based line of the cursor")
    p.add_argument("--col", type=int, help="1-based column of the cursor")
    p.add_argument("--stdin", action="store_true", help="read the buffer text from standard input")
    p.add_argument(
        "--model",
        help="GGUF path, bundled model name (qwen2.5-coder-0.5b, qwen2.5-coder-1.5b, smollm2) or a "
        "discovered model (default: the largest installed code model fast enough here)",
    )
    p.add_argument("--endpoint", help="OpenAI-compatible server URL (remote model instead of local)")
    p.add_argument("--remote-model", help="model name to ask the endpoint for")
    p.add_argument("--api-key-env", help="environment variable holding the endpoint's API key")
    p.add_argument("--no-context", action="store_true", help="skip retrieval (for A/B measurements)")
    p.add_argument("--max-tokens", type=int, default=None, help="tokens to generate (default: settings, 64)")
    p.add_argument("--budget", type=int, default=None, help="context budget in model tokens (default 1024)")
    p.add_argument("--batch", help="JSONL file of {file, line, col, text?}; one JSON result per line")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def model_config_from_args(args: argparse.Namespace, base: Any = None):  # -> ModelConfig
    """The model the flags choose, on top of `base` (the settings' model) where they say nothing."""
    from dataclasses import replace

    from ragls.models.backend import ModelConfig

    config = base or ModelConfig()
    if args.endpoint:
        config = replace(
            config,
            source="remote",
            model=None,
            endpoint=args.endpoint,
            remote_model=args.remote_model,
            api_key_env=args.api_key_env,
        )
    elif args.model:
        config = replace(config, source="local", model=args.model)
    if args.max_tokens is not None:
        config = replace(config, max_tokens=args.max_tokens)
    return config


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from ragls.cli.workspace_settings import session_kwargs
    from ragls.engine.session import open_session
    from ragls.errors import ConfigError, WorkspaceError
    from ragls.retrieval.cursor import normalize_path
    from ragls.retrieval.types import CursorQuery

    root = Path(args.workspace).resolve()
    if not root.is_dir():
        raise WorkspaceError(f"no such workspace: {args.workspace}")
    if not args.batch and (args.file is None or args.line is None or args.col is None):
        raise ConfigError("complete needs --file, --line and --col (or --batch)")
    configs = session_kwargs(root)  # user file and project file, flags on top
    configs["model_config"] = model_config_from_args(args, configs["model_config"])
    if args.budget is not None:
        configs["retrieval_config"] = replace(configs["retrieval_config"], budget_tokens=args.budget)
    session = open_session(root, **configs)
    try:
        if session.index.is_empty():
            session.index.update()
        session.enable_dense()
        engine = session.completion_engine()

        def one(query: CursorQuery) -> dict[str, Any]:
            query.path = normalize_path(root, query.path)
            return engine.complete(query, no_context=args.no_context).to_json()

        if args.batch:
            from ragls.cli.batch import run_batch

            return run_batch(args.batch, one, sys.stdout)
        text = sys.stdin.read() if args.stdin else None
        result = one(CursorQuery(args.file, args.line, args.col, text))
        if args.json:
            print(json.dumps(result))
        else:
            print(result["completion"])
            if result["ungrounded"]:
                print(f"# ungrounded: {', '.join(result['ungrounded'])}", file=sys.stderr)
        return 0
    finally:
        session.close()
