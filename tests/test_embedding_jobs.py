"""EmbeddingScheduler: priorities, full passes, retain after removal, prompt stop."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from ragls.cancel import CancelToken
from ragls.errors import Cancelled
from ragls.indexing.records import ChunkRow, ImportRow, content_hash
from ragls.indexing.vectors import VectorStore
from ragls.retrieval.embedding_jobs import EmbeddingScheduler, chunk_embedding_text

DIM = 8


class FakeEmbedder:
    """Deterministic vectors from the text; records every batch; optionally slow."""

    model_id = "fake:1"
    dim = DIM

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.batches: list[list[str]] = []
        self.lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        with self.lock:
            self.batches.append(list(texts))
        if self.delay_s:
            time.sleep(self.delay_s)
        out = np.stack([np.random.default_rng(abs(hash(t)) % 2**32).normal(size=DIM) for t in texts])
        return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)

    def embedded_paths(self) -> list[str]:
        return [t.split("\n", 1)[0] for batch in self.batches for t in batch]


class FakeIndex:
    """The five WorkspaceIndex methods the scheduler reads."""

    def __init__(self, files: dict[str, list[str]], imports: dict[str, list[str]] | None = None) -> None:
        self.files = files
        self.imports = imports or {}

    def rows(self) -> list[ChunkRow]:
        return [
            ChunkRow(content_hash(f"{p}{i}"), p, i * 10 + 1, i * 10 + 9, "function", f"f{i}", text,
                     content_hash(text))
            for p, texts in self.files.items()
            for i, text in enumerate(texts)
        ]

    def iter_chunks(self, batch: int = 500) -> Iterator[list[ChunkRow]]:
        rows = self.rows()
        for i in range(0, len(rows), batch):
            yield rows[i : i + batch]

    def chunks_in(self, path: str) -> list[ChunkRow]:
        return [r for r in self.rows() if r.path == path]

    def chunks_by_hash(self, hashes: Sequence[str]) -> list[ChunkRow]:
        wanted = set(hashes)
        return [r for r in self.rows() if r.content_hash in wanted]

    def imports_of(self, path: str) -> list[ImportRow]:
        return [ImportRow(path, t, (), 1, (t,)) for t in self.imports.get(path, [])]

    def importers_of(self, path: str) -> list[str]:
        return [p for p, targets in self.imports.items() if path in targets]


def _workspace(n_files: int = 12, per_file: int = 3) -> dict[str, list[str]]:
    return {f"pkg/m{i:02d}.py": [f"def f{j}():\n    return {i * 100 + j}\n" for j in range(per_file)]
            for i in range(n_files)}


def _live(index: FakeIndex) -> set[str]:
    return {r.content_hash for r in index.rows()}


def test_run_until_done_covers_everything_and_dedupes(tmp_path: Path) -> None:
    files = _workspace()
    files["copy.py"] = list(files["pkg/m00.py"])  # same chunk text twice: one vector
    index, emb = FakeIndex(files), FakeEmbedder()
    store = VectorStore(tmp_path, emb.model_id, DIM)
    sched = EmbeddingScheduler(index, emb, store, batch_size=5)
    seen: list[tuple[int, int]] = []
    assert sched.run_until_done(progress=lambda d, t: seen.append((d, t))) == 36
    assert set(store.hashes()) == _live(index) and len(store) == 36
    assert sum(len(b) for b in emb.batches) == 36 and max(len(b) for b in emb.batches) <= 5
    assert sched.progress() == (36, 36) and seen[0] == (0, 36) and seen[-1] == (36, 36)
    assert VectorStore(tmp_path, emb.model_id, DIM).hashes() == store.hashes()  # saved
    assert sched.run_until_done() == 0 and len(emb.batches) == 8  # nothing left to do


def test_embedded_text_has_path_name_and_body() -> None:
    row = ChunkRow("id", "a/b.py", 1, 2, "function", "Parser.parse", "def parse(self):\n    pass\n", "h")
    assert chunk_embedding_text(row) == "a/b.py\nParser.parse\ndef parse(self):\n    pass\n"


def test_prioritised_file_and_its_neighbours_come_first(tmp_path: Path) -> None:
    imports = {"pkg/m07.py": ["pkg/m03.py"], "pkg/m09.py": ["pkg/m07.py"]}
    index, emb = FakeIndex(_workspace(), imports), FakeEmbedder(delay_s=0.01)
    store = VectorStore(tmp_path, emb.model_id, DIM)
    sched = EmbeddingScheduler(index, emb, store, batch_size=3)
    sched.prioritize(["pkg/m07.py"])
    sched.start()
    try:
        assert sched.wait_idle(timeout=10)
    finally:
        assert sched.stop(timeout=5)
    order = emb.embedded_paths()
    assert order[:9] == ["pkg/m07.py"] * 3 + ["pkg/m03.py"] * 3 + ["pkg/m09.py"] * 3
    assert set(store.hashes()) == _live(index)


def test_priority_interrupts_a_running_pass(tmp_path: Path) -> None:
    index, emb = FakeIndex(_workspace(n_files=30)), FakeEmbedder(delay_s=0.02)
    store = VectorStore(tmp_path, emb.model_id, DIM)
    sched = EmbeddingScheduler(index, emb, store, batch_size=3)
    sched.start()
    try:
        deadline = time.monotonic() + 5
        while len(emb.batches) < 2 and time.monotonic() < deadline:
            time.sleep(0.005)
        sched.prioritize(["pkg/m29.py"])  # the last file of the walk
        assert sched.wait_idle(timeout=10)
    finally:
        sched.stop()
    order = emb.embedded_paths()
    assert order.index("pkg/m29.py") < len(order) // 2
    assert len(store) == 90


def test_changes_embed_new_chunks_and_drop_dead_vectors(tmp_path: Path) -> None:
    files = _workspace(n_files=4)
    index, emb = FakeIndex(files), FakeEmbedder()
    store = VectorStore(tmp_path, emb.model_id, DIM)
    sched = EmbeddingScheduler(index, emb, store, batch_size=4, save_every_s=0.05)
    sched.start()
    try:
        assert sched.wait_idle(timeout=10)
        old = set(store.hashes())
        del files["pkg/m01.py"]
        files["pkg/m02.py"][0] = "def f0():\n    return 'changed'\n"
        sched.notify_changed()
        assert sched.wait_idle(timeout=10)
        assert set(store.hashes()) == _live(index)
        assert len(old - set(store.hashes())) == 4  # three from the deleted file, one edited
        assert sched.progress() == (9, 9)
    finally:
        sched.stop()
    assert set(VectorStore(tmp_path, emb.model_id, DIM).hashes()) == _live(index)


def test_stop_is_prompt_and_keeps_progress(tmp_path: Path) -> None:
    index, emb = FakeIndex(_workspace(n_files=40)), FakeEmbedder(delay_s=0.05)
    store = VectorStore(tmp_path, emb.model_id, DIM)
    sched = EmbeddingScheduler(index, emb, store, batch_size=2)
    sched.start()
    time.sleep(0.3)
    started = time.monotonic()
    assert sched.stop(timeout=2)
    assert time.monotonic() - started < 0.5
    done = len(store)
    assert 0 < done < 120
    assert len(VectorStore(tmp_path, emb.model_id, DIM)) == done  # saved on stop
    sched.start()  # restartable; finishes the rest
    assert sched.wait_idle(timeout=20)
    sched.stop()
    assert len(store) == 120


def test_pause_holds_embedding_until_resume(tmp_path: Path) -> None:
    index, emb = FakeIndex(_workspace(n_files=10)), FakeEmbedder(delay_s=0.01)
    store = VectorStore(tmp_path, emb.model_id, DIM)
    sched = EmbeddingScheduler(index, emb, store, batch_size=3)
    sched.pause()
    sched.start()
    try:
        time.sleep(0.2)
        assert len(emb.batches) == 0 and not sched.wait_idle(timeout=0.05)
        sched.resume()
        assert sched.wait_idle(timeout=10) and len(store) == 30
        sched.pause()
        started = time.monotonic()
        assert sched.stop(timeout=2) and time.monotonic() - started < 0.5  # stop wins over pause
    finally:
        sched.stop()


def test_run_until_done_cancel_saves_partial_work(tmp_path: Path) -> None:
    index, emb = FakeIndex(_workspace(n_files=10)), FakeEmbedder()
    store = VectorStore(tmp_path, emb.model_id, DIM)
    sched = EmbeddingScheduler(index, emb, store, batch_size=3)
    token = CancelToken()

    def progress(done: int, total: int) -> None:
        if done >= 9:
            token.cancel("user")

    with pytest.raises(Cancelled):
        sched.run_until_done(progress=progress, cancel=token)
    assert len(store) == 9
    assert len(VectorStore(tmp_path, emb.model_id, DIM)) == 9


def test_embedder_failure_does_not_kill_the_thread(tmp_path: Path) -> None:
    class Flaky(FakeEmbedder):
        fail = True

        def embed(self, texts: Sequence[str]) -> np.ndarray:
            if self.fail:
                raise RuntimeError("model crashed")
            return super().embed(texts)

    index, emb = FakeIndex(_workspace(n_files=2)), Flaky()
    store = VectorStore(tmp_path, emb.model_id, DIM)
    sched = EmbeddingScheduler(index, emb, store)
    sched.start()
    try:
        assert sched.wait_idle(timeout=5)
        assert len(store) == 0 and sched.last_error == "model crashed"
        emb.fail = False
        sched.notify_changed()
        assert sched.wait_idle(timeout=5)
        assert len(store) == 6
    finally:
        sched.stop()


def test_real_workspace_index_with_onnx_embedder(write_workspace) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("ragls.indexing.workspace")
    from ragls.indexing.workspace import WorkspaceIndex
    from ragls.models.embeddings import OnnxEmbedder, embed_query

    root = write_workspace({
        "geo/shapes.py": '''
            import math

            def circle_area(radius):
                """Area of a circle."""
                return math.pi * radius ** 2
            ''',
        "net/fetch.py": '''
            def download_page(url, timeout=10):
                """Fetch a web page over HTTP and return its body."""
                import urllib.request
                return urllib.request.urlopen(url, timeout=timeout).read()
            ''',
        "app.py": '''
            from geo.shapes import circle_area

            def main():
                print(circle_area(2.0))
            ''',
        "util/strings.py": '''
            def slugify(title):
                return "-".join(title.lower().split())
            ''',
    })
    index = WorkspaceIndex.open(root)
    try:
        index.update()
        onnx = OnnxEmbedder(batch_size=8)

        class Recording:
            model_id, dim = onnx.model_id, onnx.dim

            def __init__(self) -> None:
                self.paths: list[str] = []

            def embed(self, texts: Sequence[str]) -> np.ndarray:
                self.paths += [t.split("\n", 1)[0] for t in texts]
                return onnx.embed(texts)

        emb = Recording()
        store = VectorStore(index.index_dir, emb.model_id, emb.dim)
        sched = EmbeddingScheduler(index, emb, store, batch_size=2)
        sched.prioritize(["geo/shapes.py"])
        assert sched.run_until_done() == len(_live_of(index))
        # the prioritised file first, then its importer app.py, then the rest
        assert len(emb.paths) >= 4, emb.paths
        assert emb.paths[0] == "geo/shapes.py" and emb.paths.index("app.py") < emb.paths.index("net/fetch.py")
        assert set(store.hashes()) == _live_of(index)
        assert store.path.parent == index.index_dir and store.path.exists()

        best, score = store.search(embed_query(onnx, "download a URL with an http request"), 1)[0]
        assert [r.path for r in index.chunks_by_hash([best])] == ["net/fetch.py"] and score > 0.3

        (root / "util" / "strings.py").unlink()
        index.update()
        sched.notify_changed()
        sched.run_until_done()
        assert set(store.hashes()) == _live_of(index)
        assert "util/strings.py" not in {r.path for r in index.chunks_by_hash(store.hashes())}
        assert len(VectorStore(index.index_dir, emb.model_id, emb.dim)) == len(store)
    finally:
        index.close()


def _live_of(index) -> set[str]:  # type: ignore[no-untyped-def]
    return {r.content_hash for batch in index.iter_chunks() for r in batch}
