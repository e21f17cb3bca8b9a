"""SQLite schema of the workspace index and opening a database at the right version.

The schema version lives in ``PRAGMA user_version``. A database at another version is deleted
and rebuilt; a file SQLite cannot read is moved aside (``index.sqlite3.corrupt``) and rebuilt:
the index is a cache of the workspace and can always be recomputed.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 6
DB_NAME = "index.sqlite3"

# FTS5 over identifier-split terms; '_' is a token character so "parse_file" survives whole.
FTS_TOKENIZER = "unicode61 remove_diacritics 0 tokenchars '_'"

SCHEMA = f"""
CREATE TABLE files(
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    language TEXT NOT NULL,
    hash TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    lines INTEGER NOT NULL,
    syntax_errors INTEGER NOT NULL DEFAULT 0,
    edges INTEGER NOT NULL DEFAULT 0  -- graph edges leaving this file (StoreWriter.recount_edges)
);
CREATE TABLE definitions(
    id INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    qualname TEXT NOT NULL,
    kind TEXT NOT NULL,
    start_line INTEGER NOT NULL,
    end_line INTEGER NOT NULL,
    signature TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX definitions_name ON definitions(name, file_id);
CREATE INDEX definitions_file ON definitions(file_id);
-- references are many (a million in a big repository) and only ever read per file, so each
-- file's references are one zlib-compressed JSON array [[name, line, kind, scope], ...] plus
-- its distinct names; ref_names (name -> files) serves callers and edge counts
CREATE TABLE file_refs(
    file_id INTEGER PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE,
    names TEXT NOT NULL,
    data BLOB NOT NULL
);
CREATE TABLE ref_names(
    name TEXT NOT NULL,
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    PRIMARY KEY(name, file_id)
) WITHOUT ROWID;
CREATE TABLE imports(
    id INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    module TEXT NOT NULL,
    names TEXT NOT NULL,
    line INTEGER NOT NULL,
    alias TEXT
);
CREATE INDEX imports_file ON imports(file_id);
CREATE TABLE import_targets(
    import_id INTEGER NOT NULL REFERENCES imports(id) ON DELETE CASCADE,
    file_id INTEGER NOT NULL,
    target_path TEXT NOT NULL
);
CREATE INDEX import_targets_import ON import_targets(import_id);
CREATE INDEX import_targets_file ON import_targets(file_id);
CREATE INDEX import_targets_target ON import_targets(target_path);
CREATE TABLE chunks(
    rowid INTEGER PRIMARY KEY,
    chunk_id TEXT NOT NULL,
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    start_line INTEGER NOT NULL,
    end_line INTEGER NOT NULL,
    kind TEXT NOT NULL,
    name TEXT,
    text TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    nterms INTEGER NOT NULL
);
CREATE INDEX chunks_id ON chunks(chunk_id);
CREATE INDEX chunks_hash ON chunks(content_hash);
CREATE INDEX chunks_file ON chunks(file_id);
CREATE VIRTUAL TABLE chunks_fts USING fts5(terms, tokenize="{FTS_TOKENIZER}");
CREATE VIRTUAL TABLE chunks_vocab USING fts5vocab(chunks_fts, 'row');
-- cascaded deletes of chunks fire this too, so the FTS rows never outlive their chunk
CREATE TRIGGER chunks_fts_delete AFTER DELETE ON chunks BEGIN
    DELETE FROM chunks_fts WHERE rowid = old.rowid;
END;
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def _idempotent(schema: str) -> str:
    """The schema with IF NOT EXISTS everywhere, so two processes creating it at once agree."""
    for what in ("TABLE", "VIRTUAL TABLE", "INDEX", "TRIGGER"):
        schema = schema.replace(f"CREATE {what} ", f"CREATE {what} IF NOT EXISTS ")
    return schema


def connect(path: Path) -> sqlite3.Connection:
    """A connection with the pragmas every ragls connection uses (autocommit mode)."""
    conn = sqlite3.connect(str(path), timeout=30.0, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA temp_store = MEMORY")
    conn.execute("PRAGMA cache_size = -32000")
    return conn


def _remove_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def move_aside(path: Path) -> Path:
    """Rename a damaged file (and its WAL companions) to ``<name>.corrupt`` (one kept, the last),
    so it can be looked at while a fresh one is built in its place."""
    target = path.with_name(path.name + ".corrupt")
    for suffix in ("", "-wal", "-shm", "-journal"):
        src = Path(str(path) + suffix)
        dst = Path(str(target) + suffix)
        dst.unlink(missing_ok=True)
        if src.exists():
            try:
                os.replace(src, dst)
            except OSError:
                src.unlink(missing_ok=True)
    return target


def _check(conn: sqlite3.Connection) -> int:
    """The schema version; raises sqlite3.DatabaseError on a file that is not a database."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    if version == SCHEMA_VERSION:
        # a cheap probe of the tables we rely on: damaged pages surface here, not mid-update
        conn.execute("SELECT count(*) FROM files").fetchone()
    return version


def open_database(index_dir: Path) -> Path:
    """Make sure ``index_dir/index.sqlite3`` exists at SCHEMA_VERSION; return its path.

    Another version or an unreadable file is deleted and rebuilt (logged).
    """
    index_dir.mkdir(parents=True, exist_ok=True)
    path = index_dir / DB_NAME
    for attempt in range(2):
        conn: sqlite3.Connection | None = None
        try:
            conn = connect(path)
            version = _check(conn)
            if version == SCHEMA_VERSION:
                conn.execute("PRAGMA journal_mode = WAL")
                return path
            has_tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0
            if version != 0 or has_tables:
                logger.warning(
                    "index %s has schema version %d (want %d): rebuilding", path, version, SCHEMA_VERSION
                )
                conn.close()
                conn = None
                _remove_db(path)
                continue
            conn.execute("PRAGMA journal_mode = WAL")
            conn.executescript(
                f"BEGIN IMMEDIATE;\n{_idempotent(SCHEMA)}\nPRAGMA user_version = {SCHEMA_VERSION};\nCOMMIT;"
            )
            logger.info("created index database %s", path)
            return path
        except sqlite3.DatabaseError as exc:
            if attempt:
                raise
            if conn is not None:
                conn.close()
                conn = None
            aside = move_aside(path)
            logger.warning("index %s is damaged (%s): moved to %s, rebuilding", path, exc, aside.name)
        finally:
            if conn is not None:
                conn.close()
    raise sqlite3.DatabaseError(f"cannot open index database {path}")  # pragma: no cover
