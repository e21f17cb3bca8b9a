"""Read queries over the index database, returning the query rows of `records`.

Every function takes a connection and `exclude`: paths whose stored rows must be ignored
(files shadowed by an unsaved overlay). `WorkspaceIndex` merges the overlay answers in.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Collection, Iterator, Sequence

from ragls.indexing.records import ChunkRow, ImportRow, RefRow, SymbolRow
from ragls.indexing.store_rows import split_names, unpack_refs

logger = logging.getLogger(__name__)

SYMBOL_SELECT = (
    "SELECT d.id, f.path, d.name, d.qualname, d.kind, d.start_line, d.end_line, d.signature, "
    "d.doc FROM definitions d JOIN files f ON f.id = d.file_id"
)
CHUNK_SELECT = (
    "SELECT c.chunk_id, f.path, c.start_line, c.end_line, c.kind, c.name, c.text, c.content_hash "
    "FROM chunks c JOIN files f ON f.id = c.file_id"
)
_TERM = re.compile(r"^\w+$")
POSTINGS_BUDGET = 3000  # documents a lexical query may rank (see select_terms)


def _not_in(column: str, paths: Collection[str]) -> tuple[str, list[str]]:
    if not paths:
        return "", []
    return f" AND {column} NOT IN ({','.join('?' * len(paths))})", list(paths)


def _in(column: str, values: Sequence[object]) -> str:
    return f"{column} IN ({','.join('?' * len(values))})"


def symbols(rows: Sequence[tuple]) -> list[SymbolRow]:  # type: ignore[type-arg]
    return [SymbolRow(*r) for r in rows]


def chunk_rows(rows: Sequence[tuple]) -> list[ChunkRow]:  # type: ignore[type-arg]
    return [ChunkRow(*r) for r in rows]


def files(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    return conn.execute("SELECT path, language FROM files ORDER BY path").fetchall()


def language_of(conn: sqlite3.Connection, path: str) -> str | None:
    row = conn.execute("SELECT language FROM files WHERE path = ?", (path,)).fetchone()
    return row[0] if row else None


def imports_of(conn: sqlite3.Connection, path: str) -> list[ImportRow]:
    rows = conn.execute(
        "SELECT i.id, i.module, i.names, i.line, t.target_path FROM imports i "
        "JOIN files f ON f.id = i.file_id LEFT JOIN import_targets t ON t.import_id = i.id "
        "WHERE f.path = ? ORDER BY i.line, i.id, t.rowid",
        (path,),
    ).fetchall()
    out: dict[int, tuple[str, str, int, list[str]]] = {}
    for import_id, module, names, line, target in rows:
        entry = out.setdefault(import_id, (module, names, line, []))
        if target is not None:
            entry[3].append(target)
    return [ImportRow(path, m, split_names(n), line, tuple(t)) for m, n, line, t in out.values()]


def importers_of(conn: sqlite3.Connection, path: str, exclude: Collection[str] = ()) -> list[str]:
    cond, params = _not_in("f.path", exclude)
    rows = conn.execute(
        "SELECT DISTINCT f.path FROM import_targets t JOIN files f ON f.id = t.file_id "
        f"WHERE t.target_path = ?{cond} ORDER BY f.path",
        (path, *params),
    )
    return [r[0] for r in rows]


def find_definitions(
    conn: sqlite3.Connection, name: str, limit: int, exclude: Collection[str] = ()
) -> list[SymbolRow]:
    cond, params = _not_in("f.path", exclude)
    rows = conn.execute(
        f"{SYMBOL_SELECT} WHERE d.name = ?{cond} ORDER BY f.path, d.start_line LIMIT ?",
        (name, *params, limit),
    ).fetchall()
    return symbols(rows)


def find_definitions_many(
    conn: sqlite3.Connection, names: Sequence[str], limit: int, exclude: Collection[str] = ()
) -> dict[str, list[SymbolRow]]:
    """`find_definitions` for many names in one query: name -> its first `limit` rows."""
    out: dict[str, list[SymbolRow]] = {n: [] for n in names}
    names = list(out)
    for i in range(0, len(names), 500):  # SQLite's bound-parameter limit
        part = names[i : i + 500]
        cond, params = _not_in("f.path", exclude)
        rows = conn.execute(
            "SELECT id, path, name, qualname, kind, start_line, end_line, signature, doc FROM ("
            "SELECT d.id, f.path, d.name, d.qualname, d.kind, d.start_line, d.end_line, d.signature, d.doc, "
            "ROW_NUMBER() OVER (PARTITION BY d.name ORDER BY f.path, d.start_line) AS rn "
            f"FROM definitions d JOIN files f ON f.id = d.file_id WHERE {_in('d.name', part)}{cond}"
            ") WHERE rn <= ? ORDER BY name, path, start_line",
            (*part, *params, limit),
        ).fetchall()
        for row in symbols(rows):
            out[row.name].append(row)
    return out


def search_definitions(conn: sqlite3.Connection, pattern: str, limit: int) -> list[SymbolRow]:
    """Definitions whose name matches a LIKE pattern (case-insensitive for ASCII)."""
    rows = conn.execute(
        f"{SYMBOL_SELECT} WHERE d.name LIKE ? ESCAPE '\\' "
        "ORDER BY length(d.name), d.name, f.path, d.start_line LIMIT ?",
        (pattern, limit),
    ).fetchall()
    return symbols(rows)


def definitions_in(conn: sqlite3.Connection, path: str) -> list[SymbolRow]:
    rows = conn.execute(f"{SYMBOL_SELECT} WHERE f.path = ? ORDER BY d.start_line, d.id", (path,)).fetchall()
    return symbols(rows)


def definitions_named_in(conn: sqlite3.Connection, name: str, paths: Sequence[str]) -> list[SymbolRow]:
    if not paths:
        return []
    rows = conn.execute(
        f"{SYMBOL_SELECT} WHERE d.name = ? AND {_in('f.path', paths)} ORDER BY f.path, d.start_line",
        (name, *paths),
    ).fetchall()
    return symbols(rows)


def _file_refs(conn: sqlite3.Connection, where: str, params: Sequence[object]) -> Iterator[tuple[str, list]]:  # type: ignore[type-arg]
    rows = conn.execute(
        f"SELECT f.path, r.data FROM file_refs r JOIN files f ON f.id = r.file_id WHERE {where} "
        "ORDER BY f.path",
        params,
    )
    for path, data in rows.fetchall():
        yield path, unpack_refs(data)


def refs_named(conn: sqlite3.Connection, name: str, paths: Sequence[str], limit: int) -> list[RefRow]:
    """References to `name` in `paths`, by path and line."""
    if not paths:
        return []
    out: list[RefRow] = []
    where = f"r.file_id IN (SELECT n.file_id FROM ref_names n WHERE n.name = ?) AND {_in('f.path', paths)}"
    for path, refs in _file_refs(conn, where, (name, *paths)):
        out += [RefRow(path, n, line, kind, scope) for n, line, kind, scope in refs if n == name]
        if len(out) >= limit:
            break
    return out[:limit]


def refs_in_range(conn: sqlite3.Connection, path: str, start: int, end: int) -> list[RefRow]:
    out: list[RefRow] = []
    for _, refs in _file_refs(conn, "f.path = ?", (path,)):
        out += [RefRow(path, n, line, kind, scope) for n, line, kind, scope in refs if start <= line <= end]
    return sorted(out, key=lambda r: r.line)


def chunks_in(conn: sqlite3.Connection, path: str) -> list[ChunkRow]:
    return chunk_rows(
        conn.execute(f"{CHUNK_SELECT} WHERE f.path = ? ORDER BY c.start_line, c.rowid", (path,)).fetchall()
    )


def chunks_where(
    conn: sqlite3.Connection, column: str, values: Sequence[str], exclude: Collection[str] = ()
) -> list[ChunkRow]:
    """Chunks whose `column` (chunk_id or content_hash) is one of `values`."""
    out: list[ChunkRow] = []
    cond, params = _not_in("f.path", exclude)
    for start in range(0, len(values), 500):
        part = list(values[start : start + 500])
        out += chunk_rows(
            conn.execute(
                f"{CHUNK_SELECT} WHERE {_in('c.' + column, part)}{cond}", (*part, *params)
            ).fetchall()
        )
    return out


def iter_chunks(
    conn: sqlite3.Connection, batch: int, exclude: Collection[str] = ()
) -> Iterator[list[ChunkRow]]:
    """All chunks in rowid order, `batch` at a time (keyset pagination: no long-lived cursor)."""
    cond, params = _not_in("f.path", exclude)
    last = 0
    while True:
        rows = conn.execute(
            f"SELECT c.rowid, {CHUNK_SELECT[len('SELECT ') :]} WHERE c.rowid > ?{cond} "
            "ORDER BY c.rowid LIMIT ?",
            (last, *params, batch),
        ).fetchall()
        if not rows:
            return
        last = rows[-1][0]
        yield chunk_rows([r[1:] for r in rows])


def fts_query(terms: Sequence[str]) -> str:
    """An FTS5 MATCH expression: OR of quoted terms."""
    return " OR ".join(f'"{t}"' for t in terms)


def clean_terms(terms: Sequence[str]) -> list[str]:
    """Lowercased unique terms that the FTS tokenizer keeps whole (word characters only)."""
    seen: dict[str, None] = {}
    for term in terms:
        t = term.lower()
        if _TERM.match(t):
            seen.setdefault(t, None)
    return list(seen)


class TermStats:
    """Per-connection cache of corpus statistics, dropped when another connection commits."""

    def __init__(self) -> None:
        self.version = -1
        self.df: dict[str, int] = {}
        self.n_docs = 0
        self.avg_len = 0.0

    def refresh(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self.version or len(self.df) > 100_000:
            n, total = conn.execute("SELECT count(*), coalesce(sum(nterms), 0) FROM chunks").fetchone()
            self.version, self.df = version, {}
            self.n_docs, self.avg_len = int(n), (total / n if n else 0.0)

    def doc_freq(self, conn: sqlite3.Connection, terms: Sequence[str]) -> dict[str, int]:
        self.refresh(conn)
        for t in terms:
            if t not in self.df:
                row = conn.execute("SELECT doc FROM chunks_vocab WHERE term = ?", (t,)).fetchone()
                self.df[t] = int(row[0]) if row else 0
        return {t: self.df[t] for t in terms}


def select_terms(df: dict[str, int], budget: int = POSTINGS_BUDGET) -> list[str]:
    """The most selective terms, rarest first, while their postings fit `budget` (at least one).

    Ranking every chunk that shares a common word with the query is what makes a long OR query
    slow; common terms have a near-zero IDF, so leaving them out barely moves the ranking.
    """
    keep: list[str] = []
    total = 0
    for term in sorted(df, key=lambda t: (df[t], t)):  # df 0 costs nothing, and may match an overlay
        if keep and total + df[term] > budget:
            break
        keep.append(term)
        total += df[term]
    return keep


def lexical_search(
    conn: sqlite3.Connection, terms: Sequence[str], limit: int, exclude: Collection[str] = ()
) -> list[tuple[ChunkRow, float]]:
    """FTS5 bm25 ranking of chunks over exactly `terms` (see select_terms); score = -bm25."""
    query = fts_query(terms)
    if not query or limit <= 0:
        return []
    extra = 0
    if exclude:  # those rows are dropped after ranking: fetch enough to still fill `limit`
        extra = conn.execute(
            f"SELECT count(*) FROM chunks c JOIN files f ON f.id = c.file_id "
            f"WHERE {_in('f.path', list(exclude))}",
            list(exclude),
        ).fetchone()[0]
    try:
        hits = conn.execute(
            "SELECT rowid, bm25(chunks_fts) FROM chunks_fts WHERE chunks_fts MATCH ? "
            "ORDER BY bm25(chunks_fts) LIMIT ?",
            (query, limit + extra),
        ).fetchall()
    except sqlite3.OperationalError as exc:  # pragma: no cover - a term FTS5 still rejects
        logger.warning("lexical query %r failed: %s", query, exc)
        return []
    if not hits:
        return []
    score = {rowid: -rank for rowid, rank in hits}
    rowids = list(score)
    rows = conn.execute(
        f"SELECT c.rowid, {CHUNK_SELECT[len('SELECT ') :]} WHERE {_in('c.rowid', rowids)}", rowids
    ).fetchall()
    skip = set(exclude)
    by_id = {r[0]: ChunkRow(*r[1:]) for r in rows if r[2] not in skip}
    out = [(by_id[rid], score[rid]) for rid in rowids if rid in by_id]
    return out[:limit]


def counts(conn: sqlite3.Connection) -> tuple[int, int, int]:
    """(files, definitions, chunks)."""
    row = conn.execute(
        "SELECT (SELECT count(*) FROM files), (SELECT count(*) FROM definitions), "
        "(SELECT count(*) FROM chunks)"
    ).fetchone()
    return int(row[0]), int(row[1]), int(row[2])
