"""Verified tests and fixes on known inputs: a scripted OpenAI-compatible server over real HTTP
sends the model's replies, ragls runs them in the sandbox, and the verdicts are checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from scripted_openai import ScriptedServer, scripted_server

from ragls.engine.session import Session, open_session
from ragls.engine.verify_config import VerifyConfig
from ragls.errors import ConfigError
from ragls.models.backend import ModelConfig

CALC = """def add(a, b):
    return a + b


def scale(x, k):
    if k < 0:
        raise ValueError("k must be >= 0")
    return x * k
"""
TESTS = """from calc import add, scale


def test_add():
    assert add(2, 3) == 5


def test_scale():
    assert scale(2, 3) == 6
"""
TRUSTED = VerifyConfig(
    trusted=True, test_candidates=2, test_repair_rounds=2, fix_candidates=3, fix_repair_rounds=1
)


def fence(code: str) -> str:
    return f"Here you go:\n```python\n{code}```\n"


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with scripted_server() as s:
        yield s


def _session(root: Path, server: ScriptedServer) -> Session:
    session = open_session(root, model_config=ModelConfig(source="remote", endpoint=server.url))
    session.index.update()
    return session


def _tests_from(server: ScriptedServer, root: Path, replies: list[str]):
    """Verified tests of calc.add, the model's replies scripted."""
    server.script(*replies)
    session = _session(root, server)
    try:
        return session.verified_tests(TRUSTED).generate("calc.py", CALC, 2)
    finally:
        session.close()


@pytest.fixture
def calc_ws(write_workspace) -> Path:
    return write_workspace({"calc.py": CALC})


# -- test generation ---------------------------------------------------------------------------------

FIRST = """from calc import add


def test_ok():
    assert add(1, 2) == 3


def test_wrong():
    assert add(2, 2) == 5


def test_exists():
    assert callable(add)
"""
REPAIRED = """from calc import add
import os
import pathlib


def test_ok():
    assert add(1, 2) == 3


def test_wrong():
    assert add(2, 2) == 4


def test_flaky():
    counter = pathlib.Path(os.environ["HOME"]) / "runs"
    n = int(counter.read_text()) if counter.exists() else 0
    counter.write_text(str(n + 1))
    assert add(n, 0) == 0
"""


def test_repair_then_keep_only_stable_behavioural_tests(calc_ws: Path, server: ScriptedServer) -> None:
    server.script(fence(FIRST), fence(REPAIRED))
    session = _session(calc_ws, server)
    try:
        steps: list[str] = []
        report = session.verified_tests(TRUSTED).generate("calc.py", CALC, 2, progress=steps.append)
    finally:
        session.close()
    assert len(server.requests) == 2  # one call per step: the candidate, one repair
    assert "assert 4 == 5" in server.user_messages[1]  # the failure went back to the model
    assert report.verified and report.test_file == "tests/test_calc.py"
    assert (report.passed, report.rounds, report.repaired) == (2, 1, 2)
    assert report.generated == 6 and report.dropped == 4  # the existence check and the flaky one go
    assert "def test_ok" in report.code and "== 4" in report.code
    assert "test_flaky" not in report.code and "callable" not in report.code
    assert report.coverage == 1.0  # both lines of add ran
    assert any("running" in s for s in steps) and any("repairing" in s for s in steps)
    assert not (calc_ws / "tests").exists()  # nothing written to the workspace


def test_nothing_passes_offers_nothing_and_reports_the_bug(calc_ws: Path, server: ScriptedServer) -> None:
    wrong = "from calc import add\n\n\ndef test_add():\n    assert add(2, 2) == 5\n"
    report = _tests_from(server, calc_ws, [fence(wrong)] * 6)
    assert len(server.requests) == 6  # 2 candidates x (1 + 2 repair rounds)
    assert not report.verified and report.code == "" and report.passed == 0
    assert report.possible_bugs == ["test_add expects 5, the code returns 4"]
    assert "no generated test passed" in report.reason


def test_a_repeated_test_and_an_unused_import_are_not_offered(calc_ws: Path, server: ScriptedServer) -> None:
    twice = (
        "import threading\nfrom calc import add\n\n\n"
        "def test_add():\n    assert add(2, 2) == 4\n\n\n"
        "def test_add_small_numbers():\n    assert add(2, 2) == 4\n\n\n"
        "def test_add_negative():\n    assert add(-1, 1) == 0\n"
    )
    report = _tests_from(server, calc_ws, [fence(twice)])
    assert report.verified and (report.generated, report.passed, report.dropped) == (3, 2, 1)
    assert "def test_add_small_numbers" not in report.code and "threading" not in report.code
    assert "def test_add()" in report.code and "def test_add_negative" in report.code


def test_an_import_only_a_dropped_test_used_is_not_offered(calc_ws: Path, server: ScriptedServer) -> None:
    mixed = (
        "from calc import add, scale\n\n\n"
        "def test_add():\n    assert add(2, 2) == 4\n\n\n"
        "def test_add_scaled():\n    assert add(scale(1, 2), 0) == 3\n"  # wrong: it is 2
    )
    report = _tests_from(server, calc_ws, [fence(mixed)] * 6)
    assert report.verified and report.passed == 1 and "test_add_scaled" not in report.code
    assert report.code.startswith("from calc import add\n")  # `scale` went with its test
    assert report.possible_bugs == ["test_add_scaled expects 3, the code returns 2"]


def test_existence_checks_are_never_offered(calc_ws: Path, server: ScriptedServer) -> None:
    skeleton = "from calc import add\n\n\ndef test_add_exists():\n    assert callable(add)\n"
    report = _tests_from(server, calc_ws, [fence(skeleton)] * 6)
    assert not report.verified and report.code == ""
    assert "asserts anything" in server.user_messages[1]  # the repair prompt says why


def test_passing_tests_of_other_code_are_never_offered(write_workspace, server: ScriptedServer) -> None:
    """A small model shown another test as a style example may copy it: it passes, but it tests
    `scale`, not the `add` it was asked for. The repair says so, without the example."""
    copied = "from calc import scale\n\n\ndef test_scale():\n    assert scale(2, 3) == 6\n"
    ws = write_workspace({"calc.py": CALC, "tests/test_scale.py": copied})
    report = _tests_from(server, ws, [fence(copied)] * 6)
    assert not report.verified and report.code == "" and report.passed == 0
    assert report.generated == 6
    first, repair = (json.dumps(r["messages"]) for r in server.requests[:2])
    assert "follow its style" in first and "def test_scale" in first
    assert "No test calls `add`" in server.user_messages[1] and "follow its style" not in repair
    assert [m["role"] for m in server.requests[1]["messages"]] == ["system", "user"]  # not its copy again


def test_untrusted_workspace_runs_nothing(calc_ws: Path, server: ScriptedServer) -> None:
    session = _session(calc_ws, server)
    try:
        with pytest.raises(ConfigError, match="not trusted"):
            session.verified_tests(VerifyConfig()).generate("calc.py", CALC, 2)
        with pytest.raises(ConfigError, match="not trusted"):
            session.verified_fixer(VerifyConfig()).fix("calc.py", CALC, 2, 2)
    finally:
        session.close()
    assert server.requests == []


# -- fixes ---------------------------------------------------------------------------------------------

BUGGY = CALC.replace("return a + b", "return a - b")
GOOD_ADD = "def add(a, b):\n    return a + b\n"
WORDY_ADD = "def add(a, b):\n    # the sum\n    total = a + b\n    return total\n"
WRONG_ADD = "def add(a, b):\n    return a * b\n"


@pytest.fixture
def buggy_ws(write_workspace) -> Path:
    return write_workspace(
        {
            "calc.py": BUGGY,
            "tests/test_calc.py": TESTS,
            "tests/test_other.py": "def test_x():\n    assert 1\n",
        }
    )


def test_best_candidate_passes_most_tests_with_the_smallest_diff(
    buggy_ws: Path, server: ScriptedServer
) -> None:
    server.script(fence(WRONG_ADD), fence(WORDY_ADD), fence(GOOD_ADD))
    session = _session(buggy_ws, server)
    try:
        config = VerifyConfig(
            trusted=True, fix_candidates=3, fix_repair_rounds=0, fix_stop_at_first_pass=False
        )
        report = session.verified_fixer(config).fix("calc.py", BUGGY, 2, 2, "add returns the wrong sum")
    finally:
        session.close()
    assert report.candidates == 3 and [r["temperature"] for r in server.requests] == [0.2, 0.5, 0.8]
    # the wordy candidate also passes; the one-line fix wins on diff size
    assert report.verified and report.title == "Fix: tests pass (2/2)"
    assert (report.tests_run, report.tests_passed) == (2, 2)  # test_add first, then the rest of the file
    assert "-    return a - b\n+    return a + b\n" in report.diff
    assert report.to_json().keys() == {
        "diff",
        "verified",
        "tests_run",
        "tests_passed",
        "tests_not_run",
        "candidates",
        "rounds",
    }
    assert (buggy_ws / "calc.py").read_text() == BUGGY  # the workspace is untouched


def test_other_tests_start_only_within_the_time_limit(write_workspace, server: ScriptedServer) -> None:
    others = "from calc import scale\n\n\ndef test_one():\n    assert scale(1, 1) == 1\n\n\n" \
             "def test_two():\n    assert scale(2, 1) == 2\n"
    root = write_workspace({"calc.py": BUGGY, "tests/test_calc.py": TESTS,
                            "tests/test_more.py": others, "tests/test_most.py": others})
    reports = []
    for limit in (0.0, 60.0):
        server.script(fence(GOOD_ADD))
        session = _session(root, server)
        try:
            config = VerifyConfig(trusted=True, fix_candidates=1, fix_repair_rounds=0,
                                  fix_other_tests_s=limit)
            reports.append(session.verified_fixer(config).fix("calc.py", BUGGY, 2, 2, None))
        finally:
            session.close()
    cut, whole = reports
    assert whole.verified and (whole.tests_run, whole.tests_not_run) == (6, 0)
    assert whole.title == "Fix: tests pass (6/6)"
    # test_add references the change and always runs; with no time for the others, it alone
    assert cut.verified and (cut.tests_run, cut.tests_not_run) == (1, 5)
    assert cut.title == "Fix: tests pass (1/1; 5 other tests not run: 0 s limit)"
    assert cut.to_json()["tests_not_run"] == cut.tests_not_run


def test_an_unclosed_bracket_is_fixed_by_a_closing_the_tests_pass_without_the_model(
    write_workspace, server: ScriptedServer
) -> None:
    broken = CALC.replace("return x * k", "return max(x * k, 0").replace("k < 0", "k < -1")
    root = write_workspace({"calc.py": broken, "tests/test_calc.py": TESTS + (
        "\n\ndef test_scale_negative():\n    assert scale(3, -1) == 0\n")})
    server.script(fence(WRONG_ADD))  # the model would only be asked if no closing passed
    session = _session(root, server)
    try:
        config = VerifyConfig(trusted=True, fix_candidates=1, fix_repair_rounds=0)
        line = broken.split("\n").index("    return max(x * k, 0") + 1
        report = session.verified_fixer(config).fix("calc.py", broken, line, line, "'(' was never closed")
    finally:
        session.close()
    # `max(x) * k, 0` and `max(x * k), 0` parse too (tuples) and fail; `max(x * k, 0)` passes all
    assert report.verified and report.title == "Fix: tests pass (3/3)"
    assert "+    return max(x * k, 0)\n" in report.diff
    assert server.requests == [] and report.candidates == 3


def test_repair_round_feeds_the_failure_back(buggy_ws: Path, server: ScriptedServer) -> None:
    server.script(fence(WRONG_ADD), fence(WRONG_ADD), fence(GOOD_ADD))
    session = _session(buggy_ws, server)
    try:
        config = VerifyConfig(trusted=True, fix_candidates=2, fix_repair_rounds=1)
        report = session.verified_fixer(config).fix("calc.py", BUGGY, 2, 2, None)
    finally:
        session.close()
    assert len(server.requests) == 3 and report.rounds == 1
    assert "test_add" in server.user_messages[2] and "assert 6 == 5" in server.user_messages[2]
    assert report.verified and report.tests_passed == 2


def test_a_failing_fix_is_not_verified_and_untested_code_is_said_so(
    buggy_ws: Path, server: ScriptedServer
) -> None:
    server.script(fence(WRONG_ADD), fence(WRONG_ADD))
    session = _session(buggy_ws, server)
    try:
        config = VerifyConfig(trusted=True, fix_candidates=1, fix_repair_rounds=1)
        report = session.verified_fixer(config).fix("calc.py", BUGGY, 2, 2, None)
        assert not report.verified and report.tests_run == 1 and report.tests_passed == 0
        assert "0 of 1" in report.reason  # the rest of the file never ran: the referencing test failed
        (buggy_ws / "lonely.py").write_text("def lonely(x):\n    return x - 1\n")
        session.index.update()
        server.script(fence("def lonely(x):\n    return x + 1\n"))
        untested = session.verified_fixer(config).fix(
            "lonely.py", "def lonely(x):\n    return x - 1\n", 2, 2, None
        )
        assert not untested.verified and untested.title == "Fix (unverified: no test covers this)"
    finally:
        session.close()


def test_failing_test_is_a_fix_trigger(buggy_ws: Path, server: ScriptedServer) -> None:
    server.script(fence(GOOD_ADD))
    session = _session(buggy_ws, server)
    try:
        report = session.verified_fixer(TRUSTED).fix_failing_test("tests/test_calc.py", TESTS, 5)
    finally:
        session.close()
    assert report.failing_test == "test_add" and report.verified
    assert report.title == "Fix so that test_add passes (2/2)" and report.proposal.path == "calc.py"
    assert (
        "The test test_add fails" in server.user_messages[0] and "assert -1 == 5" in server.user_messages[0]
    )


# -- the CLI contract ------------------------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    src = str(Path(__file__).parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-m", "ragls", *args], capture_output=True, text=True, timeout=240, env=env
    )


def test_cli_tests_contract(calc_ws: Path, server: ScriptedServer) -> None:
    good = "from calc import add\n\n\ndef test_add_small():\n    assert add(1, 2) == 3\n"
    server.script(fence(good))
    out = _cli(
        "tests",
        "--workspace",
        str(calc_ws),
        "--file",
        "calc.py",
        "--symbol",
        "add",
        "--json",
        "--write",
        "--endpoint",
        server.url,
    )
    data = json.loads(out.stdout)
    assert set(data) == {
        "test_file",
        "code",
        "verified",
        "generated",
        "passed",
        "repaired",
        "dropped",
        "rounds",
        "coverage",
        "possible_bugs",
    }
    assert data["verified"] and data["test_file"] == "tests/test_calc.py" and data["passed"] == 1
    written = (calc_ws / "tests" / "test_calc.py").read_text()
    assert "def test_add_small" in written
    rerun = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_calc.py"],
        cwd=calc_ws,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(calc_ws)},
    )
    assert rerun.returncode == 0, rerun.stdout  # what was reported verified passes when rerun


def test_cli_fix_contract(buggy_ws: Path, server: ScriptedServer) -> None:
    server.script(fence(WRONG_ADD), fence(WRONG_ADD), fence(WRONG_ADD), fence(WRONG_ADD))
    out = _cli(
        "fix",
        "--workspace",
        str(buggy_ws),
        "--file",
        "calc.py",
        "--line",
        "2",
        "--json",
        "--write",
        "--endpoint",
        server.url,
    )
    data = json.loads(out.stdout)
    assert out.returncode == 1 and not data["verified"] and data["tests_run"] >= 1
    assert (buggy_ws / "calc.py").read_text() == BUGGY  # --write writes only a verified fix
    server.script(fence(GOOD_ADD))
    out = _cli(
        "fix",
        "--workspace",
        str(buggy_ws),
        "--file",
        "calc.py",
        "--line",
        "2",
        "--json",
        "--write",
        "--endpoint",
        server.url,
        "--instruction",
        "make add return the sum",
    )
    data = json.loads(out.stdout)
    assert data["verified"] and data["tests_passed"] == data["tests_run"] == 2 and data["candidates"] == 1
    assert "make add return the sum" in server.user_messages[0]
    assert (buggy_ws / "calc.py").read_text() == CALC
