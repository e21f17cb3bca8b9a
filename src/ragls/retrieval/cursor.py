"""What the cursor sees: the prompt window, nearby identifiers, the enclosing definition.

Everything here is computed from the BUFFER (the query's text, else the index overlay,
else disk), never from the indexed disk version of the current file.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from ragls.errors import WorkspaceError
from ragls.filetypes import language_for_path
from ragls.indexing.records import Definition, Import, ParsedFile, content_hash
from ragls.indexing.tokens import STOPWORDS
from ragls.lru import LRUCache
from ragls.retrieval.types import CursorQuery, RetrievalConfig

if TYPE_CHECKING:
    from ragls.indexing.workspace import WorkspaceIndex

logger = logging.getLogger(__name__)

_IDENT_POS = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Words that never name a workspace definition worth fetching.
_NOISE_TEXT = """
    async await yield lambda del global nonlocal assert break continue print len range
    list dict set tuple object type isinstance getattr setattr hasattr super property
    staticmethod classmethod enumerate zip map filter sorted reversed min max sum any all
    open repr format iter next abs round float bytes kwargs args cls typing optional
    interface struct go defer chan select switch case default export extends implements
    undefined string number boolean unknown never console require module exports typeof
    instanceof err nil error make append cap fmt ok impl match loop mut ref where crate
    println vec some box
"""
NOISE_WORDS = frozenset(_NOISE_TEXT.split())

# (path, content hash) -> (parse or None when parsing failed)
_PARSE_CACHE: LRUCache[tuple[str, str], tuple[ParsedFile | None]] = LRUCache(16)


@dataclass
class CursorContext:
    """The buffer around the cursor, with the names and scope retrieval starts from."""

    path: str
    language: str | None
    text: str
    lines: list[str]
    line: int  # 1-based
    col: int  # 1-based, clamped to the line's end + 1
    prefix: str  # buffer text before the cursor
    suffix: str  # buffer text from the cursor on
    window_start: int  # first line of the prefix window
    window_end: int  # last line of the suffix window the prompt shows
    window_text: str  # prefix window: lines before the cursor + the cursor line up to col
    identifiers: list[tuple[str, float]] = field(default_factory=list)  # best first
    enclosing: Definition | None = None
    signature_names: list[str] = field(default_factory=list)
    imports: list[Import] = field(default_factory=list)
    parsed: ParsedFile | None = None
    body: Any = None  # body_context.BodyScope when the cursor starts an empty function body

    def buffer_lines(self, start: int, end: int) -> str:
        """Lines start..end (1-based inclusive) of the buffer."""
        return "\n".join(self.lines[max(start, 1) - 1 : max(end, 0)])


def normalize_path(root: Path, path: str) -> str:
    """Workspace-relative POSIX path of `path` (relative to root or absolute)."""
    p = Path(path)
    full = p if p.is_absolute() else root / p
    try:
        rel = Path(_normpath(full)).relative_to(root)
    except ValueError:
        raise WorkspaceError(f"{path} is outside the workspace {root}") from None
    posix = PurePosixPath(*rel.parts).as_posix() if rel.parts else ""
    if not posix or posix == ".":
        raise WorkspaceError(f"{path} is not a file in the workspace {root}")
    return posix


def _normpath(p: Path) -> str:
    # resolve() follows symlinks as far as the path exists (an unsaved buffer may not)
    return str(Path(os.path.normpath(str(p))).resolve())


@dataclass(frozen=True)
class Cursor:
    """A buffer cut at a cursor, split once: what every stage of a request reads.

    Lines are split on "\\n" only (an LSP client's lines, see ragls.server.positions), so a
    buffer ending in a newline ends with an empty line the cursor may be on. A line outside
    the buffer or a column below 1 is an error; a column past the end of its line clamps to
    the line's end (`col` is the clamped column).
    """

    text: str
    line: int  # 1-based
    col: int  # 1-based, characters, at most the line's length + 1
    prefix: str
    suffix: str

    @classmethod
    def at(cls, text: str, line: int, col: int) -> Cursor:
        lines = text.split("\n")
        if line < 1 or line > len(lines):
            raise WorkspaceError(f"line {line} out of range (buffer has {len(lines)} lines)")
        if col < 1:
            raise WorkspaceError(f"column {col} out of range (columns start at 1)")
        col = min(col, len(lines[line - 1]) + 1)
        offset = sum(len(x) + 1 for x in lines[: line - 1]) + col - 1
        return cls(text, line, col, text[:offset], text[offset:])

    @cached_property
    def lines(self) -> list[str]:
        """The buffer's lines (split on "\\n")."""
        return self.text.split("\n")

    @cached_property
    def line_before(self) -> str:
        """The cursor line up to the cursor."""
        return self.prefix.rpartition("\n")[2]

    @cached_property
    def around_line(self) -> tuple[int, int]:
        """Hashes of the buffer above and below the cursor line: they stay the same while the
        user types along the line (keys for what a request computes once per line)."""
        above = self.prefix[: len(self.prefix) - len(self.line_before)]
        return hash(above), hash(self.suffix[len(self.line_after) :])

    @cached_property
    def line_after(self) -> str:
        """The cursor line from the cursor to its end."""
        return self.suffix.partition("\n")[0]


def near_identifiers(
    lines: list[str], line: int, col: int, window: int, *, suffix_lines: int = 3
) -> list[tuple[str, float]]:
    """Identifiers in the prefix window (and the next few lines), weighted by closeness.

    The cursor line scores 1.0 (the name just before the cursor a bit more), earlier
    lines decay with distance; the first lines after the cursor count a little.
    """
    weights: dict[str, float] = {}

    def add(name: str, w: float) -> None:
        low = name.lower()
        if len(name) < 2 or low in STOPWORDS or low in NOISE_WORDS or name.isdigit():
            return
        if w > weights.get(name, 0.0):
            weights[name] = w

    first = max(1, line - window)
    for ln in range(first, line + 1):
        text = lines[ln - 1] if ln < line else lines[line - 1][: col - 1]
        dist = line - ln
        base = 1.0 / (1.0 + 0.15 * dist)
        found = list(_IDENT_POS.finditer(_strip_line_comment(text)))
        for i, m in enumerate(found):
            w = base
            if ln == line and i == len(found) - 1:
                w += 0.25  # the name being written/called right before the cursor
            add(m.group(0), w)
    for ln in range(line + 1, min(len(lines), line + suffix_lines) + 1):
        for m in _IDENT_POS.finditer(_strip_line_comment(lines[ln - 1])):
            add(m.group(0), 0.3 / (ln - line))
    return sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))


def _strip_line_comment(text: str) -> str:
    stripped = text.lstrip()
    if stripped.startswith(("#", "//", "*", "/*")):
        return ""
    return text


def enclosing_definition(defs: list[Definition], line: int) -> Definition | None:
    """The innermost definition whose range contains `line`."""
    best: Definition | None = None
    for d in defs:
        if d.start_line <= line <= d.end_line and (
            best is None or (d.end_line - d.start_line) < (best.end_line - best.start_line)
        ):
            best = d
    return best


def header_text(defn: Definition, lines: list[str] | None = None, max_lines: int = 6) -> str:
    """A definition's header: from its first line up to the line that opens its body.

    Taken from the buffer when given (the parser's signature of a half-typed definition
    can run into the body), else the parsed signature cut at its body opener.
    """
    if lines:
        out: list[str] = []
        for ln in lines[defn.start_line - 1 : min(defn.end_line, defn.start_line + max_lines - 1)]:
            out.append(ln)
            stripped = ln.split("#")[0].rstrip()
            if stripped.endswith((":", "{")) or "{" in stripped:
                break
        return "\n".join(out)
    return _cut_at_body(defn.signature)


def _cut_at_body(sig: str) -> str:
    """The signature up to its body opener: ':' or '{' outside brackets."""
    depth = 0
    for i, ch in enumerate(sig):
        if ch in "([<":
            depth += 1
        elif ch in ")]>" and depth:
            depth -= 1
        elif depth == 0 and (ch == "{" or (ch == ":" and sig[i + 1 : i + 2] in (" ", ""))):
            if ch == ":" and "def " not in sig[:i] and "class " not in sig[:i]:
                continue  # a TypeScript return type, not a Python body
            return sig[: i + 1]
    return sig


def signature_names(defn: Definition | None, lines: list[str] | None = None) -> list[str]:
    """Names in a definition's header other than its own name (types, defaults)."""
    if defn is None:
        return []
    out: list[str] = []
    for m in _IDENT_POS.finditer(header_text(defn, lines)):
        name = m.group(0)
        low = name.lower()
        if name == defn.name or low in STOPWORDS or low in NOISE_WORDS or name in out:
            continue
        out.append(name)
    return out


def parse_buffer(path: str, text: str, language: str | None) -> ParsedFile | None:
    """Parse the buffer (cached by content); None when the language is unknown or parsing fails."""
    if language is None:
        return None
    key = (path, content_hash(text))
    hit = _PARSE_CACHE.get(key)
    if hit is not None:
        return hit[0]
    try:
        from ragls.indexing.parser import parse_source

        parsed: ParsedFile | None = parse_source(path, text.encode("utf-8", "surrogatepass"), language)
    except Exception:  # a broken grammar must not sink retrieval
        logger.warning("cannot parse buffer %s", path, exc_info=True)
        parsed = None
    _PARSE_CACHE.put(key, (parsed,))
    return parsed


def build_context(index: WorkspaceIndex, query: CursorQuery, config: RetrievalConfig) -> CursorContext:
    """Validate the query and compute what the cursor sees."""
    path = normalize_path(index.root, query.path)
    text = query.text if query.text is not None else index.read_text(path)
    if text is None:
        raise WorkspaceError(f"no such file in the workspace: {path}")
    cursor = Cursor.at(text, query.line, query.col)
    lines, line, col = cursor.lines, cursor.line, cursor.col
    language = _language(index, path)
    window_start = max(1, line - config.prefix_window_lines)
    window_lines = [*lines[window_start - 1 : line - 1], lines[line - 1][: col - 1]]
    parsed = _overlay_parse(index, path, text) or parse_buffer(path, text, language)
    enclosing = enclosing_definition(parsed.definitions, line) if parsed else None
    return CursorContext(
        path=path,
        language=language,
        text=text,
        lines=lines,
        line=line,
        col=col,
        prefix=cursor.prefix,
        suffix=cursor.suffix,
        window_start=window_start,
        window_end=min(len(lines), line + config.suffix_window_lines),
        window_text="\n".join(window_lines),
        identifiers=near_identifiers(lines, line, col, config.prefix_window_lines),
        enclosing=enclosing,
        signature_names=signature_names(enclosing, lines),
        imports=list(parsed.imports) if parsed else [],
        parsed=parsed,
    )


def _overlay_parse(index: WorkspaceIndex, path: str, text: str) -> ParsedFile | None:
    """The index's parse of its overlay for `path`, when the overlay is exactly this buffer.

    The server sets the overlay on every change, so retrieval need not parse again.
    """
    try:
        if index.overlay_text(path) == text:
            parsed = index.parsed(path)
            return parsed if parsed is not None and parsed.language else None
    except Exception:
        logger.debug("overlay parse of %s unavailable", path, exc_info=True)
    return None


def _language(index: WorkspaceIndex, path: str) -> str | None:
    lang = language_for_path(path)
    if lang is None:
        try:
            lang = index.language_of(path)
        except Exception:
            lang = None
    return lang
