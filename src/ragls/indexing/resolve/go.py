"""Go imports: module paths from every go.mod, relative imports; a package is its folder's
non-test .go files."""

from __future__ import annotations

import posixpath
import re

from ragls.indexing.records import Import
from ragls.indexing.resolve.base import Workspace, dirname, join

_GO_MODULE = re.compile(r"^\s*module\s+\"?([^\s\"]+)\"?", re.MULTILINE)


class GoResolver:
    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self._mods: dict[str, str | None] = {}  # dir -> module path of its go.mod (None: none)
        self._modules: list[tuple[str, str]] | None = None  # (module path, dir), longest first

    def _module_of(self, dir_rel: str) -> str | None:
        if dir_rel not in self._mods:
            text = self.ws.read(join(dir_rel, "go.mod"))
            match = _GO_MODULE.search(text) if text else None
            self._mods[dir_rel] = match.group(1) if match else None
        return self._mods[dir_rel]

    def _module_list(self) -> list[tuple[str, str]]:
        if self._modules is None:
            found: dict[str, str] = {}
            for d, listing in self.ws.by_dir.items():
                if not any(f.endswith(".go") for f in listing):
                    continue
                probe: str | None = d
                while probe is not None:
                    module = self._module_of(probe)
                    if module:
                        found.setdefault(module, probe)
                        break
                    probe = dirname(probe) if probe else None
            self._modules = sorted(found.items(), key=lambda m: -len(m[0]))
        return self._modules

    def resolve(self, from_path: str, imp: Import) -> list[str]:
        spec = imp.module
        if spec.startswith("."):
            pkg_dir: str | None = posixpath.normpath(join(dirname(from_path), spec))
        else:
            pkg_dir = None
            for module, mod_dir in self._module_list():
                if spec == module or spec.startswith(module + "/"):
                    pkg_dir = join(mod_dir, spec[len(module) + 1 :])
                    break
        if pkg_dir is None:
            return []
        listing = self.ws.by_dir.get(pkg_dir, ())
        return [f for f in listing if f.endswith(".go") and not f.endswith("_test.go")]
