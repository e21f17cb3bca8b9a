"""Java imports by package path suffix (src/main/java, src/test/java or any other source root)."""

from __future__ import annotations

from collections import defaultdict

from ragls.indexing.records import Import
from ragls.indexing.resolve.base import Workspace


class JavaResolver:
    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self._tables: tuple[dict[str, list[str]], dict[str, list[str]]] | None = None

    def _java_tables(self) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        """(path suffix -> .java files, dir suffix -> .java files in that dir), built once."""
        if self._tables is None:
            by_suffix: dict[str, list[str]] = defaultdict(list)
            by_dir_suffix: dict[str, list[str]] = defaultdict(list)
            for f in sorted(self.ws.files):
                if not f.endswith(".java"):
                    continue
                parts = f.split("/")
                for i in range(len(parts)):
                    by_suffix["/".join(parts[i:])].append(f)
                    if i < len(parts) - 1:
                        by_dir_suffix["/".join(parts[i:-1])].append(f)
            self._tables = (dict(by_suffix), dict(by_dir_suffix))
        return self._tables

    def resolve(self, from_path: str, imp: Import) -> list[str]:
        by_suffix, by_dir_suffix = self._java_tables()
        parts = [p for p in imp.module.split(".") if p and p != "*"]
        if not parts:
            return []
        if "*" in imp.names or imp.module.endswith(".*"):
            package = by_dir_suffix.get("/".join(parts))
            if package:
                return package
        hit = by_suffix.get("/".join(parts) + ".java")
        if hit:
            return hit
        found = [f for n in imp.names if n != "*" for f in by_suffix.get("/".join([*parts, n]) + ".java", ())]
        if found:
            return found  # the parser put the package in `module` and classes in `names`
        for k in range(len(parts) - 1, 1, -1):  # static member or nested class: drop segments
            hit = by_suffix.get("/".join(parts[:k]) + ".java")
            if hit:
                return hit
        return []
