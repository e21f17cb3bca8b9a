"""Chunk vectors keyed by content hash, in faiss, persisted beside the SQLite index.

One file per embedding model (``vectors-<model>.npz``), written atomically: the hashes,
the raw vectors and (for HNSW) the serialised faiss index travel in a single ``np.savez``
so a crash can never leave ids and vectors mismatched; an unreadable file is moved aside
(``.corrupt``) and the store starts empty (the scheduler embeds again). Raw vectors are kept in
memory so the faiss index can always be rebuilt (HNSW cannot remove ids: removals become
tombstones filtered at search time, and the graph is rebuilt when they pass 10%).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
ID_MASK = 0x7FFF_FFFF_FFFF_FFFF
HNSW_THRESHOLD = 50_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
TOMBSTONE_RATIO = 0.10


def hash_to_id(content_hash: str) -> int:
    """The int64 faiss id of a 16-hex-digit content hash."""
    return int(content_hash, 16) & ID_MASK


def vector_file_name(model_id: str) -> str:
    """File name for one model's vectors: readable, filesystem-safe, collision-free."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", model_id).strip("._")[:60] or "model"
    return f"vectors-{safe}-{hashlib.sha1(model_id.encode()).hexdigest()[:6]}.npz"


class VectorStore:
    """Normalised vectors by chunk content hash; inner-product search = cosine."""

    def __init__(
        self, directory: Path, model_id: str, dim: int, hnsw_threshold: int = HNSW_THRESHOLD
    ) -> None:
        self.directory = Path(directory)
        self.model_id = model_id
        self.dim = int(dim)
        self.hnsw_threshold = hnsw_threshold
        self.path = self.directory / vector_file_name(model_id)
        self._lock = threading.RLock()
        self._vecs = np.zeros((0, self.dim), dtype=np.float32)  # rows [0, n) are live
        self._hashes: list[str] = []  # row -> hash
        self._row: dict[str, int] = {}  # hash -> row
        self._id_hash: dict[int, str] = {}  # faiss id -> hash (live only)
        self._tombstones: set[int] = set()  # ids still in an HNSW graph but removed
        self._kind = "flat"
        self._index: Any = self._new_index(0)
        self._dirty = False
        self._load()

    # ---- queries -------------------------------------------------------------------------

    def __len__(self) -> int:
        with self._lock:
            return len(self._hashes)

    @property
    def dirty(self) -> bool:
        return self._dirty

    @property
    def kind(self) -> str:
        """"flat" or "hnsw": the faiss index type in use."""
        return self._kind

    def has(self, content_hash: str) -> bool:
        with self._lock:
            return content_hash in self._row

    def missing(self, hashes: Iterable[str]) -> list[str]:
        """Hashes without a vector, deduplicated, in first-seen order."""
        with self._lock:
            seen: set[str] = set()
            out = []
            for h in hashes:
                if h not in self._row and h not in seen:
                    seen.add(h)
                    out.append(h)
            return out

    def vector(self, content_hash: str) -> np.ndarray | None:
        """A copy of the stored vector, or None."""
        with self._lock:
            row = self._row.get(content_hash)
            return None if row is None else self._vecs[row].copy()

    def hashes(self) -> list[str]:
        with self._lock:
            return list(self._hashes)

    def search(self, query_vec: np.ndarray, k: int) -> list[tuple[str, float]]:
        """The ``k`` nearest hashes with their cosine, best first."""
        query = _normalise(np.asarray(query_vec, dtype=np.float32).reshape(1, -1))
        if query.shape[1] != self.dim:
            raise ValueError(f"query has dimension {query.shape[1]}, store holds {self.dim}")
        with self._lock:
            total = int(self._index.ntotal)
            if k <= 0 or total == 0:
                return []
            fetch = min(total, k + len(self._tombstones))
            if self._kind == "hnsw":
                graph: Any = faiss.downcast_index(self._index.index)
                graph.hnsw.efSearch = max(64, 2 * fetch)
            scores, ids = self._index.search(query, fetch)
            out: list[tuple[str, float]] = []
            for score, fid in zip(scores[0], ids[0], strict=True):
                h = self._id_hash.get(int(fid)) if fid >= 0 else None
                if h is not None:
                    out.append((h, float(score)))
                    if len(out) == k:
                        break
            return out

    # ---- changes -------------------------------------------------------------------------

    def add(self, hashes: Sequence[str], vectors: np.ndarray) -> int:
        """Store vectors for new hashes (present ones are skipped); returns how many were added."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(hashes) or vectors.shape[1] != self.dim:
            raise ValueError(f"expected {len(hashes)} vectors of dimension {self.dim}, got {vectors.shape}")
        vectors = _normalise(vectors)
        with self._lock:
            keep_rows: list[int] = []
            index_rows: list[int] = []  # rows that faiss does not hold yet
            stale = False
            for i, h in enumerate(hashes):
                fid = hash_to_id(h)
                if h in self._row or fid in self._id_hash:
                    continue
                if fid in self._tombstones:  # back after removal: the graph may still hold it
                    self._tombstones.discard(fid)
                    old = self._index.reconstruct(fid)
                    stale = stale or not np.allclose(old, vectors[i], atol=1e-4)
                else:
                    index_rows.append(i)
                self._row[h] = len(self._hashes)
                self._hashes.append(h)
                self._id_hash[fid] = h
                keep_rows.append(i)
            if not keep_rows:
                return 0
            new = vectors[keep_rows]
            self._vecs = np.concatenate([self._vecs, new]) if len(self._vecs) else new.copy()
            if stale or self._wants_switch():
                self._rebuild()
            elif index_rows:
                ids = np.fromiter((hash_to_id(hashes[i]) for i in index_rows), dtype=np.int64)
                self._index.add_with_ids(vectors[index_rows], ids)
            self._dirty = True
            return len(keep_rows)

    def remove(self, hashes: Iterable[str]) -> int:
        """Drop vectors of these hashes; returns how many were present."""
        with self._lock:
            gone: list[int] = []
            for h in set(hashes):
                row = self._row.pop(h, None)
                if row is None:
                    continue
                last = len(self._hashes) - 1
                if row != last:  # swap-remove keeps the raw arrays dense
                    moved = self._hashes[last]
                    self._hashes[row] = moved
                    self._vecs[row] = self._vecs[last]
                    self._row[moved] = row
                self._hashes.pop()
                self._vecs = self._vecs[:last]
                fid = hash_to_id(h)
                self._id_hash.pop(fid, None)
                gone.append(fid)
            if not gone:
                return 0
            if self.kind == "hnsw":
                self._tombstones.update(gone)
                if len(self._tombstones) > TOMBSTONE_RATIO * max(1, int(self._index.ntotal)):
                    self._rebuild()
            else:
                self._index.remove_ids(faiss.IDSelectorBatch(np.asarray(gone, dtype=np.int64)))
            self._dirty = True
            return len(gone)

    def retain(self, live_hashes: Iterable[str]) -> int:
        """Drop every vector whose hash is not in ``live_hashes``; returns how many went."""
        live = set(live_hashes)
        with self._lock:
            dead = [h for h in self._hashes if h not in live]
        return self.remove(dead) if dead else 0

    def clear(self) -> None:
        with self._lock:
            self._vecs = np.zeros((0, self.dim), dtype=np.float32)
            self._hashes, self._row, self._id_hash = [], {}, {}
            self._rebuild()
            self._dirty = True

    # ---- persistence ---------------------------------------------------------------------

    def save(self) -> bool:
        """Write the store atomically if it changed; returns whether a file was written."""
        with self._lock:
            if not self._dirty:
                return False
            if self._tombstones and len(self._tombstones) > TOMBSTONE_RATIO * max(1, len(self._hashes)):
                self._rebuild()
            arrays: dict[str, Any] = {
                "format": np.asarray(FORMAT_VERSION),
                "model_id": np.asarray(self.model_id),
                "dim": np.asarray(self.dim),
                "hashes": np.asarray(self._hashes, dtype="S16").reshape(-1),
                "vectors": self._vecs,
            }
            if self.kind == "hnsw":  # a flat index is cheaper to rebuild than to store twice
                arrays["index"] = faiss.serialize_index(self._index)
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".tmp", dir=self.directory)
            try:
                with os.fdopen(fd, "wb") as fh:
                    np.savez(fh, **arrays)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            self._dirty = False
            logger.debug("saved %d vectors to %s", len(self._hashes), self.path)
            return True

    def _load(self) -> None:
        self._remove_stale_temporaries()
        if not self.path.exists():
            return
        try:
            with np.load(self.path, allow_pickle=False) as data:
                if int(data["format"]) != FORMAT_VERSION or str(data["model_id"]) != self.model_id:
                    raise ValueError("format or model id differs")
                if int(data["dim"]) != self.dim:
                    raise ValueError(f"dimension {int(data['dim'])} != {self.dim}")
                hashes = [h.decode("ascii") for h in data["hashes"]]
                vecs = np.ascontiguousarray(data["vectors"], dtype=np.float32)
                blob = data["index"] if "index" in data.files else None
            if vecs.shape != (len(hashes), self.dim) or len(set(hashes)) != len(hashes):
                raise ValueError(f"{len(hashes)} hashes for vectors of shape {vecs.shape}")
            for h in hashes:
                int(h, 16)
        except Exception as exc:  # corrupt zip, missing keys, bad values: start over
            aside = self.path.with_name(self.path.name + ".corrupt")
            try:
                os.replace(self.path, aside)
            except OSError:
                aside = self.path
            logger.warning("vector store %s is unreadable (%s): moved to %s, starting empty",
                           self.path, exc, aside.name)
            return
        self._vecs, self._hashes = vecs, hashes
        self._row = {h: i for i, h in enumerate(hashes)}
        self._id_hash = {hash_to_id(h): h for h in hashes}
        if blob is not None and self._adopt_index(blob):
            return
        self._rebuild()

    def _remove_stale_temporaries(self, min_age_s: float = 600.0) -> None:
        """Drop half-written saves left by a killed process (old enough not to be in progress)."""
        now = time.time()
        for tmp in self.directory.glob(self.path.name + ".*.tmp"):
            try:
                if now - tmp.stat().st_mtime > min_age_s:
                    tmp.unlink()
            except OSError:
                pass

    def _adopt_index(self, blob: np.ndarray) -> bool:
        """Use a stored HNSW graph if it holds every live id; leftovers become tombstones."""
        try:
            index: Any = faiss.deserialize_index(blob)
            ids = set(faiss.vector_to_array(index.id_map).tolist())
        except Exception as exc:
            logger.warning("stored faiss index in %s unusable (%s); rebuilding", self.path, exc)
            return False
        if index.d != self.dim or not set(self._id_hash) <= ids:
            logger.warning("stored faiss index in %s does not match its vectors; rebuilding", self.path)
            return False
        self._index = index
        self._kind = "hnsw" if isinstance(faiss.downcast_index(index.index), faiss.IndexHNSWFlat) else "flat"
        self._tombstones = ids - set(self._id_hash)
        return True

    # ---- faiss ---------------------------------------------------------------------------

    def _new_index(self, n: int) -> Any:
        self._kind = "hnsw" if n > self.hnsw_threshold else "flat"
        inner: Any
        if self._kind == "hnsw":
            inner = faiss.IndexHNSWFlat(self.dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        else:
            inner = faiss.IndexFlatIP(self.dim)
        return faiss.IndexIDMap2(inner)

    def _wants_switch(self) -> bool:
        return self.kind == "flat" and len(self._hashes) > self.hnsw_threshold

    def _rebuild(self) -> None:
        """Recreate the faiss index from the raw vectors (drops tombstones, picks the type)."""
        n = len(self._hashes)
        index = self._new_index(n)
        if n:
            ids = np.fromiter((hash_to_id(h) for h in self._hashes), dtype=np.int64, count=n)
            index.add_with_ids(self._vecs, ids)
        self._index = index
        self._tombstones = set()
        logger.debug("rebuilt %s vector index with %d vectors", self.kind, n)


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)
