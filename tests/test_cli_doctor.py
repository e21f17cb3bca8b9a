"""`ragls doctor`: what editors' health checks show (version, llama-cpp, model, index, log)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ragls.cli.main import main


def _doctor(capsys: pytest.CaptureFixture[str], ws: Path, settings: dict | None = None) -> dict:
    args = ["doctor", "--json", "--workspace", str(ws)]
    if settings is not None:
        args += ["--settings", json.dumps(settings)]
    assert main(args) == 0
    return json.loads(capsys.readouterr().out)


def test_doctor_reports_model_index_and_log(
    write_workspace, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    ws = write_workspace({"a.py": "def f():\n    return 1\n"})
    missing = _doctor(capsys, ws, {"model": {"path": str(tmp_path / "nope.gguf")}})
    assert missing["model"]["ok"] is False and "not found" in missing["model"]["error"]
    assert missing["index"]["exists"] is False and missing["index"]["files"] == 0
    cache = Path(os.environ["RAGLS_CACHE_DIR"])
    assert Path(missing["index"]["path"]).parent == cache
    assert missing["log_file"] == str(cache / "logs" / "serve.log")

    not_gguf = tmp_path / "m.gguf"
    not_gguf.write_bytes(b"not a model")
    assert _doctor(capsys, ws, {"model": {"path": str(not_gguf)}})["model"]["error"] == "not a GGUF file"

    assert main(["index", str(ws)]) == 0
    capsys.readouterr()
    built = _doctor(capsys, ws, {"model": {"source": "remote", "endpoint": "http://127.0.0.1:9"}})
    assert built["model"] == {"source": "remote", "name": None, "endpoint": "http://127.0.0.1:9",
                              "path": None, "ok": True, "error": None}
    assert built["index"]["exists"] is True and built["index"]["files"] >= 1 and built["index"]["bytes"] > 0


def test_doctor_reports_bad_settings_and_bad_json(
    write_workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = write_workspace({"a.py": "x = 1\n"})
    report = _doctor(capsys, ws, {"completion": {"debounceMs": "soon"}, "model": {"source": "remote"}})
    assert report["settings_errors"] and "debounceMs" in report["settings_errors"][0]
    assert report["model"]["ok"] is False and "endpoint" in report["model"]["error"]
    assert main(["doctor", "--workspace", str(ws), "--settings", "{nope"]) == 2
    assert "not JSON" in capsys.readouterr().err
    # plain text for people; exit 1 when something needs fixing
    assert main(["doctor", "--workspace", str(ws), "--settings", '{"model": {"source": "remote"}}']) == 1
    assert "model:" in capsys.readouterr().out


def test_sizes_are_shown_in_si_units() -> None:
    from ragls.cli.models_cmd import human_size

    assert [human_size(n) for n in (0, 512, 999, 1000, 1500, 468_000_000, 1_100_000_000)] == [
        "0 B", "512 B", "999 B", "1.0 kB", "1.5 kB", "468.0 MB", "1.1 GB",
    ]
