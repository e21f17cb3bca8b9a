"""Incremental updates, overlays and graph queries of WorkspaceIndex on small real workspaces."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ragls.errors import WorkspaceError
from ragls.indexing import workspace_update
from ragls.indexing.workspace import WorkspaceIndex

FILES = {
    "pkg/__init__.py": "from pkg.core import helper\n",
    "pkg/core.py": '''
        """Core helpers."""


        def helper(x):
            """Add one."""
            return x + 1


        class Engine:
            def run(self):
                return helper(2)
        ''',
    "pkg/util.py": """
        import os


        def unrelated_tool():
            return os.sep
        """,
    "app.py": """
        import json
        from pkg import helper
        from pkg.core import Engine


        def main():
            engine = Engine()
            return helper(engine.run())
        """,
}


@pytest.fixture
def ws(write_workspace) -> Path:
    return write_workspace(FILES)


@pytest.fixture
def index(ws: Path):
    ix = WorkspaceIndex.open(ws)
    yield ix
    ix.close()


def _names(ix: WorkspaceIndex, path: str) -> list[str]:
    return [s.qualname for s in ix.definitions_in(path)]


def _bump_mtime(path: Path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))


def test_cold_then_warm(index: WorkspaceIndex) -> None:
    assert index.is_empty()
    progress: list[tuple[int, int, str]] = []
    cold = index.update(progress=lambda d, t, p: progress.append((d, t, p)))
    assert (cold.files, cold.reindexed, cold.removed) == (4, 4, 0)
    assert cold.symbols == 5 and cold.chunks >= 4
    # import edges app->pkg/__init__, app->core, __init__->core; names helper/Engine/run resolve
    assert cold.edges >= 3
    assert [d for d, _, _ in progress] == [1, 2, 3, 4] and {t for _, t, _ in progress} == {4}
    assert not index.is_empty()
    warm = index.update()
    assert (warm.reindexed, warm.removed, warm.files, warm.edges) == (0, 0, 4, cold.edges)
    assert index.stats().files == 4 and index.stats().symbols == 5


def test_edit_one_file_reparses_only_it(index: WorkspaceIndex, ws: Path) -> None:
    index.update()
    before = {p: index.definitions_in(p) for p in index.files()}
    (ws / "pkg/util.py").write_text("def unrelated_tool():\n    return 1\n\n\ndef extra_tool():\n    pass\n")
    _bump_mtime(ws / "pkg/util.py")
    stats = index.update()
    assert (stats.reindexed, stats.removed) == (1, 0)
    assert _names(index, "pkg/util.py") == ["unrelated_tool", "extra_tool"]
    for path in ("app.py", "pkg/core.py", "pkg/__init__.py"):
        assert index.definitions_in(path) == before[path]  # same rows, same ids
    assert [s.path for s in index.find_definitions("extra_tool")] == ["pkg/util.py"]


def test_reindexing_an_edited_file_keeps_the_ids_of_its_chunks(index: WorkspaceIndex, ws: Path) -> None:
    index.update()
    before = {c.name: c for c in index.chunks_in("pkg/core.py") if c.name}
    core = (ws / "pkg/core.py").read_text()
    (ws / "pkg/core.py").write_text(core.replace("return x + 1", "return x + 2"))
    _bump_mtime(ws / "pkg/core.py")
    assert index.update().reindexed == 1
    after = {c.name: c for c in index.chunks_in("pkg/core.py") if c.name}
    assert {n: c.chunk_id for n, c in after.items()} == {n: c.chunk_id for n, c in before.items()}
    assert after["helper"].text != before["helper"].text and after["Engine"].text == before["Engine"].text
    (found,) = index.chunks_by_id([before["helper"].chunk_id])  # the old id finds the new text
    assert "return x + 2" in found.text


def test_same_content_new_mtime_is_not_reparsed(index: WorkspaceIndex, ws: Path) -> None:
    index.update()
    _bump_mtime(ws / "pkg/core.py")
    assert index.update().reindexed == 0
    # the new stat was stored: a third run does not even need the hash
    calls: list[str] = []
    real = workspace_update.load_file

    def spy(root: str, rel: str, *args: object) -> workspace_update.Loaded:
        calls.append(rel)
        return real(root, rel, *args)  # type: ignore[arg-type]

    pytest.MonkeyPatch().setattr(workspace_update, "load_file", spy)
    try:
        assert index.update().reindexed == 0
    finally:
        pytest.MonkeyPatch().undo()
    assert calls == []


def test_delete_and_rename(index: WorkspaceIndex, ws: Path) -> None:
    index.update()
    edges_before = index.stats().edges
    (ws / "pkg/util.py").unlink()
    stats = index.update()
    assert (stats.removed, stats.reindexed, stats.files) == (1, 0, 3)
    assert index.find_definitions("unrelated_tool") == [] and index.chunks_in("pkg/util.py") == []
    assert index.lexical_search(["unrelated_tool"]) == []
    assert index.stats().edges == edges_before  # util imported nothing of ours and was not imported

    (ws / "pkg/core.py").rename(ws / "pkg/engine.py")
    stats = index.update()
    assert (stats.removed, stats.reindexed) == (1, 1)
    assert [s.path for s in index.find_definitions("Engine")] == ["pkg/engine.py"]
    # the imports of pkg.core no longer resolve; nothing points at the old path any more
    assert index.importers_of("pkg/core.py") == []
    assert all("pkg/core.py" not in i.targets for i in index.imports_of("app.py"))
    assert index.stats().edges < edges_before


def test_bad_files_are_indexed_with_what_parses(write_workspace) -> None:
    ws = write_workspace({"ok.py": "def fine():\n    pass\n"})
    (ws / "latin.py").write_bytes(b"def caf\xe9_bad():\n    pass\n\ndef good_after():\n    return 1\n")
    (ws / "broken.py").write_text(
        "def before():\n    pass\n\ndef broken(:\n    x = \n\ndef after_error():\n    pass\n"
    )
    with WorkspaceIndex.open(ws) as ix:
        stats = ix.update()
        assert stats.files == 3 and stats.skipped == 0
        assert "good_after" in _names(ix, "latin.py")
        assert "before" in _names(ix, "broken.py")  # what precedes the error survives
        syntax_errors = (
            ix._conn().execute("SELECT syntax_errors FROM files WHERE path='broken.py'").fetchone()[0]
        )
        assert syntax_errors > 0


def test_file_vanishing_after_discovery_is_skipped(
    ws: Path, index: WorkspaceIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = workspace_update.discover

    def discover_then_delete(root: Path, config: object, **kwargs: object) -> object:
        found = real(root, config, **kwargs)  # type: ignore[arg-type]
        (ws / "pkg/util.py").unlink()
        return found

    monkeypatch.setattr(workspace_update, "discover", discover_then_delete)
    stats = index.update()
    assert (stats.files, stats.reindexed, stats.skipped) == (3, 3, 1)
    assert stats.skip_reasons == {"missing": 1}


def test_update_of_given_paths(index: WorkspaceIndex, ws: Path) -> None:
    index.update()
    (ws / "new.py").write_text("def fresh_one():\n    pass\n")
    (ws / "pkg/util.py").unlink()
    (ws / "notes.txt").write_text("not source")
    stats = index.update(paths=["new.py", str(ws / "pkg/util.py"), "notes.txt", "node_modules/x.js"])
    assert (stats.reindexed, stats.removed, stats.files) == (1, 1, 4)
    assert [s.path for s in index.find_definitions("fresh_one")] == ["new.py"]


def test_overlay_shadows_disk(index: WorkspaceIndex, ws: Path) -> None:
    index.update()
    disk = (ws / "pkg/util.py").read_text()
    index.set_overlay("pkg/util.py", "def overlay_only_fn(zebra_count):\n    return zebra_count\n")
    assert index.overlay_text("pkg/util.py").startswith("def overlay_only_fn")
    assert _names(index, "pkg/util.py") == ["overlay_only_fn"]
    assert index.find_definitions("unrelated_tool") == []
    (sym,) = index.find_definitions("overlay_only_fn")
    assert sym.symbol_id < 0 and sym.path == "pkg/util.py"
    assert [c.name for c in index.chunks_in("pkg/util.py")] == ["overlay_only_fn"]
    hits = index.lexical_search(["zebra_count", "unrelated_tool"])
    assert [(c.path, c.name) for c, _ in hits] == [("pkg/util.py", "overlay_only_fn")]
    assert index.lexical_search(["zebra_count"], exclude_paths=["pkg/util.py"]) == []
    assert index.read_text("pkg/util.py").startswith("def overlay_only_fn")
    assert (ws / "pkg/util.py").read_text() == disk  # disk untouched
    assert index.update().reindexed == 0
    index.clear_overlay("pkg/util.py")
    assert _names(index, "pkg/util.py") == ["unrelated_tool"]
    assert [c.path for c, _ in index.lexical_search(["unrelated_tool"])] == ["pkg/util.py"]
    assert index.lexical_search(["zebra_count"]) == []


def test_overlay_of_new_file_joins_the_graph(index: WorkspaceIndex) -> None:
    index.update()
    index.set_overlay("scratch.py", "from pkg.core import helper\n\n\ndef draft():\n    return helper(1)\n")
    assert "scratch.py" in index.files()
    (imp,) = index.imports_of("scratch.py")
    assert imp.targets == ("pkg/core.py",)
    assert "scratch.py" in index.importers_of("pkg/core.py")
    (draft,) = index.find_definitions("draft")
    assert [(s.path, s.name) for s in index.callees_of(draft)] == [("pkg/core.py", "helper")]
    helper = index.find_definitions("helper")[0]
    assert ("scratch.py", 5) in {(r.path, r.line) for r in index.callers_of(helper)}


def test_graph_queries(index: WorkspaceIndex) -> None:
    index.update()
    imports = {i.module: i for i in index.imports_of("app.py")}
    assert imports["json"].external and imports["json"].targets == ()
    assert imports["pkg"].targets == ("pkg/__init__.py",) and imports["pkg"].names == ("helper",)
    assert imports["pkg.core"].targets == ("pkg/core.py",)
    assert index.importers_of("pkg/core.py") == ["app.py", "pkg/__init__.py"]
    # helper is imported through the package __init__ re-export
    assert [(s.path, s.qualname) for s in index.resolve_name("app.py", "helper")] == [
        ("pkg/core.py", "helper")
    ]
    assert [s.qualname for s in index.resolve_name("app.py", "Engine")] == ["Engine"]
    assert [s.path for s in index.resolve_name("pkg/core.py", "helper")] == ["pkg/core.py"]  # local
    assert index.resolve_name("app.py", "no_such_name") == []
    helper = index.find_definitions("helper")[0]
    callers = {(r.path, r.scope) for r in index.callers_of(helper)}
    assert callers == {("app.py", "main"), ("pkg/core.py", "Engine.run")}
    assert all(r.path != "pkg/util.py" for r in index.callers_of(helper))
    (main,) = index.find_definitions("main")
    assert {s.qualname for s in index.callees_of(main)} >= {"Engine", "helper", "Engine.run"}
    assert index.language_of("app.py") == "python"
    assert [c.path for c in index.chunks_by_id([index.chunks_in("app.py")[0].chunk_id])] == ["app.py"]


def test_missing_root_raises(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError):
        WorkspaceIndex.open(tmp_path / "nope")
    root = tmp_path / "gone"
    root.mkdir()
    (root / "a.py").write_text("def alpha():\n    pass\n")
    with WorkspaceIndex.open(root) as ix:
        ix.update()
        (root / "a.py").unlink()
        root.rmdir()
        with pytest.raises(WorkspaceError):
            ix.update()
        assert ix.stats().files == 1  # the index was not emptied
