"""Faults the index must survive: kill -9 while indexing or embedding, a damaged database or
vector file, a cache folder that cannot be written, and old indexes of deleted workspaces."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from fault_helpers import DIM, HashEmbedder, vector_of, write_workspace

from ragls.indexing.vectors import VectorStore
from ragls.indexing.workspace import WorkspaceIndex

HELPER = Path(__file__).parent / "fault_helpers.py"


def _summary(index: WorkspaceIndex) -> tuple[list[str], int, int, int]:
    stats = index.stats()
    return index.files(), stats.symbols, stats.chunks, stats.edges


def _fresh_summary(tmp_path: Path, n_files: int) -> tuple[list[str], int, int, int]:
    ref = tmp_path / "reference"
    write_workspace(ref, n_files)
    with WorkspaceIndex.open(ref) as index:
        index.update()
        return _summary(index)


def _rows_committed(db: Path) -> int:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return int(conn.execute("SELECT count(*) FROM files").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def _group_gone(pgid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_kill_9_while_indexing_leaves_an_index_the_next_start_completes(tmp_path: Path) -> None:
    n_files = 300
    root = tmp_path / "ws"
    write_workspace(root, n_files)
    expected = _fresh_summary(tmp_path, n_files)
    with WorkspaceIndex.open(root) as index:
        db = index._store.path
    rng = random.Random(7)
    kills = 0
    for _attempt in range(3):  # kill at a different moment each time, resuming the same index
        child = subprocess.Popen(
            [sys.executable, str(HELPER), "index", str(root)], stdout=subprocess.PIPE, start_new_session=True
        )
        try:
            before = _rows_committed(db)
            deadline = time.monotonic() + 60
            target = before + rng.randrange(1, 60)
            while time.monotonic() < deadline and child.poll() is None and _rows_committed(db) < target:
                time.sleep(0.01)
            time.sleep(rng.random() * 0.05)
            if child.poll() is None:
                child.send_signal(signal.SIGKILL)  # the indexer only, as kill -9 <pid> does
                kills += 1
            child.wait(30)
            # its parsing workers must not outlive it (they would wait on their queue forever)
            assert _group_gone(child.pid, timeout_s=10), "pool workers outlived the killed indexer"
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
    assert kills >= 1, "the indexer always finished before it could be killed"
    with WorkspaceIndex.open(root) as index:
        assert index._conn().execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        partial = len(index.files())
        index.update()
        assert _summary(index) == expected
    assert partial <= len(expected[0])


def test_kill_9_while_embedding_leaves_vectors_the_next_start_completes(tmp_path: Path) -> None:
    from ragls.retrieval.embedding_jobs import EmbeddingScheduler

    root = tmp_path / "ws"
    write_workspace(root, 120)
    with WorkspaceIndex.open(root) as index:
        index.update()
        index_dir = index.index_dir
        hashes = {c.content_hash for batch in index.iter_chunks() for c in batch}
    store_path = VectorStore(index_dir, HashEmbedder.model_id, DIM).path
    rng = random.Random(11)
    kills = 0
    for _attempt in range(3):
        child = subprocess.Popen(
            [sys.executable, str(HELPER), "embed", str(root)], stdout=subprocess.PIPE, text=True
        )
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        time.sleep(0.1 + rng.random() * 0.4)
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
            kills += 1
        child.wait(30)
    assert kills >= 1, "embedding always finished before it could be killed"
    assert store_path.exists(), "no save happened before the kills"
    with WorkspaceIndex.open(root) as index:
        store = VectorStore(index.index_dir, HashEmbedder.model_id, DIM)
        assert not store_path.with_name(store_path.name + ".corrupt").exists()
        resumed_from = len(store)
        assert 0 < resumed_from <= len(hashes)
        EmbeddingScheduler(index, HashEmbedder(), store).run_until_done()
        assert set(store.hashes()) == hashes
        rows = {c.content_hash: c for batch in index.iter_chunks() for c in batch}
    # every stored vector is the right one for its chunk (none mixed up by a torn write)
    from ragls.retrieval.embedding_jobs import chunk_embedding_text

    reopened = VectorStore(index_dir, HashEmbedder.model_id, DIM)
    for h in hashes:
        assert np.allclose(reopened.vector(h), vector_of(chunk_embedding_text(rows[h])), atol=1e-6)


def _damage(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "garbage":
        path.write_bytes(os.urandom(len(data)))
    elif how == "pages":  # keep the header, scramble the pages behind it
        rng = random.Random(3)
        for page in range(1, len(data) // 4096):
            if rng.random() < 0.5:
                data[page * 4096 : page * 4096 + 4096] = os.urandom(4096)
        path.write_bytes(bytes(data))
    elif how == "truncated":
        path.write_bytes(bytes(data[: len(data) // 3]))


@pytest.mark.parametrize("how", ["garbage", "pages", "truncated"])
def test_a_damaged_index_is_moved_aside_and_rebuilt(
    tmp_path: Path, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "ws"
    write_workspace(root, 40)
    with WorkspaceIndex.open(root) as index:
        index.update()
        expected = _summary(index)
        db = index._store.path
    for suffix in ("-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    _damage(db, how)
    caplog.set_level(logging.WARNING, logger="ragls")
    with WorkspaceIndex.open(root) as index:
        index.update()
        assert _summary(index) == expected
        assert index._conn().execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.with_name(db.name + ".corrupt").exists()
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING and "damaged" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in caplog.records]  # (the tmp path says "damaged")


def test_a_damaged_vector_file_is_moved_aside(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = VectorStore(tmp_path, HashEmbedder.model_id, DIM)
    store.add(["00000000000000aa"], vector_of("a")[None, :])
    store.save()
    store.path.write_bytes(store.path.read_bytes()[:100])
    caplog.set_level(logging.WARNING, logger="ragls")
    again = VectorStore(tmp_path, HashEmbedder.model_id, DIM)
    assert len(again) == 0
    assert store.path.with_name(store.path.name + ".corrupt").exists() and not store.path.exists()
    assert len([r for r in caplog.records if "unreadable" in r.getMessage()]) == 1
    again.add(["00000000000000bb"], vector_of("b")[None, :])
    again.save()
    assert len(VectorStore(tmp_path, HashEmbedder.model_id, DIM)) == 1


def test_an_unwritable_cache_keeps_the_index_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be", encoding="utf-8")
    monkeypatch.setenv("RAGLS_CACHE_DIR", str(blocker))
    root = tmp_path / "ws"
    write_workspace(root, 10)
    index = WorkspaceIndex.open(root)
    try:
        assert index.persisted is False
        index.update()
        assert len(index.files()) == len(list(root.rglob("*.py"))) and index.find_definitions("func_3")
        volatile = index.index_dir
        assert volatile.exists() and not str(volatile).startswith(str(blocker))
    finally:
        index.close()
    assert not volatile.exists()


@pytest.mark.parametrize("fault", ["full", "read-only"])
def test_a_cache_that_fills_up_or_turns_read_only_keeps_the_index_in_memory(
    tmp_path: Path, fault: str, caplog: pytest.LogCaptureFixture
) -> None:
    """SQLite's own limits make the real error: max_page_count -> SQLITE_FULL ("database or disk
    is full"), query_only -> SQLITE_READONLY (running as root, file modes would not stop a write)."""
    root = tmp_path / "ws"
    write_workspace(root / "a", 10)
    caplog.set_level(logging.WARNING, logger="ragls")
    with WorkspaceIndex.open(root) as index:
        index.update()
        on_disk = index.index_dir
        write_workspace(root / "b", 200)
        conn = index._store.writer().conn  # the store's one write connection
        if fault == "full":
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count = {pages + 2}")
        else:
            conn.execute("PRAGMA query_only = 1")
        index.update()
        assert index.persisted is False and index.index_dir != on_disk
        assert len(index.files()) == len(list(root.rglob("*.py"))) and index.find_definitions("func_150")
        volatile = index.index_dir
    assert not volatile.exists()  # nothing left behind in memory or /tmp
    assert len([r for r in caplog.records if "not persisted" in r.getMessage()]) == 1


def test_index_gc_removes_indexes_of_deleted_workspaces(tmp_path: Path) -> None:
    from ragls.indexing.config import USE_FILE, remove_stale_indexes, stale_indexes

    kept, gone, old_gone = tmp_path / "kept", tmp_path / "gone", tmp_path / "old_gone"
    dirs = {}
    for root in (kept, gone, old_gone):
        write_workspace(root, 2)
        with WorkspaceIndex.open(root) as index:
            index.update()
            dirs[root] = index.index_dir
    for root in (gone, old_gone):
        for p in sorted(root.rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()
        root.rmdir()
    use = dirs[old_gone] / USE_FILE
    info = json.loads(use.read_text())
    info["last_used"] -= 40 * 86400
    use.write_text(json.dumps(info))
    assert {s.index_dir for s in stale_indexes(30)} == {dirs[old_gone]}  # age-based: only the old one
    removed = remove_stale_indexes(30)
    assert [r.index_dir for r in removed] == [dirs[old_gone]] and not dirs[old_gone].exists()
    out = subprocess.run(
        [sys.executable, "-m", "ragls", "index", "--gc", "--json"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert [r["index_dir"] for r in json.loads(out.stdout)] == [str(dirs[gone])]
    assert not dirs[gone].exists() and dirs[kept].exists()


def test_the_server_says_once_that_the_index_is_not_persisted(tmp_path: Path) -> None:
    from lsp_fuzz import RawClient, initialize_params

    blocker = tmp_path / "cache-is-a-file"
    blocker.write_text("x", encoding="utf-8")
    root = tmp_path / "ws"
    write_workspace(root, 5)
    client = RawClient(
        [sys.executable, "-m", "ragls", "serve"],
        env={"RAGLS_CACHE_DIR": str(blocker)},
        stderr_path=tmp_path / "log",
    )
    try:
        client.request(1, "initialize", initialize_params(root, {"embeddings": {"kind": "none"}}))
        client.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        for n in range(2, 400):
            status = client.request(n, "workspace/executeCommand", {"command": "ragls.indexStatus"})
            if status["result"]["state"] == "ready":
                break
            time.sleep(0.05)
        assert status["result"]["index"]["files"] == len(list(root.rglob("*.py")))
        client.request(500, "workspace/executeCommand", {"command": "ragls.reindex"}, 60)
        shown = [m["params"]["message"] for m in client.notifications if m["method"] == "window/showMessage"]
        assert len([m for m in shown if "cannot be written" in m]) == 1, shown
    finally:
        assert client.close() == 0
