"""Which files of a workspace are indexed.

`discover` walks the workspace once (os.scandir, no per-file subprocesses) and returns the
source files with their size and mtime, plus the source-looking files it refused and why
("too-large", "binary", "minified", "unreadable", "broken-symlink", "outside-workspace": a link
out of the workspace). Files of unknown languages and ignored paths are simply not source and
are not reported. `check_path` answers the same
question for one path (watcher events), with the same rules, adding "ignored", "not-source"
and "missing".

Ignore rules, lowest precedence first: `.git/info/exclude`, then `.gitignore` and `.ragignore`
of every directory from the root down (deeper files win, `.ragignore` wins over `.gitignore`
in the same directory), then `IndexConfig.ignore`. As in git, a file inside an ignored
directory cannot be re-included. Names in `SKIP_DIRS` are never walked.
"""

from __future__ import annotations

import logging
import os
import stat
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pathspec import GitIgnoreSpec

from ragls import filetypes
from ragls.indexing.config import SKIP_DIRS, IndexConfig

logger = logging.getLogger(__name__)

LanguageFn = Callable[[str], "str | None"]

IGNORE_FILES = (".ragignore", ".gitignore")  # same directory: first one wins
SNIFF_BYTES = 64 * 1024
BINARY_SNIFF_BYTES = 8 * 1024
MAX_LINE_CHARS = 2000
_MINIFIED_SUFFIXES = (".min.js", ".min.mjs", ".min.cjs", "-min.js", ".bundle.js", ".min.ts")


@dataclass(frozen=True, slots=True)
class DiscoveredFile:
    path: str  # workspace-relative POSIX
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class Skip:
    path: str
    reason: str  # too-large | binary | minified | unreadable | broken-symlink | outside-workspace


@dataclass(slots=True)
class DiscoveryResult:
    files: list[DiscoveredFile] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)

    def skip_reasons(self) -> dict[str, int]:
        """Number of skipped files per reason."""
        return dict(Counter(s.reason for s in self.skipped))


def _compile(lines: list[str], origin: str) -> GitIgnoreSpec | None:
    lines = [ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        return None
    try:
        return GitIgnoreSpec.from_lines(lines)
    except Exception:  # one bad pattern must not drop the whole file
        good = []
        for line in lines:
            try:
                GitIgnoreSpec.from_lines([line])
                good.append(line)
            except Exception:
                logger.warning("ignoring invalid pattern %r in %s", line, origin)
        return GitIgnoreSpec.from_lines(good) if good else None


def _read_spec(path: str) -> GitIgnoreSpec | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return _compile(fh.read().splitlines(), path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        logger.debug("cannot read ignore file %s: %s", path, exc)
        return None


class IgnoreRules:
    """Compiled ignore specs of one workspace, loaded lazily per directory and cached."""

    def __init__(self, root: Path, config: IndexConfig) -> None:
        self.root = Path(root).resolve()
        self._config_spec = _compile(list(config.ignore), "IndexConfig.ignore")
        self._exclude_spec = _read_spec(os.path.join(self.root, ".git", "info", "exclude"))
        self._chains: dict[str, tuple[tuple[str, GitIgnoreSpec], ...]] = {}

    def reload(self) -> None:
        """Forget the per-directory specs (an ignore file changed)."""
        self._exclude_spec = _read_spec(os.path.join(self.root, ".git", "info", "exclude"))
        self._chains.clear()

    def _chain(self, dir_rel: str) -> tuple[tuple[str, GitIgnoreSpec], ...]:
        """(prefix, spec) of the ignore files that apply inside `dir_rel`, highest first."""
        chain = self._chains.get(dir_rel)
        if chain is not None:
            return chain
        parent = self._chain(dir_rel.rpartition("/")[0]) if dir_rel else ()
        prefix = f"{dir_rel}/" if dir_rel else ""
        own = []
        for name in IGNORE_FILES:
            spec = _read_spec(os.path.join(self.root, prefix + name))
            if spec is not None:
                own.append((prefix, spec))
        chain = (*own, *parent)
        self._chains[dir_rel] = chain
        return chain

    def is_ignored(self, rel_path: str, is_dir: bool) -> bool:
        """Whether the rules exclude `rel_path` itself (its parents are not checked)."""
        name = rel_path.rpartition("/")[2]
        if is_dir and name in SKIP_DIRS:
            return True
        tail = "/" if is_dir else ""
        if self._config_spec is not None:
            verdict = self._config_spec.check_file(rel_path + tail).include
            if verdict is not None:
                return verdict
        for prefix, spec in self._chain(rel_path.rpartition("/")[0]):
            verdict = spec.check_file(rel_path[len(prefix) :] + tail).include
            if verdict is not None:
                return verdict
        if self._exclude_spec is not None:
            return bool(self._exclude_spec.check_file(rel_path + tail).include)
        return False

    def path_ignored(self, rel_path: str, is_dir: bool = False) -> bool:
        """Whether `rel_path` or any directory above it is excluded."""
        parts = rel_path.split("/")
        for i in range(1, len(parts)):
            if self.is_ignored("/".join(parts[:i]), True):
                return True
        return self.is_ignored(rel_path, is_dir)


_RULES_CACHE: dict[tuple[str, tuple[str, ...]], IgnoreRules] = {}
_RULES_CACHE_MAX = 16


def rules_for(root: Path, config: IndexConfig, *, fresh: bool = False) -> IgnoreRules:
    """The cached `IgnoreRules` of `root` under `config` (rebuilt when `fresh`)."""
    key = (str(Path(root).resolve()), tuple(config.ignore))
    rules = None if fresh else _RULES_CACHE.get(key)
    if rules is None:
        if len(_RULES_CACHE) >= _RULES_CACHE_MAX:
            _RULES_CACHE.clear()
        rules = IgnoreRules(Path(key[0]), config)
        _RULES_CACHE[key] = rules
    return rules


def _wanted_language(rel: str, config: IndexConfig, language_fn: LanguageFn) -> bool:
    lang = language_fn(rel)
    return lang is not None and (config.languages is None or lang in config.languages)


def content_reason(abs_path: str, size: int, config: IndexConfig) -> str | None:
    """Why a source file's content is not indexed, or None. "missing" if it vanished."""
    if size > config.max_file_bytes:
        return "too-large"
    if abs_path.lower().endswith(_MINIFIED_SUFFIXES):
        return "minified"
    try:
        with open(abs_path, "rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except FileNotFoundError:
        return "missing"
    except OSError:
        return "unreadable"
    if b"\0" in head[:BINARY_SNIFF_BYTES]:
        return "binary"
    if len(head) > MAX_LINE_CHARS and max(map(len, head.split(b"\n"))) > MAX_LINE_CHARS:
        return "minified"
    return None


def discover(
    root: Path,
    config: IndexConfig,
    language_for_path: LanguageFn | None = None,
    known: Mapping[str, tuple[int, int]] | None = None,
) -> DiscoveryResult:
    """All indexable source files under `root`, sorted by path, and the refused ones.

    `known` maps paths already indexed to their (size, mtime_ns): a file that still has them
    passed the content checks before, so it is not opened again (warm scans stay cheap).
    """
    known = known or {}
    root = Path(root).resolve()
    root_str = str(root)
    language_fn = language_for_path or filetypes.language_for_path
    rules = rules_for(root, config, fresh=True)
    result = DiscoveryResult()
    walked: set[str] = set()  # real workspace-relative dirs already walked (loop guard)
    # (logical rel, real rel, absolute path); symlinked dirs wait until real dirs are done,
    # so files are found under their real path first.
    stack: list[tuple[str, str, str]] = [("", "", root_str)]
    deferred: list[tuple[str, str]] = []

    while stack or deferred:
        if not stack:
            rel_dir, abs_dir = deferred.pop()
            real_rel = _real_rel(root_str, abs_dir)
            if real_rel is None or real_rel in walked or rules.path_ignored(real_rel, True):
                logger.debug("not following symlinked dir %s", rel_dir)
                continue
            stack.append((rel_dir, real_rel, abs_dir))
            continue
        rel_dir, real_rel, abs_dir = stack.pop()
        if real_rel in walked:
            continue
        walked.add(real_rel)
        try:
            with os.scandir(abs_dir) as it:
                entries = list(it)
        except OSError as exc:
            (logger.warning if not rel_dir else logger.debug)("cannot list %s: %s", abs_dir, exc)
            continue
        prefix = f"{rel_dir}/" if rel_dir else ""
        real_prefix = f"{real_rel}/" if real_rel else ""
        for entry in entries:
            rel = prefix + entry.name
            try:
                is_link = entry.is_symlink()
                is_dir = entry.is_dir()
                is_file = not is_dir and entry.is_file()
            except OSError:
                continue
            if is_dir:
                if rules.is_ignored(rel, True) or _is_virtualenv(entry.path):
                    continue
                if is_link:
                    deferred.append((rel, entry.path))
                else:
                    stack.append((rel, real_prefix + entry.name, entry.path))
                continue
            if not (is_file or is_link) or not _wanted_language(rel, config, language_fn):
                continue
            if rules.is_ignored(rel, False):
                continue
            if not is_file:
                _skip(result, rel, "broken-symlink")
                continue
            if is_link and _real_rel(root_str, entry.path) is None:
                _skip(result, rel, "outside-workspace")  # a link out of the workspace: never read
                continue
            try:
                st = entry.stat()
            except OSError:
                continue
            if known.get(rel) == (st.st_size, st.st_mtime_ns) and st.st_size <= config.max_file_bytes:
                reason = None
            else:
                reason = content_reason(entry.path, st.st_size, config)
            if reason == "missing":
                logger.debug("file vanished during discovery: %s", rel)
            elif reason is not None:
                _skip(result, rel, reason)
            else:
                result.files.append(DiscoveredFile(rel, st.st_size, st.st_mtime_ns))

    result.files.sort(key=lambda f: f.path)
    result.skipped.sort(key=lambda s: s.path)
    logger.debug("discovered %d files, skipped %d under %s", len(result.files), len(result.skipped), root)
    return result


def _is_virtualenv(abs_dir: str) -> bool:
    """A Python virtual environment, whatever its name (venv, env, .env-3.11, ...)."""
    return os.path.isfile(os.path.join(abs_dir, "pyvenv.cfg"))


def _skip(result: DiscoveryResult, rel: str, reason: str) -> None:
    logger.debug("skip %s: %s", rel, reason)
    result.skipped.append(Skip(rel, reason))


def _workspace_rel(root: Path, path: str) -> str | None:
    """`path` (relative to `root`, or absolute) as a normalised workspace-relative POSIX path."""
    if os.path.isabs(path):
        rel = os.path.relpath(os.path.normpath(path), root)
        if rel.startswith(".."):  # maybe given through a symlinked spelling of the root
            rel = os.path.relpath(os.path.realpath(path), root)
    else:
        rel = os.path.normpath(path)
    rel = Path(rel).as_posix()
    if rel in ("", ".") or rel == ".." or rel.startswith("../"):
        return None
    return rel


def _real_rel(root_str: str, abs_path: str) -> str | None:
    """Workspace-relative real path of `abs_path`, or None if it resolves outside the root."""
    real = os.path.realpath(abs_path)
    if real == root_str:
        return ""
    if not real.startswith(root_str.rstrip(os.sep) + os.sep):
        return None
    return Path(os.path.relpath(real, root_str)).as_posix()


def check_path(
    root: Path, rel_path: str, config: IndexConfig, language_for_path: LanguageFn | None = None
) -> str | None:
    """None if `rel_path` would be indexed, else why not (a skip reason,
    "ignored", "not-source", "missing" or "outside-workspace")."""
    root = Path(root).resolve()
    rel = _workspace_rel(root, rel_path)
    if rel is None:
        return "outside-workspace"
    rules = rules_for(root, config)
    if rel.rpartition("/")[2] in IGNORE_FILES or rel == ".git/info/exclude":
        rules.reload()
    if not _wanted_language(rel, config, language_for_path or filetypes.language_for_path):
        return "not-source"
    if rules.path_ignored(rel):
        return "ignored"
    abs_path = os.path.join(root, rel)
    parts = rel.split("/")[:-1]
    if any(_is_virtualenv(os.path.join(root, *parts[: i + 1])) for i in range(len(parts))):
        return "ignored"
    if "/" in rel:
        real_parent = _real_rel(str(root), os.path.dirname(abs_path))
        if real_parent is None:
            return "outside-workspace"
        if real_parent != rel.rpartition("/")[0]:
            return "ignored"  # reached through a symlinked dir: indexed under its real path
    if os.path.islink(abs_path) and _real_rel(str(root), abs_path) is None:
        return "outside-workspace"  # a link out of the workspace: never read
    try:
        st = os.stat(abs_path)
    except FileNotFoundError:
        return "broken-symlink" if os.path.islink(abs_path) else "missing"
    except OSError:
        return "unreadable"
    if not stat.S_ISREG(st.st_mode):
        return "not-source"
    return content_reason(abs_path, st.st_size, config)
