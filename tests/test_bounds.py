"""Per-message records stay bounded however long a session runs."""

from __future__ import annotations

from ragls.server.state import CONTEXTS_MAX, REPORTED_MAX, ServerState


def test_reported_error_kinds_are_bounded_and_still_deduplicate() -> None:
    state = ServerState(engine_factory=lambda root, settings: None)  # type: ignore[arg-type,return-value]
    for i in range(20_000):  # kinds carry message text: every one distinct
        assert state.should_report(f"completion failed: {i} " + "x" * 200)
    assert len(state._reported) <= REPORTED_MAX
    assert state.should_report("recent") and not state.should_report("recent")


def test_remembered_contexts_are_bounded() -> None:
    state = ServerState(engine_factory=lambda root, settings: None)  # type: ignore[arg-type,return-value]
    for i in range(1000):
        state.remember_context(f"file:///w/f{i}.py", [])
    assert len(state.contexts) == CONTEXTS_MAX and "file:///w/f999.py" in state.contexts
    state.remember_context("file:///w/f500.py", [])  # touched again: kept as the newest
    state.remember_context("file:///w/new.py", [])
    assert "file:///w/f500.py" in state.contexts
