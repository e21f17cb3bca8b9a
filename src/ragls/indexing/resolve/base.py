"""What every language's import resolver shares: the workspace's files and its project files.

`Workspace` holds the indexed file list (a set and a per-folder listing) and reads project files
(go.mod, tsconfig.json, Cargo.toml) with their mtimes, so a resolver built from it can tell when
one of them changed. `LanguageResolver` is the one interface each language module implements.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from ragls.indexing.records import Import


def dirname(path: str) -> str:
    return path.rpartition("/")[0]


def join(*parts: str) -> str:
    return "/".join(p for p in parts if p)


def mtime(path: Path) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


class Workspace:
    """The indexed files of one workspace root, and the project files read so far."""

    def __init__(self, root: Path, files: Iterable[str]) -> None:
        self.root = Path(root)
        self.files: set[str] = set(files)
        self.by_dir: dict[str, list[str]] = defaultdict(list)
        for f in self.files:
            self.by_dir[dirname(f)].append(f)
        for listing in self.by_dir.values():
            listing.sort()
        self._read_stamps: dict[str, int | None] = {}  # project files read -> mtime_ns (None: absent)

    def read(self, rel: str) -> str | None:
        """A project file's text (None when absent); its mtime is remembered."""
        self._read_stamps[rel] = mtime(self.root / rel)
        try:
            return (self.root / rel).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None

    def project_files_changed(self) -> bool:
        """Whether a project file read so far changed on disk."""
        return any(mtime(self.root / rel) != stamp for rel, stamp in list(self._read_stamps.items()))


class LanguageResolver(Protocol):
    """One language's imports -> workspace files (caches filled lazily, never raises on purpose)."""

    def resolve(self, from_path: str, imp: Import) -> list[str]: ...
