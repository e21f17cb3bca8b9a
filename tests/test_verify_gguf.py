"""The verification loops with a real local GGUF (tiny, random weights): the model is called once
per candidate and repair step, and what it writes (garbage) is never offered."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ragls.engine.fix import FixEngine
from ragls.engine.testgen import TestGenerator
from ragls.engine.verified_fix import VerifiedFixer
from ragls.engine.verified_tests import VerifiedTestGenerator
from ragls.engine.verify_config import VerifyConfig
from ragls.indexing.workspace import WorkspaceIndex
from ragls.models.backend import ModelConfig, load_backend
from ragls.retrieval.retriever import Retriever

pytestmark = pytest.mark.timeout(300)

CALC = "def add(a, b):\n    return a - b\n"
TESTS = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"


class Counting:
    """The real backend, counting chat calls (one per step is the contract)."""

    def __init__(self, backend) -> None:
        self._b = backend
        self.chats = 0
        self.name, self.template, self.n_ctx = backend.name, backend.template, getattr(backend, "n_ctx", None)

    def chat(self, *args, **kwargs):
        self.chats += 1
        return self._b.chat(*args, **kwargs)

    def generate(self, *args, **kwargs):
        return self._b.generate(*args, **kwargs)

    def count_tokens(self, text: str) -> int:
        return self._b.count_tokens(text)

    def close(self) -> None:
        self._b.close()


@pytest.fixture(scope="module")
def tiny(tiny_server_model: Path):
    backend = Counting(load_backend(ModelConfig(model=str(tiny_server_model), n_ctx=2048, threads=1)))
    yield backend
    backend.close()


def test_tiny_model_tests_are_run_repaired_and_not_offered(write_workspace, tiny: Counting) -> None:
    root = write_workspace({"calc.py": CALC})
    index = WorkspaceIndex.open(root)
    index.update()
    try:
        tiny.chats = 0
        config = VerifyConfig(trusted=True, test_candidates=2, test_repair_rounds=1)
        gen = VerifiedTestGenerator(index, TestGenerator(index, Retriever(index), tiny), config)
        report = gen.generate("calc.py", CALC, 1)
    finally:
        index.close()
    assert tiny.chats == 4  # 2 candidates x (first try + 1 repair), one model call each
    assert not report.verified and report.code == "" and report.passed == 0
    assert report.rounds == 2
    assert not (root / "tests").exists()


def test_tiny_model_fix_is_never_verified(write_workspace, tiny: Counting) -> None:
    root = write_workspace({"calc.py": CALC, "tests/test_calc.py": TESTS})
    index = WorkspaceIndex.open(root)
    index.update()
    try:
        tiny.chats = 0
        config = VerifyConfig(trusted=True, fix_candidates=2, fix_repair_rounds=1)
        fixer = VerifiedFixer(index, FixEngine(index, Retriever(index), tiny), config)
        report = fixer.fix_failing_test("tests/test_calc.py", TESTS, 5)
    finally:
        index.close()
    assert report.failing_test == "test_add" and report.candidates == 2
    assert tiny.chats == 2 + report.rounds and report.rounds <= 1
    assert not report.verified  # random weights cannot make add() return a sum
    assert (root / "calc.py").read_text() == CALC and os.listdir(root / "tests") == ["test_calc.py"]


@pytest.mark.slow
def test_default_model_end_to_end_reports_only_what_reruns(write_workspace) -> None:
    """The real default model writes tests and a fix; whatever it calls verified passes a plain rerun."""
    import subprocess
    import sys

    from ragls.engine.session import open_session

    root = write_workspace({"calc.py": CALC.replace("a - b", "a + b")})
    session = open_session(root)
    session.index.update()
    try:
        config = VerifyConfig(trusted=True, test_candidates=1, test_repair_rounds=1, test_max_tokens=256)
        report = session.verified_tests(config).generate("calc.py", (root / "calc.py").read_text(), 1)
    finally:
        session.close()
    if not report.verified:
        assert report.code == "" and report.passed == 0
        return
    (root / "tests").mkdir()
    (root / report.test_file).write_text(report.code)
    rerun = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", report.test_file],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert rerun.returncode == 0, rerun.stdout
    assert f"{report.passed} passed" in rerun.stdout
