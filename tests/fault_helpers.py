"""Helpers for the fault tests: a generated workspace, a deterministic embedder, and a child
process that indexes or embeds until it is killed (``python tests/fault_helpers.py MODE ROOT``)."""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

DIM = 16


def write_workspace(root: Path, n_files: int = 300) -> None:
    """`n_files` Python modules that import each other, a few definitions each."""
    for i in range(n_files):
        pkg = root / f"pkg{i % 10}"
        pkg.mkdir(parents=True, exist_ok=True)
        (pkg / "__init__.py").touch()
        other = (i * 7 + 3) % n_files
        lines = [f"from pkg{other % 10}.mod{other} import func_{other}", ""]
        for k in range(4):
            lines += [
                "",
                f"def func_{i}_{k}(value):",
                f'    """Helper {k} of module {i}."""',
                f"    return func_{other}(value) + {k}",
            ]
        lines += ["", f"def func_{i}(value):", f"    return value * {i}", ""]
        (pkg / f"mod{i}.py").write_text("\n".join(lines), encoding="utf-8")


def vector_of(text: str) -> np.ndarray:
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
    v = np.frombuffer(digest[:DIM], dtype=np.uint8).astype(np.float32) + 1.0
    return v / np.linalg.norm(v)


class HashEmbedder:
    """Deterministic vectors from a text's hash; `delay_s` per batch stands in for a model's cost."""

    model_id = "hash-test"
    dim = DIM

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        time.sleep(self.delay_s)
        return np.stack([vector_of(t) for t in texts]) if texts else np.zeros((0, DIM), np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return vector_of(text)


def main(mode: str, root: str) -> None:
    from ragls.indexing.vectors import VectorStore
    from ragls.indexing.workspace import WorkspaceIndex
    from ragls.retrieval.embedding_jobs import EmbeddingScheduler

    index = WorkspaceIndex.open(root)
    if mode == "index":
        index.update()
    elif mode == "embed":
        store = VectorStore(index.index_dir, HashEmbedder.model_id, DIM)
        print("ready", flush=True)
        EmbeddingScheduler(
            index, HashEmbedder(delay_s=0.01), store, batch_size=8, save_every_s=0.05
        ).run_until_done()
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
