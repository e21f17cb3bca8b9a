"""Candidates from the dependency graph: the definitions the buffer refers to.

Names come ranked from `buffer_names` (everything the buffer imports from the workspace,
by recency and frequency of use, unused imports included; the name at the cursor first).
Edges: a name imported by the buffer, or an attribute of an imported module
(graph:import), a nearby name resolved elsewhere (graph:ref), a type of the enclosing
signature (graph:type), a definition of the buffer itself far from the cursor
(graph:local, cut from the buffer), callees and callers of the enclosing function
(graph:callee, graph:caller). Long definitions are proposed as stubs (`stubs`).

At the start of an empty function body (`ctx.body`, see `body_context`) every imported name
is resolved, uses after the cursor count too, the body signals add to each name's score,
names past the first few come as header-only stubs, and the other definitions of the
imported modules fill the rest (graph:fill).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from ragls.indexing.records import ChunkRow, Definition, ImportRow, SymbolRow
from ragls.retrieval.body_context import body_bonuses, header_similarity
from ragls.retrieval.buffer_names import ranked_names
from ragls.retrieval.cursor import CursorContext
from ragls.retrieval.stubs import definition_candidate, header_end
from ragls.retrieval.symbol_lookup import NameResolver
from ragls.retrieval.types import Candidate, RetrievalConfig

if TYPE_CHECKING:
    from ragls.indexing.workspace import WorkspaceIndex

logger = logging.getLogger(__name__)

EDGE_WEIGHTS = {"import": 1.0, "ref": 0.9, "type": 0.8, "local": 0.6, "callee": 0.5, "caller": 0.3}
CALLER_CONTEXT = 2  # lines kept on each side of a call site
MAX_NAMES = 40  # names resolved per request (each is at most one query, memoised)
BIG_CHUNK_FACTOR = 3  # a chunk this many times larger than the definition: cut the definition
MAX_BODY_NAMES = 120  # names resolved for an empty body (every imported name, usually)
MAX_FILL_FILES = 8  # imported modules whose other definitions fill the budget
FILL_SCORE = 0.05  # below any named definition (those score >= ~0.15)
FILL_KINDS = frozenset({"function", "class"})
HEADER_LIFT = 0.5  # a module member sharing most terms with the header ranks among the named
BODY_FULL_NAMES = 8  # for an empty body, names past this rank come as header-only stubs


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
    """Definitions the buffer refers to, ranked for the cursor (see `buffer_names`).

    Definitions in other files come as stubs (header + first docstring line) unless short;
    `deadline` (a `time.perf_counter()` value): past it, the optional caller lookup is skipped.
    """
    chunks_in = chunks_in or index.chunks_in
    limit = config.per_source_limit
    max_lines = config.max_snippet_lines
    resolver = NameResolver(index, ctx.path)
    buffer_modules = {imp.module for imp in ctx.imports}
    rows = [r for r in resolver.imports_of(ctx.path) if not buffer_modules or r.module in buffer_modules]
    targets = {t for row in rows for t in row.targets}
    local_defs: dict[str, list[Definition]] = {}
    for d in ctx.parsed.definitions if ctx.parsed else []:
        local_defs.setdefault(d.name, []).append(d)
    window = (ctx.window_start, ctx.window_end)

    out: dict[str, Candidate] = {}
    seen_syms: set[tuple[str, int]] = set()

    def add(c: Candidate | None) -> None:
        if c is not None and (c.key not in out or c.score > out[c.key].score):
            out[c.key] = c

    def add_symbol(sym: SymbolRow, score: float, tag: str, compact: bool = False) -> None:
        if sym.path == ctx.path or (sym.path, sym.start_line) in seen_syms:
            return  # the current file is taken from the buffer, never from the index
        seen_syms.add((sym.path, sym.start_line))
        lines = resolver.lines_of(sym.path)
        cand = None
        if lines is not None and compact:
            cand = header_stub(sym, lines, score, tag)
        elif lines is not None:
            cand = definition_candidate(
                sym.path, lines, sym.start_line, sym.end_line, score=score, tag=tag, symbol=sym.qualname,
                signature=sym.signature, doc=sym.doc, max_lines=max_lines,
            )
        add(cand or candidate_for_symbol(sym, chunks_in, index.read_text, score, tag, max_lines))

    def add_local(name: str, score: float) -> None:
        for d in local_defs[name]:
            if d.end_line < window[0] or d.start_line > window[1]:
                add(definition_candidate(
                    ctx.path, ctx.lines, d.start_line, d.end_line, score=score, tag="graph:local",
                    symbol=d.qualname, signature=d.signature, doc=d.doc, max_lines=max_lines,
                    from_buffer=True,
                ))

    body = ctx.body
    signals = set(config.body_signals) if body is not None else set()
    if body is not None:
        hints = ranked_names(ctx, rows, limit=MAX_BODY_NAMES, whole_buffer=True)
        bonus = body_bonuses(ctx, body, [h.name for h in hints], signals)
        for h in hints:
            h.score += bonus.get(h.name, 0.0)
        hints.sort(key=lambda h: (-h.score, h.name))
        limit = config.body_fill_limit if "fill" in signals else limit
    else:
        hints = ranked_names(ctx, rows, limit=MAX_NAMES)
    resolver.prefetch(h.name for h in hints)
    for rank, h in enumerate(hints):
        if h.edge in ("ref", "type") and h.name in local_defs:
            add_local(h.name, h.score * EDGE_WEIGHTS["local"])
            continue
        compact = body is not None and rank >= BODY_FULL_NAMES
        syms = resolver.resolve_in(h.name, h.targets) if h.edge == "attr" else resolver.resolve(h.name)
        if not syms and h.edge == "import" and h.module:  # an import the index has not resolved (unsaved)
            syms = [s for s in resolver.definitions_named(h.name) if _module_matches(s.path, h.module)]
        for sym in syms[:2]:
            tag = "import" if h.edge in ("import", "attr") or sym.path in targets else h.edge
            add_symbol(sym, h.score * EDGE_WEIGHTS[tag], f"graph:{tag}", compact)
    named = {h.name for h in hints}
    for i, name in enumerate(_callee_names(ctx, named)):
        score = EDGE_WEIGHTS["callee"] / (1 + 0.1 * i)
        if name in local_defs:
            add_local(name, score * EDGE_WEIGHTS["local"])
            continue
        for sym in resolver.resolve(name)[:2]:
            add_symbol(sym, score, "graph:callee")
    if (body is None or "callers" in signals) and (deadline is None or time.perf_counter() < deadline):
        _callers(index, ctx, add, chunks_in)
    if "fill" in signals:
        fill_candidates(index, ctx, rows, resolver, add, seen_syms, limit - len(out), "header" in signals)
    ranked = sorted(out.values(), key=lambda c: (-c.score, c.path, c.start_line))
    return ranked[:limit]


def fill_candidates(
    index: WorkspaceIndex, ctx: CursorContext, rows: list[ImportRow], resolver: NameResolver,
    add: Callable[[Candidate | None], None], seen: set[tuple[str, int]], room: int, header: bool = True,
) -> None:
    """Header-only stubs of the other top-level definitions of the imported modules (budget filler).

    Files imported as modules (`from . import utils`, `import pkg.x as m`) first, then the
    targets of `from m import x`; within them, definitions whose names share terms with the
    function's header first. Scores stay below the named definitions, except that a member
    sharing at least half its subwords with the header (with the "header" signal) is lifted
    among them.
    """
    body = ctx.body
    module_files = [t for r in rows if not r.names for t in r.targets]
    name_files = [t for r in rows if r.names for t in r.targets]
    files = list(dict.fromkeys([*module_files, *name_files]))[:MAX_FILL_FILES]
    scored: list[tuple[float, int, SymbolRow]] = []
    for fi, path in enumerate(files):
        if path == ctx.path:
            continue
        file_weight = (1.0 if path in module_files else 0.6) / (1.0 + 0.05 * fi)
        for sym in index.definitions_in(path):
            if sym.qualname != sym.name or sym.kind not in FILL_KINDS or (sym.path, sym.start_line) in seen:
                continue
            sim = header_similarity(sym.name, body.terms) if body is not None and header else 0.0
            private = 0.5 if sym.name.startswith("_") else 1.0
            # a member named like the header competes with the named definitions
            lift = HEADER_LIFT * sim if sim >= 0.5 else 0.0
            scored.append((file_weight * private * (FILL_SCORE * (1.0 + sim) + lift), -sym.start_line, sym))
    scored.sort(key=lambda t: (-t[0], t[2].path, -t[1]))
    for score, _line, sym in scored[: max(0, room)]:
        lines = resolver.lines_of(sym.path)
        if lines is None:
            continue
        seen.add((sym.path, sym.start_line))
        add(header_stub(sym, lines, score, "graph:fill"))


def header_stub(sym: SymbolRow, lines: list[str], score: float, tag: str, max_lines: int = 60) -> Candidate:
    """The definition's header lines only (the most compact stub), the whole kept as `body`."""
    end = header_end(lines, sym.start_line, sym.end_line)
    longer = sym.end_line > end
    return Candidate(
        path=sym.path, start_line=sym.start_line, end_line=end,
        text="\n".join(lines[sym.start_line - 1 : end]), score=score, sources=[tag],
        symbol=sym.qualname, signature=sym.signature, doc=sym.doc,
        full_end=min(sym.end_line, sym.start_line + max_lines - 1) if longer else None,
        body="\n".join(lines[sym.start_line - 1 : min(sym.end_line, sym.start_line + max_lines - 1)])
        if longer else "",
    )


def _callee_names(ctx: CursorContext, skip: Collection[str], limit: int = 8) -> list[str]:
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


def _callers(
    index: WorkspaceIndex, ctx: CursorContext, add: Callable[[Candidate | None], None], chunks_in: ChunkLookup
) -> None:
    """Where the enclosing function is called from (other files), one hop."""
    enc = ctx.enclosing
    if enc is None or enc.kind not in {"function", "method"} or enc.name.startswith("__"):
        return  # a dunder's "callers" are every class's
    sym = next((s for s in index.definitions_in(ctx.path) if s.qualname == enc.qualname), None)
    if sym is None:
        return
    for i, ref in enumerate(r for r in index.callers_of(sym, limit=8) if r.path != ctx.path):
        if i >= 3:
            break
        chunk = _chunk_for(chunks_in(ref.path), ref.line, ref.line)
        if chunk is not None:  # the call site and a few lines around it, not the whole caller
            start = max(chunk.start_line, ref.line - CALLER_CONTEXT)
            end = min(chunk.end_line, ref.line + CALLER_CONTEXT)
            lines = chunk.text.split("\n")[start - chunk.start_line : end - chunk.start_line + 1]
            add(Candidate(
                path=chunk.path, start_line=start, end_line=end, text="\n".join(lines),
                score=EDGE_WEIGHTS["caller"] / (1 + 0.1 * i), sources=["graph:caller"], symbol=chunk.name,
            ))
