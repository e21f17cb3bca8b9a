"""IndexWatcher: file changes on disk reach the index after the debounce."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from ragls.indexing.records import UpdateStats
from ragls.indexing.watcher import IndexWatcher
from ragls.indexing.workspace import WorkspaceIndex


def _wait_for(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def test_watcher_follows_create_move_delete(write_workspace) -> None:
    ws: Path = write_workspace(
        {"a.py": "def alpha():\n    pass\n", "node_modules/dep.js": "function x() {}\n"}
    )
    updates: list[UpdateStats] = []
    with WorkspaceIndex.open(ws) as ix:
        ix.update()
        with IndexWatcher(ix, debounce_s=0.1, on_update=updates.append):
            time.sleep(0.1)
            (ws / "fresh.py").write_text("def watched_fn():\n    return 1\n")
            assert _wait_for(lambda: [s.path for s in ix.find_definitions("watched_fn")] == ["fresh.py"])

            (ws / "fresh.py").rename(ws / "moved.py")
            assert _wait_for(lambda: [s.path for s in ix.find_definitions("watched_fn")] == ["moved.py"])

            (ws / "a.py").write_text("def alpha_renamed():\n    pass\n")
            assert _wait_for(lambda: bool(ix.find_definitions("alpha_renamed")))
            assert ix.find_definitions("alpha") == []

            (ws / "moved.py").unlink()
            assert _wait_for(lambda: ix.find_definitions("watched_fn") == [])
            # ignored folders and non-source files never trigger an update
            time.sleep(0.3)  # on_update runs just after the index changed
            n = len(updates)
            (ws / "node_modules" / "more.js").write_text("function y() {}\n")
            (ws / "notes.txt").write_text("hello")
            time.sleep(0.5)
            assert len(updates) == n
        assert all(u.reindexed <= 1 for u in updates)  # path updates, never a full re-parse
        assert ix.files() == ["a.py"]


def test_watcher_survives_a_failing_update(write_workspace) -> None:
    ws: Path = write_workspace({"a.py": "def alpha():\n    pass\n"})
    with WorkspaceIndex.open(ws) as ix:
        ix.update()
        real = ix.update
        calls: list[int] = []

        def flaky(*args: object, **kwargs: object) -> UpdateStats:
            calls.append(1)
            if len(calls) == 1:
                raise RuntimeError("disk on fire")
            return real(*args, **kwargs)  # type: ignore[arg-type]

        ix.update = flaky  # type: ignore[method-assign]
        with IndexWatcher(ix, debounce_s=0.05):
            (ws / "b.py").write_text("def beta():\n    pass\n")
            assert _wait_for(lambda: len(calls) >= 1)
            time.sleep(0.2)
            (ws / "c.py").write_text("def gamma():\n    pass\n")
            assert _wait_for(lambda: bool(ix.find_definitions("gamma")))
