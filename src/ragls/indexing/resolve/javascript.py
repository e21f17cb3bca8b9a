"""JavaScript and TypeScript imports: relative specifiers, tsconfig/jsconfig `baseUrl` and
`paths` (with relative `extends`), ESM `.js` naming a `.ts` file, folder `index` files."""

from __future__ import annotations

import json
import logging
import posixpath
import re
from typing import Any

from ragls.indexing.records import Import
from ragls.indexing.resolve.base import Workspace, dirname, join

logger = logging.getLogger(__name__)

JS_EXTS = (".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts", ".d.ts")
_JS_TO_TS = {".js": (".ts", ".tsx"), ".jsx": (".tsx",), ".mjs": (".mts",), ".cjs": (".cts",)}


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


class JsResolver:
    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self._configs: dict[str, list[tuple[str, dict[str, Any]]]] = {}

    def _file(self, base: str) -> str | None:
        files = self.ws.files
        base = posixpath.normpath(base)
        if base.startswith("../") or base == "..":
            return None
        base = "" if base == "." else base
        if base in files:
            return base
        for ext in JS_EXTS:
            if base + ext in files:
                return base + ext
        stem, dot, ext = base.rpartition(".")
        for alt in _JS_TO_TS.get(f".{ext}", ()) if dot else ():
            if stem + alt in files:  # ESM TypeScript: "./x.js" means x.ts
                return stem + alt
        for ext in JS_EXTS:
            if join(base, "index" + ext) in files:
                return join(base, "index" + ext)
        return None

    def resolve(self, from_path: str, imp: Import) -> list[str]:
        spec = imp.module
        spec = spec.split("?", 1)[0].split("#", 1)[0] if not spec.startswith("#") else spec
        if spec.startswith(("./", "../")) or spec in (".", ".."):
            hit = self._file(join(dirname(from_path), spec))
            return [hit] if hit else []
        if not spec or spec.startswith("/") or ":" in spec:
            return []  # absolute, URL or node: builtin
        for cfg_dir, options in self._config_chain(dirname(from_path)):
            base_url = options.get("baseUrl")
            base = posixpath.normpath(join(cfg_dir, base_url)) if isinstance(base_url, str) else cfg_dir
            base = "" if base == "." else base
            paths = options.get("paths")
            if isinstance(paths, dict):
                for target in ts_paths(spec, paths):
                    hit = self._file(join(base, target))
                    if hit:
                        return [hit]
            if isinstance(base_url, str):
                hit = self._file(join(base, spec))
                if hit:
                    return [hit]
        return []  # a package from node_modules

    def _config_chain(self, dir_rel: str) -> list[tuple[str, dict[str, Any]]]:
        """compilerOptions of the nearest tsconfig/jsconfig at or above `dir_rel` (cached)."""
        cached = self._configs.get(dir_rel)
        if cached is not None:
            return cached
        own = None
        for name in ("tsconfig.json", "jsconfig.json"):
            options = self._options(join(dir_rel, name), depth=0)
            if options is not None:
                own = [(dir_rel, options)]
                break
        if own is None:
            own = self._config_chain(dirname(dir_rel)) if dir_rel else []
        self._configs[dir_rel] = own
        return own

    def _options(self, rel: str, depth: int) -> dict[str, Any] | None:
        """compilerOptions of one config file, merged over a relative `extends` base."""
        text = self.ws.read(rel)
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
            target = posixpath.normpath(join(dirname(rel), extends))
            base = self._options(target if target.endswith(".json") else target + ".json", depth + 1)
            if base:  # baseUrl of the base config is relative to the base config's folder
                if isinstance(base.get("baseUrl"), str):
                    rel_dir = posixpath.relpath(dirname(target) or ".", dirname(rel) or ".")
                    base["baseUrl"] = posixpath.normpath(join(rel_dir, base["baseUrl"]))
                options.update(base)
        compiler = data.get("compilerOptions")
        if isinstance(compiler, dict):
            options.update(compiler)
        return options


def ts_paths(spec: str, paths: dict[str, Any]) -> list[str]:
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
