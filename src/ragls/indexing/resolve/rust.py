"""Rust `use` and `mod` declarations: crate-relative, self/super, Rust 2018 child modules, and
other library crates of the workspace by their Cargo.toml package name (read with tomllib)."""

from __future__ import annotations

import logging
import tomllib

from ragls.indexing.records import Import
from ragls.indexing.resolve.base import Workspace, dirname, join

logger = logging.getLogger(__name__)

_EXTERNAL = frozenset({"std", "core", "alloc", "proc_macro", "test"})


def cargo_package_name(text: str) -> str | None:
    """`[package] name` of a Cargo.toml (None when absent or unreadable)."""
    try:
        name = tomllib.loads(text).get("package", {}).get("name")
    except (tomllib.TOMLDecodeError, AttributeError):
        logger.debug("unparsable Cargo.toml")
        return None
    return name if isinstance(name, str) else None


class RustResolver:
    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self._roots: dict[str, tuple[str, str]] = {}
        self._crates: dict[str, tuple[str, str]] | None = None

    def _crate(self, from_path: str) -> tuple[str, str]:
        """(crate source dir, crate root file) of `from_path`."""
        start = dirname(from_path)
        if start in self._roots:
            return self._roots[start]
        probe: str | None = start
        found = None
        while probe is not None:
            for root_name in ("lib.rs", "main.rs"):
                root_file = join(probe, root_name)
                if root_file in self.ws.files and (probe.rpartition("/")[2] == "src" or not probe):
                    found = (probe, root_file)
                    break
            if found or not probe:
                break
            probe = dirname(probe)
        if found is None:  # tests/, examples/, build scripts: each file is its own crate root
            found = (start, from_path)
        self._roots[start] = found
        return found

    def _module_file(self, src: str, root_file: str, path: list[str]) -> str | None:
        if not path:
            return root_file
        base = join(src, "/".join(path))
        for cand in (base + ".rs", base + "/mod.rs"):
            if cand in self.ws.files:
                return cand
        return None

    @staticmethod
    def _module_path(src: str, root_file: str, from_path: str) -> list[str]:
        if from_path == root_file or not from_path.startswith(f"{src}/" if src else ""):
            return []
        rel = from_path[len(src) + 1 if src else 0 : -3].split("/")
        if rel[-1] == "mod":
            rel.pop()
        return [] if rel in (["lib"], ["main"]) else rel

    def _crates_by_name(self) -> dict[str, tuple[str, str]]:
        """Library crates of the workspace by the name other crates `use` them with."""
        if self._crates is None:
            self._crates = {}
            for f in self.ws.files:
                if f == "src/lib.rs" or f.endswith("/src/lib.rs"):
                    crate_dir = dirname(dirname(f))
                    name = cargo_package_name(self.ws.read(join(crate_dir, "Cargo.toml")) or "")
                    if name:
                        self._crates[name.replace("-", "_")] = (dirname(f), f)
        return self._crates

    def resolve(self, from_path: str, imp: Import) -> list[str]:
        module = imp.module
        if module.startswith("mod:"):
            module = "self::" + module[4:]
        segs = [s for s in module.split("::") if s]
        if not segs or segs[0] in _EXTERNAL:
            return []
        src, root_file = self._crate(from_path)
        current = self._module_path(src, root_file, from_path)
        head = segs[0]
        if head == "crate":
            base, segs = [], segs[1:]
        elif head == "self":
            base, segs = current, segs[1:]
        elif head == "super":
            base = current
            while segs and segs[0] == "super":
                base, segs = base[:-1], segs[1:]
        elif self._module_file(src, root_file, [*current, head]):
            base = current  # Rust 2018: a child module of the current module
        elif head in self._crates_by_name():
            src, root_file = self._crates_by_name()[head]
            base, segs = [], segs[1:]
        else:
            return []  # an external crate
        full = base + segs
        declared_mod = imp.alias == "mod" or imp.module.startswith("mod:")
        lowest = len(full) if declared_mod else len(base)
        target = None
        for k in range(len(full), lowest - 1, -1):
            target = self._module_file(src, root_file, full[:k])
            if target:
                break
        names = [n for n in imp.names if n not in ("self", "*")]
        subs = []
        for name in names:
            sub = full + [s for s in name.split("::") if s]
            for k in range(len(sub), len(full), -1):
                hit = self._module_file(src, root_file, sub[:k])
                if hit:
                    subs.append(hit)
                    break
        plain = not names or len(subs) < len(names) or "self" in imp.names or "*" in imp.names
        return ([target] if target and plain else []) + subs
