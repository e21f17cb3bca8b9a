"""Real-world benchmark sources: PyPI sdists, downloaded once and cached.

`ensure_source(pkg)` downloads `<name>==<version>` with `pip download --no-deps --no-binary
:all:` into `bench/.cache/downloads/`, extracts it, and keeps only the import package in
`bench/.cache/src/<name>-<version>/<import_name>/` (the workspace root is that folder, so
`from sympy.core import x` resolves as `sympy/core/__init__.py`). Later runs reuse the cache.

Run it directly to fetch everything up front: `python bench/sources.py [--packages ...]`.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import CACHE_DIR, REPO_DIR, Package, add_package_args, log, print_table, py_files, select_packages

DOWNLOAD_DIR = CACHE_DIR / "downloads"
_DONE = ".complete"


def _archive_for(pkg: Package) -> Path | None:
    stems = {pkg.name.lower(), pkg.name.lower().replace("-", "_")}
    for path in sorted(DOWNLOAD_DIR.glob("*")):
        low = path.name.lower()
        if any(low.startswith(f"{s}-{pkg.version}.") for s in stems):
            return path
    return None


def download(pkg: Package) -> Path:
    """The sdist archive of `pkg`, downloaded with pip on first use."""
    found = _archive_for(pkg)
    if found:
        return found
    DOWNLOAD_DIR.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
        "--disable-pip-version-check", "-q", f"{pkg.name}=={pkg.version}", "-d", str(DOWNLOAD_DIR),
    ]
    log(f"downloading {pkg.key} ...")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    found = _archive_for(pkg)
    if found is None:
        raise RuntimeError(f"pip download {pkg.key} failed: {proc.stderr.strip()[-2000:]}")
    return found


def _extract(archive: Path, dest: Path) -> None:
    if archive.name.endswith((".tar.gz", ".tgz", ".tar.bz2", ".tar")):
        with tarfile.open(archive) as tar:
            tar.extractall(dest, filter="data")
    elif archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(dest)
    else:
        raise RuntimeError(f"unknown archive type: {archive}")


def _find_package_dir(tree: Path, import_name: str) -> Path:
    """`<top>/src/<name>` or `<top>/<name>` (the one with an __init__.py)."""
    candidates = [*tree.glob(f"*/src/{import_name}"), *tree.glob(f"*/{import_name}")]
    for cand in candidates:
        if (cand / "__init__.py").is_file():
            return cand
    raise RuntimeError(f"no package dir {import_name!r} in {tree}")


def ensure_source(pkg: Package) -> Path:
    """The workspace root of `pkg` (containing only `<import_name>/`), fetched if missing."""
    root = pkg.root
    if (root / _DONE).is_file():
        return root
    archive = download(pkg)
    with tempfile.TemporaryDirectory(dir=CACHE_DIR) as tmp:
        _extract(archive, Path(tmp))
        pkg_dir = _find_package_dir(Path(tmp), pkg.import_name)
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        shutil.copytree(pkg_dir, root / pkg.import_name)
    # A marker file outside the package dir: not a source file, ignored by indexers.
    (root / _DONE).write_text(archive.name + "\n")
    return root


def source_stats(root: Path) -> tuple[int, float]:
    """(number of .py files, their total size in MB)."""
    files = py_files(root)
    size = sum((root / f).stat().st_size for f in files)
    return len(files), size / 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_package_args(parser)
    args = parser.parse_args(argv)
    rows = []
    failed = 0
    for pkg in select_packages(args.packages, args.quick):
        try:
            root = ensure_source(pkg)
        except Exception as exc:  # report, keep going
            log(f"{pkg.key}: {exc}")
            failed += 1
            continue
        n, mb = source_stats(root)
        rows.append((pkg.key, n, mb, str(root.relative_to(REPO_DIR))))
    print_table("benchmark sources", ["package", ".py files", "MB", "root"], rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
