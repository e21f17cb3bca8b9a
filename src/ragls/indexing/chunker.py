"""Cut a parsed file into retrieval chunks along syntax.

One chunk per top-level definition (with its leading comments/attributes); an oversized class,
impl or trait becomes a `header` chunk plus one chunk per member; an oversized function is cut
into consecutive pieces at statement boundaries (line boundaries as a last resort); code
between definitions is grouped into `block` chunks. Chunks never overlap, cover every non-blank
line and, except for a single line longer than `max_chars`, respect both maximums.
"""

from __future__ import annotations

import bisect
import logging
import re
from dataclasses import dataclass
from typing import Any

from ragls.indexing.records import Chunk, Definition, content_hash

logger = logging.getLogger(__name__)

_CHUNKABLE = frozenset(
    [
        "function",
        "method",
        "class",
        "struct",
        "interface",
        "enum",
        "trait",
        "record",
        "module",
        "macro",
        "type",
    ]
)
_CONTAINERS = frozenset(["class", "interface", "trait", "impl", "module", "enum", "record"])
_ES = """function_declaration generator_function_declaration class_declaration abstract_class_declaration
    interface_declaration enum_declaration export_statement lexical_declaration method_definition
    method_signature abstract_method_signature"""
_UNIT_TYPES: dict[str, frozenset[str]] = {  # node types that can hold a chunk-worthy definition
    "python": frozenset(["function_definition", "class_definition", "decorated_definition"]),
    "javascript": frozenset(_ES.split()),
    "typescript": frozenset(_ES.split()),
    "tsx": frozenset(_ES.split()),
    "go": frozenset(["function_declaration", "method_declaration", "type_declaration"]),
    "rust": frozenset(
        [
            "function_item",
            "struct_item",
            "enum_item",
            "union_item",
            "trait_item",
            "impl_item",
            "mod_item",
            "macro_definition",
            "function_signature_item",
        ]
    ),
    "java": frozenset(
        [
            "class_declaration",
            "interface_declaration",
            "enum_declaration",
            "record_declaration",
            "annotation_type_declaration",
            "method_declaration",
            "constructor_declaration",
        ]
    ),
}
_ATTACHED = frozenset({"comment", "line_comment", "block_comment", "attribute_item", "decorator"})
_CLOSING = re.compile(r"^[\s})\];,]*$")


@dataclass(slots=True)
class _Unit:
    start: int
    end: int
    kind: str
    name: str | None
    node: Any


class _Chunker:
    def __init__(
        self, text: str, definitions: list[Definition], language: str, max_lines: int, max_chars: int
    ) -> None:
        self.lines = text.split("\n")
        if self.lines and self.lines[-1] == "":
            self.lines.pop()
        self.cum = [0]
        for line in self.lines:
            self.cum.append(self.cum[-1] + len(line) + 1)
        self.defs = sorted((d for d in definitions if d.kind in _CHUNKABLE), key=lambda d: d.start_line)
        self.def_starts = [d.start_line for d in self.defs]
        self.unit_types = _UNIT_TYPES.get(language, frozenset())
        self.max_lines = max(1, max_lines)
        self.max_chars = max(1, max_chars)
        self.pieces: list[tuple[int, int, str, str | None]] = []

    # -- helpers -------------------------------------------------------------------------------
    def blank(self, line: int) -> bool:
        return not self.lines[line - 1].strip()

    def fits(self, start: int, end: int) -> bool:
        return end - start < self.max_lines and self.cum[end] - self.cum[start - 1] <= self.max_chars

    def span(self, node: Any) -> tuple[int, int]:
        start, end = node.start_point.row + 1, node.end_point.row + 1
        if node.end_point.column == 0 and end > start:
            end -= 1
        return start, min(end, len(self.lines))

    def outer_def(self, start: int, end: int) -> Definition | None:
        lo, hi = bisect.bisect_left(self.def_starts, start), bisect.bisect_right(self.def_starts, end)
        best = None
        for d in self.defs[lo:hi]:
            if best is None or d.end_line - d.start_line > best.end_line - best.start_line:
                best = d
        return best

    # -- layout --------------------------------------------------------------------------------
    def units(self, children: list[Any], lo: int) -> list[_Unit]:
        """Definition units among sibling nodes, each with its leading comments/attributes."""
        units: list[_Unit] = []
        attached: int | None = None  # first line of the comment run right above the next node
        prev_end = lo - 1
        for child in children:
            start, end = self.span(child)
            if child.type in _ATTACHED:
                if attached is None or start > prev_end + 1:
                    attached = start
                prev_end = end
                continue
            unit = self.unit_for(child, start, end)
            if unit is not None:
                if attached is not None and start <= prev_end + 1:
                    unit.start = attached
                if units and unit.start <= units[-1].end:
                    unit.start = units[-1].end + 1
                if unit.start <= unit.end:
                    units.append(unit)
            attached, prev_end = None, end
        return units

    def unit_for(self, node: Any, start: int, end: int) -> _Unit | None:
        if node.type not in self.unit_types:
            return None
        if node.type == "impl_item":
            type_node = node.child_by_field_name("type")
            name = re.split(r"[<\s]", type_node.text.decode("utf-8", "replace"))[0] if type_node else None
            return _Unit(start, end, "impl", name, node)
        d = self.outer_def(start, end)
        if d is not None and d.end_line <= end:
            return _Unit(start, end, d.kind, d.qualname, node)
        return None

    def layout(self, lo: int, hi: int, children: list[Any], gap_kind: str, gap_name: str | None) -> None:
        """Chunk lines lo..hi: units from `children`, the rest as gap chunks."""
        cursor = lo
        boundaries = sorted({self.span(c)[0] for c in children})
        for unit in self.units(children, lo):
            if unit.start > hi:
                break
            self.gap(cursor, unit.start - 1, boundaries, gap_kind, gap_name)
            self.unit(unit)
            cursor = unit.end + 1
        self.gap(cursor, hi, boundaries, gap_kind, gap_name)

    def gap(self, lo: int, hi: int, boundaries: list[int], kind: str, name: str | None) -> None:
        while hi >= lo and self.blank(hi):
            hi -= 1
        if lo > hi:
            return
        text = "\n".join(self.lines[lo - 1 : hi])
        if self.pieces and _CLOSING.match(text):
            start, end, pkind, pname = self.pieces[-1]
            if end == lo - 1 and self.fits(start, hi):  # a lone closing brace joins what it closes
                self.pieces[-1] = (start, hi, pkind, pname)
                return
        self.split(lo, hi, boundaries, kind, name)

    def unit(self, unit: _Unit) -> None:
        if self.fits(unit.start, unit.end):
            self.emit(unit.start, unit.end, unit.kind, unit.name)
            return
        node = unit.node
        for wrapper_field in ("definition", "declaration"):  # decorated_definition, export_statement
            inner = node.child_by_field_name(wrapper_field)
            if inner is not None and node.type in ("decorated_definition", "export_statement"):
                node = inner
        body = node.child_by_field_name("body")
        if body is not None and unit.kind in _CONTAINERS:
            members = body.children
            first = self.units(members, self.span(body)[0])
            if first:
                self.split(unit.start, first[0].start - 1, [], "header", unit.name)
                self.layout(first[0].start, unit.end, members, "block", unit.name)
                return
        boundaries = self.boundaries(body) if body is not None else []
        self.split(unit.start, unit.end, boundaries, unit.kind, unit.name)

    def boundaries(self, node: Any, depth: int = 0) -> list[int]:
        """Statement start lines inside `node`, descending into oversized statements."""
        out: list[int] = []
        for child in node.named_children:
            start, end = self.span(child)
            out.append(start)
            if depth < 4 and end - start >= self.max_lines:
                out.extend(self.boundaries(child, depth + 1))
        return sorted(set(out))

    def split(self, lo: int, hi: int, boundaries: list[int], kind: str, name: str | None) -> None:
        """Emit lo..hi in pieces within the maximums, cutting before a boundary when possible."""
        start = lo
        while start <= hi:
            while start <= hi and self.blank(start):
                start += 1
            if start > hi:
                return
            by_chars = bisect.bisect_right(self.cum, self.cum[start - 1] + self.max_chars) - 1
            limit = max(start, min(hi, start + self.max_lines - 1, by_chars))
            end = limit
            if limit < hi:
                b = bisect.bisect_right(boundaries, limit + 1) - 1
                if b >= 0 and boundaries[b] > start:
                    end = boundaries[b] - 1
            self.emit(start, end, kind, name)
            start = end + 1

    def emit(self, start: int, end: int, kind: str, name: str | None) -> None:
        while start <= end and self.blank(start):
            start += 1
        while end >= start and self.blank(end):
            end -= 1
        if start <= end:
            self.pieces.append((start, end, kind, name))


def chunk_file(
    path: str,
    text: str,
    tree: Any,
    definitions: list[Definition],
    language: str,
    max_lines: int = 60,
    max_chars: int = 3000,
) -> list[Chunk]:
    """Chunks of one file (see the module docstring); `tree` may be None (lines only)."""
    chunker = _Chunker(text, definitions, language, max_lines, max_chars)
    n = len(chunker.lines)
    if n == 0:
        return []
    children = tree.root_node.children if tree is not None else []
    chunker.layout(1, n, children, "block", None)
    chunks: list[Chunk] = []
    ordinals: dict[tuple[str, str | None], int] = {}
    for start, end, kind, name in chunker.pieces:
        ordinal = ordinals.get((kind, name), 0)
        ordinals[(kind, name)] = ordinal + 1
        body = "\n".join(chunker.lines[start - 1 : end])
        chunk_id = content_hash(f"{path}\0{kind}\0{name or ''}\0{ordinal}")
        chunks.append(Chunk(chunk_id, start, end, kind, name, body, content_hash(body)))
    return chunks
