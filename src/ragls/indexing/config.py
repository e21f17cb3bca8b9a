"""Index configuration and where an index lives on disk.

`IndexConfig` is what the user (CLI flags, server settings) can change about indexing;
`index_dir_for` maps a workspace root to its index folder: the per-user cache by default,
`<root>/.ragls` when asked for, `RAGLS_CACHE_DIR` overriding the cache root (tests use it).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

logger = logging.getLogger(__name__)

CACHE_ENV = "RAGLS_CACHE_DIR"

# Directory names that are never walked, wherever they appear.
# fmt: off
SKIP_DIRS: frozenset[str] = frozenset({
    ".git", ".hg", ".svn", "node_modules", ".venv", "__pycache__", "dist", "build",
    "target", "out", ".tox", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".ragls",
    "site-packages", "vendor", "third_party", ".next", ".idea",
})
# fmt: on


@dataclass
class IndexConfig:
    """What can be tuned about indexing one workspace."""

    cache_dir: Path | None = None  # root of index folders; None = per-user cache
    in_workspace: bool = False  # keep the index in <root>/.ragls instead
    ignore: list[str] = field(default_factory=list)  # extra gitignore-style globs
    max_file_bytes: int = 1_000_000
    languages: list[str] | None = None  # only these languages; None = all known
    chunk_max_lines: int = 60
    chunk_max_chars: int = 3000
    watch_debounce_s: float = 0.3


def _index_name(root: Path) -> str:
    resolved = str(root.resolve())
    digest = hashlib.sha1(resolved.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{root.resolve().name or 'root'}-{digest}"


def index_dir_for(root: Path, config: IndexConfig) -> Path:
    """The folder that holds the index of workspace `root` (not created here)."""
    root = Path(root)
    if config.in_workspace:
        return root / ".ragls"
    if config.cache_dir is not None:
        return Path(config.cache_dir).expanduser() / _index_name(root)
    return cache_root() / _index_name(root)


# ---- bookkeeping of index folders: which workspace, when last used; removing stale ones ---------

USE_FILE = "workspace.json"
VOLATILE_PREFIX = "ragls-volatile-"


def cache_root() -> Path:
    """The folder that holds the per-workspace index folders (RAGLS_CACHE_DIR or the user cache)."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path(platformdirs.user_cache_dir("ragls"))


def record_use(index_dir: Path, root: Path) -> None:
    """Note in `index_dir` which workspace it indexes and when it was last opened (for gc)."""
    data = json.dumps({"root": str(root), "last_used": time.time()})
    tmp = index_dir / f".{USE_FILE}.{os.getpid()}.tmp"
    tmp.write_text(data, encoding="utf-8")
    os.replace(tmp, index_dir / USE_FILE)


def volatile_dir() -> Path:
    """A fresh temporary index folder, memory-backed where /dev/shm exists (not persisted)."""
    shm = Path("/dev/shm")
    base = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
    return Path(tempfile.mkdtemp(prefix=VOLATILE_PREFIX, dir=base))


@dataclass
class StaleIndex:
    index_dir: Path
    root: str | None  # None: an index folder from before workspace.json was written
    idle_days: float


def stale_indexes(max_idle_days: float = 0.0, base: Path | None = None) -> list[StaleIndex]:
    """Index folders under the cache root whose workspace folder no longer exists and that were
    not used for `max_idle_days`. Folders without a recorded workspace count only by age."""
    base = base or cache_root()
    now = time.time()
    out: list[StaleIndex] = []
    try:
        entries = sorted(p for p in base.iterdir() if p.is_dir() and not p.is_symlink())
    except OSError:
        return out
    for index_dir in entries:
        if not (index_dir / "index.sqlite3").exists() and not (index_dir / USE_FILE).exists():
            continue  # not an index folder: leave it alone
        root: str | None = None
        try:
            info = json.loads((index_dir / USE_FILE).read_text(encoding="utf-8"))
            root, last = str(info["root"]), float(info["last_used"])
        except (OSError, ValueError, KeyError, TypeError):
            try:
                last = max(p.stat().st_mtime for p in index_dir.iterdir())
            except (OSError, ValueError):
                continue
        idle = (now - last) / 86400.0
        if idle < max_idle_days:
            continue
        if root is not None and Path(root).is_dir():
            continue
        if root is None and max_idle_days <= 0:
            continue  # unknown workspace and no age limit: cannot tell, keep it
        out.append(StaleIndex(index_dir, root, idle))
    return out


def remove_stale_indexes(max_idle_days: float = 0.0, base: Path | None = None) -> list[StaleIndex]:
    """Remove what `stale_indexes` finds; returns what was removed."""
    removed = []
    for stale in stale_indexes(max_idle_days, base):
        try:
            shutil.rmtree(stale.index_dir)
        except OSError as exc:
            logger.warning("cannot remove stale index %s: %s", stale.index_dir, exc)
            continue
        logger.info(
            "removed the index of %s (%s, idle %.0f days)",
            stale.root or "an unknown workspace",
            stale.index_dir,
            stale.idle_days,
        )
        removed.append(stale)
    return removed
