"""Unsaved buffers of the workspace index: parsed in memory, answered from memory.

An overlay shadows the stored rows of its path in every query. There are few overlays (the
open, modified editor buffers), so their lexical scoring is a plain BM25 in Python that uses
the stored corpus statistics and the same term selection as the FTS query, which keeps overlay
and database scores on one scale.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ragls.indexing.records import ChunkRow, ImportRow, ParsedFile, RefRow, SymbolRow
from ragls.indexing.tokens import lexical_terms

BM25_K1 = 1.2
BM25_B = 0.75


@dataclass(slots=True)
class Overlay:
    """One unsaved buffer and what the parser made of it."""

    path: str
    text: str
    parsed: ParsedFile
    first_id: int  # symbol ids of its definitions are -(first_id + i)
    terms: list[Counter[str]] = field(default_factory=list)  # per chunk
    sizes: list[int] = field(default_factory=list)
    imports: list[ImportRow] | None = None  # resolved lazily, dropped after an update
    # rows built once per buffer version: queries run per name, many times per completion
    symbol_rows: list[SymbolRow] = field(default_factory=list)
    by_name: dict[str, list[SymbolRow]] = field(default_factory=dict)
    chunk_rows: list[ChunkRow] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.symbol_rows = [
            SymbolRow(
                -(self.first_id + i),
                self.path,
                d.name,
                d.qualname,
                d.kind,
                d.start_line,
                d.end_line,
                d.signature,
                d.doc,
            )
            for i, d in enumerate(self.parsed.definitions)
        ]
        for row in self.symbol_rows:
            self.by_name.setdefault(row.name, []).append(row)
        self.chunk_rows = [
            ChunkRow(c.chunk_id, self.path, c.start_line, c.end_line, c.kind, c.name, c.text, c.content_hash)
            for c in self.parsed.chunks
        ]

    def symbols(self) -> list[SymbolRow]:
        return list(self.symbol_rows)

    def named(self, name: str) -> list[SymbolRow]:
        return self.by_name.get(name, [])

    def chunks(self) -> list[ChunkRow]:
        return list(self.chunk_rows)

    def refs(self) -> list[RefRow]:
        return [RefRow(self.path, r.name, r.line, r.kind, r.scope) for r in self.parsed.references]


class Overlays:
    """Thread-safe map path -> Overlay; readers take snapshots."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, Overlay] = {}
        self._next_id = 1

    def put(self, path: str, text: str, parsed: ParsedFile) -> Overlay:
        terms = [Counter(lexical_terms(f"{c.name or ''}\n{c.text}")) for c in parsed.chunks]
        with self._lock:
            item = Overlay(path, text, parsed, self._next_id, terms, [sum(t.values()) for t in terms])
            self._next_id += len(parsed.definitions) + 1
            self._items[path] = item
        return item

    def drop(self, path: str) -> None:
        with self._lock:
            self._items.pop(path, None)

    def get(self, path: str) -> Overlay | None:
        return self._items.get(path)

    def snapshot(self) -> dict[str, Overlay]:
        with self._lock:
            return dict(self._items)

    def forget_imports(self) -> None:
        """Import targets depend on the file list: recompute them after an update."""
        for item in self.snapshot().values():
            item.imports = None


def bm25(
    overlays: Iterable[Overlay],
    terms: Sequence[str],
    n_docs: int,
    avg_len: float,
    df: dict[str, int],
    exclude: Iterable[str] = (),
) -> list[tuple[ChunkRow, float]]:
    """Score overlay chunks like FTS5's bm25() (k1=1.2, b=0.75) with the stored corpus stats."""
    skip = set(exclude)
    n = max(n_docs, 1)
    idf = {t: max(math.log((n - df.get(t, 0) + 0.5) / (df.get(t, 0) + 0.5)), 1e-6) for t in set(terms)}
    out: list[tuple[ChunkRow, float]] = []
    for item in overlays:
        if item.path in skip:
            continue
        for chunk, counts, size in zip(item.chunks(), item.terms, item.sizes, strict=True):
            norm = BM25_K1 * (1 - BM25_B + BM25_B * size / (avg_len or size or 1))
            score = 0.0
            for term, weight in idf.items():
                f = counts.get(term, 0)
                if f:
                    score += weight * f * (BM25_K1 + 1) / (f + norm)
            if score > 0:
                out.append((chunk, score))
    return out
