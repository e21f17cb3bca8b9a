"""Test generation with execution feedback: generate, run, repair, keep only what passes.

For one symbol: ask the model for a test file (one call per candidate or repair step, so a
completion can preempt the job between steps), run it in a Sandbox with the project's runner,
feed failures back up to `test_repair_rounds` times, sample another candidate when the first
fails, keep the test functions that pass and pass again (`stable_runs` in a row), drop those
that assert nothing about behaviour, report failing assertions as possible bugs, and measure
the target's line coverage. Nothing is offered when nothing passes.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ragls.cancel import NEVER, CancelToken
from ragls.engine import pytest_file
from ragls.engine.runners import TestRun, run_other, run_pytest
from ragls.engine.sandbox import Sandbox
from ragls.engine.testgen import TestGenerator, TestPlan
from ragls.engine.verify_config import Progress, VerifyConfig, no_progress

if TYPE_CHECKING:
    from ragls.indexing.workspace import WorkspaceIndex

logger = logging.getLogger(__name__)


@dataclass
class TestReport:
    """What `ragls tests` prints and the code action offers."""

    __test__ = False

    test_file: str
    code: str  # the new tests only (appended to an existing file when `append`)
    verified: bool
    generated: int = 0  # test functions the model wrote (all candidates and rounds)
    passed: int = 0  # kept: passed stable_runs times and assert behaviour
    repaired: int = 0  # kept tests that needed a repair round
    dropped: int = 0
    rounds: int = 0  # repair rounds run
    coverage: float | None = None  # line coverage of the target symbol by the kept tests
    possible_bugs: list[str] = field(default_factory=list)
    append: bool = False
    symbol: str = ""
    framework: str = ""
    reason: str = ""  # why nothing is offered
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "test_file": self.test_file,
            "code": self.code,
            "verified": self.verified,
            "generated": self.generated,
            "passed": self.passed,
            "repaired": self.repaired,
            "dropped": self.dropped,
            "rounds": self.rounds,
            "coverage": self.coverage,
            "possible_bugs": self.possible_bugs,
        }


@dataclass
class _Attempt:
    code: str
    run: TestRun
    names: list[str]  # behavioural test functions in code
    passing: list[str]
    round: int  # 0 = as generated


def _called_as(plan: TestPlan) -> set[str]:
    """The names a test of the plan's symbol refers to it by: a constructor or another dunder
    method is called through its class."""
    name = plan.symbol.name
    return {name, plan.target} if name.startswith("__") and name.endswith("__") else {name}


def _off_target(plan: TestPlan, code: str) -> bool:
    """Python tests that all leave the symbol alone (a copy of another test, most often)."""
    if plan.language != "python":
        return False
    funcs = pytest_file.test_functions(code, _called_as(plan))
    return bool(funcs) and not any(f.exercises for f in funcs)


def symbol_coverage(run: TestRun, start: int, end: int) -> float | None:
    if run.coverage is None:
        return None
    executed = {n for n in run.coverage["executed"] if start <= n <= end}
    missing = {n for n in run.coverage["missing"] if start <= n <= end}
    total = len(executed | missing)
    return round(len(executed) / total, 3) if total else None


class VerifiedTestGenerator:
    __test__ = False

    def __init__(self, index: WorkspaceIndex, generator: TestGenerator, config: VerifyConfig) -> None:
        self.index = index
        self.generator = generator
        self.config = config

    def generate(
        self,
        path: str,
        buffer: str,
        line: int,
        *,
        overlays: dict[str, str] | None = None,
        cancel: CancelToken = NEVER,
        progress: Progress = no_progress,
    ) -> TestReport:
        self.config.require_trusted()
        started = time.monotonic()
        progress("finding the symbol and its context")
        plan = self.generator.plan(path, buffer, line, cancel=cancel, max_tokens=self.config.test_max_tokens)
        report = TestReport(
            plan.test_path,
            "",
            False,
            append=plan.append,
            symbol=plan.symbol.qualname,
            framework=plan.framework,
        )
        if plan.max_tokens is None:
            report.reason = "the symbol is too long for the model's context window"
            return report
        files = {**(overlays or {}), path: buffer}
        with self.config.sandbox(self.index.root, files) as box:
            best = self._search(plan, box, report, cancel, progress)
            if best is not None:
                self._finish(plan, box, best, report, cancel, progress)
        report.seconds = round(time.monotonic() - started, 2)
        return report

    # -- the candidate / repair loop ------------------------------------------------------------
    def _search(
        self, plan: TestPlan, box: Sandbox, report: TestReport, cancel: CancelToken, progress: Progress
    ) -> _Attempt | None:
        cfg = self.config
        best: _Attempt | None = None
        for cand in range(max(1, cfg.test_candidates)):
            cancel.raise_if_cancelled()
            progress(f"generating test candidate {cand + 1}/{cfg.test_candidates}")
            code = self.generator.write(plan, temperature=0.2 + 0.4 * cand, cancel=cancel)
            for rnd in range(cfg.test_repair_rounds + 1):
                attempt = self._try(plan, box, code, rnd, report, progress) if code.strip() else None
                if attempt is not None and (best is None or len(attempt.passing) > len(best.passing)):
                    best = attempt
                off_target = attempt is not None and not attempt.names and _off_target(plan, attempt.code)
                failed = self._failure_text(plan, attempt, code, off_target)
                if not failed or rnd == cfg.test_repair_rounds:
                    break
                cancel.raise_if_cancelled()
                progress(f"repairing test candidate {cand + 1} (round {rnd + 1})")
                report.rounds += 1
                code = self.generator.repair(plan, code, failed, temperature=0.2, cancel=cancel,
                                             off_target=off_target)
            if best is not None and best.passing and len(best.passing) == len(best.names):
                break  # everything passed: no more candidates needed
        return best

    def _try(
        self, plan: TestPlan, box: Sandbox, code: str, rnd: int, report: TestReport, progress: Progress
    ) -> _Attempt | None:
        if plan.language == "python":
            existing = {f.name for f in pytest_file.test_functions(plan.existing) or []}
            code = pytest_file.complete_part(code) or code  # a reply cut off keeps its finished tests
            code = pytest_file.rename_clashes(code, existing)
            written = pytest_file.test_functions(code)
            if written is None:
                return _Attempt(code, TestRun(), [], [], rnd)  # does not parse: repair sees it
            report.generated += len(written)
            code = pytest_file.tidy(code)  # a repeated test or an unused import is never offered
            funcs = pytest_file.test_functions(code, _called_as(plan)) or []
            names = [f.name for f in funcs if f.asserts and f.exercises]
            if not names:
                return _Attempt(code, TestRun(), [], [], rnd)
            box.write(plan.test_path, self._joined(plan, code))
            progress(f"running {len(names)} tests")
            run = run_pytest(box, plan.test_path, names, command=self.config.test_command)
        else:
            names = [plan.symbol.name]
            report.generated += 1
            box.write(plan.test_path, self._joined(plan, code))
            progress("running the tests")
            run = run_other(box, plan.language, plan.framework, plan.test_path, names)
        return _Attempt(code, run, names, run.passed(names), rnd)

    @staticmethod
    def _joined(plan: TestPlan, code: str) -> str:
        if not plan.existing.strip():
            return code
        return plan.existing.rstrip("\n") + "\n\n\n" + code.lstrip("\n")

    @staticmethod
    def _failure_text(plan: TestPlan, attempt: _Attempt | None, code: str, off_target: bool) -> str:
        """Trimmed failure output for a repair prompt ("" when nothing failed)."""
        if attempt is None:
            return "The reply contained no test code." if not code.strip() else ""
        if not attempt.names:
            if pytest_file.test_functions(attempt.code) is None:
                return "The test file is not valid Python (SyntaxError)."
            if off_target:
                return (f"No test calls `{plan.symbol.name}`: the tests must test it, not other code."
                        " Call it with concrete inputs and assert the exact expected results.")
            return "No test function asserts anything about the result; assert exact expected values."
        failed = [attempt.run.outcomes.get(n) for n in attempt.names if n not in attempt.passing]
        if not failed:
            return ""
        parts = [f"{o.name}: {pytest_file.trim_failure(o.message, o.details)}" for o in failed if o]
        if not parts or len(parts) < len(failed):  # collection failed: no per-test verdicts
            parts.append("\n".join(attempt.run.output.strip().split("\n")[-20:]))
        return "\n\n".join(parts)[-2000:]

    # -- keeping what is stable -------------------------------------------------------------------
    def _finish(
        self,
        plan: TestPlan,
        box: Sandbox,
        best: _Attempt,
        report: TestReport,
        cancel: CancelToken,
        progress: Progress,
    ) -> None:
        keep = list(best.passing)
        failing = [n for n in best.names if n not in best.passing]
        for name in failing:
            outcome = best.run.outcomes.get(name)
            bug = (
                pytest_file.possible_bug(name, outcome.message)
                if outcome and outcome.status == "failed"
                else None
            )
            if bug:
                report.possible_bugs.append(bug)
        code = best.code
        if plan.language == "python" and keep:
            funcs = pytest_file.test_functions(code) or []
            code = pytest_file.drop_functions(code, {f.name for f in funcs} - set(keep))
            if self.config.stable_runs > 1:  # what only the dropped tests used goes; the reruns run it
                code = pytest_file.drop_unused_imports(code)
        last: TestRun | None = None
        for i in range(1, self.config.stable_runs):
            if not keep:
                break
            cancel.raise_if_cancelled()
            progress(f"re-running {len(keep)} tests ({i + 1}/{self.config.stable_runs})")
            box.write(plan.test_path, self._joined(plan, code))
            if plan.language == "python":
                cover = plan.path if i == self.config.stable_runs - 1 else None
                last = run_pytest(
                    box, plan.test_path, keep, coverage_of=cover, command=self.config.test_command
                )
            else:
                last = run_other(box, plan.language, plan.framework, plan.test_path, keep)
            flaky = [n for n in keep if n not in last.passed(keep)]
            if flaky and plan.language == "python":
                logger.info("dropping flaky tests: %s", flaky)
                code = pytest_file.drop_functions(code, set(flaky))
            keep = [n for n in keep if n not in flaky]
        report.passed = len(keep)
        report.dropped = max(0, report.generated - len(keep))
        report.repaired = len(keep) if best.round > 0 else 0
        if not keep:
            report.reason = "no generated test passed" + (
                f"; possible bugs: {'; '.join(report.possible_bugs)}" if report.possible_bugs else ""
            )
            return
        report.code = code
        report.verified = True
        if last is not None:
            report.coverage = symbol_coverage(last, plan.symbol.start_line, plan.symbol.end_line)
