"""Chunking: syntax boundaries, size limits, coverage of non-blank lines, stable ids."""

from __future__ import annotations

import pytest

from ragls.indexing.chunker import chunk_file
from ragls.indexing.parser import parse_source
from ragls.indexing.records import content_hash

PY = b'''"""Module doc."""
import os

LIMIT = 3


# leading comment of f
@decorator
def f(x):
    return os.path.join(x)


def g():
    return f(1)


class C:
    """Doc."""

    attr = 1

    def m(self):
        return g()


if __name__ == "__main__":
    g()
'''


def spans(chunks):
    return [(c.start_line, c.end_line, c.kind, c.name) for c in chunks]


def check_invariants(source: bytes, chunks, max_lines: int, max_chars: int) -> None:
    """No overlaps, in order, every non-blank line covered, limits respected, text matches."""
    lines = source.decode("utf-8", "replace").split("\n")
    covered: set[int] = set()
    prev_end = 0
    for c in chunks:
        assert prev_end < c.start_line <= c.end_line
        prev_end = c.end_line
        covered.update(range(c.start_line, c.end_line + 1))
        assert c.text == "\n".join(lines[c.start_line - 1 : c.end_line])
        assert c.text.strip() and lines[c.start_line - 1].strip() and lines[c.end_line - 1].strip()
        assert c.end_line - c.start_line + 1 <= max_lines
        assert len(c.text) <= max_chars
        assert c.content_hash == content_hash(c.text)
    non_blank = {i + 1 for i, line in enumerate(lines) if line.strip()}
    assert non_blank <= covered


def test_top_level_boundaries() -> None:
    pf = parse_source("pkg/m.py", PY)
    assert spans(pf.chunks) == [
        (1, 4, "block", None),
        (7, 10, "function", "f"),  # with its leading comment and decorator
        (13, 14, "function", "g"),
        (17, 23, "class", "C"),
        (26, 27, "block", None),
    ]
    check_invariants(PY, pf.chunks, 60, 3000)
    assert len({c.chunk_id for c in pf.chunks}) == len(pf.chunks)


def test_long_function_is_cut_at_statement_boundaries() -> None:
    body = "".join(f"    v{i} = compute({i})\n" for i in range(100))
    body += "    for item in range(3):\n" + "".join(f"        use(item, {i})\n" for i in range(30))
    src = f"def long():\n{body}    return v0\n".encode()
    pf = parse_source("l.py", src, max_lines=25, max_chars=3000)
    assert len(pf.chunks) >= 6
    assert {(c.kind, c.name) for c in pf.chunks} == {("function", "long")}
    check_invariants(src, pf.chunks, 25, 3000)
    lines = src.decode().split("\n")
    for c in pf.chunks[1:]:  # every cut falls on a statement start
        first = lines[c.start_line - 1]
        assert first.startswith(("    v", "    for", "    return", "        use"))
    assert len({c.chunk_id for c in pf.chunks}) == len(pf.chunks)


def test_max_chars_is_respected() -> None:
    src = ("def wide():\n" + "".join(f"    x{i} = '{'y' * 150}'\n" for i in range(40))).encode()
    pf = parse_source("w.py", src, max_lines=60, max_chars=1000)
    assert len(pf.chunks) >= 6
    check_invariants(src, pf.chunks, 60, 1000)


def test_big_class_becomes_header_plus_methods() -> None:
    methods = "".join(
        f"\n    def m{i}(self, a):\n"
        + "".join(f"        a = a + {j}\n" for j in range(8))
        + "        return a\n"
        for i in range(8)
    )
    src = f'class Big(Base):\n    """Big class."""\n\n    field = 1\n    other = 2\n{methods}'.encode()
    pf = parse_source("big.py", src, max_lines=30)
    assert spans(pf.chunks)[0] == (1, 5, "header", "Big")
    assert [(c.kind, c.name) for c in pf.chunks[1:]] == [("method", f"Big.m{i}") for i in range(8)]
    check_invariants(src, pf.chunks, 30, 3000)


def test_small_class_stays_one_chunk() -> None:
    pf = parse_source("s.py", b"class S:\n    def a(self):\n        pass\n\n    def b(self):\n        pass\n")
    assert spans(pf.chunks) == [(1, 6, "class", "S")]


def test_chunk_ids_stable_when_another_function_changes() -> None:
    edited = PY.replace(
        b"    return os.path.join(x)\n", b"    y = x * 2\n    z = y + 1\n    return os.path.join(z)\n"
    )
    before = {(c.kind, c.name): c for c in parse_source("pkg/m.py", PY).chunks if c.kind != "block"}
    after = {(c.kind, c.name): c for c in parse_source("pkg/m.py", edited).chunks if c.kind != "block"}
    assert before.keys() == after.keys()
    for key in before:
        assert before[key].chunk_id == after[key].chunk_id
    assert before[("function", "f")].content_hash != after[("function", "f")].content_hash
    assert before[("function", "g")].content_hash == after[("function", "g")].content_hash
    assert after[("function", "g")].start_line == before[("function", "g")].start_line + 2


def test_chunk_ids_follow_the_path_and_the_qualified_name() -> None:
    def ids(path: str, src: bytes) -> dict[tuple[str, str | None], str]:
        return {(c.kind, c.name): c.chunk_id for c in parse_source(path, src).chunks if c.kind != "block"}

    here = ids("pkg/m.py", PY)
    assert set(here.values()).isdisjoint(ids("pkg/other.py", PY).values())  # same code, another file
    renamed = ids("pkg/m.py", PY.replace(b"def g():\n", b"def h():\n"))
    assert renamed[("function", "h")] != here[("function", "g")]
    assert {k: v for k, v in renamed.items() if k != ("function", "h")} == {
        k: v for k, v in here.items() if k != ("function", "g")
    }
    body = "    def run(self):\n        return 1\n\n    def stop(self):\n        return 2\n\n\n"
    twins = f"class A:\n{body}class B:\n{body}".encode()  # the same method names in two classes
    methods = [c for c in parse_source("t.py", twins, max_lines=4).chunks if c.kind == "method"]
    assert [c.name for c in methods] == ["A.run", "A.stop", "B.run", "B.stop"]
    assert len({c.chunk_id for c in methods}) == 4


def test_blocks_are_grouped_and_split() -> None:
    src = "".join(f"CONST_{i} = {i}\n" for i in range(50)).encode()
    pf = parse_source("c.py", src, max_lines=20)
    assert [(c.start_line, c.end_line, c.kind) for c in pf.chunks] == [
        (1, 20, "block"), (21, 40, "block"), (41, 50, "block")
    ]  # fmt: skip
    ids = [c.chunk_id for c in pf.chunks]
    assert len(set(ids)) == 3


JAVA = "class Svc {\n    private int n;\n" + "".join(
    f"    /** Method {i}. */\n    int m{i}(int a) {{\n" + "".join(f"        a += {j};\n" for j in range(6))
    + "        return a;\n    }\n"
    for i in range(6)
) + "}\n"  # fmt: skip

RUST = "struct P;\nimpl P {\n" + "".join(
    f"    /// Doc {i}.\n    #[inline]\n    fn f{i}(&self) -> u8 {{\n"
    + "".join(f"        let x{j} = {j};\n" for j in range(6))
    + "        0\n    }\n"
    for i in range(6)
) + "}\n"  # fmt: skip

TS = "export class Store {\n  items: string[] = [];\n" + "".join(
    f"  // method {i}\n  get{i}(k: string): string {{\n" + "".join(f"    k = k + '{j}';\n" for j in range(6))
    + "    return k;\n  }\n"
    for i in range(6)
) + "}\n"  # fmt: skip


@pytest.mark.parametrize(
    ("path", "src", "header", "methods"),
    [
        ("Svc.java", JAVA, ("header", "Svc"), [("method", f"Svc.m{i}") for i in range(6)]),
        ("lib.rs", RUST, ("header", "P"), [("method", f"P.f{i}") for i in range(6)]),
        ("store.ts", TS, ("header", "Store"), [("method", f"Store.get{i}") for i in range(6)]),
    ],
)
def test_big_containers_in_other_languages(path: str, src: str, header, methods) -> None:
    pf = parse_source(path, src.encode(), max_lines=15)
    kinds = [(c.kind, c.name) for c in pf.chunks]
    assert header in kinds
    assert [k for k in kinds if k[0] == "method"] == methods
    check_invariants(src.encode(), pf.chunks, 15, 3000)
    first_method = next(c for c in pf.chunks if c.kind == "method")
    assert first_method.text.lstrip().startswith(("/**", "///", "//"))  # leading doc comment kept
    assert src.rstrip().endswith("}") and pf.chunks[-1].text.endswith("}")  # closing brace joined


def test_chunk_file_without_tree_and_empty_text() -> None:
    assert chunk_file("x.py", "", None, [], "python") == []
    chunks = chunk_file("x.py", "a\n\nb\n" * 30, None, [], "python", max_lines=25)
    check_invariants(("a\n\nb\n" * 30).encode(), chunks, 25, 3000)
    assert all(c.kind == "block" for c in chunks)
