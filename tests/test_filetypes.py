"""The one extension table: which language a path is in, and its line-comment marker."""

from __future__ import annotations

import pytest

from ragls.filetypes import INDEXED_EXTENSIONS, comment_prefix, language_for_path
from ragls.indexing.languages import LANGUAGES


def test_every_indexed_language_has_a_grammar_and_extensions() -> None:
    assert set(INDEXED_EXTENSIONS.values()) == set(LANGUAGES)


@pytest.mark.parametrize(
    ("path", "language"),
    [
        ("a/b.py", "python"),
        ("stubs/b.pyi", "python"),
        ("x.MJS", "javascript"),
        ("x.jsx", "javascript"),
        ("x.cts", "typescript"),
        ("x.tsx", "tsx"),
        ("cmd/main.go", "go"),
        ("src/lib.rs", "rust"),
        ("A.java", "java"),
        ("win\\style\\m.py", "python"),
        ("README.md", None),
        ("main.c", None),  # known for its comments, not indexed
        ("Makefile", None),
        ("a.d/Makefile", None),
    ],
)
def test_language_for_path_names_indexed_languages_only(path: str, language: str | None) -> None:
    assert language_for_path(path) == language


@pytest.mark.parametrize(
    ("path", "marker"),
    [
        ("m.py", "#"), ("m.pyi", "#"), ("r.rb", "#"), ("run.sh", "#"),
        ("a.js", "//"), ("a.jsx", "//"), ("a.mjs", "//"), ("a.cjs", "//"), ("a.ts", "//"), ("a.mts", "//"),
        ("a.tsx", "//"), ("a.go", "//"), ("a.rs", "//"), ("A.java", "//"), ("a.c", "//"), ("a.h", "//"),
        ("a.cc", "//"), ("a.cpp", "//"), ("a.hpp", "//"), ("a.cs", "//"), ("a.kt", "//"),
        ("a.swift", "//"),
        ("init.lua", "--"), ("q.sql", "--"),
        ("notes.txt", "#"), ("noextension", "#"),
    ],
)
def test_comment_prefix_of_a_path(path: str, marker: str) -> None:
    assert comment_prefix(path=path) == marker


def test_comment_prefix_prefers_the_language_over_the_path() -> None:
    assert comment_prefix("go") == "//"
    assert comment_prefix("sql") == "--"
    assert comment_prefix("python", "main.go") == "#"
    assert comment_prefix(None, "main.go") == "//"
    assert comment_prefix("", "main.go") == "//"  # an unknown language: the path decides
    assert comment_prefix(None) == "#"
