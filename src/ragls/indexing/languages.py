"""Indexed languages: tree-sitter grammars, parsers and tag queries (extensions: ragls.filetypes).

Grammars and compiled queries are cached process-wide (both are immutable); parsers are not
thread-safe, so `get_parser` keeps one per thread.
"""

from __future__ import annotations

import functools
import importlib
import importlib.resources
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from tree_sitter import Language, Parser, Query

from ragls.filetypes import language_for_path

__all__ = [
    "LANGUAGES", "LanguageSpec", "get_language", "get_parser", "get_query", "language_for_path",
    "query_source",
]

logger = logging.getLogger(__name__)


def _grammar(module: str, attr: str = "language") -> Callable[[], object]:
    """Loader returning the grammar pointer of `module.attr()` (imported lazily)."""

    def load() -> object:
        return getattr(importlib.import_module(module), attr)()

    return load


@dataclass(frozen=True)
class LanguageSpec:
    """A language ragls indexes: its name, grammar loader and tag queries.

    Its file extensions are those that `ragls.filetypes.INDEXED_EXTENSIONS` maps to its name;
    `language_for_path` (from `ragls.filetypes`) names the language of a path.
    """

    name: str
    grammar: Callable[[], object]
    query_files: tuple[str, ...] = ()  # files under queries/, concatenated; default (f"{name}.scm",)


LANGUAGES: dict[str, LanguageSpec] = {
    spec.name: spec
    for spec in (
        LanguageSpec("python", _grammar("tree_sitter_python")),
        LanguageSpec(
            "javascript",
            _grammar("tree_sitter_javascript"),
            ("javascript.scm", "tsx.scm"),
        ),
        LanguageSpec(
            "typescript",
            _grammar("tree_sitter_typescript", "language_typescript"),
            ("javascript.scm", "typescript.scm"),
        ),
        LanguageSpec(
            "tsx",
            _grammar("tree_sitter_typescript", "language_tsx"),
            ("javascript.scm", "typescript.scm", "tsx.scm"),
        ),
        LanguageSpec("go", _grammar("tree_sitter_go")),
        LanguageSpec("rust", _grammar("tree_sitter_rust")),
        LanguageSpec("java", _grammar("tree_sitter_java")),
    )
}


def _spec(name: str) -> LanguageSpec:
    try:
        return LANGUAGES[name]
    except KeyError:
        raise ValueError(f"unknown language: {name!r}") from None


@functools.cache
def get_language(name: str) -> Language:
    """The tree-sitter Language for `name` (loaded once)."""
    return Language(_spec(name).grammar())


_local = threading.local()


def get_parser(name: str) -> Parser:
    """A Parser for `name`, one per thread (tree-sitter parsers are not thread-safe)."""
    parsers: dict[str, Parser] | None = getattr(_local, "parsers", None)
    if parsers is None:
        parsers = _local.parsers = {}
    parser = parsers.get(name)
    if parser is None:
        parser = parsers[name] = Parser(get_language(name))
    return parser


def query_source(name: str) -> str:
    """Text of the tag query for `name`: package data `queries/*.scm` (ES files are shared)."""
    spec = _spec(name)
    folder = importlib.resources.files("ragls.indexing").joinpath("queries")
    files = spec.query_files or (f"{name}.scm",)
    return "\n".join(folder.joinpath(f).read_text("utf-8") for f in files)


@functools.cache
def get_query(name: str) -> Query:
    """The compiled tag query for `name` (compiled once; queries are immutable)."""
    query = Query(get_language(name), query_source(name))
    logger.debug("compiled %s query: %d patterns", name, query.pattern_count)
    return query
