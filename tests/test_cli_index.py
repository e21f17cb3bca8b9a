"""`ragls index`, `ragls deps`, `ragls symbols` through the real argument parser."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ragls.cli.main import main

FILES = {
    "pkg/__init__.py": "",
    "pkg/core.py": "def parse_config(path):\n    return path\n\n\nclass ConfigParser:\n    pass\n",
    "app.py": "import json\nfrom pkg.core import parse_config\n\n\ndef run():\n"
    "    return parse_config('x')\n",
}


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_index_json_cold_then_warm(write_workspace, capsys: pytest.CaptureFixture[str]) -> None:
    ws = write_workspace(FILES)
    rc, out, err = _run(capsys, "index", str(ws), "--json")
    assert rc == 0
    cold = json.loads(out)
    assert set(cold) >= {
        "files",
        "symbols",
        "edges",
        "chunks",
        "skipped",
        "reindexed",
        "removed",
        "seconds",
        "skip_reasons",
        "index_dir",
    }
    assert cold["files"] == 3 and cold["reindexed"] == 3 and cold["symbols"] == 3
    assert Path(cold["index_dir"]).is_dir() and "\r" not in err  # no progress bar off a terminal
    rc, out, _ = _run(capsys, "index", str(ws), "--json")
    warm = json.loads(out)
    assert warm["reindexed"] == 0 and warm["files"] == 3 and warm["edges"] == cold["edges"]
    rc, out, _ = _run(capsys, "index", str(ws))
    assert rc == 0 and "3 files" in out and "parsed 0" in out


def test_deps_and_symbols(
    write_workspace, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = write_workspace(FILES)
    # never indexed: deps indexes first, quietly
    rc, out, _ = _run(capsys, "deps", "app.py", "--workspace", str(ws), "--json")
    assert rc == 0
    deps = json.loads(out)
    by_module = {i["module"]: i for i in deps["imports"]}
    assert by_module["json"]["external"] and by_module["pkg.core"]["targets"] == ["pkg/core.py"]
    monkeypatch.chdir(ws / "pkg")
    rc, out, _ = _run(capsys, "deps", "core.py", "--workspace", str(ws))  # relative to the cwd
    assert rc == 0 and "imported by (1):" in out and "app.py" in out
    rc, out, _ = _run(capsys, "deps", str(ws / "app.py"), "-w", str(ws))
    assert "pkg.core (parse_config) -> pkg/core.py" in out and "json -> external" in out

    rc, out, _ = _run(capsys, "symbols", "parse_config", "-w", str(ws))
    assert out.splitlines() == ["pkg/core.py:1 function parse_config def parse_config(path):"]
    rc, out, _ = _run(capsys, "symbols", "config", "-w", str(ws), "--json")
    assert [(s["path"], s["qualname"]) for s in json.loads(out)] == [
        ("pkg/core.py", "ConfigParser"),
        ("pkg/core.py", "parse_config"),
    ]  # prefix before substring
    rc, out, _ = _run(capsys, "symbols", "config", "-w", str(ws), "--limit", "1")
    assert len(out.splitlines()) == 1


def test_errors_exit_1(write_workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = write_workspace(FILES)
    rc, _, err = _run(capsys, "deps", "nope.py", "-w", str(ws))
    assert rc == 1 and "not a file of the workspace" in err
    rc, _, err = _run(capsys, "index", str(tmp_path / "missing"))
    assert rc == 1 and "does not exist" in err


def test_console_script(write_workspace) -> None:
    ws = write_workspace(FILES)
    proc = subprocess.run(
        [sys.executable, "-m", "ragls.cli.main", "index", str(ws), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ.copy(),
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["files"] == 3
