"""The completion model's keystroke cost: measured on a real (tiny) GGUF, once per machine key."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from ragls.models import bundles, model_choice

sys.path.insert(0, str(Path(__file__).parent))
from gguf_tiny import make_tiny_gguf


def test_measurement_times_a_keystroke_on_a_real_gguf(tmp_path: Path) -> None:
    cost = model_choice.measure_keystroke(make_tiny_gguf(tmp_path / "t.gguf", "qwen2"), threads=1)
    assert 0.0 < cost.ms < 60_000 and 0.0 < cost.cpu_share < 1.5 and 0.0 < cost.read_tps < float("inf")


def test_measured_once_and_cached_per_version(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RAGLS_DATA_DIR", str(tmp_path))
    model = make_tiny_gguf(tmp_path / "t.gguf", "qwen2")
    monkeypatch.setattr(bundles, "assemble", lambda b, directory=None: model)
    calls: list[Path] = []

    def measure(path: Path, threads: int = 2) -> model_choice.KeystrokeCost:
        calls.append(path)
        return model_choice.KeystrokeCost(640.0, 0.9, 150.0)

    monkeypatch.setattr(model_choice, "measure_keystroke", measure)
    large = bundles.BUNDLES["qwen2.5-coder-1.5b"]
    assert model_choice.keystroke_cost(large).ms == 640.0
    again = model_choice.keystroke_cost(large)
    assert (again.ms, again.read_tps) == (640.0, 150.0)
    assert calls == [model]  # the second answer came from the cache file
    cached = json.loads((tmp_path / "keystroke-latency.json").read_text())
    assert list(cached.values()) == [{"ms": 640.0, "read_tps": 150.0}]
    # a cache written by another measurement (an older version of it) is not trusted
    monkeypatch.setattr(model_choice, "MEASURE_VERSION", model_choice.MEASURE_VERSION + 1)
    assert model_choice.keystroke_cost(large).ms == 640.0
    assert len(calls) == 2


def test_a_measurement_on_a_busy_machine_is_used_but_not_cached(monkeypatch: pytest.MonkeyPatch,
                                                                tmp_path: Path) -> None:
    monkeypatch.setenv("RAGLS_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(bundles, "assemble", lambda b, directory=None: tmp_path / "t.gguf")
    costs = [model_choice.KeystrokeCost(1544.0, 0.59), model_choice.KeystrokeCost(850.0, 0.86)]
    monkeypatch.setattr(model_choice, "measure_keystroke", lambda path, threads=2: costs.pop(0))
    large = bundles.BUNDLES["qwen2.5-coder-1.5b"]
    assert model_choice.keystroke_cost(large).ms == 1544.0  # busy: this start decides on it...
    assert not (tmp_path / "keystroke-latency.json").exists()
    assert model_choice.keystroke_cost(large).ms == 850.0  # ...the next measures again, and keeps it
    assert model_choice.keystroke_cost(large).ms == 850.0 and costs == []


def test_largest_model_within_the_target(monkeypatch: pytest.MonkeyPatch) -> None:
    small, large = bundles.BUNDLES["qwen2.5-coder-0.5b"], bundles.BUNDLES["qwen2.5-coder-1.5b"]
    cost = model_choice.KeystrokeCost
    costs = {small.name: cost(450.0, 0.9, 159.0), large.name: cost(760.0, 0.9, 150.0)}
    monkeypatch.setattr(model_choice, "keystroke_cost", lambda b, threads=2: costs[b.name])
    assert model_choice.fastest_enough([small, large]) is large
    costs[large.name] = cost(model_choice.TARGET_KEYSTROKE_MS + 1, 0.9, 150.0)
    assert model_choice.fastest_enough([small, large]) is small
    # fast per keystroke, but its head with room for context (448 tokens) takes 5.2 s to read
    costs[large.name] = cost(850.0, 0.9, 86.0)
    assert model_choice.fastest_enough([small, large]) is small

    def broken(b, threads=2):
        raise RuntimeError("cannot load")

    monkeypatch.setattr(model_choice, "keystroke_cost", broken)
    assert model_choice.fastest_enough([small, large]) is small  # never measured: the smallest


def test_models_command_shows_the_measured_completion_model(monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path) -> None:
    from ragls.cli.models_cmd import bundle_rows

    monkeypatch.setenv("RAGLS_DATA_DIR", str(tmp_path))
    small, large = bundles.BUNDLES["qwen2.5-coder-0.5b"], bundles.BUNDLES["qwen2.5-coder-1.5b"]
    monkeypatch.setattr(bundles, "installed_bundles", lambda: [small, large])

    def roles() -> dict[str, str]:
        return {r["name"]: r["role"] for r in bundle_rows()}

    assert roles() == {small.name: "completion otherwise",
                       large.name: "generation, completion if fast enough here"}
    key = model_choice._machine_key(large, 2)
    (tmp_path / "keystroke-latency.json").write_text(json.dumps({key: {"ms": 760.0, "read_tps": 150.0}}))
    assert roles() == {small.name: "-", large.name: "generation, completion"}
    (tmp_path / "keystroke-latency.json").write_text(json.dumps({key: {"ms": 1700.0, "read_tps": 150.0}}))
    assert roles() == {small.name: "completion", large.name: "generation"}
    (tmp_path / "keystroke-latency.json").write_text(json.dumps({key: {"ms": 760.0, "read_tps": 86.0}}))
    assert roles() == {small.name: "completion", large.name: "generation"}
