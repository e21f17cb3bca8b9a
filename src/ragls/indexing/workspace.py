"""`WorkspaceIndex`: the persistent, incremental index of one workspace (see ARCHITECTURE.md).

Stored rows live in SQLite (`store*.py`); `update()` (`workspace_update.py`) brings them in
line with the disk. Unsaved buffers are overlays (`workspace_overlay.py`) that shadow the
stored rows of their path in every query. Queries may run on any thread (one read connection
per thread); updates are serialised by a lock and write on their own connection.
"""

from __future__ import annotations

import logging
import os
import posixpath
import shutil
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from pathlib import Path

from ragls.errors import IndexUnavailable, WorkspaceError
from ragls.filetypes import language_for_path
from ragls.indexing import store_queries as q
from ragls.indexing.config import IndexConfig, index_dir_for, record_use, volatile_dir
from ragls.indexing.records import (
    ChunkRow,
    ImportRow,
    IndexStats,
    ParsedFile,
    RefRow,
    SymbolRow,
    UpdateStats,
    line_count,
)
from ragls.indexing.resolve import ResolverCache
from ragls.indexing.store import Store, read_meta
from ragls.indexing.store_schema import move_aside
from ragls.indexing.workspace_graph import GraphQueries
from ragls.indexing.workspace_overlay import Overlay, Overlays, bm25
from ragls.indexing.workspace_update import Updater, parse_file

logger = logging.getLogger(__name__)


class WorkspaceIndex(GraphQueries):
    """Definitions, references, imports and chunks of every source file of `root`."""

    def __init__(
        self, root: Path, config: IndexConfig, index_dir: Path, store: Store, *, persisted: bool = True
    ) -> None:
        self.root = root
        self.config = config
        self.index_dir = index_dir
        # False: the cache folder could not be written, the index lives in a temporary folder
        # (memory-backed where /dev/shm exists) and is gone when the index closes
        self.persisted = persisted
        self._store = store
        self._update_lock = threading.Lock()
        self._overlays = Overlays()
        self._update_resolvers = ResolverCache(root)  # stored files only
        self._overlay_resolvers = ResolverCache(root)  # stored files and overlays
        self._local = threading.local()

    @classmethod
    def open(cls, root: Path | str, config: IndexConfig | None = None) -> WorkspaceIndex:
        path = Path(root).expanduser()
        if not path.is_dir():
            raise WorkspaceError(f"workspace folder does not exist: {path}")
        path = path.resolve()
        config = config or IndexConfig()
        index_dir = index_dir_for(path, config)
        store: Store | None = None
        try:
            store = Store(index_dir)
            record_use(index_dir, path)
        except (sqlite3.Error, OSError) as exc:
            if store is not None:
                store.close()
            logger.warning(
                "cannot write the index in %s (%s): keeping it in memory, not persisted", index_dir, exc
            )
            index_dir = volatile_dir()
            try:
                store = Store(index_dir)
            except (sqlite3.Error, OSError) as exc2:
                raise IndexUnavailable(f"cannot open the index in {index_dir}: {exc2}") from exc2
            return cls(path, config, index_dir, store, persisted=False)
        return cls(path, config, index_dir, store)

    # ---- updating ---------------------------------------------------------------------------

    def update(
        self, progress: Callable[[int, int, str], None] | None = None, paths: Iterable[str] | None = None
    ) -> UpdateStats:
        """Bring the index in line with the disk (all files, or only `paths`)."""
        rels = None if paths is None else [r for r in (self._rel(p) for p in paths) if r]
        if not self.root.is_dir():  # an unmounted or deleted root must not empty the index
            raise WorkspaceError(f"workspace folder does not exist: {self.root}")
        with self._update_lock:
            try:
                stats = self._run_update(progress, rels)
            except sqlite3.DatabaseError as exc:
                if not self._recover(exc):
                    raise IndexUnavailable(f"index update failed ({self._store.path}): {exc}") from exc
                try:  # a fresh store: everything is parsed again
                    stats = self._run_update(progress, None)
                except sqlite3.DatabaseError as exc2:
                    raise IndexUnavailable(f"index update failed ({self._store.path}): {exc2}") from exc2
            self._overlays.forget_imports()
        logger.info(
            "indexed %s: %d files (%d parsed, %d removed) in %.2fs",
            self.root,
            stats.files,
            stats.reindexed,
            stats.removed,
            stats.seconds,
        )
        return stats

    def _run_update(
        self, progress: Callable[[int, int, str], None] | None, rels: list[str] | None
    ) -> UpdateStats:
        updater = Updater(self.root, self.config, self._store, self._update_resolvers)
        return updater.run(progress, rels)

    def _recover(self, exc: sqlite3.DatabaseError) -> bool:
        """After a failed write: a damaged database is moved aside and a full cache folder or a
        read-only one swapped for a temporary folder; True when a fresh store is in place."""
        message = str(exc).lower()
        damaged = any(m in message for m in ("malformed", "not a database", "corrupt"))
        unwritable = any(m in message for m in ("disk is full", "readonly", "read-only", "disk i/o error"))
        if not damaged and not unwritable:
            return False
        old = self._store
        old.close()
        if damaged:
            aside = move_aside(old.path)
            logger.warning("index %s is damaged (%s): moved to %s, rebuilding", old.path, exc, aside.name)
            self._store = Store(self.index_dir)
        else:
            logger.warning(
                "cannot write the index in %s (%s): keeping it in memory, not persisted", self.index_dir, exc
            )
            self.index_dir = volatile_dir()
            self.persisted = False
            self._store = Store(self.index_dir)
        self._update_resolvers = ResolverCache(self.root)
        self._overlay_resolvers = ResolverCache(self.root)
        return True

    def is_empty(self) -> bool:
        return read_meta(self._conn(), "last_update") is None

    # ---- overlays ---------------------------------------------------------------------------

    def set_overlay(self, path: str, text: str) -> None:
        rel = self._require_rel(path)
        try:
            parsed = parse_file(
                rel,
                text.encode("utf-8", "surrogatepass"),
                self.config.chunk_max_lines,
                self.config.chunk_max_chars,
            )
        except ValueError:  # not a language we parse: keep the text only
            parsed = ParsedFile(rel, "", "", line_count(text))
        self._overlays.put(rel, text, parsed)

    def clear_overlay(self, path: str) -> None:
        self._overlays.drop(self._require_rel(path))

    def overlay_text(self, path: str) -> str | None:
        item = self._overlays.get(self._rel(path) or "")
        return item.text if item else None

    def read_text(self, path: str) -> str | None:
        rel = self._rel(path)
        if rel is None:
            return None
        item = self._overlays.get(rel)
        if item is not None:
            return item.text
        if not self._inside(rel):  # a symlink out of the workspace is never read
            logger.warning("refusing to read %s: it resolves outside the workspace", rel)
            return None
        try:
            with open(os.path.join(self.root, rel), "rb") as fh:
                return fh.read().decode("utf-8", "replace")
        except OSError:
            return None

    def parsed(self, path: str) -> ParsedFile | None:
        rel = self._rel(path)
        item = self._overlays.get(rel or "")
        if item is not None:
            return item.parsed if item.parsed.language else None
        text = self.read_text(path) if rel else None
        if text is None or rel is None:
            return None
        try:
            return parse_file(
                rel,
                text.encode("utf-8", "surrogatepass"),
                self.config.chunk_max_lines,
                self.config.chunk_max_chars,
            )
        except ValueError:
            return None

    # ---- files and imports ------------------------------------------------------------------

    def files(self) -> list[str]:
        return sorted({p for p, _ in q.files(self._conn())} | set(self._overlays.snapshot()))

    def language_of(self, path: str) -> str | None:
        rel = self._rel(path) or ""
        item = self._overlays.get(rel)
        if item is not None and item.parsed.language:
            return item.parsed.language
        return q.language_of(self._conn(), rel) or language_for_path(rel)

    def imports_of(self, path: str) -> list[ImportRow]:
        rel = self._rel(path) or ""
        item = self._overlays.get(rel)
        if item is None:
            return q.imports_of(self._conn(), rel)
        return self._overlay_imports(item)

    def importers_of(self, path: str) -> list[str]:
        rel = self._rel(path) or ""
        overlays = self._overlays.snapshot()
        found = set(q.importers_of(self._conn(), rel, overlays))
        for item in overlays.values():
            if any(rel in imp.targets for imp in self._overlay_imports(item)):
                found.add(item.path)
        found.discard(rel)
        return sorted(found)

    def _overlay_imports(self, item: Overlay) -> list[ImportRow]:
        if item.imports is None:
            resolver = self._overlay_resolvers.get(self.files())
            lang = item.parsed.language
            item.imports = [
                ImportRow(item.path, i.module, i.names, i.line, resolver.resolve(item.path, lang, i))
                for i in item.parsed.imports
            ]
        return item.imports

    # ---- definitions (graph queries on top of these are in GraphQueries) --------------------

    def find_definitions(self, name: str, *, limit: int = 50) -> list[SymbolRow]:
        overlays = self._overlays.snapshot()
        rows = q.find_definitions(self._conn(), name, limit, overlays)
        rows += [s for item in overlays.values() for s in item.named(name)]
        return sorted(rows, key=lambda s: (s.path, s.start_line))[:limit]

    def find_definitions_many(self, names: Sequence[str], *, limit: int = 50) -> dict[str, list[SymbolRow]]:
        """`find_definitions` of each name, in one query (retrieval resolves dozens per request)."""
        overlays = self._overlays.snapshot()
        found = q.find_definitions_many(self._conn(), names, limit, overlays)
        for name, rows in found.items():
            rows += [s for item in overlays.values() for s in item.named(name)]
            found[name] = sorted(rows, key=lambda s: (s.path, s.start_line))[:limit]
        return found

    def definitions_in(self, path: str) -> list[SymbolRow]:
        rel = self._rel(path) or ""
        item = self._overlays.get(rel)
        return item.symbols() if item else q.definitions_in(self._conn(), rel)

    def search_definitions(self, query: str, *, limit: int = 50) -> list[SymbolRow]:
        """Exact name matches first, then names starting with, then containing `query` (stored rows)."""
        esc = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        out: dict[int, SymbolRow] = {s.symbol_id: s for s in self.find_definitions(query, limit=limit)}
        for pattern in (f"{esc}%", f"%{esc}%"):
            if len(out) >= limit:
                break
            for s in q.search_definitions(self._conn(), pattern, limit):
                out.setdefault(s.symbol_id, s)
        return list(out.values())[:limit]

    def _definitions_named(self, name: str, paths: Sequence[str]) -> list[SymbolRow]:
        overlays = self._overlays.snapshot()
        stored = [p for p in paths if p not in overlays]
        rows = q.definitions_named_in(self._conn(), name, stored)
        for p in paths:
            if p in overlays:
                rows += overlays[p].named(name)
        return rows

    def _refs_named(self, name: str, paths: Sequence[str], limit: int) -> list[RefRow]:
        overlays = self._overlays.snapshot()
        rows = q.refs_named(self._conn(), name, [p for p in paths if p not in overlays], limit)
        for p in paths:
            if p in overlays:
                rows += [r for r in overlays[p].refs() if r.name == name]
        return sorted(rows, key=lambda r: (r.path, r.line))[:limit]

    def _refs_in_range(self, path: str, start: int, end: int) -> list[RefRow]:
        item = self._overlays.get(path)
        if item is None:
            return q.refs_in_range(self._conn(), path, start, end)
        return [r for r in item.refs() if start <= r.line <= end]

    # ---- chunks ----------------------------------------------------------------------------

    def chunks_in(self, path: str) -> list[ChunkRow]:
        rel = self._rel(path) or ""
        item = self._overlays.get(rel)
        return item.chunks() if item else q.chunks_in(self._conn(), rel)

    def chunks_by_id(self, ids: Sequence[str]) -> list[ChunkRow]:
        return self._chunks_where("chunk_id", ids)

    def chunks_by_hash(self, hashes: Sequence[str]) -> list[ChunkRow]:
        return self._chunks_where("content_hash", hashes)

    def _chunks_where(self, column: str, values: Sequence[str]) -> list[ChunkRow]:
        overlays = self._overlays.snapshot()
        rows = q.chunks_where(self._conn(), column, list(values), overlays)
        wanted = set(values)
        for item in overlays.values():
            rows += [c for c in item.chunks() if getattr(c, column) in wanted]
        return rows

    def iter_chunks(self, batch: int = 500) -> Iterator[list[ChunkRow]]:
        overlays = self._overlays.snapshot()
        yield from q.iter_chunks(self._conn(), batch, overlays)
        extra = [c for item in overlays.values() for c in item.chunks()]
        for start in range(0, len(extra), batch):
            yield extra[start : start + batch]

    def lexical_search(
        self, terms: Sequence[str], limit: int = 50, exclude_paths: Collection[str] = ()
    ) -> list[tuple[ChunkRow, float]]:
        """bm25 over identifier-split terms (the most selective ones, see select_terms)."""
        conn = self._conn()
        stats = self._term_stats()
        selected = q.select_terms(stats.doc_freq(conn, q.clean_terms(terms)))
        overlays = self._overlays.snapshot()
        excluded = {p for p in (self._rel(x) for x in exclude_paths) if p}
        hits = q.lexical_search(conn, selected, limit, excluded | set(overlays))
        if overlays:
            hits += bm25(overlays.values(), selected, stats.n_docs, stats.avg_len, stats.df, excluded)
            hits.sort(key=lambda h: -h[1])
        return hits[:limit]

    # ---- bookkeeping -----------------------------------------------------------------------

    def stats(self) -> IndexStats:
        conn = self._conn()
        files, symbols, chunks = q.counts(conn)
        edges = read_meta(conn, "edges", 0)
        skipped = read_meta(conn, "skipped", 0)
        return IndexStats(files, symbols, int(str(edges)), chunks, int(str(skipped)))

    def close(self, timeout_s: float = 120.0) -> None:
        """Close the database, after an update still running (never under it)."""
        if not self._update_lock.acquire(timeout=timeout_s):
            logger.error("an index update is still running after %.0fs: not closing under it", timeout_s)
            return
        try:
            self._store.close()
        finally:
            self._update_lock.release()
        if not self.persisted:
            shutil.rmtree(self.index_dir, ignore_errors=True)

    def __enter__(self) -> WorkspaceIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _conn(self) -> sqlite3.Connection:
        return self._store.reader()

    def _term_stats(self) -> q.TermStats:
        stats: q.TermStats | None = getattr(self._local, "term_stats", None)
        if stats is None:
            stats = self._local.term_stats = q.TermStats()
        return stats

    def _rel(self, path: str | os.PathLike[str]) -> str | None:
        """Workspace-relative POSIX path of `path` (absolute or relative), None if outside.

        Lexical only (``a/../../x`` is outside); `_inside` also follows symlinks."""
        text = os.fspath(path)
        if os.path.isabs(text):
            try:
                text = Path(os.path.normpath(text)).relative_to(self.root).as_posix()
            except ValueError:
                try:
                    text = Path(text).resolve().relative_to(self.root).as_posix()
                except (ValueError, OSError, RuntimeError):
                    return None
        text = posixpath.normpath(text.replace("\\", "/"))
        if text in ("", ".", "..") or text.startswith(("../", "/")):
            return None
        return text

    def _inside(self, rel: str) -> bool:
        """True when root/rel, symlinks followed, stays inside the workspace."""
        real = os.path.realpath(os.path.join(self.root, rel))
        return real == str(self.root) or real.startswith(str(self.root).rstrip(os.sep) + os.sep)

    def _require_rel(self, path: str) -> str:
        rel = self._rel(path)
        if rel is None or not self._inside(rel):
            raise WorkspaceError(f"{path} is outside the workspace {self.root}")
        return rel
