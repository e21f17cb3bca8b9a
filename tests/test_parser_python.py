"""Python parsing: definitions, references, imports, bad input; language registry basics."""

from __future__ import annotations

import threading

import pytest

from ragls.indexing.languages import LANGUAGES, get_parser, get_query, language_for_path
from ragls.indexing.parser import parse_source
from ragls.indexing.records import Import, Reference, content_hash, line_count

SOURCE = b'''"""Module doc."""
import os.path as osp
import json, sys
from ..x.y import a, b as z
from . import m
from pkg import *
MAX_SIZE = 10
name = "x"

# a helper comment
@deco
def f(a: int, b=2) -> str:
    """Do f.

    More detail.
    """
    x = g(a)
    return osp.join(x.attr, str(a))


class C(Base):
    """A class."""

    def m(self, y: Foo) -> None:
        self.z = y
        def inner():
            pass
        return inner()
'''


@pytest.fixture(scope="module")
def parsed():
    return parse_source("pkg/mod.py", SOURCE)


def defs_by_qualname(pf):
    return {d.qualname: d for d in pf.definitions}


def test_definitions_kinds_parents_ranges(parsed) -> None:
    defs = defs_by_qualname(parsed)
    assert set(defs) == {"MAX_SIZE", "name", "f", "C", "C.m", "C.m.inner"}
    assert (defs["MAX_SIZE"].kind, defs["name"].kind) == ("constant", "variable")
    f = defs["f"]
    assert (f.kind, f.start_line, f.end_line, f.parent) == ("function", 12, 18, None)
    c, m = defs["C"], defs["C.m"]
    assert (c.kind, c.start_line, c.end_line) == ("class", 21, 28)
    assert (m.kind, m.parent, m.start_line, m.end_line) == ("method", "C", 24, 28)
    assert defs["C.m.inner"].parent == "C.m"


def test_signatures_and_docstrings(parsed) -> None:
    defs = defs_by_qualname(parsed)
    assert defs["f"].signature == "def f(a: int, b=2) -> str:"
    assert defs["f"].doc == "Do f.\n\nMore detail."
    assert defs["C"].signature == "class C(Base):"
    assert defs["C"].doc == "A class."
    assert defs["C.m"].signature == "def m(self, y: Foo) -> None:"
    assert defs["C.m"].doc == ""
    assert defs["MAX_SIZE"].signature == "MAX_SIZE = 10"


def test_long_signature_is_single_spaced_and_capped() -> None:
    params = ",\n    ".join(f"p{i}: int" for i in range(80))
    pf = parse_source("a.py", f"def big(\n    {params},\n) -> None:\n    pass\n".encode())
    sig = pf.definitions[0].signature
    assert sig.startswith("def big( p0: int, p1: int,")
    assert "\n" not in sig and len(sig) <= 200


def test_references_kinds_and_scopes(parsed) -> None:
    refs = set(parsed.references)
    assert Reference("g", 17, "call", "f") in refs
    assert Reference("join", 18, "call", "f") in refs
    assert Reference("attr", 18, "attribute", "f") in refs
    assert Reference("osp", 18, "name", "f") in refs
    assert Reference("int", 12, "type", "f") in refs
    assert Reference("Base", 21, "type", "C") in refs
    assert Reference("Foo", 24, "type", "C.m") in refs
    assert Reference("z", 25, "attribute", "C.m") in refs
    assert Reference("inner", 28, "call", "C.m") in refs
    assert Reference("deco", 11, "name", None) in refs
    names = {r.name for r in refs}
    assert "self" not in names  # skipped as noise
    assert not {"f", "C", "MAX_SIZE"} & names  # defining names are not references
    assert not {"json", "sys", "z"} & {r.name for r in refs if r.line <= 6}  # import lines


def test_references_are_deduplicated_and_sorted(parsed) -> None:
    refs = parsed.references
    assert len(refs) == len(set(refs))
    assert [r.line for r in refs] == sorted(r.line for r in refs)
    pf = parse_source("d.py", b"def h():\n    return k(k(k(1)))\n")
    assert [r for r in pf.references if r.name == "k"] == [Reference("k", 2, "call", "h")]


def test_imports(parsed) -> None:
    assert parsed.imports == [
        Import("os.path", (), 2, "osp"),
        Import("json", (), 3),
        Import("sys", (), 3),
        Import("..x.y", ("a", "b"), 4),
        Import(".", ("m",), 5),
        Import("pkg", ("*",), 6),
    ]


def test_future_and_nested_imports() -> None:
    src = b"from __future__ import annotations\ndef f():\n    import re\n    return re\n"
    pf = parse_source("a.py", src)
    assert Import("__future__", ("annotations",), 1) in pf.imports
    assert Import("re", (), 3) in pf.imports


def test_file_metadata(parsed) -> None:
    assert parsed.path == "pkg/mod.py"
    assert parsed.language == "python"
    assert parsed.content_hash == content_hash(SOURCE)
    assert parsed.line_count == 28
    assert parsed.syntax_errors == 0


def test_syntax_errors_keep_what_parses() -> None:
    src = b"def good(a):\n    return a\n\ndef broken(:\n    pass\n\n"
    src += b"class Fine:\n    def ok(self):\n        return 1\n"
    pf = parse_source("bad.py", src)
    assert pf.syntax_errors >= 1
    assert {"good", "Fine", "Fine.ok"} <= {d.qualname for d in pf.definitions}
    assert pf.chunks
    # an unclosed bracket swallows the rest of the file, but what came before survives
    pf = parse_source("bad2.py", b"def good(a):\n    return a\n\nx = (\n\ndef later():\n    pass\n")
    assert pf.syntax_errors >= 1
    assert "good" in {d.name for d in pf.definitions}
    covered = {n for c in pf.chunks for n in range(c.start_line, c.end_line + 1)}
    assert {1, 2, 4, 6, 7} <= covered


def test_invalid_utf8_is_replaced_not_raised() -> None:
    src = b'def f():\n    return "\xff\xfe caf\xc3"\n\ndef g():\n    return f()\n'
    pf = parse_source("enc.py", src)
    assert [d.name for d in pf.definitions] == ["f", "g"]
    assert Reference("f", 5, "call", "g") in pf.references
    assert "\ufffd" in pf.chunks[0].text
    assert pf.content_hash == content_hash(src)


@pytest.mark.parametrize("src", [b"", b"\n\n   \n", b"# only a comment\n"])
def test_empty_and_trivial_files(src: bytes) -> None:
    pf = parse_source("e.py", src)
    assert pf.definitions == [] and pf.references == [] and pf.imports == []
    assert pf.syntax_errors == 0
    assert len(pf.chunks) == (1 if src.strip() else 0)


def test_huge_file_parses() -> None:
    body = "".join(f"def f{i}(x):\n    return g{i}(x) + {i}\n\n" for i in range(3000))
    pf = parse_source("huge.py", body.encode())
    assert len(pf.definitions) == 3000
    assert pf.definitions[-1].start_line == 3 * 2999 + 1
    assert Reference("g2999", 3 * 2999 + 2, "call", "f2999") in pf.references


def test_language_selection() -> None:
    assert language_for_path("a/b.py") == "python"
    assert language_for_path("x.tsx") == "tsx"
    assert language_for_path("x.MJS") == "javascript"
    assert language_for_path("x.cts") == "typescript"
    assert language_for_path("README.md") is None
    assert parse_source("no_extension", b"x = 1\n", language="python").definitions[0].name == "x"
    with pytest.raises(ValueError):
        parse_source("notes.txt", b"hello")
    with pytest.raises(ValueError):
        parse_source("a.py", b"x", language="cobol")
    assert set(LANGUAGES) == {"python", "javascript", "typescript", "tsx", "go", "rust", "java"}


def test_parsers_are_per_thread_and_queries_cached() -> None:
    mine = get_parser("python")
    assert get_parser("python") is mine
    other: list[object] = []
    thread = threading.Thread(target=lambda: other.append(get_parser("python")))
    thread.start()
    thread.join()
    assert other and other[0] is not mine
    assert get_query("python") is get_query("python")


@pytest.mark.parametrize(
    ("text", "lines"), [("", 0), ("x", 1), ("x\n", 1), ("x\ny", 2), ("x\ny\n", 2), ("\n", 1), ("x\n\n", 2)]
)
def test_line_count_does_not_count_after_a_final_newline(text: str, lines: int) -> None:
    assert line_count(text) == lines
    assert parse_source("m.py", text.encode()).line_count == lines
