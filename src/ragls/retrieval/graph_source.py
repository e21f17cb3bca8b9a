"""Candidates from the dependency graph: what the names near the cursor refer to.

Edges, strongest first: a name near the cursor resolved through the buffer's imports
(graph:import) or elsewhere (graph:ref), a definition of the buffer itself far from
the cursor (graph:local, cut from the buffer), types in the enclosing signature
(graph:type), callees and callers of the enclosing function (graph:callee, graph:caller).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from ragls.indexing.records import ChunkRow, Definition, ImportRow, SymbolRow
from ragls.retrieval.cursor import CursorContext
from ragls.retrieval.types import Candidate, RetrievalConfig

if TYPE_CHECKING:
    from ragls.indexing.workspace import WorkspaceIndex

log = logging.getLogger(__name__)

EDGE_WEIGHTS = {"import": 1.2, "ref": 1.0, "local": 0.9, "type": 0.8, "callee": 0.55, "caller": 0.4}
MAX_NAMES = 24  # identifiers resolved per request (each is a query)
BIG_CHUNK_FACTOR = 3  # a chunk this many times larger than the definition: cut the definition


ChunkLookup = Callable[[str], list[ChunkRow]]


def _chunk_for(chunks: list[ChunkRow], start: int, end: int) -> ChunkRow | None:
    """The smallest chunk containing line `start` (overlapping [start, end])."""
    best: ChunkRow | None = None
    for c in chunks:
        if c.start_line <= start <= c.end_line and (
            best is None or (c.end_line - c.start_line) < (best.end_line - best.start_line)
        ):
            best = c
    return best


def candidate_for_symbol(
    sym: SymbolRow, chunks_in: ChunkLookup, read_text: Callable[[str], str | None], score: float, tag: str,
    max_lines: int,
) -> Candidate | None:
    """The chunk holding a definition, or the definition's own lines cut out of it."""
    chunk = _chunk_for(chunks_in(sym.path), sym.start_line, sym.end_line)
    def_lines = sym.end_line - sym.start_line + 1
    if chunk is not None:
        size = chunk.end_line - chunk.start_line + 1
        if size <= max(BIG_CHUNK_FACTOR * def_lines, 12) or chunk.name == sym.qualname:
            return Candidate(
                path=sym.path, start_line=chunk.start_line, end_line=chunk.end_line, text=chunk.text,
                score=score, sources=[tag], symbol=sym.qualname, chunk_id=chunk.chunk_id,
                signature=sym.signature, doc=sym.doc,
            )
        if chunk.start_line <= sym.start_line and sym.end_line <= chunk.end_line:
            lines = chunk.text.split("\n")
            cut = lines[sym.start_line - chunk.start_line : sym.end_line - chunk.start_line + 1]
            return _cut(sym, "\n".join(cut), score, tag)
    text = read_text(sym.path)
    if text is None:
        return None
    end = min(sym.end_line, sym.start_line + max_lines - 1)
    return _cut(sym, "\n".join(text.split("\n")[sym.start_line - 1 : end]), score, tag, end)


def _cut(sym: SymbolRow, text: str, score: float, tag: str, end: int | None = None) -> Candidate:
    return Candidate(
        path=sym.path, start_line=sym.start_line, end_line=end or sym.end_line, text=text, score=score,
        sources=[tag], symbol=sym.qualname, signature=sym.signature, doc=sym.doc,
    )


def _buffer_candidate(ctx: CursorContext, d: Definition, score: float, max_lines: int) -> Candidate:
    end = min(d.end_line, d.start_line + max_lines - 1)
    return Candidate(
        path=ctx.path, start_line=d.start_line, end_line=end, text=ctx.buffer_lines(d.start_line, end),
        score=score, sources=["graph:local"], symbol=d.qualname, signature=d.signature, doc=d.doc,
        from_buffer=True,
    )


def _module_matches(path: str, module: str) -> bool:
    """Loose match of an unresolved import spec against a file path ('./util' ~ 'src/util.ts')."""
    tail = module.replace("\\", "/").rstrip("/").split("/")[-1].split(".")[-1].split("::")[-1]
    p = PurePosixPath(path)
    return bool(tail) and (p.stem == tail or p.parent.name == tail)


def graph_candidates(
    index: WorkspaceIndex,
    ctx: CursorContext,
    config: RetrievalConfig,
    chunks_in: ChunkLookup | None = None,
    deadline: float | None = None,
) -> list[Candidate]:
    """Definitions the code near the cursor refers to, as ranked candidates.

    `deadline` (a `time.perf_counter()` value): past it, the optional caller lookup is skipped.
    """
    chunks_in = chunks_in or index.chunks_in
    limit = config.per_source_limit
    max_lines = config.max_snippet_lines
    resolver = NameResolver(index, ctx.path)
    buffer_modules = {imp.module for imp in ctx.imports}
    targets = {t for row in resolver.imports_of(ctx.path)
               if not buffer_modules or row.module in buffer_modules for t in row.targets}
    imported_names: dict[str, str] = {}  # name -> module spec, from the buffer's imports
    for imp in ctx.imports:
        for name in imp.names:
            imported_names.setdefault(name, imp.module)
    local_defs: dict[str, list[Definition]] = {}
    for d in ctx.parsed.definitions if ctx.parsed else []:
        local_defs.setdefault(d.name, []).append(d)
    window = (ctx.window_start, ctx.window_end)

    out: dict[str, Candidate] = {}
    seen_syms: set[tuple[str, int]] = set()

    def add(c: Candidate | None) -> None:
        if c is not None and (c.key not in out or c.score > out[c.key].score):
            out[c.key] = c

    def add_symbol(sym: SymbolRow, score: float, tag: str) -> None:
        if sym.path == ctx.path or (sym.path, sym.start_line) in seen_syms:
            return  # the current file is taken from the buffer, never from the index
        seen_syms.add((sym.path, sym.start_line))
        add(candidate_for_symbol(sym, chunks_in, index.read_text, score, tag, max_lines))

    def visit(name: str, weight: float, edge: str) -> None:
        if name in local_defs:
            for d in local_defs[name]:
                if d.end_line < window[0] or d.start_line > window[1]:
                    add(_buffer_candidate(ctx, d, weight * EDGE_WEIGHTS["local"], max_lines))
            return
        syms = resolver.resolve(name)
        if not syms and name in imported_names:  # an import the index has not resolved (unsaved)
            syms = [s for s in index.find_definitions(name, limit=10)
                    if s.path != ctx.path and _module_matches(s.path, imported_names[name])]
        for sym in syms[:3]:
            tag = "import" if sym.path in targets else edge
            add_symbol(sym, weight * EDGE_WEIGHTS[tag], f"graph:{tag}")

    near = dict(ctx.identifiers[:MAX_NAMES])
    for name, weight in near.items():
        visit(name, weight, "ref")
    for name in ctx.signature_names:
        if name not in near:
            visit(name, 0.6, "type")
    for i, name in enumerate(_callee_names(ctx, near)):
        visit(name, 1.0 / (1 + 0.1 * i), "callee")
    if deadline is None or time.perf_counter() < deadline:
        _callers(index, ctx, add, chunks_in)
    ranked = sorted(out.values(), key=lambda c: (-c.score, c.path, c.start_line))
    return ranked[:limit]


def _callee_names(ctx: CursorContext, skip: Collection[str], limit: int = 12) -> list[str]:
    """Names the enclosing function of the buffer calls outside the prefix window."""
    enc = ctx.enclosing
    if enc is None or ctx.parsed is None:
        return []
    names: dict[str, None] = {}
    for ref in ctx.parsed.references:
        if (ref.kind == "call" and enc.start_line <= ref.line <= enc.end_line
                and ref.name not in skip and ref.name != enc.name):
            names.setdefault(ref.name, None)
    return list(names)[:limit]


class NameResolver:
    """`WorkspaceIndex.resolve_name` semantics for the current file, memoised per request.

    One `find_definitions` query per name, filtered by the file's import targets
    (explicit names, then whole-module and star imports, then one re-export hop),
    else a globally unique definition. The current file's own definitions come from
    the buffer, not from here.
    """

    FIND_LIMIT = 50

    def __init__(self, index: WorkspaceIndex, path: str) -> None:
        self.index = index
        self.path = path
        self._imports: dict[str, list[ImportRow]] = {}
        self._memo: dict[str, list[SymbolRow]] = {}

    def imports_of(self, path: str) -> list[ImportRow]:
        rows = self._imports.get(path)
        if rows is None:
            try:
                rows = self.index.imports_of(path)
            except Exception:
                log.debug("imports_of(%s) failed", path, exc_info=True)
                rows = []
            self._imports[path] = rows
        return rows

    def resolve(self, name: str) -> list[SymbolRow]:
        if name not in self._memo:
            self._memo[name] = self._resolve(name)
        return self._memo[name]

    def _resolve(self, name: str) -> list[SymbolRow]:
        defs = [d for d in self.index.find_definitions(name, limit=self.FIND_LIMIT) if d.path != self.path]
        imports = self.imports_of(self.path)
        explicit = {t for imp in imports if name in imp.names for t in imp.targets}
        broad = {t for imp in imports if not imp.names or "*" in imp.names for t in imp.targets}
        for targets in (explicit, broad):
            hit = [d for d in defs if d.path in targets]
            if hit:
                return sorted(hit, key=lambda s: (s.qualname != s.name, s.path, s.start_line))
        if explicit:  # a package that re-exports the name: one hop further
            further = {t for path in explicit for imp in self.imports_of(path)
                       if name in imp.names or "*" in imp.names for t in imp.targets}
            hit = [d for d in defs if d.path in further]
            if hit:
                return hit
            if len(defs) >= self.FIND_LIMIT - 1:  # the name is too common for the cut: ask the index
                return [d for d in self.index.resolve_name(self.path, name) if d.path != self.path]
        return defs if len(defs) == 1 else []


def _callers(
    index: WorkspaceIndex, ctx: CursorContext, add: Callable[[Candidate | None], None], chunks_in: ChunkLookup
) -> None:
    """Where the enclosing function is called from (other files), one hop."""
    enc = ctx.enclosing
    if enc is None or enc.kind not in {"function", "method"}:
        return
    sym = next((s for s in index.definitions_in(ctx.path) if s.qualname == enc.qualname), None)
    if sym is None:
        return
    for i, ref in enumerate(r for r in index.callers_of(sym, limit=8) if r.path != ctx.path):
        if i >= 3:
            break
        chunk = _chunk_for(chunks_in(ref.path), ref.line, ref.line)
        if chunk is not None:
            add(Candidate(
                path=chunk.path, start_line=chunk.start_line, end_line=chunk.end_line, text=chunk.text,
                score=EDGE_WEIGHTS["caller"] / (1 + 0.1 * i), sources=["graph:caller"], symbol=chunk.name,
                chunk_id=chunk.chunk_id,
            ))
