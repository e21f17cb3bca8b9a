"""`ragls tests` and `ragls fix`: generated tests and fixes, run in a sandbox before they are offered.

The CLI trusts the workspace it is pointed at (the user chose to run ragls on it). Both print
one JSON object with --json (the contract other tools read; see README) and write files only
with --write, and then only what was verified (`ragls fix --unverified` overrides that).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workspace", default=".", help="workspace root (default: current directory)")
    p.add_argument("--file", required=True, help="file, relative to the workspace or absolute")
    p.add_argument("--write", action="store_true", help="write the result (only a verified one)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--model", help="GGUF path or name of a discovered model")
    p.add_argument("--endpoint", help="OpenAI-compatible server URL (remote model instead of local)")
    p.add_argument("--remote-model", help="model name to ask the endpoint for")
    p.add_argument("--api-key-env", help="environment variable holding the endpoint's API key")
    p.add_argument("--candidates", type=int, help="best-of-N candidates")
    p.add_argument("--rounds", type=int, help="repair rounds")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per test run (wall clock)")
    p.add_argument("--test-command", help="runner prefix instead of `python -m pytest`")
    p.add_argument("--max-tokens", type=int, default=64, help=argparse.SUPPRESS)


def register(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser("tests", help="generate unit tests for a symbol and keep only those that pass")
    _common(t)
    t.add_argument("--symbol", required=True, help="function, method or class name (Class.method works)")
    t.set_defaults(func=run_tests)
    f = sub.add_parser("fix", help="fix the code at a line and verify the fix with the tests that cover it")
    _common(f)
    f.add_argument("--line", type=int, required=True, help="1-based line (in a test: fix so that it passes)")
    f.add_argument("--instruction", help="what to change, instead of 'find and fix the bug'")
    f.add_argument("--unverified", action="store_true", help="with --write: write an unverified fix too")
    f.set_defaults(func=run_fix)


def _config(args: argparse.Namespace, *, tests: bool):  # -> VerifyConfig
    from dataclasses import replace

    from ragls.engine.sandbox import Limits
    from ragls.engine.verify_config import VerifyConfig

    cfg = VerifyConfig(
        trusted=True,
        test_command=args.test_command,
        secret_env=(args.api_key_env,) if args.api_key_env else (),
        limits=Limits(timeout_s=args.timeout),
        allow_unverified_fixes=True,
    )
    if tests:
        if args.candidates is not None:
            cfg = replace(cfg, test_candidates=args.candidates)
        if args.rounds is not None:
            cfg = replace(cfg, test_repair_rounds=args.rounds)
    else:
        if args.candidates is not None:
            cfg = replace(cfg, fix_candidates=args.candidates)
        if args.rounds is not None:
            cfg = replace(cfg, fix_repair_rounds=args.rounds)
    return cfg


def _session(args: argparse.Namespace):  # -> (Session, root, rel path, text)
    from ragls.cli.complete_cmd import model_config_from_args
    from ragls.engine.session import open_session
    from ragls.errors import WorkspaceError
    from ragls.retrieval.cursor import normalize_path

    root = Path(args.workspace).resolve()
    if not root.is_dir():
        raise WorkspaceError(f"no such workspace: {args.workspace}")
    rel = normalize_path(root, args.file)
    target = root / rel
    if not target.is_file():
        raise WorkspaceError(f"no such file: {args.file}")
    session = open_session(root, model_config=model_config_from_args(args))
    session.index.update()
    return session, root, rel, target.read_text(encoding="utf-8", errors="replace")


def _progress(args: argparse.Namespace):
    def report(message: str) -> None:
        print(f"ragls: {message}", file=sys.stderr, flush=True)

    return report if not args.json or sys.stderr.isatty() else (lambda message: None)


def _find_symbol_line(session, rel: str, text: str, name: str) -> int:
    from ragls.errors import WorkspaceError
    from ragls.indexing.parser import parse_source

    parsed = parse_source(rel, text.encode("utf-8", "surrogatepass"))
    for d in parsed.definitions:
        if name in (d.qualname, d.name) and d.kind != "package":
            return d.start_line
    raise WorkspaceError(f"no symbol {name} in {rel}")


def run_tests(args: argparse.Namespace) -> int:
    session, root, rel, text = _session(args)
    try:
        line = _find_symbol_line(session, rel, text, args.symbol)
        gen = session.verified_tests(_config(args, tests=True))
        report = gen.generate(rel, text, line, progress=_progress(args))
        if args.write and report.verified:
            target = root / report.test_file
            target.parent.mkdir(parents=True, exist_ok=True)
            old = target.read_text(encoding="utf-8") if target.is_file() else ""
            sep = "" if not old.strip() else ("\n\n" if old.endswith("\n") else "\n\n\n")
            target.write_text(old + sep + report.code, encoding="utf-8")
        if args.json:
            print(json.dumps(report.to_json()))
        else:
            print(report.code or f"# no tests offered: {report.reason}")
            print(
                f"# {report.passed} kept of {report.generated} generated, {report.rounds} repair rounds, "
                f"coverage {report.coverage}",
                file=sys.stderr,
            )
            for bug in report.possible_bugs:
                print(f"# possible bug: {bug}", file=sys.stderr)
        return 0 if report.verified else 1
    finally:
        session.close()


def run_fix(args: argparse.Namespace) -> int:
    from ragls.engine.test_selection import is_test_file

    session, root, rel, text = _session(args)
    try:
        fixer = session.verified_fixer(_config(args, tests=False))
        in_test = is_test_file(rel) and _test_at(text, args.line)
        if in_test and not args.instruction:
            report = fixer.fix_failing_test(rel, text, args.line, progress=_progress(args))
        else:
            report = fixer.fix(rel, text, args.line, args.line, args.instruction, progress=_progress(args))
        if args.write and report.offerable and (report.verified or args.unverified):
            assert report.proposal is not None
            (root / report.proposal.path).write_text(report.proposal.new_text, encoding="utf-8")
        if args.json:
            print(json.dumps(report.to_json()))
        else:
            print(report.diff or f"# no fix: {report.reason}")
            print(f"# {report.title or 'no fix'}: {report.reason}", file=sys.stderr)
        return 0 if report.verified else 1
    finally:
        session.close()


def _test_at(text: str, line: int) -> bool:
    from ragls.engine.pytest_file import test_functions

    return any(f.start <= line <= f.end for f in test_functions(text) or [])
