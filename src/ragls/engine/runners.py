"""The project's own test runners, run inside a Sandbox, with per-test outcomes.

Python: pytest with the workspace's virtualenv when it has one (and pytest in it), else the
server's interpreter; outcomes come from pytest's JUnit XML, so each test function has its own
verdict, and line coverage comes from coverage.py. TS/JS (`npx vitest run` / `npx jest`),
Go (`go test`) and Rust (`cargo test`) report one verdict for the whole run.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
import shlex
import sys
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ragls.engine.sandbox import RunResult, Sandbox

logger = logging.getLogger(__name__)

VENV_DIRS = (".venv", "venv", "env", ".env")


@dataclass
class Outcome:
    """One test function's verdict (parametrised cases folded into their function)."""

    name: str  # "test_x" or "TestCls::test_x"
    status: str  # passed | failed | error | skipped
    message: str = ""  # the assertion or exception line
    details: str = ""  # the traceback

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass
class TestRun:
    __test__ = False

    outcomes: dict[str, Outcome] = field(default_factory=dict)
    result: RunResult | None = None
    coverage: dict[str, list[int]] | None = None  # file -> executed / missing lines (Python)

    @property
    def output(self) -> str:
        return self.result.output if self.result else ""

    def passed(self, names: Sequence[str]) -> list[str]:
        return [n for n in names if n in self.outcomes and self.outcomes[n].passed]


def workspace_python(root: Path) -> str:
    """The workspace virtualenv's interpreter when it exists, else the server's."""
    for name in VENV_DIRS:
        venv = root / name
        py = venv / "bin" / "python"
        if (venv / "pyvenv.cfg").is_file() and py.exists():
            return str(py)
    return sys.executable


@functools.cache
def _has_module(python: str, module: str) -> bool:
    import os
    import subprocess

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}  # as in a sandbox
    try:
        probe = subprocess.run([python, "-c", f"import {module}"], capture_output=True, timeout=30, env=env)
    except (OSError, subprocess.SubprocessError):
        return False
    return probe.returncode == 0


def python_for_tests(root: Path) -> str:
    py = workspace_python(root)
    if py != sys.executable and not _has_module(py, "pytest"):
        logger.info("the workspace virtualenv has no pytest; running tests with %s", sys.executable)
        return sys.executable
    return py


def _coverage_path(sandbox: Sandbox, python: str) -> str | None:
    """A PYTHONPATH entry that makes coverage importable by `python` (None when it already is)."""
    if _has_module(python, "coverage"):
        return None
    spec = importlib.util.find_spec("coverage")
    if spec is None or spec.origin is None:
        return None
    shim = sandbox.home / "coverage-shim"
    if not shim.exists():
        shim.mkdir()
        (shim / "coverage").symlink_to(Path(spec.origin).parent, target_is_directory=True)
    return str(shim)


def _python_path(sandbox: Sandbox, extra: Sequence[str | None] = ()) -> str:
    parts = [str(sandbox.root)]
    if (sandbox.root / "src").is_dir():
        parts.insert(0, str(sandbox.root / "src"))
    return ":".join([*parts, *(e for e in extra if e)])


def _node_id(test_file: str, name: str) -> str:
    return f"{test_file}::{name}"


def run_pytest(
    sandbox: Sandbox,
    test_file: str,
    names: Sequence[str] | None = None,
    *,
    coverage_of: str | None = None,
    command: str | None = None,
) -> TestRun:
    """Run `names` of `test_file` (all when None) with pytest in the sandbox."""
    python = python_for_tests(sandbox.source)
    report = sandbox.home / "junit.xml"
    report.unlink(missing_ok=True)
    targets = [_node_id(test_file, n) for n in names] if names else [test_file]
    args = [
        "-q",
        "-p",
        "no:cacheprovider",
        "--color=no",
        "--junitxml",
        str(report),
        "-o",
        "junit_family=xunit1",
        *targets,
    ]
    cov_data = sandbox.home / ".coverage"
    shim = None
    if command:  # the user's testCommand (trusted workspaces only): the runner prefix
        argv = [*shlex.split(command), *args]
    elif coverage_of:
        shim = _coverage_path(sandbox, python)
        argv = [
            python,
            "-m",
            "coverage",
            "run",
            f"--data-file={cov_data}",
            f"--include={sandbox.root / coverage_of}",
            "-m",
            "pytest",
            *args,
        ]
    else:
        argv = [python, "-m", "pytest", *args]
    result = sandbox.run(argv, env={"PYTHONPATH": _python_path(sandbox, [shim])})
    run = TestRun(outcomes=parse_junit(report), result=result)
    if coverage_of and not command and not result.timed_out:
        out = sandbox.home / "coverage.json"
        done = sandbox.run(
            [python, "-m", "coverage", "json", f"--data-file={cov_data}", "-o", str(out)],
            env={"PYTHONPATH": _python_path(sandbox, [shim])},
        )
        if done.returncode == 0 and out.is_file():
            files = json.loads(out.read_text()).get("files", {})
            for data in files.values():
                run.coverage = {
                    "executed": data.get("executed_lines", []),
                    "missing": data.get("missing_lines", []),
                }
    return run


def parse_junit(path: Path) -> dict[str, Outcome]:
    """JUnit XML (xunit1) -> {function name: Outcome}; a function fails if any of its cases fails."""
    if not path.is_file():
        return {}
    try:
        tree = ET.parse(path)
    except ET.ParseError:
        return {}
    rank = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}
    out: dict[str, Outcome] = {}
    for case in tree.iter("testcase"):
        name = case.get("name", "").split("[")[0]
        cls = case.get("classname", "")
        last = cls.rsplit(".", 1)[-1]
        if last[:1].isupper() and last.startswith("Test"):
            name = f"{last}::{name}"
        status, message, details = "passed", "", ""
        for tag in ("error", "failure", "skipped"):
            node = case.find(tag)
            if node is not None:
                status = {"failure": "failed"}.get(tag, tag)
                message = node.get("message", "")
                details = node.text or ""
                break
        prev = out.get(name)
        if prev is None or rank[status] > rank[prev.status]:
            out[name] = Outcome(name, status, message, details)
    return out


def other_runner(language: str, framework: str, test_file: str) -> tuple[list[str], bool] | None:
    """(argv, limit address space) for the non-Python runners; None when not supported."""
    if language in ("typescript", "tsx", "javascript"):
        if framework == "vitest":
            return ["npx", "--no-install", "vitest", "run", test_file], False
        return ["npx", "--no-install", "jest", test_file], False
    if language == "go":
        return ["go", "test", f"./{PurePosixPath(test_file).parent}"], False
    if language == "rust":
        return ["cargo", "test", "--offline"], False
    return None


def run_other(
    sandbox: Sandbox, language: str, framework: str, test_file: str, names: Sequence[str]
) -> TestRun:
    """One verdict for the whole run, given to every name (these runners are not split per test)."""
    spec = other_runner(language, framework, test_file)
    if spec is None:
        return TestRun()
    argv, limit_as = spec
    result = sandbox.run(argv, limit_address_space=limit_as)
    status = "passed" if result.returncode == 0 and not result.timed_out else "failed"
    tail = "\n".join(result.output.splitlines()[-30:])
    return TestRun({n: Outcome(n, status, "" if status == "passed" else tail) for n in names}, result)
