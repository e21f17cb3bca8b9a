"""Parsed files flattened into store rows, and the packing of references.

`FileRows.of` runs in the parsing process (a pool worker for big batches), so the process
that writes the database only binds parameters.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ragls.indexing.records import ParsedFile, Reference
from ragls.indexing.tokens import identifiers, lexical_terms

NAME_SEP = "\x1f"  # joins import names and a file's referenced names


def chunk_terms(parsed: ParsedFile) -> list[str]:
    """The FTS document of each chunk: `lexical_terms` of its name and text, space-joined."""
    return terms_of([(c.name, c.text) for c in parsed.chunks])


def terms_of(chunks: Iterable[tuple[str | None, str]]) -> list[str]:
    """`chunk_terms` of (name, text) pairs.

    Same terms as tokens.lexical_terms, with each distinct identifier split once per call
    (identifiers repeat a lot; this is most of the cost of indexing a chunk).
    """
    memo: dict[str, list[str]] = {}
    out: list[str] = []
    for name, text in chunks:
        terms: list[str] = []
        for ident in identifiers(f"{name or ''}\n{text}"):
            got = memo.get(ident)
            if got is None:
                got = memo[ident] = lexical_terms(ident)
            terms.extend(got)
        out.append(" ".join(terms))
    return out


def nterms(terms: str) -> int:
    return terms.count(" ") + 1 if terms else 0


@dataclass(slots=True)
class FileRows:
    """A parsed file flattened into the rows the store inserts (built in the parsing process)."""

    path: str
    language: str
    hash: str
    lines: int
    syntax_errors: int
    definitions: list[tuple[str, str, str, int, int, str, str]]
    refs_blob: bytes
    ref_names: list[str]
    imports: list[tuple[str, str, int, str | None]]
    chunks: list[tuple[str, int, int, str, str | None, str, str, int]]  # nterms -1: terms not computed
    terms: list[str] | None  # None: computed by the writer, only for chunks it cannot keep

    @classmethod
    def of(cls, parsed: ParsedFile, *, with_terms: bool = True) -> FileRows:
        terms: list[str] | None = chunk_terms(parsed) if with_terms else None
        return cls(
            parsed.path,
            parsed.language,
            parsed.content_hash,
            parsed.line_count,
            parsed.syntax_errors,
            [
                (d.name, d.qualname, d.kind, d.start_line, d.end_line, d.signature, d.doc)
                for d in parsed.definitions
            ],
            pack_refs(parsed.references),
            sorted({r.name for r in parsed.references}),
            [(i.module, NAME_SEP.join(i.names), i.line, i.alias) for i in parsed.imports],
            [
                (
                    c.chunk_id,
                    c.start_line,
                    c.end_line,
                    c.kind,
                    c.name,
                    c.text,
                    c.content_hash,
                    nterms(terms[n]) if terms is not None else -1,
                )
                for n, c in enumerate(parsed.chunks)
            ],
            terms,
        )


def split_names(joined: str) -> tuple[str, ...]:
    return tuple(joined.split(NAME_SEP)) if joined else ()


def pack_refs(refs: Sequence[Reference]) -> bytes:
    """A file's references as compressed JSON (they are only ever read per file)."""
    data = json.dumps([(r.name, r.line, r.kind, r.scope) for r in refs], separators=(",", ":"))
    return zlib.compress(data.encode("utf-8", "surrogatepass"), 1)


def unpack_refs(blob: bytes) -> list[tuple[str, int, str, str | None]]:
    return [(r[0], r[1], r[2], r[3]) for r in json.loads(zlib.decompress(blob))]
