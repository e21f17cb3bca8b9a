"""`ragls demo`: the main job on the bundled defaults, non-interactively.

Indexes a workspace (this repository by default), shows the graph, then a
completion with the cross-file context it used, a fix and generated
tests, all with the bundled local model. Nothing on disk is changed: the fix
and the tests work on an unsaved buffer, as the editor would send it.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import ragls

# The fix and the tests work on ragls's own line_count (an unsaved buffer of this file).
DEMO_FILE = "src/ragls/indexing/records.py"
DEMO_FUNCTION = "def line_count("
DEMO_BUG = 'return text.count("\\n") + (1 if text and not text.endswith("\\n") else 0)'


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="index a workspace and show completion, fix and test generation")
    p.add_argument("--workspace", help="workspace to use (default: this repository)")
    p.add_argument("--model", help="GGUF path or model name (default: the bundled Qwen2.5-Coder code model)")
    p.add_argument("--max-tokens", type=int, default=48)
    p.set_defaults(func=run)


def default_workspace() -> Path:
    """This repository when running from a checkout, else the current directory."""
    here = Path(ragls.__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").is_file() and (parent / "src" / "ragls").is_dir():
            return parent
    return Path.cwd()


def _say(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 70 - len(title)), flush=True)


def pick_completion_spot(index) -> tuple[str, int, int] | None:
    """A line in a Python file that calls something imported from another workspace file."""
    files = sorted(index.files(), key=lambda p: (not p.startswith("src/"), p))  # the product code first
    for path in files:
        if not path.endswith(".py") or "/tests/" in f"/{path}" or path.startswith("bench/"):
            continue
        imported: set[str] = set()
        for imp in index.imports_of(path):
            if imp.targets:
                imported.update(n for n in imp.names if n != "*")
        if not imported:
            continue
        text = index.read_text(path) or ""
        lines = text.split("\n")
        for i, line in enumerate(lines[20:], start=21):
            stripped = line.strip()
            m = re.match(r"(?:\w+\s*=\s*)?(\w+)\(", stripped)
            if m and m.group(1) in imported and not stripped.startswith(("def ", "class ", "#")):
                return path, i, len(line) - len(line.lstrip()) + 1
    return None


def run(args: argparse.Namespace) -> int:
    from ragls.engine.session import open_session
    from ragls.models.backend import ModelConfig
    from ragls.retrieval.types import CursorQuery

    root = Path(args.workspace).resolve() if args.workspace else default_workspace()
    _say(f"ragls {ragls.__version__} demo on {root}")
    session = open_session(root, model_config=ModelConfig(model=args.model, max_tokens=args.max_tokens))
    try:
        index = session.index
        _say("1. Index (tree-sitter graph, SQLite; warm runs re-parse only changed files)")
        t = time.perf_counter()
        stats = index.update()
        print(
            f"files {stats.files}  symbols {stats.symbols}  edges {stats.edges}  chunks {stats.chunks}  "
            f"skipped {stats.skipped}  re-parsed {stats.reindexed}  in {time.perf_counter() - t:.2f}s"
        )
        print(f"index stored in {index.index_dir}")

        spot = pick_completion_spot(index)
        if spot is None:
            print("no cross-file call site found in this workspace; nothing more to show")
            return 0
        path, line, col = spot
        _say(f"2. Dependency graph around {path}")
        for imp in index.imports_of(path)[:8]:
            target = ", ".join(imp.targets) if imp.targets else "(external)"
            print(f"  imports {imp.module:<32} -> {target}")
        for importer in index.importers_of(path)[:5]:
            print(f"  imported by {importer}")

        _say(f"3. Inline completion at {path}:{line}:{col}")
        text = index.read_text(path) or ""
        lines = text.split("\n")
        print("  cursor line: " + lines[line - 1].strip())
        buffer = "\n".join([*lines[: line - 1], lines[line - 1][: col - 1]])  # the buffer up to the cursor
        label = args.model or "the default code model (Qwen2.5-Coder, assembled once from its PyPI parts)"
        print(f"  loading model {label} ...", flush=True)
        result = session.completion_engine().complete(CursorQuery(path, line, col, buffer))
        print("  context used (why each snippet was chosen):" + ("" if result.context else " none"))
        for s in result.context:
            print(
                f"    {s.path}:{s.start_line}-{s.end_line}  score {s.score:.3f}  via {', '.join(s.sources)}"
            )
        print("  completion:")
        for out_line in (result.completion or "(empty)").split("\n"):
            print("    | " + out_line)
        timing = "  ".join(f"{k} {v:.0f}" for k, v in result.timings.items())
        print(f"  {timing}  (model {result.model})")
        if result.ungrounded:
            print(f"  ungrounded names (exist nowhere in the workspace): {', '.join(result.ungrounded)}")

        _say("4. Fix with ragls: a bug injected into an unsaved buffer, patches run against the tests")
        fix_path = DEMO_FILE
        original = index.read_text(fix_path)
        if original and DEMO_BUG in original and DEMO_FUNCTION in original:
            from ragls.engine.verify_config import VerifyConfig

            broken = original.replace(DEMO_BUG, DEMO_BUG.replace('count("\\n")', 'count("\\n"'))
            bug_line = broken.split("\n").index(next(x for x in broken.split("\n") if 'count("\\n"' in x)) + 1
            print("  bug: " + broken.split("\n")[bug_line - 1].strip())
            # the demo runs the tests that reference line_count, not the other tests of their files
            fixer = session.verified_fixer(VerifyConfig(trusted=True, fix_other_tests_s=0))
            report = fixer.fix(fix_path, broken, bug_line, bug_line, "SyntaxError: '(' was never closed",
                               progress=lambda what: print(f"  .. {what}", flush=True))
            verdict = report.title if report.verified else f"no fix offered: {report.reason}"
            print(f"  {verdict} (candidates {report.candidates}, repair rounds {report.rounds}, "
                  f"{report.seconds:.0f} s)")
            if report.diff:
                print("  the patch" + ("" if report.verified else " that came closest (not offered)") + ":")
                for out_line in report.diff.split("\n")[3:]:
                    if out_line.startswith(("-", "+")):
                        print("    " + out_line)
            target_buffer = original
        else:
            print("  (demo fix needs this repository as the workspace; skipped)")
            target_buffer = None

        _say("5. Generate unit tests, run them in a sandbox, keep what passes (shown, not written)")
        if target_buffer:
            def_line = next(
                i for i, x in enumerate(target_buffer.split("\n"), 1) if x.startswith(DEMO_FUNCTION)
            )
            config = VerifyConfig(trusted=True, test_candidates=1, test_repair_rounds=1)
            test = session.verified_tests(config).generate(fix_path, target_buffer, def_line)
            print(f"  {test.framework} tests for {test.symbol} -> {test.test_file}: {test.passed} passed "
                  f"and kept of {test.generated} generated, coverage {test.coverage}")
            if not test.verified:
                print(f"  nothing offered: {test.reason}")
            for out_line in test.code.strip("\n").split("\n")[:30] if test.verified else []:
                print("    | " + out_line)
        print("\nDone. Start the server with: .venv/bin/ragls serve  (see README for editor set-up)")
        return 0
    finally:
        session.close()
        sys.stdout.flush()
