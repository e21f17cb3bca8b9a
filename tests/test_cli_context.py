"""`ragls context`: single queries, --stdin, --batch, error exits."""

from __future__ import annotations

import io
import json
import sys

import pytest

from ragls.cli.main import main

FILES = {
    "models.py": '''
        class User:
            """A registered user."""

            def __init__(self, name: str) -> None:
                self.name = name


        def load_user(user_id: int) -> User:
            """Load a user by id."""
            return User(name=str(user_id))
        ''',
    "service.py": """
        from models import User, load_user


        def greet(user_id: int) -> str:
            user = load_user(
        """,
}


def _run(capsys, argv: list[str], stdin: str | None = None, monkeypatch=None) -> tuple[int, str, str]:
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_single_query_json_schema(write_workspace, capsys) -> None:
    ws = write_workspace(FILES)
    code, out, err = _run(capsys, ["context", "--workspace", str(ws), "--file", "service.py",
                                   "--line", "5", "--col", "22", "--json"])
    assert code == 0, err
    obj = json.loads(out)
    assert set(obj) == {"snippets", "elapsed_ms"} and isinstance(obj["elapsed_ms"], float)
    first = obj["snippets"][0]
    assert set(first) == {"path", "start_line", "end_line", "score", "sources", "text"}
    assert first["path"] == "models.py" and "def load_user" in first["text"]
    assert isinstance(first["start_line"], int) and first["start_line"] <= first["end_line"]
    assert all(isinstance(t, str) for t in first["sources"])


def test_readable_output_and_absolute_path(write_workspace, capsys) -> None:
    ws = write_workspace(FILES)
    code, out, _ = _run(capsys, ["context", "-w", str(ws), "--file", str(ws / "service.py"),
                                 "--line", "5", "--col", "22", "--top-k", "1", "--no-dense"])
    assert code == 0
    header = out.splitlines()[0]
    path_range, score, sources = header.split("  ")
    assert path_range.startswith("models.py:") and float(score) > 0 and sources.startswith("graph")


def test_stdin_buffer_is_used(write_workspace, capsys, monkeypatch) -> None:
    ws = write_workspace(FILES)
    buffer = "from models import load_user\n\n\ndef other():\n    u = User(\n"
    code, out, err = _run(capsys, ["context", "-w", str(ws), "--file", "service.py", "--line", "5",
                                   "--col", "14", "--stdin", "--json"], stdin=buffer, monkeypatch=monkeypatch)
    assert code == 0, err
    snippets = json.loads(out)["snippets"]
    assert "class User" in snippets[0]["text"]


def test_batch_with_bad_lines_keeps_order(write_workspace, capsys, tmp_path) -> None:
    ws = write_workspace(FILES)
    queries = [
        json.dumps({"file": "service.py", "line": 5, "col": 22}),
        "{not json",
        json.dumps({"file": "service.py", "col": 1}),
        json.dumps({"file": "../outside.py", "line": 1, "col": 1}),
        json.dumps({"file": "service.py", "line": 99, "col": 1}),
        json.dumps({"file": "service.py", "line": 2, "col": 10, "text": "x = 1\nu = User(\n"}),
    ]
    batch = tmp_path / "q.jsonl"
    batch.write_text("\n".join(queries) + "\n", encoding="utf-8")
    code, out, err = _run(capsys, ["context", "-w", str(ws), "--batch", str(batch)])
    assert code == 0, err
    lines = [json.loads(x) for x in out.splitlines()]
    assert len(lines) == 6
    assert lines[0]["snippets"][0]["path"] == "models.py"
    assert set(lines[1]) == {"error"}
    assert "line" in lines[2]["error"]
    assert "outside the workspace" in lines[3]["error"]
    assert "out of range" in lines[4]["error"]
    assert "class User" in lines[5]["snippets"][0]["text"] and isinstance(lines[5]["elapsed_ms"], float)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--file", "service.py", "--line", "50"], "out of range"),
        (["--file", "../x.py", "--line", "1"], "outside the workspace"),
        (["--file", "nope.py", "--line", "1"], "no such file"),
    ],
)
def test_single_mode_errors_exit_nonzero(write_workspace, capsys, args, message) -> None:
    ws = write_workspace(FILES)
    code, out, err = _run(capsys, ["context", "-w", str(ws), *args])
    assert code == 1 and out == ""
    assert err.startswith("ragls: error:") and message in err and len(err.strip().splitlines()) == 1


def test_missing_workspace_exits_nonzero(tmp_path, capsys) -> None:
    code, _, err = _run(capsys, ["context", "-w", str(tmp_path / "nowhere"), "--file", "a.py", "--line", "1"])
    assert code == 1 and "no such workspace" in err
