"""Name resolution and call-graph queries of `WorkspaceIndex`, built on its basic queries.

Resolution is by name, not by types: `resolve_name(path, name)` looks at definitions in
`path`, then at definitions in the files `path` imports (following one re-export hop, e.g. a
package `__init__` that imports the name), then at a globally unique definition.
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from collections.abc import Sequence

from ragls.indexing.records import ImportRow, RefRow, SymbolRow

logger = logging.getLogger(__name__)


def _top_level_first(rows: list[SymbolRow]) -> list[SymbolRow]:
    return sorted(rows, key=lambda s: (s.qualname != s.name, s.path, s.start_line))


def _unique(rows: list[SymbolRow]) -> list[SymbolRow]:
    seen: set[tuple[str, int, str]] = set()
    out = []
    for s in rows:
        key = (s.path, s.start_line, s.qualname)
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out


class GraphQueries:
    """Mixin: needs the basic per-file queries of WorkspaceIndex."""

    @abstractmethod
    def definitions_in(self, path: str) -> list[SymbolRow]: ...
    @abstractmethod
    def imports_of(self, path: str) -> list[ImportRow]: ...
    @abstractmethod
    def importers_of(self, path: str) -> list[str]: ...
    @abstractmethod
    def find_definitions(self, name: str, *, limit: int = 50) -> list[SymbolRow]: ...
    @abstractmethod
    def _definitions_named(self, name: str, paths: Sequence[str]) -> list[SymbolRow]: ...
    @abstractmethod
    def _refs_named(self, name: str, paths: Sequence[str], limit: int) -> list[RefRow]: ...
    @abstractmethod
    def _refs_in_range(self, path: str, start: int, end: int) -> list[RefRow]: ...
    @abstractmethod
    def _rel(self, path: str) -> str | None: ...

    def resolve_name(self, path: str, name: str) -> list[SymbolRow]:
        """What `name` used in `path` refers to (see module docstring); [] if unknown."""
        rel = self._rel(path) or ""
        local = [s for s in self.definitions_in(rel) if s.name == name]
        if local:
            return _top_level_first(local)
        imports = self.imports_of(rel)
        explicit = [t for imp in imports if name in imp.names for t in imp.targets]
        found = self._imported(name, explicit, reexport_hops=1)
        if found:
            return found
        # `import m` then `m.name`, or `from m import *`: any definition of name in those targets
        broad = [t for imp in imports if not imp.names or "*" in imp.names for t in imp.targets]
        found = self._imported(name, broad, reexport_hops=0)
        if found:
            return found
        unique = self.find_definitions(name, limit=2)
        return unique if len(unique) == 1 else []

    def _imported(self, name: str, targets: list[str], reexport_hops: int) -> list[SymbolRow]:
        if not targets:
            return []
        rows = self._definitions_named(name, list(dict.fromkeys(targets)))
        top = [s for s in rows if s.qualname == s.name]
        if top or rows:
            return _unique(top or rows)
        if reexport_hops <= 0:
            return []
        further = [
            t
            for path in targets
            for imp in self.imports_of(path)
            if name in imp.names or "*" in imp.names
            for t in imp.targets
        ]
        return self._imported(name, [t for t in further if t not in targets], reexport_hops - 1)

    def callers_of(self, symbol: SymbolRow, limit: int = 50) -> list[RefRow]:
        """References to `symbol.name` in its own file and in the files that import it."""
        paths = [symbol.path, *self.importers_of(symbol.path)]
        refs = self._refs_named(symbol.name, paths, limit + 1)
        # the definition's own header line is not a caller
        out = [
            r for r in refs if not (r.path == symbol.path and r.line == symbol.start_line and r.scope is None)
        ]
        return out[:limit]

    def callees_of(self, symbol: SymbolRow, limit: int = 50) -> list[SymbolRow]:
        """Definitions that the names used inside `symbol` resolve to (itself excluded)."""
        out: list[SymbolRow] = []
        seen: set[tuple[str, int, str]] = {(symbol.path, symbol.start_line, symbol.qualname)}
        names: dict[str, None] = {}
        for ref in self._refs_in_range(symbol.path, symbol.start_line, symbol.end_line):
            names.setdefault(ref.name, None)
        for name in names:
            for target in self.resolve_name(symbol.path, name):
                key = (target.path, target.start_line, target.qualname)
                if key not in seen:
                    seen.add(key)
                    out.append(target)
                    if len(out) >= limit:
                        return out
        return out
