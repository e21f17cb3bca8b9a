"""Import resolution: which workspace files an `Import` record points to.

`ImportResolver` is built from the list of indexed files and kept while that list stays the
same (`ResolverCache`); every lookup is a set/dict probe. Project files the resolver needs
besides sources (`go.mod`, `tsconfig.json`/`jsconfig.json`, `Cargo.toml`) are read lazily from
disk and cached; a change to one of them (by mtime) makes the cached resolver stale.
An empty tuple means external (stdlib, third-party) or unresolvable; `resolve` never raises.
"""

from __future__ import annotations

import json
import logging
import os
import posixpath
import re
import threading
from collections import defaultdict
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

from ragls.indexing.records import Import

logger = logging.getLogger(__name__)

JS_EXTS = (".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts", ".d.ts")
_JS_TO_TS = {".js": (".ts", ".tsx"), ".jsx": (".tsx",), ".mjs": (".mts",), ".cjs": (".cts",)}
_RUST_EXTERNAL = frozenset({"std", "core", "alloc", "proc_macro", "test"})
_GO_MODULE = re.compile(r"^\s*module\s+\"?([^\s\"]+)\"?", re.MULTILINE)
_CARGO_NAME = re.compile(r"^\s*\[package\][^\[]*?^\s*name\s*=\s*\"([^\"]+)\"", re.MULTILINE | re.DOTALL)


def _dirname(path: str) -> str:
    return path.rpartition("/")[0]


def _join(*parts: str) -> str:
    return "/".join(p for p in parts if p)


def _unique(paths: Iterable[str], exclude: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(p for p in paths if p != exclude))


def strip_json_comments(text: str) -> str:
    """JSON with // and /* */ comments and trailing commas (tsconfig) -> plain JSON."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        else:
            out.append(c)
            i += 1
    return re.sub(r",(\s*[}\]])", r"\1", "".join(out))


def _mtime(path: Path) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


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


class ImportResolver:
    """Maps (importing file, language, Import) to workspace files."""

    def __init__(self, root: Path, files: Iterable[str]) -> None:
        self.root = Path(root)
        self.files: set[str] = set(files)
        self.by_dir: dict[str, list[str]] = defaultdict(list)
        for f in self.files:
            self.by_dir[_dirname(f)].append(f)
        for listing in self.by_dir.values():
            listing.sort()
        self.py_roots = self._python_roots()
        self.py_modules = self._python_modules()
        self._java: tuple[dict[str, list[str]], dict[str, list[str]]] | None = None
        self._go_mods: dict[str, str | None] = {}  # dir -> module path of its go.mod (None: none)
        self._go_modules: list[tuple[str, str]] | None = None  # (module path, dir), longest first
        self._ts_configs: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        self._rust_roots: dict[str, tuple[str, str]] = {}
        self._rust_crates: dict[str, tuple[str, str]] | None = None
        self._read_stamps: dict[str, int | None] = {}  # project files read -> mtime_ns (None: absent)

    # ---- entry point ------------------------------------------------------------------------

    def resolve(self, from_path: str, language: str, imp: Import) -> tuple[str, ...]:
        """Workspace files `imp` (found in `from_path`) refers to; () when external."""
        try:
            if language == "python":
                found = self._python(from_path, imp)
            elif language in ("javascript", "typescript", "tsx"):
                found = self._js(from_path, imp.module)
            elif language == "go":
                found = self._go(from_path, imp.module)
            elif language == "rust":
                found = self._rust(from_path, imp)
            elif language == "java":
                found = self._java_resolve(imp)
            else:
                return ()
            return _unique(found, from_path)
        except Exception:  # a resolver bug must never sink indexing
            logger.debug("cannot resolve %r in %s", imp, from_path, exc_info=True)
            return ()

    def _read(self, rel: str) -> str | None:
        self._read_stamps[rel] = _mtime(self.root / rel)
        try:
            return (self.root / rel).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None

    def project_files_changed(self) -> bool:
        """Whether a project file read so far (go.mod, tsconfig.json, ...) changed on disk."""
        return any(_mtime(self.root / rel) != stamp for rel, stamp in list(self._read_stamps.items()))

    # ---- Python -----------------------------------------------------------------------------

    def _python_roots(self) -> list[str]:
        """Source roots: the workspace root, src/, and the parent of every top-level package."""
        roots = {"", "src"}
        for f in self.files:
            if f.endswith("/__init__.py"):
                pkg = _dirname(f)
                parent = _dirname(pkg)
                if _join(parent, "__init__.py") not in self.files:
                    roots.add(parent)
        return sorted(roots, key=lambda r: (r != "", r != "src", r.count("/"), r))

    def _python_modules(self) -> dict[str, str]:
        """Dotted module name -> file, for every Python file under every source root.

        Earlier roots win; within a root a package beats a same-named module, .py beats .pyi.
        """
        rank = {r: i for i, r in enumerate(self.py_roots)}
        entries = []
        for f in self.files:
            if not f.endswith((".py", ".pyi")):
                continue
            stem = f[: f.rfind(".")]
            is_init = stem == "__init__" or stem.endswith("/__init__")
            mod = _dirname(stem) if is_init else stem
            d: str | None = _dirname(f)
            while d is not None:
                if d in rank:
                    name = mod[len(d) + 1 :] if d else mod
                    if name:
                        entries.append((rank[d], not is_init, f.endswith(".pyi"), name.replace("/", "."), f))
                d = _dirname(d) if d else None
        entries.sort()
        modules: dict[str, str] = {}
        for *_, name, f in entries:
            modules.setdefault(name, f)
        return modules

    def _py_file(self, base: str) -> str | None:
        for cand in (f"{base}.py", f"{base}/__init__.py", f"{base}.pyi", f"{base}/__init__.pyi"):
            if cand in self.files:
                return cand
        return None

    def _python(self, from_path: str, imp: Import) -> list[str]:
        module, names = imp.module, [n for n in imp.names if n != "*"]
        if module.startswith("."):
            dots = len(module) - len(module.lstrip("."))
            base = _dirname(from_path)
            for _ in range(dots - 1):
                if not base:
                    return []
                base = _dirname(base)
            rest = module[dots:]
            base = _join(base, rest.replace(".", "/"))
            target = self._py_file(base)  # the module, or the package's __init__
            subs = [s for s in (self._py_file(_join(base, n)) for n in names) if s]
            return self._module_and_subs(target, subs, names)
        target = self.py_modules.get(module)
        if target is None:
            # script-style import next to the importer (tests/, scripts/)
            target = self._py_file(_join(_dirname(from_path), module.replace(".", "/")))
        subs = [s for s in (self.py_modules.get(f"{module}.{n}") for n in names) if s]
        if target is None and not subs:
            parts = module.split(".")
            for k in range(len(parts) - 1, 0, -1):  # `import a.b.c` where only a.b is ours
                target = self.py_modules.get(".".join(parts[:k]))
                if target:
                    break
        return self._module_and_subs(target, subs, names)

    @staticmethod
    def _module_and_subs(target: str | None, subs: list[str], names: list[str]) -> list[str]:
        """Submodules named by `from X import n`, plus X itself when some name is not one."""
        found = list(subs)
        if target and (not names or len(subs) < len(names)):
            found.insert(0, target)
        return found

    # ---- JavaScript / TypeScript ------------------------------------------------------------

    def _js_file(self, base: str) -> str | None:
        base = posixpath.normpath(base)
        if base.startswith("../") or base == "..":
            return None
        base = "" if base == "." else base
        if base in self.files:
            return base
        for ext in JS_EXTS:
            if base + ext in self.files:
                return base + ext
        stem, dot, ext = base.rpartition(".")
        for alt in _JS_TO_TS.get(f".{ext}", ()) if dot else ():
            if stem + alt in self.files:  # ESM TypeScript: "./x.js" means x.ts
                return stem + alt
        for ext in JS_EXTS:
            if _join(base, "index" + ext) in self.files:
                return _join(base, "index" + ext)
        return None

    def _js(self, from_path: str, spec: str) -> list[str]:
        spec = spec.split("?", 1)[0].split("#", 1)[0] if not spec.startswith("#") else spec
        if spec.startswith(("./", "../")) or spec in (".", ".."):
            hit = self._js_file(_join(_dirname(from_path), spec))
            return [hit] if hit else []
        if not spec or spec.startswith("/") or ":" in spec:
            return []  # absolute, URL or node: builtin
        for cfg_dir, options in self._ts_config_chain(_dirname(from_path)):
            base_url = options.get("baseUrl")
            base = posixpath.normpath(_join(cfg_dir, base_url)) if isinstance(base_url, str) else cfg_dir
            base = "" if base == "." else base
            paths = options.get("paths")
            if isinstance(paths, dict):
                for target in self._ts_paths(spec, paths):
                    hit = self._js_file(_join(base, target))
                    if hit:
                        return [hit]
            if isinstance(base_url, str):
                hit = self._js_file(_join(base, spec))
                if hit:
                    return [hit]
        return []  # a package from node_modules

    @staticmethod
    def _ts_paths(spec: str, paths: dict[str, Any]) -> list[str]:
        """Substitutions of the best (longest prefix) `paths` pattern matching `spec`."""
        best: tuple[int, list[str]] | None = None
        for pattern, targets in paths.items():
            if not isinstance(targets, list):
                continue
            head, star, tail = pattern.partition("*")
            if not star:
                if pattern == spec:
                    return [t for t in targets if isinstance(t, str)]
                continue
            if spec.startswith(head) and spec.endswith(tail) and len(spec) >= len(head) + len(tail):
                middle = spec[len(head) : len(spec) - len(tail)]
                subs = [t.replace("*", middle) for t in targets if isinstance(t, str)]
                if best is None or len(head) > best[0]:
                    best = (len(head), subs)
        return best[1] if best else []

    def _ts_config_chain(self, dir_rel: str) -> list[tuple[str, dict[str, Any]]]:
        """compilerOptions of the nearest tsconfig/jsconfig at or above `dir_rel` (cached)."""
        cached = self._ts_configs.get(dir_rel)
        if cached is not None:
            return cached
        own = None
        for name in ("tsconfig.json", "jsconfig.json"):
            options = self._ts_options(_join(dir_rel, name), depth=0)
            if options is not None:
                own = [(dir_rel, options)]
                break
        if own is None:
            own = self._ts_config_chain(_dirname(dir_rel)) if dir_rel else []
        self._ts_configs[dir_rel] = own
        return own

    def _ts_options(self, rel: str, depth: int) -> dict[str, Any] | None:
        """compilerOptions of one config file, merged over a relative `extends` base."""
        text = self._read(rel)
        if text is None or depth > 4:
            return None
        try:
            data = json.loads(strip_json_comments(text))
        except ValueError:
            logger.debug("unparsable %s", rel)
            return None
        if not isinstance(data, dict):
            return None
        options: dict[str, Any] = {}
        extends = data.get("extends")
        if isinstance(extends, str) and extends.startswith("."):
            target = posixpath.normpath(_join(_dirname(rel), extends))
            base = self._ts_options(target if target.endswith(".json") else target + ".json", depth + 1)
            if base:  # baseUrl of the base config is relative to the base config's folder
                if isinstance(base.get("baseUrl"), str):
                    rel_dir = posixpath.relpath(_dirname(target) or ".", _dirname(rel) or ".")
                    base["baseUrl"] = posixpath.normpath(_join(rel_dir, base["baseUrl"]))
                options.update(base)
        compiler = data.get("compilerOptions")
        if isinstance(compiler, dict):
            options.update(compiler)
        return options

    # ---- Go ---------------------------------------------------------------------------------

    def _go_module_of(self, dir_rel: str) -> str | None:
        if dir_rel not in self._go_mods:
            text = self._read(_join(dir_rel, "go.mod"))
            match = _GO_MODULE.search(text) if text else None
            self._go_mods[dir_rel] = match.group(1) if match else None
        return self._go_mods[dir_rel]

    def _go_module_list(self) -> list[tuple[str, str]]:
        if self._go_modules is None:
            found: dict[str, str] = {}
            for d, listing in self.by_dir.items():
                if not any(f.endswith(".go") for f in listing):
                    continue
                probe: str | None = d
                while probe is not None:
                    module = self._go_module_of(probe)
                    if module:
                        found.setdefault(module, probe)
                        break
                    probe = _dirname(probe) if probe else None
            self._go_modules = sorted(found.items(), key=lambda m: -len(m[0]))
        return self._go_modules

    def _go(self, from_path: str, spec: str) -> list[str]:
        if spec.startswith("."):
            pkg_dir: str | None = posixpath.normpath(_join(_dirname(from_path), spec))
        else:
            pkg_dir = None
            for module, mod_dir in self._go_module_list():
                if spec == module or spec.startswith(module + "/"):
                    pkg_dir = _join(mod_dir, spec[len(module) + 1 :])
                    break
        if pkg_dir is None:
            return []
        return [f for f in self.by_dir.get(pkg_dir, ()) if f.endswith(".go") and not f.endswith("_test.go")]

    # ---- Rust -------------------------------------------------------------------------------

    def _rust_crate(self, from_path: str) -> tuple[str, str]:
        """(crate source dir, crate root file) of `from_path`."""
        start = _dirname(from_path)
        if start in self._rust_roots:
            return self._rust_roots[start]
        probe: str | None = start
        found = None
        while probe is not None:
            for root_name in ("lib.rs", "main.rs"):
                root_file = _join(probe, root_name)
                if root_file in self.files and (probe.rpartition("/")[2] == "src" or not probe):
                    found = (probe, root_file)
                    break
            if found or not probe:
                break
            probe = _dirname(probe)
        if found is None:  # tests/, examples/, build scripts: each file is its own crate root
            found = (start, from_path)
        self._rust_roots[start] = found
        return found

    def _rust_module_file(self, src: str, root_file: str, path: list[str]) -> str | None:
        if not path:
            return root_file
        base = _join(src, "/".join(path))
        for cand in (base + ".rs", base + "/mod.rs"):
            if cand in self.files:
                return cand
        return None

    def _rust_module_path(self, src: str, root_file: str, from_path: str) -> list[str]:
        if from_path == root_file or not from_path.startswith(f"{src}/" if src else ""):
            return []
        rel = from_path[len(src) + 1 if src else 0 : -3].split("/")
        if rel[-1] == "mod":
            rel.pop()
        return [] if rel in (["lib"], ["main"]) else rel

    def _rust_crates_by_name(self) -> dict[str, tuple[str, str]]:
        """Library crates of the workspace by the name other crates `use` them with."""
        if self._rust_crates is None:
            self._rust_crates = {}
            for f in self.files:
                if f == "src/lib.rs" or f.endswith("/src/lib.rs"):
                    crate_dir = _dirname(_dirname(f))
                    text = self._read(_join(crate_dir, "Cargo.toml")) or ""
                    match = _CARGO_NAME.search(text)
                    if match:
                        self._rust_crates[match.group(1).replace("-", "_")] = (_dirname(f), f)
        return self._rust_crates

    def _rust(self, from_path: str, imp: Import) -> list[str]:
        module = imp.module
        if module.startswith("mod:"):
            module = "self::" + module[4:]
        segs = [s for s in module.split("::") if s]
        if not segs or segs[0] in _RUST_EXTERNAL:
            return []
        src, root_file = self._rust_crate(from_path)
        current = self._rust_module_path(src, root_file, from_path)
        head = segs[0]
        if head == "crate":
            base, segs = [], segs[1:]
        elif head == "self":
            base, segs = current, segs[1:]
        elif head == "super":
            base = current
            while segs and segs[0] == "super":
                base, segs = base[:-1], segs[1:]
        elif self._rust_module_file(src, root_file, [*current, head]):
            base = current  # Rust 2018: a child module of the current module
        elif head in self._rust_crates_by_name():
            src, root_file = self._rust_crates_by_name()[head]
            base, segs = [], segs[1:]
        else:
            return []  # an external crate
        full = base + segs
        declared_mod = imp.alias == "mod" or imp.module.startswith("mod:")
        lowest = len(full) if declared_mod else len(base)
        target = None
        for k in range(len(full), lowest - 1, -1):
            target = self._rust_module_file(src, root_file, full[:k])
            if target:
                break
        names = [n for n in imp.names if n not in ("self", "*")]
        subs = []
        for name in names:
            sub = full + [s for s in name.split("::") if s]
            for k in range(len(sub), len(full), -1):
                hit = self._rust_module_file(src, root_file, sub[:k])
                if hit:
                    subs.append(hit)
                    break
        plain = not names or len(subs) < len(names) or "self" in imp.names or "*" in imp.names
        return ([target] if target and plain else []) + subs

    # ---- Java -------------------------------------------------------------------------------

    def _java_tables(self) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        """(path suffix -> .java files, dir suffix -> .java files in that dir), built once."""
        if self._java is None:
            by_suffix: dict[str, list[str]] = defaultdict(list)
            by_dir_suffix: dict[str, list[str]] = defaultdict(list)
            for f in sorted(self.files):
                if not f.endswith(".java"):
                    continue
                parts = f.split("/")
                for i in range(len(parts)):
                    by_suffix["/".join(parts[i:])].append(f)
                    if i < len(parts) - 1:
                        by_dir_suffix["/".join(parts[i:-1])].append(f)
            self._java = (dict(by_suffix), dict(by_dir_suffix))
        return self._java

    def _java_resolve(self, imp: Import) -> list[str]:
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
