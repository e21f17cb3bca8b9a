"""One incremental update of the workspace index: scan, parse what changed, write, resolve.

A file is re-parsed only when its content hash changed: (size, mtime_ns) equal to the stored
ones means unchanged; otherwise the worker reads and hashes the file and parses it only if the
hash differs (same hash: just remember the new stat). Big batches are parsed by a 2-process
pool while this process writes; small ones in-process. Imports are re-resolved in one pass
over the current file list when the set of files changed, else only for re-parsed files (with
the cached resolver: a content edit does not change the file list); a meta flag
(`imports_dirty`) set before the first write makes a crashed run's successor re-resolve
everything. The last batch of files, the import targets, the edge counts and the meta rows
share one transaction, so a small (watcher) update commits once.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ragls.indexing.config import IndexConfig
from ragls.indexing.discovery import check_path, discover
from ragls.indexing.records import Import, ParsedFile, UpdateStats, content_hash
from ragls.indexing.resolve import ResolverCache
from ragls.indexing.store import FileRows, FileState, Store, StoreWriter

logger = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]
POOL_MIN_FILES = 50
POOL_WORKERS = 2
# reasons check_path gives for paths that are simply not part of the index (not "skipped")
NOT_INDEXED = frozenset({"missing", "ignored", "not-source", "outside-workspace"})


@dataclass(slots=True)
class Loaded:
    """A worker's answer for one file."""

    path: str
    size: int = 0
    mtime_ns: int = 0
    hash: str = ""
    rows: FileRows | None = None  # None: same hash as stored, or skipped
    skip: str | None = None  # why it could not be read or parsed


def load_file(
    root: str, rel: str, known_hash: str | None, max_lines: int, max_chars: int, lazy_terms: bool = False
) -> Loaded:
    """Read, hash and (if the hash is new) parse one file; never raises.

    `lazy_terms` (in-process loads) leaves the FTS terms to the writer, which computes them
    only for chunks whose content changed; pool workers compute them in parallel instead.
    """
    try:
        with open(os.path.join(root, rel), "rb") as fh:
            st = os.fstat(fh.fileno())
            data = fh.read()
    except FileNotFoundError:
        return Loaded(rel, skip="missing")
    except OSError as exc:
        logger.debug("cannot read %s: %s", rel, exc)
        return Loaded(rel, skip="unreadable")
    out = Loaded(rel, st.st_size, st.st_mtime_ns, content_hash(data))
    if out.hash == known_hash:
        return out
    try:
        parsed = parse_file(rel, data, max_lines, max_chars)
    except ValueError:
        out.skip = "not-source"
        return out
    except Exception:  # a parser bug must not sink the run
        logger.warning("parsing %s failed", rel, exc_info=True)
        out.skip = "parse-error"
        return out
    parsed.content_hash = out.hash
    out.rows = FileRows.of(parsed, with_terms=not lazy_terms)  # flattened here: cheaper to send and to insert
    return out


def parse_file(rel: str, data: bytes, max_lines: int, max_chars: int) -> ParsedFile:
    from ragls.indexing.parser import parse_source  # tree-sitter loads in the process that parses

    return parse_source(rel, data, max_lines=max_lines, max_chars=max_chars)


def _load_star(args: tuple[str, str, str | None, int, int, bool]) -> Loaded:
    return load_file(*args)


def _pool_context() -> multiprocessing.context.BaseContext:
    # fork is cheapest, but forking a threaded process (server, watcher) can deadlock
    if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("forkserver")


def _exit_with_parent(poll_s: float = 0.5) -> None:
    """In a pool worker: exit when the process that started it is gone (killed with SIGKILL,
    it cannot stop its workers, which would otherwise wait on their queue forever)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        os._exit(1)

    threading.Thread(target=watch, name="ragls-parent-watch", daemon=True).start()


def _load_all(root: str, todo: list[tuple[str, FileState | None]], config: IndexConfig) -> Iterator[Loaded]:
    in_process = len(todo) <= POOL_MIN_FILES
    args = [
        (root, rel, st.hash if st else None, config.chunk_max_lines, config.chunk_max_chars, in_process)
        for rel, st in todo
    ]
    if in_process:
        yield from map(_load_star, args)
        return
    with ProcessPoolExecutor(
        max_workers=POOL_WORKERS, mp_context=_pool_context(), initializer=_exit_with_parent
    ) as pool:
        yield from pool.map(_load_star, args, chunksize=8)


class Updater:
    """Runs one update against `store` (the caller holds the update lock)."""

    def __init__(
        self, root: Path, config: IndexConfig, store: Store, resolvers: ResolverCache | None = None
    ) -> None:
        self.root = root
        self.config = config
        self.store = store
        self.resolvers = resolvers or ResolverCache(root)
        self.stats = UpdateStats()
        self.skips: Counter[str] = Counter()

    def run(self, progress: Progress | None, paths: Iterable[str] | None) -> UpdateStats:
        t0 = time.monotonic()
        wanted = None if paths is None else sorted(set(paths))
        with self.store.writer() as w:
            states = w.file_states(wanted)
            dirty = bool(w.get_meta("imports_dirty", False))  # a previous run died before resolving
            if paths is None:
                todo, gone = self._scan(states)
            else:
                todo, gone = self._check(states, wanted or [])
            added = sum(1 for _, st in todo if st is None)
            if todo or gone:
                w.set_meta({"imports_dirty": True})  # committed with the first batch of writes
            if gone:
                w.delete_files(states[p].file_id for p in gone)
                self.stats.removed += len(gone)
            changed_ids = self._write(w, todo, progress)
            full = bool(dirty or added or self.stats.removed)
            t = time.monotonic()
            if full or changed_ids:
                self._resolve(w, None if full else changed_ids)
            edges = w.get_meta("edges", None)
            if full or edges is None:
                edges = w.recount_edges(None)
            elif changed_ids:
                edges = w.recount_edges(changed_ids)
            logger.debug("resolved imports and counted edges in %.2fs", time.monotonic() - t)
            meta: dict[str, object] = {
                "root": str(self.root),
                "last_update": time.time(),
                "imports_dirty": False,
                "edges": edges,
            }
            if paths is None:
                meta["skipped"] = sum(self.skips.values())
                meta["skip_reasons"] = dict(sorted(self.skips.items()))
            w.set_meta(meta)
            w.commit()
            row = w.conn.execute(
                "SELECT (SELECT count(*) FROM files), (SELECT count(*) FROM definitions), "
                "(SELECT count(*) FROM chunks)"
            ).fetchone()
        s = self.stats
        s.files, s.symbols, s.chunks, s.edges = int(row[0]), int(row[1]), int(row[2]), int(str(edges))
        s.skip_reasons = dict(sorted(self.skips.items()))
        s.skipped = sum(self.skips.values())
        s.seconds = round(time.monotonic() - t0, 3)
        return s

    def _scan(self, states: dict[str, FileState]) -> tuple[list[tuple[str, FileState | None]], list[str]]:
        known = {p: (st.size, st.mtime_ns) for p, st in states.items()}
        found = discover(self.root, self.config, known=known)
        self.skips.update(s.reason for s in found.skipped)
        todo: list[tuple[str, FileState | None]] = []
        seen: set[str] = set()
        for f in found.files:
            seen.add(f.path)
            st = states.get(f.path)
            if st is None or st.size != f.size or st.mtime_ns != f.mtime_ns:
                todo.append((f.path, st))
        gone = sorted(p for p in states if p not in seen)
        return todo, gone

    def _check(
        self, states: dict[str, FileState], paths: Iterable[str]
    ) -> tuple[list[tuple[str, FileState | None]], list[str]]:
        todo: list[tuple[str, FileState | None]] = []
        gone: list[str] = []
        for rel in sorted(set(paths)):
            reason = check_path(self.root, rel, self.config)
            st = states.get(rel)
            if reason is None:
                todo.append((rel, st))
                continue
            if reason not in NOT_INDEXED:
                self.skips[reason] += 1
            if st is not None:
                gone.append(rel)
        return todo, gone

    def _write(
        self, w: StoreWriter, todo: list[tuple[str, FileState | None]], progress: Progress | None
    ) -> list[int]:
        """Store the loaded files batch by batch; returns ids of re-parsed files."""
        known = dict(todo)
        changed: list[int] = []
        waited = time.monotonic()
        write_s = 0.0
        for done, item in enumerate(_load_all(str(self.root), todo, self.config), 1):
            t = time.monotonic()
            st = known[item.path]
            if item.skip is not None:
                self.skips[item.skip] += 1
                if st is not None:
                    w.delete_files([st.file_id])
                    self.stats.removed += 1
            elif item.rows is None and st is not None:
                w.touch_file(st.file_id, item.size, item.mtime_ns)
            elif item.rows is not None:
                file_id = w.write_file(item.rows, item.size, item.mtime_ns, st.file_id if st else None)
                changed.append(file_id)
                self.stats.reindexed += 1
            w.file_done()
            write_s += time.monotonic() - t
            if progress is not None:
                progress(done, len(todo), item.path)
        if todo:
            logger.debug(
                "loaded %d files in %.2fs, %.2fs of it writing", len(todo), time.monotonic() - waited, write_s
            )
        return changed

    def _resolve(self, w: StoreWriter, file_ids: list[int] | None) -> None:
        """Resolve imports to workspace files (all of them, or those of `file_ids`)."""
        t0 = time.monotonic()
        files = {p for (p,) in w.conn.execute("SELECT path FROM files")}
        resolver = self.resolvers.get(files)
        rows: list[tuple[int, int, str]] = []
        imports = w.imports_to_resolve(file_ids)
        for imp in imports:
            targets = resolver.resolve(
                imp.path, imp.language, Import(imp.module, imp.names, imp.line, imp.alias)
            )
            rows.extend((imp.import_id, imp.file_id, t) for t in targets)
        w.replace_targets(rows, file_ids)
        logger.debug(
            "resolved %d imports -> %d targets in %.3fs", len(imports), len(rows), time.monotonic() - t0
        )
