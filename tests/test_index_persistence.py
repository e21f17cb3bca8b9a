"""The index survives restarts, schema changes, corrupt files and a SIGKILL mid-update."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from ragls.indexing import store_schema
from ragls.indexing.config import IndexConfig
from ragls.indexing.workspace import WorkspaceIndex

N_FILES = 400

KILLABLE = """
import sys
from ragls.indexing.workspace import WorkspaceIndex
ix = WorkspaceIndex.open(sys.argv[1])
print("start", flush=True)
ix.update(progress=lambda done, total, path: print(done, flush=True))
print("finished", flush=True)
"""


def _generate(root: Path, n: int) -> None:
    for i in range(n):
        pkg = root / f"pkg{i % 10}"
        pkg.mkdir(parents=True, exist_ok=True)
        prev = f"from pkg{(i - 1) % 10}.mod{i - 1} import func_{i - 1}\n" if i else ""
        body = "".join(f"\n\ndef func_{i}_{k}(value):\n    return func_{i}(value) + {k}\n" for k in range(3))
        (pkg / f"mod{i}.py").write_text(
            f'"""Module {i}."""\n{prev}\n\ndef func_{i}(value):\n    """Do {i}."""\n    return value * {i}\n'
            f"\n\nclass Thing{i}:\n    def method_{i}(self):\n        return func_{i}(1)\n{body}"
        )


def _consistent(db: Path) -> None:
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # a file row exists iff its rows are complete: every generated file has 6 definitions and chunks
        bad = conn.execute(
            "SELECT f.path FROM files f "
            "WHERE (SELECT count(*) FROM definitions d WHERE d.file_id = f.id) != 6 "
            "OR NOT EXISTS (SELECT 1 FROM chunks c WHERE c.file_id = f.id) "
            "OR NOT EXISTS (SELECT 1 FROM file_refs r WHERE r.file_id = f.id)"
        ).fetchall()
        assert bad == []
        orphans = conn.execute(
            "SELECT count(*) FROM chunks_fts WHERE rowid NOT IN (SELECT rowid FROM chunks)"
        )
        assert orphans.fetchone()[0] == 0
    finally:
        conn.close()


def test_reopen_keeps_the_index(write_workspace) -> None:
    ws = write_workspace({"a.py": "def alpha():\n    pass\n", "b.py": "from a import alpha\n"})
    with WorkspaceIndex.open(ws) as ix:
        first = ix.update()
    with WorkspaceIndex.open(ws) as ix:
        assert not ix.is_empty()
        assert [s.path for s in ix.find_definitions("alpha")] == ["a.py"]
        assert ix.stats().edges == first.edges and ix.stats().files == 2
        assert ix.update().reindexed == 0


def test_schema_bump_and_corrupt_file_rebuild(write_workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = write_workspace({"a.py": "def alpha():\n    pass\n"})
    with WorkspaceIndex.open(ws) as ix:
        ix.update()
        db = ix.index_dir / store_schema.DB_NAME
    monkeypatch.setattr(store_schema, "SCHEMA_VERSION", store_schema.SCHEMA_VERSION + 1)
    with WorkspaceIndex.open(ws) as ix:
        assert ix.is_empty()
        assert ix.update().reindexed == 1
    db.write_bytes(b"\0garbage" * 4096)
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    with WorkspaceIndex.open(ws) as ix:
        assert ix.is_empty()
        assert ix.update().reindexed == 1
        assert [s.name for s in ix.find_definitions("alpha")] == ["alpha"]


def test_index_in_workspace_folder(write_workspace) -> None:
    ws = write_workspace({"a.py": "def alpha():\n    pass\n"})
    with WorkspaceIndex.open(ws, IndexConfig(in_workspace=True)) as ix:
        assert ix.index_dir == ws / ".ragls"
        assert ix.update().files == 1
        assert ix.update().reindexed == 0  # the index folder itself is never indexed


def test_sigkill_mid_update_leaves_a_usable_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = tmp_path / "gen"
    _generate(ws, N_FILES)
    monkeypatch.setenv("RAGLS_CACHE_DIR", str(tmp_path / "clean-cache"))
    with WorkspaceIndex.open(ws) as clean_ix:
        clean = clean_ix.update()
    assert clean.files == N_FILES

    monkeypatch.setenv("RAGLS_CACHE_DIR", str(tmp_path / "killed-cache"))
    rng = random.Random(7)
    recorded: list[int] = []
    # kill in the first batch, after a committed batch (every 200 files), and after the last file
    # (during import resolution and edge counting); each run resumes the previous one's work
    for kill_at in (rng.randint(20, 150), rng.randint(210, 380), N_FILES):
        proc = subprocess.Popen(
            [sys.executable, "-c", KILLABLE, str(ws)],
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        assert proc.stdout is not None
        seen = 0
        for line in proc.stdout:
            if line.strip().isdigit():
                seen = int(line)
                if seen >= kill_at:
                    break
            elif line.startswith("finished"):
                break
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
        with WorkspaceIndex.open(ws) as ix:
            _consistent(ix.index_dir / store_schema.DB_NAME)
            recorded.append(ix.stats().files)

    assert recorded[0] < N_FILES and 0 < recorded[1] < N_FILES  # the kills interrupted real work
    with WorkspaceIndex.open(ws) as ix:
        done = ix.update()
        assert (done.files, done.symbols, done.chunks, done.edges) == (
            clean.files,
            clean.symbols,
            clean.chunks,
            clean.edges,
        )
        assert ix.update().reindexed == 0
        _consistent(ix.index_dir / store_schema.DB_NAME)
        assert {i.targets for i in ix.imports_of("pkg1/mod1.py")} == {("pkg0/mod0.py",)}
