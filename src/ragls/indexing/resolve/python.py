"""Python imports: absolute (against every source root), relative, and `from X import sub`."""

from __future__ import annotations

from ragls.indexing.records import Import
from ragls.indexing.resolve.base import Workspace, dirname, join


class PythonResolver:
    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.roots = self._roots()
        self.modules = self._modules()

    def _roots(self) -> list[str]:
        """Source roots: the workspace root, src/, and the parent of every top-level package."""
        files = self.ws.files
        roots = {"", "src"}
        for f in files:
            if f.endswith("/__init__.py"):
                pkg = dirname(f)
                parent = dirname(pkg)
                if join(parent, "__init__.py") not in files:
                    roots.add(parent)
        return sorted(roots, key=lambda r: (r != "", r != "src", r.count("/"), r))

    def _modules(self) -> dict[str, str]:
        """Dotted module name -> file, for every Python file under every source root.

        Earlier roots win; within a root a package beats a same-named module, .py beats .pyi.
        """
        rank = {r: i for i, r in enumerate(self.roots)}
        entries = []
        for f in self.ws.files:
            if not f.endswith((".py", ".pyi")):
                continue
            stem = f[: f.rfind(".")]
            is_init = stem == "__init__" or stem.endswith("/__init__")
            mod = dirname(stem) if is_init else stem
            d: str | None = dirname(f)
            while d is not None:
                if d in rank:
                    name = mod[len(d) + 1 :] if d else mod
                    if name:
                        entries.append((rank[d], not is_init, f.endswith(".pyi"), name.replace("/", "."), f))
                d = dirname(d) if d else None
        entries.sort()
        modules: dict[str, str] = {}
        for *_, name, f in entries:
            modules.setdefault(name, f)
        return modules

    def _file(self, base: str) -> str | None:
        for cand in (f"{base}.py", f"{base}/__init__.py", f"{base}.pyi", f"{base}/__init__.pyi"):
            if cand in self.ws.files:
                return cand
        return None

    def resolve(self, from_path: str, imp: Import) -> list[str]:
        module, names = imp.module, [n for n in imp.names if n != "*"]
        if module.startswith("."):
            dots = len(module) - len(module.lstrip("."))
            base = dirname(from_path)
            for _ in range(dots - 1):
                if not base:
                    return []
                base = dirname(base)
            rest = module[dots:]
            base = join(base, rest.replace(".", "/"))
            target = self._file(base)  # the module, or the package's __init__
            subs = [s for s in (self._file(join(base, n)) for n in names) if s]
            return module_and_subs(target, subs, names)
        target = self.modules.get(module)
        if target is None:
            # script-style import next to the importer (tests/, scripts/)
            target = self._file(join(dirname(from_path), module.replace(".", "/")))
        subs = [s for s in (self.modules.get(f"{module}.{n}") for n in names) if s]
        if target is None and not subs:
            parts = module.split(".")
            for k in range(len(parts) - 1, 0, -1):  # `import a.b.c` where only a.b is ours
                target = self.modules.get(".".join(parts[:k]))
                if target:
                    break
        return module_and_subs(target, subs, names)


def module_and_subs(target: str | None, subs: list[str], names: list[str]) -> list[str]:
    """Submodules named by `from X import n`, plus X itself when some name is not one."""
    found = list(subs)
    if target and (not names or len(subs) < len(names)):
        found.insert(0, target)
    return found
