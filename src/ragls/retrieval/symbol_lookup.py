"""Name -> definitions for one request: `resolve_name` semantics, memoised, and file texts.

One `find_definitions` query per name (memoised), filtered by the current file's import
targets (explicit names, then whole-module and star imports, then one re-export hop),
else a globally unique definition. The current file's own definitions come from the
buffer, not from here.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ragls.indexing.records import ImportRow, SymbolRow
from ragls.lru import LRUCache

if TYPE_CHECKING:
    from ragls.indexing.workspace import WorkspaceIndex

logger = logging.getLogger(__name__)


class NameResolver:
    """`WorkspaceIndex.resolve_name` semantics for the current file, memoised per request."""

    FIND_LIMIT = 50
    REEXPORT_HOPS = 3  # `from pkg import X` through package `__init__` files

    def __init__(self, index: WorkspaceIndex, path: str) -> None:
        self.index = index
        self.path = path
        self._imports: dict[str, list[ImportRow]] = {}
        self._memo: dict[str, list[SymbolRow]] = {}
        self._found: dict[str, list[SymbolRow]] = {}
        self._lines: dict[str, list[str] | None] = {}

    def imports_of(self, path: str) -> list[ImportRow]:
        rows = self._imports.get(path)
        if rows is None:
            try:
                rows = self.index.imports_of(path)
            except Exception:
                logger.debug("imports_of(%s) failed", path, exc_info=True)
                rows = []
            self._imports[path] = rows
        return rows

    def lines_of(self, path: str) -> list[str] | None:
        """The file's text as lines (overlay, else disk), once per request.

        Disk files are kept across requests (`FILE_LINES`, keyed by mtime and size): an
        empty body asks for the headers of definitions in dozens of files.
        """
        if path not in self._lines:
            text = self.index.overlay_text(path)
            if text is not None:
                self._lines[path] = text.split("\n")
            else:
                self._lines[path] = FILE_LINES.get(self.index, path)
        return self._lines[path]

    def prefetch(self, names: Iterable[str]) -> None:
        """Look up many names in one index query (`find_definitions_many`), for `definitions_named`."""
        todo = [n for n in dict.fromkeys(names) if n not in self._found]
        many = getattr(self.index, "find_definitions_many", None)
        if len(todo) < 2 or many is None:
            return
        try:
            found = many(todo, limit=self.FIND_LIMIT)
        except Exception:
            logger.debug("find_definitions_many failed", exc_info=True)
            return
        for name, rows in found.items():
            self._found[name] = [d for d in rows if d.path != self.path]

    def definitions_named(self, name: str) -> list[SymbolRow]:
        """Definitions of `name` outside the current file (one query, memoised)."""
        rows = self._found.get(name)
        if rows is None:
            rows = self._found[name] = [
                d for d in self.index.find_definitions(name, limit=self.FIND_LIMIT) if d.path != self.path
            ]
        return rows

    def resolve(self, name: str) -> list[SymbolRow]:
        if name not in self._memo:
            self._memo[name] = self._resolve(name)
        return self._memo[name]

    def resolve_in(self, name: str, targets: tuple[str, ...] | set[str]) -> list[SymbolRow]:
        """Definitions of `name` in `targets` (a module's files), following re-exports."""
        defs = self.definitions_named(name)
        return self._follow(name, defs, set(targets))

    def _follow(self, name: str, defs: list[SymbolRow], targets: set[str]) -> list[SymbolRow]:
        seen = set(targets)
        for _ in range(self.REEXPORT_HOPS + 1):
            if not targets:
                return []
            hit = [d for d in defs if d.path in targets]
            if hit:
                return sorted(hit, key=lambda s: (s.qualname != s.name, s.path, s.start_line))
            targets = {t for path in targets for imp in self.imports_of(path)
                       if name in imp.names or "*" in imp.names for t in imp.targets} - seen
            seen |= targets
        return []

    def _resolve(self, name: str) -> list[SymbolRow]:
        defs = self.definitions_named(name)
        imports = self.imports_of(self.path)
        explicit = {t for imp in imports if name in imp.names for t in imp.targets}
        if explicit:
            hit = self._follow(name, defs, explicit)
            if hit:
                return hit
        broad = {t for imp in imports if not imp.names or "*" in imp.names for t in imp.targets}
        hit = [d for d in defs if d.path in broad]
        if hit:
            return sorted(hit, key=lambda s: (s.qualname != s.name, s.path, s.start_line))
        if explicit and len(defs) >= self.FIND_LIMIT - 1:  # too common for the cut: ask the index
            return [d for d in self.index.resolve_name(self.path, name) if d.path != self.path]
        return defs if len(defs) == 1 else []


class FileLinesCache:
    """path -> lines of disk files, bounded (LRU), checked against mtime and size on each use."""

    def __init__(self, size: int = 256) -> None:
        self._items: LRUCache[str, tuple[int, int, list[str]]] = LRUCache(size)

    def get(self, index: WorkspaceIndex, path: str) -> list[str] | None:
        full = str(index.root / path)
        try:
            st = os.stat(full)
        except OSError:
            text = index.read_text(path)
            return text.split("\n") if text is not None else None
        hit = self._items.get(full)
        if hit is not None and hit[0] == st.st_mtime_ns and hit[1] == st.st_size:
            return hit[2]
        text = index.read_text(path)
        if text is None:
            return None
        lines = text.split("\n")
        self._items.put(full, (st.st_mtime_ns, st.st_size, lines))
        return lines


FILE_LINES = FileLinesCache()
