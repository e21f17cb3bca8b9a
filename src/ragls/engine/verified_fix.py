"""Fixes with execution feedback: best-of-N patches, each run against the tests that cover it.

For a diagnostic, an instruction or a failing test: sample `fix_candidates` patches (one model
call each, rising temperature), keep those that parse, add no new diagnostics of their own
(Python: compiles, calls nothing that exists nowhere) and stay a fix; run the tests that
exercise the changed code (found through the dependency graph: referencing functions first,
then the rest of their files) in a Sandbox; repair the best failing candidate with the failure
output; keep the candidate passing the most tests, the smallest diff on ties, and run its
tests once more before calling it verified.
"""

from __future__ import annotations

import difflib
import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ragls.cancel import NEVER, CancelToken
from ragls.engine import pytest_file
from ragls.engine.bracket_repair import closing_candidates
from ragls.engine.fix import FixEngine, FixPlan, FixProposal
from ragls.engine.grounding import ungrounded_names
from ragls.engine.runners import run_pytest
from ragls.engine.sandbox import Sandbox
from ragls.engine.test_selection import SelectedTests, is_test_file, select_tests
from ragls.engine.verify_config import Progress, VerifyConfig, no_progress
from ragls.errors import WorkspaceError
from ragls.indexing.parser import parse_source

if TYPE_CHECKING:
    from ragls.indexing.workspace import WorkspaceIndex

logger = logging.getLogger(__name__)


@dataclass
class FixReport:
    """What `ragls fix` prints and the code action offers."""

    path: str
    diff: str = ""
    verified: bool = False
    tests_run: int = 0
    tests_passed: int = 0
    candidates: int = 0
    rounds: int = 0
    proposal: FixProposal | None = None
    title: str = ""
    reason: str = ""
    failing_test: str | None = None
    seconds: float = 0.0
    tests_not_run: int = 0  # other tests of the covering files left for the time limit

    @property
    def offerable(self) -> bool:
        return self.proposal is not None and bool(self.proposal.edits)

    def to_json(self) -> dict[str, Any]:
        return {
            "diff": self.diff,
            "verified": self.verified,
            "tests_run": self.tests_run,
            "tests_passed": self.tests_passed,
            "tests_not_run": self.tests_not_run,
            "candidates": self.candidates,
            "rounds": self.rounds,
        }


@dataclass
class _Scored:
    proposal: FixProposal
    run: int = 0
    passed: int = 0
    not_run: int = 0  # other tests left for the time limit
    failure: str = ""
    size: int = 0  # changed lines
    notes: list[str] = field(default_factory=list)

    @property
    def all_pass(self) -> bool:
        return self.run > 0 and self.passed == self.run

    def key(self) -> tuple[int, int, int]:
        return (self.passed, int(self.all_pass), -self.size)


def unified_diff(path: str, old: str, new: str) -> str:
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{path}", f"b/{path}"
        )
    )


def _changed_lines(p: FixProposal) -> int:
    return sum(max(1, e.end_line - e.start_line + 1) + e.new_text.count("\n") for e in p.edits)


class VerifiedFixer:
    def __init__(self, index: WorkspaceIndex, engine: FixEngine, config: VerifyConfig) -> None:
        self.index = index
        self.engine = engine
        self.config = config

    # -- entry points ------------------------------------------------------------------------------
    def fix(
        self,
        path: str,
        buffer: str,
        start_line: int,
        end_line: int,
        diagnostic: str | None = None,
        *,
        overlays: dict[str, str] | None = None,
        cancel: CancelToken = NEVER,
        progress: Progress = no_progress,
        must_pass: tuple[str, str] | None = None,
    ) -> FixReport:
        """A fix of the region around start_line..end_line, verified by the tests that cover it."""
        self.config.require_trusted()
        started = time.monotonic()
        progress("preparing the fix")
        plan = self.engine.prepare(path, buffer, start_line, end_line, diagnostic, cancel)
        report = FixReport(path)
        if plan.max_tokens is None:
            report.reason = "the code is too long for the model's context window"
            return report
        symbols = self._region_symbols(plan)
        selection = select_tests(self.index, path, symbols, [must_pass[0]] if must_pass else None)
        if must_pass:  # the failing test itself runs first
            for sel in selection:
                if sel.file == must_pass[0]:
                    sel.first = [must_pass[1], *(n for n in sel.first if n != must_pass[1])]
                    sel.rest = [n for n in sel.rest if n != must_pass[1]]
        with self.config.sandbox(self.index.root, {**(overlays or {}), path: buffer}) as box:
            best = self._search(plan, box, selection, report, cancel, progress)
            if best is not None and best.all_pass:
                progress(f"re-running {best.run} tests")
                again = self._evaluate(plan, box, selection, best.proposal)
                if not again.all_pass:
                    best.notes.append("flaky: the tests did not pass again")
                    best.passed = min(best.passed, again.passed)
        report.seconds = round(time.monotonic() - started, 2)
        return self._conclude(report, buffer, best)

    def fix_failing_test(
        self,
        test_path: str,
        test_buffer: str,
        line: int,
        *,
        overlays: dict[str, str] | None = None,
        cancel: CancelToken = NEVER,
        progress: Progress = no_progress,
    ) -> FixReport:
        """'Fix so that test_x passes': run the test at `line`, then fix the code it calls."""
        self.config.require_trusted()
        funcs = pytest_file.test_functions(test_buffer) or []
        test = next((f for f in funcs if f.start <= line <= f.end), None)
        if test is None:
            raise WorkspaceError(f"no test function at {test_path}:{line}")
        progress(f"running {test.name}")
        with self.config.sandbox(self.index.root, {**(overlays or {}), test_path: test_buffer}) as box:
            run = run_pytest(box, test_path, [test.name], command=self.config.test_command)
        outcome = run.outcomes.get(test.name)
        if outcome is not None and outcome.passed:
            return FixReport(test_path, reason=f"{test.name} already passes", failing_test=test.name)
        target = self._target_of(test_path, test_buffer, test)
        if target is None:
            return FixReport(
                test_path,
                reason=f"cannot tell which workspace code {test.name} tests",
                failing_test=test.name,
            )
        failure = (
            pytest_file.trim_failure(outcome.message, outcome.details) if outcome else run.output[-1200:]
        )
        code = self.index.read_text(target.path) or ""
        report = self.fix(
            target.path,
            code,
            target.start_line,
            target.end_line,
            f"The test {test.name} fails:\n{failure}",
            overlays={**(overlays or {}), test_path: test_buffer},
            cancel=cancel,
            progress=progress,
            must_pass=(test_path, test.name),
        )
        report.failing_test = test.name
        if report.verified:
            report.title = (f"Fix so that {test.name} passes ({report.tests_passed}/{report.tests_run}"
                            f"{self._not_run_note(report.tests_not_run)})")
        return report

    # -- internals ---------------------------------------------------------------------------------
    def _target_of(self, test_path: str, text: str, test: pytest_file.TestFunction) -> Any:
        body = "\n".join(text.split("\n")[test.start - 1 : test.end])
        called = re.findall(r"\b([A-Za-z_]\w*)\s*\(", body)
        names = re.findall(r"\b([A-Za-z_]\w*)\b", body)  # then anything else it names (check(f))
        for name in dict.fromkeys([*called, *names]):
            for row in self.index.resolve_name(test_path, name):
                if not is_test_file(row.path) and row.kind in ("function", "method", "class"):
                    return row
        return None

    def _region_symbols(self, plan: FixPlan) -> set[str]:
        parsed = parse_source(plan.path, plan.buffer.encode("utf-8", "surrogatepass"))
        names = {
            d.name
            for d in parsed.definitions
            if d.kind != "package" and d.start_line <= plan.last and d.end_line >= plan.first
        }
        return names

    def _search(
        self,
        plan: FixPlan,
        box: Sandbox,
        selection: list[SelectedTests],
        report: FixReport,
        cancel: CancelToken,
        progress: Progress,
    ) -> _Scored | None:
        cfg = self.config
        scored: list[_Scored] = []
        seen: set[str] = set()
        reasons: list[str] = []
        for proposal in self._proposals(plan, cancel, progress):
            report.candidates += 1
            s = self._consider(plan, box, selection, proposal, seen, reasons, progress)
            if s is not None:
                scored.append(s)
                if s.all_pass and cfg.fix_stop_at_first_pass:
                    break
        best = max(scored, key=_Scored.key) if scored else None
        for rnd in range(cfg.fix_repair_rounds):
            if best is None or best.all_pass or best.run == 0:
                break
            cancel.raise_if_cancelled()
            progress(f"repairing the best candidate (round {rnd + 1})")
            report.rounds += 1
            messages = self.engine.repair_messages(plan, best.proposal, best.failure)
            proposal = self.engine.candidate(plan, 0.2, cancel, messages=messages)
            s = self._consider(plan, box, selection, proposal, seen, reasons, progress)
            if s is not None and s.key() > best.key():
                best = s
        if best is None:
            report.reason = reasons[-1] if reasons else "the model proposed no change"
        return best

    def _proposals(self, plan: FixPlan, cancel: CancelToken, progress: Progress) -> Iterator[FixProposal]:
        """Bracket closings first (no model needed, for a line whose bracket is never closed), then
        the model's candidates at rising temperatures."""
        python = plan.path.endswith(".py")
        closings = closing_candidates(plan.old_region) if plan.syntax_errors and python else []
        for i, region in enumerate(closings):
            cancel.raise_if_cancelled()
            progress(f"trying bracket closing {i + 1}/{len(closings)}")
            yield self.engine.patch(plan, "\n".join(region))
        for i in range(max(1, self.config.fix_candidates)):
            cancel.raise_if_cancelled()
            progress(f"generating candidate {i + 1}/{self.config.fix_candidates}")
            yield self.engine.candidate(plan, 0.2 + 0.3 * i, cancel)

    def _consider(
        self,
        plan: FixPlan,
        box: Sandbox,
        selection: list[SelectedTests],
        proposal: FixProposal,
        seen: set[str],
        reasons: list[str],
        progress: Progress,
    ) -> _Scored | None:
        if not proposal.parses:
            logger.info("fix candidate rejected: %s", proposal.reason)
            reasons.append(proposal.reason)
            return None
        if proposal.new_text in seen:
            return None
        seen.add(proposal.new_text)
        problem = self._new_diagnostics(plan, proposal)
        if problem:
            logger.info("fix candidate rejected: %s", problem)
            reasons.append(problem)
            return None
        # the other tests may be cut by their time limit: the report counts what ran
        total = sum(len(s.first) + (len(s.rest) if self.config.fix_other_tests_s else 0) for s in selection)
        if total:
            progress(f"running {total} tests")
        return self._evaluate(plan, box, selection, proposal)

    def _new_diagnostics(self, plan: FixPlan, proposal: FixProposal) -> str | None:
        """A problem the patch itself introduces (None when it adds none)."""
        if not plan.path.endswith(".py"):
            return None
        try:
            compile(proposal.new_text, plan.path, "exec")
        except SyntaxError as exc:
            try:
                compile(plan.buffer, plan.path, "exec")
            except SyntaxError:
                return None  # the file did not compile before either
            return f"the patch does not compile: {exc.msg} (line {exc.lineno})"
        region = "".join(e.new_text for e in proposal.edits)
        invented = ungrounded_names(
            region, language="python", path=plan.path, buffer=plan.buffer, index=self.index
        )
        if invented:
            return f"the patch calls names that exist nowhere: {', '.join(invented)}"
        return None

    def _evaluate(
        self, plan: FixPlan, box: Sandbox, selection: list[SelectedTests], proposal: FixProposal
    ) -> _Scored:
        box.write(plan.path, proposal.new_text)
        scored = _Scored(proposal, size=_changed_lines(proposal))
        failures: list[str] = []
        rest_started: float | None = None
        for stage in ("first", "rest"):
            for sel in selection:
                names = sel.first if stage == "first" else sel.rest
                if not names:
                    continue
                if stage == "rest":  # a file of other tests starts only within the time limit
                    rest_started = rest_started or time.monotonic()
                    if time.monotonic() - rest_started > self.config.fix_other_tests_s:
                        scored.not_run += len(names)
                        continue
                run = run_pytest(box, sel.file, names, command=self.config.test_command)
                ok = run.passed(names)
                scored.run += len(names)
                scored.passed += len(ok)
                for n in names:
                    o = run.outcomes.get(n)
                    if n not in ok:
                        text = pytest_file.trim_failure(o.message, o.details) if o else run.output[-800:]
                        failures.append(f"{sel.file}::{n}: {text}")
            if failures:
                break  # the rest of the files runs only once the referencing tests pass
        box.write(plan.path, plan.buffer)
        scored.failure = "\n\n".join(failures)[-2000:]
        return scored

    def _not_run_note(self, not_run: int) -> str:
        if not not_run:
            return ""
        return f"; {not_run} other tests not run: {self.config.fix_other_tests_s:g} s limit"

    def _conclude(self, report: FixReport, buffer: str, best: _Scored | None) -> FixReport:
        if best is None:
            return report
        report.proposal = best.proposal
        report.tests_run, report.tests_passed = best.run, best.passed
        report.tests_not_run = best.not_run
        left = self._not_run_note(best.not_run)
        report.diff = unified_diff(report.path, buffer, best.proposal.new_text)
        report.verified = best.all_pass and not best.notes
        if report.verified:
            report.title = f"Fix: tests pass ({best.passed}/{best.run}{left})"
            report.reason = "the tests that exercise the changed code pass" + left
        elif best.run == 0:
            report.title = "Fix (unverified: no test covers this)"
            report.reason = "no test covers this code"
        else:
            report.title = f"Fix (unverified: tests pass {best.passed}/{best.run}{left})"
            report.reason = (
                "; ".join(best.notes) or f"only {best.passed} of {best.run} tests pass with the best patch"
            )
        return report
