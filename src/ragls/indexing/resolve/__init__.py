"""Import resolution: which workspace files an `Import` record points to.

`ImportResolver` is built from the list of indexed files and kept while that list stays the
same (`ResolverCache`); every lookup is a set/dict probe. One module per language implements
`LanguageResolver` (python, javascript (+typescript, tsx), go, rust, java); each is built on
first use. Project files a resolver needs besides sources (`go.mod`, `tsconfig.json` /
`jsconfig.json`, `Cargo.toml`) are read lazily and cached; a change to one of them (by mtime)
makes the cached resolver stale. An empty tuple means external (stdlib, third-party) or
unresolvable; `resolve` never raises.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Iterable
from pathlib import Path

from ragls.indexing.records import Import
from ragls.indexing.resolve.base import LanguageResolver, Workspace
from ragls.indexing.resolve.go import GoResolver
from ragls.indexing.resolve.java import JavaResolver
from ragls.indexing.resolve.javascript import JS_EXTS, JsResolver, strip_json_comments
from ragls.indexing.resolve.python import PythonResolver
from ragls.indexing.resolve.rust import RustResolver

__all__ = ["JS_EXTS", "ImportResolver", "ResolverCache", "strip_json_comments"]

logger = logging.getLogger(__name__)

# language -> (resolver kind, factory); typescript and tsx share the JavaScript resolver
RESOLVERS: dict[str, tuple[str, Callable[[Workspace], LanguageResolver]]] = {
    "python": ("python", PythonResolver),
    "javascript": ("js", JsResolver),
    "typescript": ("js", JsResolver),
    "tsx": ("js", JsResolver),
    "go": ("go", GoResolver),
    "rust": ("rust", RustResolver),
    "java": ("java", JavaResolver),
}


class ImportResolver:
    """Maps (importing file, language, Import) to workspace files."""

    def __init__(self, root: Path, files: Iterable[str]) -> None:
        self.workspace = Workspace(root, files)
        self.root = self.workspace.root
        self.files = self.workspace.files
        self._by_kind: dict[str, LanguageResolver] = {}

    def resolve(self, from_path: str, language: str, imp: Import) -> tuple[str, ...]:
        """Workspace files `imp` (found in `from_path`) refers to; () when external."""
        entry = RESOLVERS.get(language)
        if entry is None:
            return ()
        kind, factory = entry
        try:
            resolver = self._by_kind.get(kind)
            if resolver is None:
                resolver = self._by_kind[kind] = factory(self.workspace)
            found = resolver.resolve(from_path, imp)
        except Exception:  # a resolver bug must never sink indexing
            logger.debug("cannot resolve %r in %s", imp, from_path, exc_info=True)
            return ()
        return tuple(dict.fromkeys(p for p in found if p != from_path))

    def project_files_changed(self) -> bool:
        """Whether a project file read so far (go.mod, tsconfig.json, ...) changed on disk."""
        return self.workspace.project_files_changed()


class ResolverCache:
    """One `ImportResolver`, rebuilt only when the file list or a project file it read changed."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()
        self._resolver: ImportResolver | None = None

    def get(self, files: Collection[str]) -> ImportResolver:
        wanted = files if isinstance(files, (set, frozenset)) else set(files)
        with self._lock:
            resolver = self._resolver
            if resolver is None or resolver.files != wanted or resolver.project_files_changed():
                resolver = self._resolver = ImportResolver(self.root, wanted)
            return resolver

    def clear(self) -> None:
        with self._lock:
            self._resolver = None
