"""`ragls complete`: the JSON contract, --no-context, --stdin, --batch and its error lines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from gguf_tiny import make_tiny_gguf

FILES = {
    "pkg/__init__.py": "",
    "pkg/geometry.py": '''
        def area(width, height):
            """Area of a rectangle."""
            return width * height
        ''',
    "pkg/report.py": """
        from pkg.geometry import area


        def describe(w, h):
            size = area(w, h)
            return f"{size} m2"
        """,
}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random tiny model with a 2048-token window: in the default 256 a prompt leaves room for
    about 50 tokens of context, less than the cross-file definition this contract checks for."""
    import gguf_tiny

    saved, gguf_tiny.N_CTX = gguf_tiny.N_CTX, 2048
    try:
        return make_tiny_gguf(tmp_path_factory.mktemp("model") / "tiny.gguf", "llama")
    finally:
        gguf_tiny.N_CTX = saved


def ragls(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ragls", *args], input=stdin, capture_output=True, text=True, timeout=120
    )


def test_complete_json_contract(write_workspace, tiny_model: Path) -> None:
    ws = write_workspace(FILES)
    common = ["complete", "--workspace", str(ws), "--file", "pkg/report.py", "--model", str(tiny_model)]
    out = ragls(*common, "--line", "5", "--col", "12", "--max-tokens", "6", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert set(result) >= {"completion", "model", "context", "elapsed_ms", "timings", "ungrounded"}
    assert result["model"] == "tiny"
    assert set(result["timings"]) >= {"retrieval_ms", "prompt_ms", "generation_ms"}
    assert any(s["path"] == "pkg/geometry.py" for s in result["context"])
    for snippet in result["context"]:
        assert set(snippet) == {"path", "start_line", "end_line", "score", "sources", "text"}

    bare = ragls(*common, "--line", "5", "--col", "12", "--max-tokens", "4", "--json", "--no-context")
    assert bare.returncode == 0, bare.stderr
    assert json.loads(bare.stdout)["context"] == []

    buffer = "from pkg.geometry import area\n\nx = "
    piped = ragls(
        *common, "--line", "3", "--col", "5", "--max-tokens", "4", "--json", "--stdin", stdin=buffer
    )
    assert piped.returncode == 0, piped.stderr


def test_complete_errors_and_batch(write_workspace, tiny_model: Path, tmp_path: Path) -> None:
    ws = write_workspace(FILES)
    base = ["complete", "--workspace", str(ws), "--model", str(tiny_model), "--max-tokens", "4"]
    out_of_range = ragls(*base, "--file", "pkg/report.py", "--line", "99", "--col", "1")
    assert out_of_range.returncode != 0 and "out of range" in out_of_range.stderr
    outside = ragls(*base, "--file", "/etc/hostname", "--line", "1", "--col", "1")
    assert outside.returncode != 0 and "outside the workspace" in outside.stderr
    missing_model = ragls(
        *base[:-4],
        "--model",
        str(tmp_path / "nope.gguf"),
        "--file",
        "pkg/report.py",
        "--line",
        "1",
        "--col",
        "1",
    )
    assert missing_model.returncode == 1 and "not found" in missing_model.stderr

    batch = tmp_path / "q.jsonl"
    batch.write_text(
        json.dumps({"file": "pkg/report.py", "line": 5, "col": 12})
        + "\n"
        + "{not json\n"
        + json.dumps({"file": "pkg/report.py", "line": 500, "col": 1})
        + "\n"
        + json.dumps({"file": "pkg/geometry.py", "line": 3, "col": 5})
        + "\n"
    )
    out = ragls(*base, "--batch", str(batch))
    assert out.returncode == 0, out.stderr
    lines = [json.loads(x) for x in out.stdout.splitlines()]
    assert len(lines) == 4
    assert "completion" in lines[0] and "completion" in lines[3]
    assert "error" in lines[1] and "error" in lines[2] and "out of range" in lines[2]["error"]
