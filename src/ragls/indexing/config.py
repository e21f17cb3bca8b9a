"""Index configuration and where an index lives on disk.

`IndexConfig` is what the user (CLI flags, server settings) can change about indexing;
`index_dir_for` maps a workspace root to its index folder: the per-user cache by default,
`<root>/.ragls` when asked for, `RAGLS_CACHE_DIR` overriding the cache root (tests use it).
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

logger = logging.getLogger(__name__)

CACHE_ENV = "RAGLS_CACHE_DIR"

# Extension -> language name; mirrors ragls.indexing.languages (the source of truth), used as
# a fallback by discovery and by tools that must not import tree-sitter.
LANGUAGE_EXTENSIONS: dict[str, str] = {
    ".py": "python",
    ".pyi": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascript",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "tsx",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
}

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


def language_from_extension(path: str | os.PathLike[str]) -> str | None:
    """Language by file extension alone (fallback when the languages module is unavailable)."""
    name = os.fspath(path)
    dot = name.rfind(".")
    if dot < 0 or "/" in name[dot:]:
        return None
    return LANGUAGE_EXTENSIONS.get(name[dot:].lower())


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
    env = os.environ.get(CACHE_ENV)
    base = Path(env).expanduser() if env else Path(platformdirs.user_cache_dir("ragls"))
    return base / _index_name(root)
