"""VectorStore: faiss search by content hash, atomic persistence, model isolation, HNSW."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ragls.indexing.records import content_hash
from ragls.indexing.vectors import VectorStore, hash_to_id, vector_file_name

DIM = 16


def _data(n: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    vecs = rng.normal(size=(n, DIM)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    return [content_hash(f"chunk {seed} {i}") for i in range(n)], vecs


def test_add_search_has_missing(tmp_path: Path) -> None:
    store = VectorStore(tmp_path, "m:1", DIM)
    hashes, vecs = _data(50)
    assert store.add(hashes, vecs) == 50
    assert store.add(hashes[:5], vecs[:5] * 0) == 0  # present ones are skipped
    assert len(store) == 50 and store.has(hashes[7]) and not store.has("0" * 16)
    assert store.missing([hashes[0], "ab" * 8, "ab" * 8, "cd" * 8]) == ["ab" * 8, "cd" * 8]
    hits = store.search(vecs[7], 5)
    assert hits[0][0] == hashes[7] and hits[0][1] == pytest.approx(1.0, abs=1e-5)
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    brute = np.argsort(-(vecs @ vecs[7]))[:5]
    assert [h for h, _ in hits] == [hashes[i] for i in brute]
    assert [h for h, _ in store.search(vecs[3].reshape(1, -1) * 5.0, 1)] == [hashes[3]]  # normalised
    assert store.search(vecs[0], 0) == []
    np.testing.assert_allclose(store.vector(hashes[9]), vecs[9], atol=1e-6)
    with pytest.raises(ValueError):
        store.add(hashes[:1], np.zeros((1, DIM + 1), dtype=np.float32))


def test_remove_and_retain(tmp_path: Path) -> None:
    store = VectorStore(tmp_path, "m:1", DIM)
    hashes, vecs = _data(20)
    store.add(hashes, vecs)
    assert store.remove([hashes[0], hashes[0], "f" * 16]) == 1
    assert not store.has(hashes[0])
    assert hashes[0] not in [h for h, _ in store.search(vecs[0], 20)]
    assert store.retain(hashes[10:]) == 9
    assert sorted(store.hashes()) == sorted(hashes[10:])
    found = {h for h, _ in store.search(vecs[15], 20)}
    assert found == set(hashes[10:])
    np.testing.assert_allclose(store.vector(hashes[19]), vecs[19], atol=1e-6)  # swap-remove kept rows right


def test_persistence_round_trip_and_model_isolation(tmp_path: Path) -> None:
    hashes, vecs = _data(30)
    store = VectorStore(tmp_path, "minilm:aaaa1111", DIM)
    store.add(hashes, vecs)
    store.remove(hashes[:3])
    assert store.save() and not store.save()  # nothing changed the second time
    assert not list(tmp_path.glob("*.tmp"))

    again = VectorStore(tmp_path, "minilm:aaaa1111", DIM)
    assert sorted(again.hashes()) == sorted(hashes[3:])
    assert again.search(vecs[12], 1)[0][0] == hashes[12]

    other = VectorStore(tmp_path, "minilm:bbbb2222", DIM)  # a model change starts empty
    assert len(other) == 0
    other.add(hashes[:2], vecs[:2])
    other.save()
    assert len(VectorStore(tmp_path, "minilm:aaaa1111", DIM)) == 27  # and leaves the old one alone
    assert vector_file_name("minilm:aaaa1111") != vector_file_name("minilm:bbbb2222")
    assert "/" not in vector_file_name("remote/x:y") and ":" not in vector_file_name("a:b")


@pytest.mark.parametrize("damage", ["garbage", "truncated", "wrong_dim"])
def test_corrupt_or_mismatched_file_starts_empty(tmp_path: Path, damage: str) -> None:
    hashes, vecs = _data(10)
    store = VectorStore(tmp_path, "m:1", DIM)
    store.add(hashes, vecs)
    store.save()
    if damage == "garbage":
        store.path.write_bytes(b"\x00garbage" * 100)
    elif damage == "truncated":
        store.path.write_bytes(store.path.read_bytes()[:200])
    else:
        with store.path.open("wb") as fh:  # hashes and vectors disagree in count
            np.savez(fh, format=np.asarray(1), model_id=np.asarray("m:1"), dim=np.asarray(DIM),
                     hashes=np.asarray(hashes[:4], dtype="S16"), vectors=vecs)
    fresh = VectorStore(tmp_path, "m:1", DIM)
    assert len(fresh) == 0 and fresh.search(vecs[0], 3) == []
    fresh.add(hashes[:2], vecs[:2])
    fresh.save()
    assert len(VectorStore(tmp_path, "m:1", DIM)) == 2


def test_dimension_change_for_same_model_id_starts_empty(tmp_path: Path) -> None:
    hashes, vecs = _data(5)
    store = VectorStore(tmp_path, "m:1", DIM)
    store.add(hashes, vecs)
    store.save()
    assert len(VectorStore(tmp_path, "m:1", DIM * 2)) == 0


def test_hnsw_switch_tombstones_and_persistence(tmp_path: Path) -> None:
    hashes, vecs = _data(300, seed=3)
    store = VectorStore(tmp_path, "m:1", DIM, hnsw_threshold=100)
    store.add(hashes[:80], vecs[:80])
    assert store.kind == "flat"
    store.add(hashes[80:], vecs[80:])
    assert store.kind == "hnsw" and len(store) == 300
    for i in (5, 150, 299):
        assert store.search(vecs[i], 1)[0][0] == hashes[i]

    store.remove(hashes[:10])  # 10/300 < 10%: kept as tombstones, filtered at search time
    hits = store.search(vecs[5], 10)
    assert len(hits) == 10 and not {h for h, _ in hits} & set(hashes[:10])
    store.save()
    loaded = VectorStore(tmp_path, "m:1", DIM, hnsw_threshold=100)
    assert loaded.kind == "hnsw" and len(loaded) == 290
    assert loaded.search(vecs[5], 1)[0][0] != hashes[5]
    assert loaded.search(vecs[200], 1)[0][0] == hashes[200]
    assert loaded.add(hashes[5:6], vecs[5:6]) == 1  # back again: the tombstone is lifted
    assert loaded.search(vecs[5], 1)[0][0] == hashes[5]

    loaded.retain(hashes[200:])  # far past 10%: rebuilt
    assert len(loaded) == 100 and loaded.kind == "flat"
    assert {h for h, _ in loaded.search(vecs[250], 100)} == set(hashes[200:])


def test_hash_ids_are_positive_int64() -> None:
    assert hash_to_id("ffffffffffffffff") == 0x7FFF_FFFF_FFFF_FFFF
    assert hash_to_id(content_hash("x")) >= 0
