"""Small typed records that parsing produces and the store persists.

Conventions used everywhere in ragls:
- paths are workspace-relative POSIX strings ("pkg/mod.py");
- lines are 1-based and ranges inclusive (what editors display);
- content hashes are the first 16 hex digits of sha1 over the UTF-8 bytes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


def content_hash(data: bytes | str) -> str:
    """Stable short hash of text or bytes (sha1, 16 hex digits)."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    return hashlib.sha1(data).hexdigest()[:16]


def line_count(text: str) -> int:
    """Lines of `text` as an editor numbers them: a final newline ends the last line rather than
    starting one more, so "a\nb" and "a\nb\n" both have 2 lines, and "" has none."""
    return text.count("\n") + (1 if text and not text.endswith("\n") else 0)


@dataclass(frozen=True, slots=True)
class Definition:
    """A named definition: function, method, class, interface, constant, type, module..."""

    name: str
    # function | method | class | interface | struct | enum | trait | type | constant | variable | module
    kind: str
    start_line: int
    end_line: int
    signature: str = ""  # the header up to the body, e.g. "def f(a: int) -> str:"
    doc: str = ""  # docstring or leading comment, stripped
    parent: str | None = None  # qualname of the enclosing definition (class for a method)

    @property
    def qualname(self) -> str:
        return f"{self.parent}.{self.name}" if self.parent else self.name


@dataclass(frozen=True, slots=True)
class Reference:
    """A use of a name: a call, a type annotation, an attribute or a bare identifier."""

    name: str
    line: int
    kind: str = "name"  # call | type | attribute | name
    scope: str | None = None  # qualname of the enclosing definition in this file (None at module level)


@dataclass(frozen=True, slots=True)
class Import:
    """One import statement as written, before resolution.

    module: the module spec as the language writes it: "os.path", "..pkg.mod", "./util",
            "@/lib/x", "github.com/org/repo/pkg", "crate::a::b", "super::x", "com.acme.Foo".
    names:  the names it brings in ("from m import a, b" -> ("a", "b")); () for a plain import.
    alias:  local name for a plain import ("import numpy as np" -> "np"), else None.
    """

    module: str
    names: tuple[str, ...] = ()
    line: int = 0
    alias: str | None = None


@dataclass(frozen=True, slots=True)
class Chunk:
    """A retrieval unit cut along syntax (function, class, top-level block)."""

    chunk_id: str  # stable across edits that do not move it: hash of path, kind, qualname, ordinal
    start_line: int
    end_line: int
    kind: str  # function | method | class | block | header | ...
    name: str | None  # qualname of the definition it holds, if any
    text: str
    content_hash: str


@dataclass(slots=True)
class ParsedFile:
    """Everything the index keeps about one file."""

    path: str
    language: str
    content_hash: str
    line_count: int  # records.line_count of the text
    definitions: list[Definition] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)
    imports: list[Import] = field(default_factory=list)
    chunks: list[Chunk] = field(default_factory=list)
    syntax_errors: int = 0  # number of ERROR/MISSING nodes tree-sitter recovered from


# ---- rows the WorkspaceIndex answers queries with -------------------------------------------


@dataclass(frozen=True, slots=True)
class SymbolRow:
    """A definition as stored, with the file it lives in."""

    symbol_id: int  # database id; negative for definitions that come from an unsaved overlay
    path: str
    name: str
    qualname: str
    kind: str
    start_line: int
    end_line: int
    signature: str
    doc: str


@dataclass(frozen=True, slots=True)
class ChunkRow:
    """A chunk as stored, with the file it lives in."""

    chunk_id: str
    path: str
    start_line: int
    end_line: int
    kind: str
    name: str | None
    text: str
    content_hash: str


@dataclass(frozen=True, slots=True)
class ImportRow:
    """An import of `path`, with the workspace files it resolved to (empty: external)."""

    path: str
    module: str
    names: tuple[str, ...]
    line: int
    targets: tuple[str, ...]

    @property
    def external(self) -> bool:
        return not self.targets


@dataclass(frozen=True, slots=True)
class RefRow:
    """A reference as stored: `name` used at `path`:`line` inside definition `scope`."""

    path: str
    name: str
    line: int
    kind: str
    scope: str | None


@dataclass(slots=True)
class IndexStats:
    files: int = 0
    symbols: int = 0
    edges: int = 0  # resolved file->file import edges + resolved symbol reference edges
    chunks: int = 0
    skipped: int = 0


@dataclass(slots=True)
class UpdateStats:
    """What one `WorkspaceIndex.update()` did; the `ragls index --json` object."""

    files: int = 0
    symbols: int = 0
    edges: int = 0
    chunks: int = 0
    skipped: int = 0
    reindexed: int = 0  # files parsed in this run
    removed: int = 0  # files dropped (deleted, renamed away, now ignored)
    seconds: float = 0.0
    skip_reasons: dict[str, int] = field(default_factory=dict)
