"""Which names of the buffer the code at the cursor is likely to need next, best first.

Every name the buffer imports from the workspace is a candidate, whether or not it was
used yet (a repository map treats every identifier of the file as mentioned). Each gets
a score from where and how often the buffer uses it: the last use close to the cursor
counts most, frequent use a little, and a name imported but not used yet gets a fixed
bonus, since imports are written for the code that follows. The name being typed at the
cursor, names near it and names of the enclosing signature come on top of that.
Attribute uses of an imported module (`utils.helper`) become names in that module.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ragls.indexing.records import Import, ImportRow
from ragls.models.postprocess import indent_width
from ragls.retrieval.cursor import NOISE_WORDS, CursorContext

UNUSED_SCORE = 0.5  # an imported name the buffer has not used yet
# ... imported inside the block the cursor is in (a function's own imports are for its code):
# above any name the buffer used already, whose use the model sees anyway
LOCAL_UNUSED_SCORE = 1.2
RECENCY_LINES = 15.0  # a use this many lines above the cursor scores half of one at the cursor
FREQUENCY_WEIGHT = 0.05
AT_CURSOR_BONUS = 2.0  # the identifier right before the cursor (the call/attribute being written)
CURSOR_LINE_BONUS = 1.0
NEAR_WEIGHT = 0.6  # a nearby identifier the buffer does not import (resolved by name)
MAX_NEAR = 16  # nearby identifiers considered (each may cost a query)
TYPE_WEIGHT = 0.5  # a type in the enclosing definition's signature
_ATTR = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)")
_AS = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\s+as\s+([A-Za-z_][A-Za-z0-9_]*)")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass
class NameHint:
    """A name worth resolving, with its score and how the buffer reaches it.

    edge: "import" (imported by name), "attr" (attribute of an imported module; `targets`
    are that module's files), "ref" (a nearby name resolved by name) or "type".
    """

    name: str
    score: float
    edge: str
    module: str | None = None
    targets: tuple[str, ...] = ()


def _aliases(lines: Sequence[str], imp: Import) -> dict[str, str]:
    """`from m import name as alias`: name -> alias (the parser keeps only the names)."""
    out: dict[str, str] = {}
    for ln in lines[max(imp.line, 1) - 1 : imp.line + 20]:
        if " as " in ln:
            for m in _AS.finditer(ln):
                if m.group(1) in imp.names:
                    out[m.group(1)] = m.group(2)
        if ")" in ln or (ln.strip() and not ln.rstrip().endswith(("(", ",", "\\"))):
            break
    return out


def _use_score(uses: Sequence[int], cursor_line: int, local: bool = False) -> float:
    if not uses:
        return LOCAL_UNUSED_SCORE if local else UNUSED_SCORE
    dist = min(abs(cursor_line - u) for u in uses)
    return 1.0 / (1.0 + dist / RECENCY_LINES) + FREQUENCY_WEIGHT * math.log1p(len(uses))


def _imported_in_cursor_block(lines: Sequence[str], line: int, cursor_line: int) -> bool:
    """Whether the import on 1-based `line` is indented (inside a function) and its block
    still holds the cursor: no line between them is indented less."""
    if not 0 < line < cursor_line or line > len(lines):
        return False
    depth = indent_width(lines[line - 1])
    return depth > 0 and all(not t.strip() or indent_width(t) >= depth for t in lines[line : cursor_line - 1])


def _cursor_names(ctx: CursorContext) -> tuple[str | None, set[str]]:
    """The identifier right before the cursor (if the cursor touches it) and the cursor line's names."""
    before = ctx.lines[ctx.line - 1][: ctx.col - 1]
    found = _IDENT.findall(before)
    last = None
    m = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\s*[.(]?\s*$", before)
    if m and before.strip():
        last = m.group(1)
    return last, set(found)


def ranked_names(
    ctx: CursorContext,
    import_rows: Sequence[ImportRow],
    *,
    limit: int = 40,
    whole_buffer: bool = False,
) -> list[NameHint]:
    """Names to resolve for the cursor, best first (at most `limit`).

    `whole_buffer`: uses after the cursor count too (an empty body amid written code),
    by their distance from the cursor.

    `import_rows` are the index's resolved imports of the file; a buffer import counts
    as a workspace import unless a row of the same module resolved to no file (external);
    one the index does not know yet (unsaved) is looked up by name later.
    """
    targets_of: dict[str, tuple[str, ...]] = {}
    known = {row.module for row in import_rows}
    for row in import_rows:
        if row.targets:
            targets_of[row.module] = tuple(dict.fromkeys([*targets_of.get(row.module, ()), *row.targets]))
    imported: dict[str, Import] = {}  # local name -> import
    local_to_name: dict[str, str] = {}  # alias -> imported name
    modules: dict[str, tuple[str, ...]] = {}  # local module name -> its files
    in_block: set[str] = set()  # local names imported inside the block the cursor is in
    for imp in ctx.imports:
        if imp.module in known and imp.module not in targets_of:  # resolved: external
            continue
        aliases = _aliases(ctx.lines, imp) if imp.names else {}
        local_import = bool(imp.names) and _imported_in_cursor_block(ctx.lines, imp.line, ctx.line)
        for name in imp.names:
            if name == "*":
                continue
            local = aliases.get(name, name)
            # the first import of a name, or the one of the cursor's block
            if local not in imported or local_import:
                if local_import:
                    in_block.add(local)
                imported[local] = imp
                local_to_name[local] = name
                modules[local] = targets_of.get(imp.module, ())
        if not imp.names:
            local = imp.alias or imp.module.split(".")[0]
            modules.setdefault(local, targets_of.get(imp.module, ()))

    uses: dict[str, list[int]] = {}
    attr_uses: dict[tuple[str, str], list[int]] = {}
    refs = ctx.parsed.references if ctx.parsed else []
    attr_lines: set[int] = set()
    last_line = len(ctx.lines) if whole_buffer else ctx.line
    for ref in refs:
        if ref.line > last_line:
            continue
        if ref.name in imported:
            uses.setdefault(ref.name, []).append(ref.line)
        if ref.name in modules:
            attr_lines.add(ref.line)
    for ln in sorted(attr_lines):
        text = ctx.lines[ln - 1] if ln != ctx.line else ctx.lines[ln - 1][: ctx.col - 1]
        for m in _ATTR.finditer(text):
            if m.group(1) in modules:
                attr_uses.setdefault((m.group(1), m.group(2)), []).append(ln)

    at_cursor, cursor_line = _cursor_names(ctx)
    hints: dict[str, NameHint] = {}

    def bonus(local: str) -> float:
        if local == at_cursor:
            return AT_CURSOR_BONUS
        return CURSOR_LINE_BONUS if local in cursor_line else 0.0

    def put(h: NameHint) -> None:
        old = hints.get(h.name)
        if old is None or h.score > old.score:
            hints[h.name] = h

    for local, imp in imported.items():
        name = local_to_name[local]
        score = _use_score(uses.get(local, ()), ctx.line, local in in_block) + bonus(local)
        put(NameHint(name, score, "import", imp.module))
    for (mod, attr), lines in attr_uses.items():
        if attr.lower() in NOISE_WORDS:
            continue
        score = _use_score(lines, ctx.line) + bonus(attr)
        put(NameHint(attr, score, "attr", mod, modules.get(mod, ())))
    for name, weight in ctx.identifiers[:MAX_NEAR]:
        if name not in hints and name not in modules:
            put(NameHint(name, NEAR_WEIGHT * weight + bonus(name), "ref"))
    for name in ctx.signature_names:
        if name not in hints:
            put(NameHint(name, TYPE_WEIGHT, "type"))
    ranked = sorted(hints.values(), key=lambda h: (-h.score, h.name))
    return ranked[:limit]

