"""Ranking for a function body still to be written (the cursor at the start of an empty body).

When the cursor sits right after a function's header (and docstring) with no code of the
body before it, what was written so far says little about what comes next; the names the
body will use are guessed from:

- `unused`: names the buffer imports but does not use anywhere yet (imports are written
  for code that follows);
- `header`: the function's name, parameters, annotations and docstring, as a query against
  the names (shared identifier terms);
- `siblings`: what the other methods of the same class (or the neighbouring functions) use;
- `pagerank`: a personalized PageRank over the buffer's symbol graph (definitions -> the
  names they use, methods <-> their class), seeded by the function, its class and the header
  terms, as a repository map does, on our symbol-level edges;
- `callers`: the call sites of this function in other files (what they pass in);
- `fill`: after the named definitions, the other definitions of the imported modules
  (header-only stubs), so a larger budget buys more;
- `header_dense`: the dense query is the header and docstring instead of the prefix lines.

Each signal can be turned off (`RetrievalConfig.body_signals`); bench/body_bench.py measures
each. Python only (other languages keep the ordinary ranking).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from ragls.indexing.records import Definition
from ragls.indexing.tokens import lexical_terms, split_identifier
from ragls.models.postprocess import indent_width
from ragls.retrieval.cursor import NOISE_WORDS, CursorContext

BODY_SIGNALS = ("unused", "header", "siblings", "pagerank", "callers", "fill", "header_dense")

# Bonuses added to a name's graph score (buffer_names: a name used at the cursor scores ~1-3).
UNUSED_BONUS = 1.5  # imported, used nowhere in the buffer yet
HEADER_WEIGHT = 1.0  # x the share of the name's subwords the header mentions
SIBLING_WEIGHT = 0.8  # x use in sibling definitions (saturates at 4 uses)
PAGERANK_WEIGHT = 0.8  # x the name's buffer PageRank relative to the best name's
MAX_HEADER_LINES = 12  # a signature spread over more lines is not looked for
MAX_DOC_LINES = 200  # sympy and flask write docstrings of 50-150 lines
NEIGHBOUR_FUNCTIONS = 4  # top-level functions nearest to a module-level function count as siblings
_DEF = re.compile(r"^(\s*)(?:async\s+)?def\s+([A-Za-z_][A-Za-z0-9_]*)")
_CLASS = re.compile(r"^(\s*)class\s+([A-Za-z_][A-Za-z0-9_]*)")
_QUOTES = ('"""', "'''")
_HEADER_NOISE = frozenset({"def", "async", "self", "none", "true", "false", "return", "returns"})


@dataclass
class BodyScope:
    """The function whose empty body holds the cursor."""

    name: str
    parent: str | None  # the class of a method
    def_line: int
    header: str  # the signature lines
    doc: str
    terms: set[str] = field(default_factory=set)  # lexical terms of name, header and docstring

    @property
    def qualname(self) -> str:
        return f"{self.parent}.{self.name}" if self.parent else self.name


def _code(line: str) -> str:
    return line.split("#")[0].rstrip()


def _docstring_above(lines: Sequence[str], end: int) -> tuple[int, str] | None:
    """(first line, text) of a docstring ending at line `end` (1-based), if one does."""
    last = lines[end - 1].strip()
    if not last.endswith(_QUOTES):
        return None
    quote = last[-3:]
    body = last.lstrip("rbuRBU")
    if body.startswith(quote) and len(body) >= 6:  # opens and closes on this line
        return end, body[3:-3]
    for ln in range(end - 1, max(0, end - MAX_DOC_LINES), -1):
        text = lines[ln - 1].strip().lstrip("rbuRBU")
        if quote in text:
            if not text.startswith(quote):
                return None
            return ln, "\n".join(x.strip() for x in lines[ln - 1 : end]).strip()[3:-3]
    return None


def body_scope(ctx: CursorContext) -> BodyScope | None:
    """The function whose (empty) body the cursor starts, else None (see `body_start`)."""
    return body_start(ctx.language, ctx.lines, ctx.line, ctx.col)


def body_start(language: str | None, lines: Sequence[str], line: int, col: int) -> BodyScope | None:
    """The function whose (empty) body starts at 1-based `line`, `col`, else None.

    The cursor must be at the start of a line (only indentation before it), below a
    function header and its docstring with nothing but blank lines between, and indented
    deeper than the `def`.
    """
    if language != "python" or line > len(lines) or lines[line - 1][: col - 1].strip():
        return None
    cursor_indent = col - 1
    ln = line - 1
    while ln >= 1 and not lines[ln - 1].strip():
        ln -= 1
    if ln < 1:
        return None
    doc = ""
    found = _docstring_above(lines, ln)
    if found is not None:
        first, doc = found
        ln = first - 1
    if ln < 1 or not _code(lines[ln - 1]).endswith(":"):
        return None
    for top in range(ln, max(0, ln - MAX_HEADER_LINES), -1):
        m = _DEF.match(lines[top - 1])
        if m is None:
            continue
        if len(m.group(1)) >= cursor_indent:
            return None
        header = "\n".join(lines[top - 1 : ln])
        parent = _class_of(lines, top)
        scope = BodyScope(name=m.group(2), parent=parent, def_line=top, header=header, doc=doc)
        scope.terms = header_terms(scope)
        return scope
    return None


def _class_of(lines: Sequence[str], def_line: int) -> str | None:
    """The class directly around the `def` at `def_line`, if any."""
    indent = indent_width(lines[def_line - 1])
    if indent == 0:
        return None
    for ln in range(def_line - 1, 0, -1):
        text = lines[ln - 1]
        if text.strip() and not text.lstrip().startswith(("#", "@")) and indent_width(text) < indent:
            m = _CLASS.match(text)
            return m.group(2) if m else None
    return None


def header_terms(scope: BodyScope) -> set[str]:
    """Lexical terms of the function's name, header and docstring (noise words dropped)."""
    text = f"{scope.name} {scope.header} {scope.doc}"
    return {t for t in lexical_terms(text) if len(t) > 2 and t not in NOISE_WORDS and t not in _HEADER_NOISE}


@lru_cache(maxsize=8192)
def _name_terms(name: str) -> tuple[str, ...]:
    """The subwords of a name ('render_table' -> render, table), or the name itself."""
    parts = [t for t in split_identifier(name) if len(t) > 2] or [name.lower()]
    return tuple(dict.fromkeys(parts))


def header_similarity(name: str, terms: set[str]) -> float:
    """Share of `name`'s terms that the header mentions (0..1)."""
    own = _name_terms(name)
    if not own or not terms:
        return 0.0
    return sum(t in terms for t in own) / len(own)


def imported_locals(ctx: CursorContext) -> dict[str, str]:
    """Local name -> imported name, for every `from m import x [as y]` and module import."""
    out: dict[str, str] = {}
    for imp in ctx.imports:
        if imp.names:
            for name in imp.names:
                if name != "*":
                    out.setdefault(name, name)
        else:
            local = imp.alias or imp.module.split(".")[0]
            out.setdefault(local, imp.module)
    return out


def unused_imports(ctx: CursorContext) -> set[str]:
    """Imported local names that no reference of the buffer uses (imports are not references)."""
    used = {r.name for r in ctx.parsed.references} if ctx.parsed else set()
    return {local for local in imported_locals(ctx) if local not in used}


def sibling_definitions(ctx: CursorContext, scope: BodyScope) -> list[Definition]:
    """Other methods of the same class, or the module-level functions nearest to this one."""
    defs = ctx.parsed.definitions if ctx.parsed else []
    if scope.parent:
        return [d for d in defs if d.parent == scope.parent and d.name != scope.name]
    tops = [d for d in defs if d.parent is None and d.kind == "function" and d.start_line != scope.def_line]
    tops.sort(key=lambda d: abs(d.start_line - scope.def_line))
    return tops[:NEIGHBOUR_FUNCTIONS]


def sibling_uses(ctx: CursorContext, scope: BodyScope) -> Counter[str]:
    """How often each name is used inside the sibling definitions."""
    sibs = {d.qualname for d in sibling_definitions(ctx, scope)}
    counts: Counter[str] = Counter()
    for r in ctx.parsed.references if ctx.parsed else []:
        if r.scope in sibs or (r.scope and r.scope.split(".")[0] in sibs):
            counts[r.name] += 1
    return counts


def personalized_pagerank(
    edges: dict[str, dict[str, float]],
    seeds: dict[str, float],
    *,
    damping: float = 0.85,
    iterations: int = 20,
) -> dict[str, float]:
    """PageRank with restarts to `seeds` (weights normalised); dangling mass goes back to the seeds.

    Power iteration on arrays (numpy): a few thousand edges cost well under a millisecond.
    """
    total = sum(seeds.values())
    if total <= 0:
        return {}
    ids: dict[str, int] = {}
    for n in [*seeds, *edges, *(m for out in edges.values() for m in out)]:
        ids.setdefault(n, len(ids))
    src, dst, wgt = [], [], []
    for a, out in edges.items():
        for b, w in out.items():
            src.append(ids[a])
            dst.append(ids[b])
            wgt.append(w)
    n = len(ids)
    restart = np.zeros(n)
    for name, w in seeds.items():
        restart[ids[name]] = w / total
    s_idx, d_idx, w_arr = np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64), np.asarray(wgt)
    out_sum = np.bincount(s_idx, weights=w_arr, minlength=n)
    share = w_arr / np.where(out_sum[s_idx] > 0, out_sum[s_idx], 1.0)
    dangling = out_sum <= 0
    rank = restart.copy()
    for _ in range(iterations):
        flow = np.bincount(d_idx, weights=rank[s_idx] * share, minlength=n)
        rank = (1 - damping) * restart + damping * (flow + rank[dangling].sum() * restart)
    return {name: float(rank[i]) for name, i in ids.items()}


def buffer_pagerank(ctx: CursorContext, scope: BodyScope, names: Iterable[str]) -> dict[str, float]:
    """PPR over the buffer's symbol graph, seeded by the function, its class and the header terms.

    Nodes: the buffer's definitions ("def:<qualname>") and the candidate names ("name:<name>").
    Edges: definition -> the candidate names it uses (by count), name -> the definitions that use it,
    method <-> its class. Seeds: the function and its class, and each candidate name in
    proportion to its header similarity. Returns name -> rank.
    """
    edges: dict[str, dict[str, float]] = {}

    def link(a: str, b: str, w: float) -> None:
        edges.setdefault(a, {})
        edges[a][b] = edges[a].get(b, 0.0) + w

    for d in ctx.parsed.definitions if ctx.parsed else []:
        if d.parent:
            link(f"def:{d.qualname}", f"def:{d.parent}", 0.5)
            link(f"def:{d.parent}", f"def:{d.qualname}", 0.5)
    wanted = set(names)  # names that are not candidates only add paths that lead nowhere we rank
    for r in ctx.parsed.references if ctx.parsed else []:
        if r.scope and r.name in wanted:
            link(f"def:{r.scope}", f"name:{r.name}", 1.0)
            link(f"name:{r.name}", f"def:{r.scope}", 1.0)
    seeds = {f"def:{scope.qualname}": 1.0}
    if scope.parent:
        seeds[f"def:{scope.parent}"] = 0.5
    for n in wanted:
        sim = header_similarity(n, scope.terms)
        if sim > 0:
            seeds[f"name:{n}"] = sim
            link(f"def:{scope.qualname}", f"name:{n}", sim)
    rank = personalized_pagerank(edges, seeds)
    return {k[5:]: v for k, v in rank.items() if k.startswith("name:")}


def body_bonuses(
    ctx: CursorContext, scope: BodyScope, names: Sequence[str], signals: Iterable[str],
) -> dict[str, float]:
    """Extra score per candidate name from the enabled signals (added to the graph's hint scores)."""
    on = set(signals)
    out = dict.fromkeys(names, 0.0)
    if "unused" in on:
        unused = unused_imports(ctx)
        for n in names:
            if n in unused:
                out[n] += UNUSED_BONUS
    if "header" in on:
        for n in names:
            out[n] += HEADER_WEIGHT * header_similarity(n, scope.terms)
    if "siblings" in on:
        counts = sibling_uses(ctx, scope)
        for n in names:
            if counts.get(n):
                out[n] += SIBLING_WEIGHT * min(1.0, math.log1p(counts[n]) / math.log1p(4))
    if "pagerank" in on:
        ranks = buffer_pagerank(ctx, scope, names)
        top = max((ranks.get(n, 0.0) for n in names), default=0.0)
        if top > 0:
            for n in names:
                out[n] += PAGERANK_WEIGHT * ranks.get(n, 0.0) / top
    return out



def attach_body(ctx: CursorContext) -> BodyScope | None:
    """Find the empty body at the cursor and point the context at its function.

    Sets `ctx.body`, and (the parser ends a body-less function at its docstring, so the
    cursor may look outside it) `ctx.enclosing` and `ctx.signature_names` from the header.
    """
    scope = body_scope(ctx)
    ctx.body = scope
    if scope is None:
        return None
    defs = ctx.parsed.definitions if ctx.parsed else []
    here = [d for d in defs if d.name == scope.name and d.start_line <= scope.def_line <= d.end_line]
    match = here[0] if here else None
    if match is not None:
        ctx.enclosing = match
    names = [n for n in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", scope.header)
             if n != scope.name and n.lower() not in NOISE_WORDS and n.lower() not in _HEADER_NOISE]
    ctx.signature_names = list(dict.fromkeys([*names, *ctx.signature_names]))
    return scope
