"""The SQLite store of the workspace index: connections and every write.

Writes go through `StoreWriter`s on one write connection that the `Store` keeps open for its
lifetime (closing the last connection of a WAL database checkpoints it: doing that once per
update would cost more than the update). Writers are serialised by the caller
(`WorkspaceIndex.update` holds a lock); SQLite's own locks serialise other processes.
A file is replaced by deleting its rows and inserting the new ones inside the current
transaction; the file row, with its content hash, is written in that same transaction, so a
file row exists iff its definitions, references, imports and chunks are complete. Several
files share a transaction (committed every `BATCH_FILES` files or `BATCH_SECONDS`), which
keeps cold indexing fast while every commit leaves a consistent database.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ragls.indexing.records import ParsedFile
from ragls.indexing.store_rows import NAME_SEP, FileRows, chunk_terms, nterms, split_names, terms_of
from ragls.indexing.store_schema import SCHEMA_VERSION, connect, open_database

logger = logging.getLogger(__name__)

__all__ = [
    "SCHEMA_VERSION",
    "FileRows",
    "FileState",
    "ImportToResolve",
    "Store",
    "StoreWriter",
    "chunk_terms",
]

BATCH_FILES = 200
BATCH_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class FileState:
    """What the store remembers about a file to decide whether it changed."""

    file_id: int
    hash: str
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class ImportToResolve:
    import_id: int
    file_id: int
    path: str
    language: str
    module: str
    names: tuple[str, ...]
    line: int
    alias: str | None


class Store:
    """Owns the database file; hands out one read connection per thread and writers."""

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = index_dir
        self.path = open_database(index_dir)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._conns: list[sqlite3.Connection] = []
        self._write_conn: sqlite3.Connection | None = None
        self._closed = False

    def reader(self) -> sqlite3.Connection:
        """This thread's read connection (autocommit: each query sees the last commit)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise sqlite3.ProgrammingError("store is closed")
            conn = connect(self.path)
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    def writer(self) -> StoreWriter:
        """A writer on the store's write connection (kept open; closed by `close`)."""
        with self._lock:
            if self._closed:
                raise sqlite3.ProgrammingError("store is closed")
            if self._write_conn is None:
                self._write_conn = connect(self.path)
            conn = self._write_conn
        return StoreWriter(conn, close_on_exit=False)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            conns, self._conns = self._conns, []
            if self._write_conn is not None:
                conns.append(self._write_conn)
                self._write_conn = None
        for conn in conns:
            try:
                conn.close()
            except sqlite3.Error:  # pragma: no cover - closing from another thread mid-query
                logger.debug("closing a read connection failed", exc_info=True)


class StoreWriter:
    """Batched writes on one connection; use as a context manager (commits or rolls back)."""

    def __init__(self, conn: sqlite3.Connection, *, close_on_exit: bool = True) -> None:
        self.conn = conn
        self._close_on_exit = close_on_exit
        self._pending = 0
        self._since = 0.0
        self._next_chunk_rowid = 0
        # definition names of files as they were when their edges were last counted (captured
        # by the first write_file since then): lets recount_edges skip or patch importers
        self._old_names: dict[int, set[str]] = {}

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if exc_type is None:
                self.commit()
            elif self.conn.in_transaction:
                self.conn.rollback()
        finally:
            if self._close_on_exit:
                self.conn.close()

    # ---- transactions ---------------------------------------------------------------------

    def begin(self) -> None:
        if not self.conn.in_transaction:
            self.conn.execute("BEGIN IMMEDIATE")
            self._since = time.monotonic()
            self._pending = 0
            row = self.conn.execute("SELECT coalesce(max(rowid), 0) FROM chunks").fetchone()
            self._next_chunk_rowid = int(row[0]) + 1

    def commit(self) -> None:
        if self.conn.in_transaction:
            self.conn.commit()
        self._pending = 0

    def file_done(self) -> None:
        """Count one finished file; commit when the batch is big or old enough."""
        self._pending += 1
        if self._pending >= BATCH_FILES or time.monotonic() - self._since >= BATCH_SECONDS:
            self.commit()

    # ---- reads the writer needs -----------------------------------------------------------

    def file_states(self, paths: Collection[str] | None = None) -> dict[str, FileState]:
        """Stored state of every file, or of those of `paths` that are stored."""
        sql = "SELECT path, id, hash, size, mtime_ns FROM files"
        rows = self.conn.execute(sql) if paths is None else self._select_in(f"{sql} WHERE path", paths)
        return {r[0]: FileState(r[1], r[2], r[3], r[4]) for r in rows}

    def imports_to_resolve(self, file_ids: Iterable[int] | None = None) -> list[ImportToResolve]:
        sql = (
            "SELECT i.id, i.file_id, f.path, f.language, i.module, i.names, i.line, i.alias "
            "FROM imports i JOIN files f ON f.id = i.file_id"
        )
        if file_ids is None:
            rows = self.conn.execute(sql).fetchall()
        else:
            rows = []
            ids = list(file_ids)
            for start in range(0, len(ids), 500):
                part = ids[start : start + 500]
                marks = ",".join("?" * len(part))
                rows += self.conn.execute(f"{sql} WHERE i.file_id IN ({marks})", part).fetchall()
        return [ImportToResolve(r[0], r[1], r[2], r[3], r[4], split_names(r[5]), r[6], r[7]) for r in rows]

    # ---- writes (inside a transaction: call begin() first) -------------------------------

    def write_file(
        self, parsed: ParsedFile | FileRows, size: int, mtime_ns: int, file_id: int | None = None
    ) -> int:
        """Replace everything stored about the file; returns its file id.

        Chunks that kept their id and content keep their row and FTS document (only their
        lines are updated): an edit rewrites the FTS rows of the chunks it touched, not of the
        whole file.
        """
        rows = parsed if isinstance(parsed, FileRows) else FileRows.of(parsed, with_terms=False)
        self.begin()
        c = self.conn
        if file_id is None:
            row = c.execute("SELECT id FROM files WHERE path = ?", (rows.path,)).fetchone()
            file_id = row[0] if row else None
        values = (rows.language, rows.hash, size, mtime_ns, rows.lines, rows.syntax_errors)
        kept: dict[int, int] = {}  # index in rows.chunks -> rowid of the stored chunk it keeps
        if file_id is None:
            cur = c.execute(
                "INSERT INTO files(path, language, hash, size, mtime_ns, lines, syntax_errors) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (rows.path, *values),
            )
            file_id = int(cur.lastrowid or 0)
        else:
            if file_id not in self._old_names:
                self._old_names[file_id] = self._def_names([file_id]).get(file_id, set())
            kept = self._keep_chunks(file_id, rows)
            self._delete_children(file_id, chunks=False)
            c.execute(
                "UPDATE files SET language=?, hash=?, size=?, mtime_ns=?, lines=?, syntax_errors=? "
                "WHERE id=?",
                (*values, file_id),
            )
        c.executemany(
            "INSERT INTO definitions(file_id, name, qualname, kind, start_line, end_line, signature, doc) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(file_id, *d) for d in rows.definitions],
        )
        c.execute(
            "INSERT INTO file_refs(file_id, names, data) VALUES (?, ?, ?)",
            (file_id, NAME_SEP.join(rows.ref_names), rows.refs_blob),
        )
        c.executemany(
            "INSERT INTO ref_names(name, file_id) VALUES (?, ?)", [(n, file_id) for n in rows.ref_names]
        )
        c.executemany(
            "INSERT INTO imports(file_id, module, names, line, alias) VALUES (?, ?, ?, ?, ?)",
            [(file_id, *i) for i in rows.imports],
        )
        new = [n for n in range(len(rows.chunks)) if n not in kept]
        if rows.terms is not None:
            terms = [rows.terms[n] for n in new]
        else:
            terms = terms_of((rows.chunks[n][4], rows.chunks[n][5]) for n in new)
        first = self._next_chunk_rowid
        self._next_chunk_rowid += len(new)
        c.executemany(
            "INSERT INTO chunks(rowid, file_id, chunk_id, start_line, end_line, kind, name, text, "
            "content_hash, nterms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (first + k, file_id, *rows.chunks[n][:7], nterms(t))
                for k, (n, t) in enumerate(zip(new, terms, strict=True))
            ],
        )
        c.executemany(
            "INSERT INTO chunks_fts(rowid, terms) VALUES (?, ?)",
            [(first + k, t) for k, t in enumerate(terms)],
        )
        return file_id

    def _keep_chunks(self, file_id: int, rows: FileRows) -> dict[int, int]:
        """Match the file's stored chunks to its new ones by (chunk id, content hash).

        Unmatched stored chunks are deleted (their FTS rows go with them); matched ones get the
        new lines. Returns new chunk index -> stored rowid.
        """
        c = self.conn
        stored: dict[tuple[str, str], tuple[int, int, int]] = {}
        drop: list[tuple[int]] = []
        for rowid, chunk_id, chash, start, end in c.execute(
            "SELECT rowid, chunk_id, content_hash, start_line, end_line FROM chunks WHERE file_id = ?",
            (file_id,),
        ):
            if (chunk_id, chash) in stored:
                drop.append((rowid,))
            else:
                stored[(chunk_id, chash)] = (rowid, start, end)
        kept: dict[int, int] = {}
        moved: list[tuple[int, int, int]] = []
        for n, ch in enumerate(rows.chunks):
            hit = stored.pop((ch[0], ch[6]), None)
            if hit is None:
                continue
            kept[n] = hit[0]
            if (hit[1], hit[2]) != (ch[1], ch[2]):
                moved.append((ch[1], ch[2], hit[0]))
        drop += [(rowid,) for rowid, _, _ in stored.values()]
        c.executemany("DELETE FROM chunks WHERE rowid = ?", drop)  # the trigger drops FTS rows
        c.executemany("UPDATE chunks SET start_line = ?, end_line = ? WHERE rowid = ?", moved)
        return kept

    def touch_file(self, file_id: int, size: int, mtime_ns: int) -> None:
        """Same content, new stat: remember the stat so the next scan skips the hash."""
        self.begin()
        self.conn.execute("UPDATE files SET size=?, mtime_ns=? WHERE id=?", (size, mtime_ns, file_id))

    def delete_files(self, file_ids: Iterable[int]) -> None:
        self.begin()
        for file_id in file_ids:
            self._delete_children(file_id)
            self.conn.execute("DELETE FROM files WHERE id = ?", (file_id,))

    def _delete_children(self, file_id: int, *, chunks: bool = True) -> None:
        c = self.conn
        if chunks:
            c.execute("DELETE FROM chunks WHERE file_id = ?", (file_id,))  # trigger drops FTS rows
        c.execute("DELETE FROM definitions WHERE file_id = ?", (file_id,))
        row = c.execute("SELECT names FROM file_refs WHERE file_id = ?", (file_id,)).fetchone()
        if row is not None:  # ref_names has no file index (it would double its insert cost)
            c.executemany(
                "DELETE FROM ref_names WHERE name = ? AND file_id = ?",
                [(n, file_id) for n in split_names(row[0])],
            )
            c.execute("DELETE FROM file_refs WHERE file_id = ?", (file_id,))
        c.execute("DELETE FROM import_targets WHERE file_id = ?", (file_id,))
        c.execute("DELETE FROM imports WHERE file_id = ?", (file_id,))

    def replace_targets(self, rows: Iterable[tuple[int, int, str]], file_ids: Sequence[int] | None) -> None:
        """Store resolved (import_id, file_id, target_path); file_ids=None replaces all targets."""
        self.begin()
        if file_ids is None:
            self.conn.execute("DELETE FROM import_targets")
        else:
            self.conn.executemany("DELETE FROM import_targets WHERE file_id = ?", [(i,) for i in file_ids])
        self.conn.executemany(
            "INSERT INTO import_targets(import_id, file_id, target_path) VALUES (?, ?, ?)", rows
        )

    def set_meta(self, values: dict[str, object]) -> None:
        self.begin()
        self.conn.executemany(
            "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
            [(k, json.dumps(v)) for k, v in values.items()],
        )

    def get_meta(self, key: str, default: object = None) -> object:
        return read_meta(self.conn, key, default)

    def recount_edges(self, file_ids: Collection[int] | None) -> int:
        """Recompute the edges leaving `file_ids` and their importers (None: every file); return the total.

        A file's edges: the distinct workspace files it imports, plus the distinct names it
        references that are defined in itself or in a file it imports (a name used many times
        in a file counts once; resolution is by name, as in `resolve_name`).

        An importer's edges depend only on the set of names its targets define, so for a file
        rewritten by this writer (whose previous names `write_file` remembered) the importers
        are left alone when that set is unchanged, and patched by the difference otherwise.
        """
        if file_ids is None:
            self._old_names.clear()
            ids = None
            counts = self._count_edges(None)
        else:
            ids = set(file_ids)
            known = {f: self._old_names.pop(f) for f in list(self._old_names) if f in ids}
            unknown = ids - known.keys()  # previous names unknown: recount their importers
            if unknown:
                ids |= self._importers(unknown)
            counts = self._count_edges(ids)
            if known:
                current = self._def_names(known)
                changed = {f: old for f, old in known.items() if old != current.get(f, set())}
                if changed:
                    self._patch_importers(changed, current, ids)
        self.begin()
        if ids is None:
            self.conn.execute("UPDATE files SET edges = 0")
        else:
            self.conn.executemany("UPDATE files SET edges = 0 WHERE id = ?", [(i,) for i in ids])
        self.conn.executemany("UPDATE files SET edges = ? WHERE id = ?", [(n, f) for f, n in counts.items()])
        return int(self.conn.execute("SELECT coalesce(sum(edges), 0) FROM files").fetchone()[0])

    def _importers(self, file_ids: Collection[int]) -> set[int]:
        paths = [r[0] for r in self._select_in("SELECT path FROM files WHERE id", file_ids)]
        return {r[0] for r in self._select_in("SELECT file_id FROM import_targets WHERE target_path", paths)}

    def _def_names(self, file_ids: Collection[int]) -> dict[int, set[str]]:
        out: dict[int, set[str]] = defaultdict(set)
        for file_id, name in self._select_in("SELECT file_id, name FROM definitions WHERE file_id", file_ids):
            out[file_id].add(name)
        return out

    def _targets(self, file_ids: Collection[int] | None) -> dict[int, set[int]]:
        targets: dict[int, set[int]] = defaultdict(set)
        sql = (
            "SELECT t.file_id, f.id FROM import_targets t JOIN files f ON f.path = t.target_path "
            "WHERE t.file_id"
        )
        for src, dst in self._select_in(sql, file_ids):
            targets[src].add(dst)
        return targets

    def _count_edges(self, ids: set[int] | None) -> dict[int, int]:
        """Edge count of each file of `ids` (None: all) that has any."""
        targets = self._targets(ids)
        if ids is None:
            names = self.conn.execute("SELECT file_id, name FROM ref_names").fetchall()
        else:
            names = [
                (f, n)
                for f, joined in self._select_in("SELECT file_id, names FROM file_refs WHERE file_id", ids)
                for n in split_names(joined)
            ]
        wanted = None if ids is None else ids.union(*targets.values())
        def_files: dict[str, set[int]] = defaultdict(set)
        for file_id, name in self._select_in("SELECT file_id, name FROM definitions WHERE file_id", wanted):
            def_files[name].add(file_id)
        counts = {f: len(t) for f, t in targets.items()}
        for file_id, name in names:
            where = def_files.get(name)
            if where and (file_id in where or not where.isdisjoint(targets.get(file_id, ()))):
                counts[file_id] = counts.get(file_id, 0) + 1
        return counts

    def _patch_importers(
        self, changed: dict[int, set[str]], current: dict[int, set[str]], recounted: set[int]
    ) -> None:
        """Adjust the stored edges of the importers of `changed` (file -> its previous names).

        Only names that appeared or vanished can change an importer's count; `recounted`
        files were counted from scratch and are left out.
        """
        names: set[str] = set()
        for f, old in changed.items():
            names |= old ^ current.get(f, set())
        importers = self._importers(changed) - recounted
        if not importers or not names:
            return
        users = [
            (f, n)
            for n, f in self._select_in("SELECT name, file_id FROM ref_names WHERE name", names)
            if f in importers
        ]
        if not users:
            return
        targets = self._targets({f for f, _ in users})
        now: dict[str, set[int]] = defaultdict(set)
        for name, file_id in self._select_in("SELECT name, file_id FROM definitions WHERE name", names):
            now[name].add(file_id)
        delta: dict[int, int] = defaultdict(int)
        for file_id, name in users:
            after = now.get(name, set())
            before = (after - changed.keys()) | {f for f, old in changed.items() if name in old}
            mine = targets.get(file_id, set())
            had = file_id in before or not before.isdisjoint(mine)
            has = file_id in after or not after.isdisjoint(mine)
            if had != has:
                delta[file_id] += 1 if has else -1
        self.begin()
        self.conn.executemany(
            "UPDATE files SET edges = edges + ? WHERE id = ?", [(d, f) for f, d in delta.items() if d]
        )

    def _select_in(self, sql: str, values: Collection[object] | None) -> list[tuple]:  # type: ignore[type-arg]
        """Rows of `sql` + " IN (values)" in slices; values=None drops the condition."""
        if values is None:
            return self.conn.execute(sql.rsplit(" WHERE ", 1)[0]).fetchall()
        items = list(values)
        rows: list[tuple] = []  # type: ignore[type-arg]
        for start in range(0, len(items), 500):
            part = items[start : start + 500]
            rows += self.conn.execute(f"{sql} IN ({','.join('?' * len(part))})", part).fetchall()
        return rows


def read_meta(conn: sqlite3.Connection, key: str, default: object = None) -> object:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return json.loads(row[0]) if row else default
