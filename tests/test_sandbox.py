"""The sandbox that runs generated tests and fixes: limits, isolation, a copy of the workspace."""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

import pytest

from ragls.engine import pytest_file
from ragls.engine.runners import parse_junit, run_pytest
from ragls.engine.sandbox import Limits, Sandbox, isolation

CALC = "def add(a, b):\n    return a + b\n"


@pytest.fixture
def ws(write_workspace) -> Path:
    return write_workspace({"calc.py": CALC, "data.txt": "original\n"})


def _py(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_overlays_apply_to_the_copy_only(ws: Path) -> None:
    with Sandbox(ws, {"calc.py": "def add(a, b):\n    return 0\n", "new.py": "X = 1\n"}) as box:
        assert box.root != ws and box.read("calc.py").endswith("return 0\n")
        res = box.run(
            _py("import calc, new; print(calc.add(2, 3), new.X)"), env={"PYTHONPATH": str(box.root)}
        )
        assert res.returncode == 0 and res.output.strip() == "0 1"
    assert (ws / "calc.py").read_text() == CALC and not (ws / "new.py").exists()


def test_timeout_kills_runaway_code_and_its_children(ws: Path) -> None:
    code = "import subprocess, time; subprocess.Popen(['sleep', '60']); time.sleep(60)"
    with Sandbox(ws, limits=Limits(timeout_s=1)) as box:
        started = time.monotonic()
        res = box.run(_py(code))
    assert res.timed_out and res.returncode != 0 and time.monotonic() - started < 10
    assert "timeout" in res.output


def test_cpu_and_file_size_limits(ws: Path) -> None:
    with Sandbox(ws, limits=Limits(timeout_s=30, cpu_s=1, file_mb=1)) as box:
        spin = box.run(_py("while True: pass"))
        assert spin.returncode != 0 and not spin.timed_out  # SIGXCPU long before the wall clock
        big = box.run(_py("open('big.bin', 'wb').write(b'x' * (3 << 20))"))
        assert big.returncode != 0 and (box.root / "big.bin").stat().st_size <= 1 << 20


def test_writes_cannot_touch_the_workspace(ws: Path) -> None:
    relative = "open('data.txt', 'w').write('changed by a test')"
    absolute = f"open({str(ws / 'data.txt')!r}, 'w').write('changed by a test')"
    with Sandbox(ws) as box:
        assert box.run(_py(relative)).returncode == 0
        assert box.read("data.txt") == "changed by a test"  # the copy changed
        outside = box.run(_py(absolute))
    assert (ws / "data.txt").read_text() == "original\n"
    if isolation() != "full":
        pytest.skip("no mount namespace here: the real workspace is not mounted read-only")
    assert outside.returncode != 0 and "Read-only file system" in outside.output


def test_secrets_are_not_visible(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret")
    monkeypatch.setenv("MY_ENDPOINT_CREDS", "configured-key")  # the configured apiKeyEnv
    monkeypatch.setenv("GITHUB_TOKEN", "ghp-secret")
    monkeypatch.setenv("HARMLESS", "visible")
    with Sandbox(ws, secret_env=["MY_ENDPOINT_CREDS"]) as box:
        res = box.run(_py("import os; print(sorted(os.environ.items()))"))
    assert "visible" in res.output
    for secret in ("sk-very-secret", "configured-key", "ghp-secret"):
        assert secret not in res.output
    assert str(box.home) in res.output  # HOME is inside the sandbox


def test_no_network_when_isolated(ws: Path) -> None:
    if isolation() == "none":
        pytest.skip("unshare is not available: runs are not network-isolated here")
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        code = (
            f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=3); print('connected')"
        )
        with Sandbox(ws) as box:
            res = box.run(_py(code))
    assert res.returncode != 0 and "connected" not in res.output


def test_pytest_outcomes_per_function(ws: Path) -> None:
    tests = (
        "from calc import add\nimport pytest\n\n"
        "def test_ok():\n    assert add(1, 2) == 3\n\n"
        "def test_wrong():\n    assert add(2, 2) == 5\n\n"
        "@pytest.mark.parametrize('x', [1, 2])\ndef test_param(x):\n    assert add(x, 0) == 1\n\n"
        "class TestAdd:\n    def test_m(self):\n        assert add(0, 0) == 0\n"
    )
    with Sandbox(ws, {"tests/test_calc.py": tests}) as box:
        run = run_pytest(box, "tests/test_calc.py", coverage_of="calc.py")
        assert run.passed(["test_ok", "test_wrong", "test_param", "TestAdd::test_m"]) == [
            "test_ok",
            "TestAdd::test_m",
        ]
        assert run.outcomes["test_param"].status == "failed"  # one failing case fails the function
        assert "assert 4 == 5" in run.outcomes["test_wrong"].message
        assert run.coverage is not None and 2 in run.coverage["executed"]
        only = run_pytest(box, "tests/test_calc.py", ["test_ok"])
        assert set(only.outcomes) == {"test_ok"}
    assert parse_junit(ws / "missing.xml") == {}


def test_test_functions_that_assert_nothing_are_recognised() -> None:
    code = (
        "from calc import add\n\n"
        "def test_exists():\n    assert callable(add)\n\n"
        "def test_not_none():\n    assert add is not None\n\n"
        "def test_real():\n    assert add(1, 1) == 2\n\n"
        "def test_raises():\n    import pytest\n    with pytest.raises(TypeError):\n        add(1)\n"
    )
    funcs = {f.name: f.asserts for f in pytest_file.test_functions(code, {"add"})}
    assert funcs == {"test_exists": False, "test_not_none": False, "test_real": True, "test_raises": True}
    kept = pytest_file.drop_functions(code, {"test_exists", "test_not_none"})
    assert "callable" not in kept and "test_real" in kept and "test_raises" in kept
    compile(kept, "t.py", "exec")
    assert pytest_file.test_functions("def (") is None
    finished = "from calc import add\n\n\ndef test_a():\n    assert add(1, 1) == 2\n"
    cut_off = finished + "\n\ndef test_b():\n    assert add(1,"
    assert pytest_file.complete_part(cut_off) == finished
    assert pytest_file.complete_part("def (") == ""
    cut_in_body = finished + "\n\ndef test_b():\n    assert add(2, 2) == 4\n    assert add(1,"
    assert pytest_file.complete_part(cut_in_body).endswith("def test_b():\n    assert add(2, 2) == 4\n")
    assert pytest_file.rename_clashes("def test_real():\n    pass\n", {"test_real"}).startswith(
        "def test_real_2"
    )
    assert pytest_file.possible_bug("test_wrong", "assert 4 == 5\n +  where 4 = add(2, 2)") == (
        "test_wrong expects 5, the code returns 4"
    )
    assert pytest_file.possible_bug("test_x", "NameError: name 'f' is not defined") is None


def test_a_test_that_never_uses_the_symbol_does_not_exercise_it() -> None:
    code = (
        "import pytest\nfrom calc import add, sub\n\n"
        "def twice(x):\n    return add(x, x)\n\n"
        "@pytest.fixture\ndef pair():\n    return twice(2)\n\n"
        "def test_direct():\n    assert add(1, 2) == 3\n\n"
        "def test_other():\n    assert sub(3, 1) == 2\n\n"
        "def test_helper():\n    assert twice(3) == 6\n\n"
        "def test_fixture(pair):\n    assert pair == 4\n\n"
        "class TestCalc:\n"
        "    def setup_method(self):\n        self.total = add(1, 1)\n\n"
        "    def test_setup(self):\n        assert self.total == 2\n\n"
        "class TestOther:\n"
        "    def test_sub(self):\n        assert sub(2, 2) == 0\n\n"
        "    def test_method(self):\n        import calc\n        assert calc.add(2, 2) == 4\n"
    )
    uses = {f.name: f.exercises for f in pytest_file.test_functions(code, {"add"})}
    assert uses == {
        "test_direct": True, "test_other": False, "test_helper": True, "test_fixture": True,
        "TestCalc::test_setup": True, "TestOther::test_sub": False, "TestOther::test_method": True,
    }
    assert all(f.exercises for f in pytest_file.test_functions(code))  # no symbol named: not judged


def test_a_missing_import_goes_after_future_imports() -> None:
    code = '"""Tests."""\nfrom __future__ import annotations\n\nimport pytest\n\n\n'
    code += "def test_a():\n    assert 1\n"
    fixed = pytest_file.add_import(code, "from calc import add")
    head = ['"""Tests."""', "from __future__ import annotations", "from calc import add", ""]
    assert fixed.split("\n")[:4] == head
    compile(fixed, "t.py", "exec")
    assert pytest_file.add_import("import os\n", "from calc import add").startswith("from calc import add\n")


def test_repeated_tests_and_unused_imports_are_tidied_away() -> None:
    code = (
        "from __future__ import annotations\nimport threading\nimport os, sys\nimport pytest\n"
        "from calc import add, sub as minus  # both\nfrom typing import TYPE_CHECKING as TC\n\n"
        "def test_empty():\n    \"\"\"Zero.\"\"\"\n    assert add(0, 0) == 0\n\n"
        "def test_empty_again():\n    assert add(0, 0) == 0\n\n"
        "def test_other():\n    assert add(0, 1) == 1\n\n"
        "@pytest.mark.parametrize('a', [1])\ndef test_param(a):\n    assert add(0, 0) == 0\n\n"
        "def test_paths() -> 'TC':\n    assert sys.argv\n\n"
        "class TestA:\n    def test_empty(self):\n        assert add(0, 0) == 0\n\n"
        "    def test_twice(self):\n        assert add(0, 0) == 0\n"
    )
    assert pytest_file.repeated_tests(code) == {"test_empty_again", "TestA::test_twice"}
    tidy = pytest_file.tidy(code)
    names = [f.name for f in pytest_file.test_functions(tidy)]
    assert names == ["test_empty", "test_other", "test_param", "test_paths", "TestA::test_empty"]
    head = [x for x in tidy.split("\n") if x.startswith(("import", "from"))]
    assert head == [
        "from __future__ import annotations", "import sys", "import pytest", "from calc import add",
        "from typing import TYPE_CHECKING as TC",
    ]
    compile(tidy, "t.py", "exec")
    assert pytest_file.tidy("def (") == "def ("


def test_verify_settings_reach_the_job_config() -> None:
    from ragls.server.features.verify_actions import verify_config
    from ragls.server.settings import parse_settings

    raw = {
        "trustedWorkspace": True,
        "testCommand": "pytest -x",
        "model": {"apiKeyEnv": "MY_KEY"},
        "verify": {"fixCandidates": 5, "testRepairRounds": 1, "allowUnverifiedFixes": True, "timeoutS": 9},
    }
    settings, errors = parse_settings(raw)
    assert errors == []
    cfg = verify_config(settings)
    assert (cfg.trusted, cfg.fix_candidates, cfg.test_repair_rounds, cfg.allow_unverified_fixes) == (
        True,
        5,
        1,
        True,
    )
    assert cfg.limits.timeout_s == 9 and cfg.secret_env == ("MY_KEY",) and cfg.test_command == "pytest -x"
    untrusted = verify_config(parse_settings({**raw, "trustedWorkspace": False})[0])
    assert not untrusted.trusted and untrusted.test_command is None  # a project file cannot pick what runs
    assert parse_settings({"verify": {"fixCandidates": 0}})[1]  # out of range: reported, default kept
