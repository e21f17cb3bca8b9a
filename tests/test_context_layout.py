"""Snippets become prompt files the way real files look: one entry per path, pieces in order."""

from __future__ import annotations

from ragls.engine.context_layout import ContextLayout, context_files, not_shown
from ragls.retrieval.types import Snippet


def snip(path: str, start: int, text: str) -> Snippet:
    return Snippet(path, start, start + text.count("\n"), 1.0, ["graph"], text)


def test_pieces_of_one_file_are_one_entry_in_line_order_and_the_best_file_comes_last() -> None:
    ranked = [  # best first
        snip("pkg/b.py", 30, "def second():\n    return 2"),
        snip("pkg/a.py", 1, "class A:\n    pass"),
        snip("pkg/b.py", 3, "def first():\n    return 1"),
    ]
    files = context_files(ranked)
    assert [f.path for f in files] == ["pkg/a.py", "pkg/b.py"]
    assert files[1].text == "def first():\n    return 1\n\ndef second():\n    return 2"


def test_overlapping_and_adjacent_pieces_run_on_without_repeating_lines() -> None:
    files = context_files([
        snip("m.py", 1, "a = 1\nb = 2\nc = 3"),
        snip("m.py", 3, "c = 3\nd = 4"),
        snip("m.py", 5, "e = 5"),
    ])
    assert files[0].text == "a = 1\nb = 2\nc = 3\nd = 4\ne = 5"


def test_a_stubs_open_docstring_is_closed_but_a_continued_one_is_not() -> None:
    stub = 'class Request:\n    """A user-created request object.'
    whole = 'def send(r):\n    """Send r.\n\n    More.\n    """\n    return r'
    files = context_files([snip("m.py", 10, stub), snip("m.py", 40, whole)])
    assert files[0].text == stub + '"""' + "\n\n" + whole
    # the next piece continues the docstring (adjacent lines): nothing is added in between
    head, rest = snip("m.py", 1, 'def f():\n    """Doc'), snip("m.py", 3, '    more."""\n    return 1')
    files = context_files([head, rest])
    assert files[0].text == 'def f():\n    """Doc\n    more."""\n    return 1'
    stub_snip = snip("m.py", 10, stub)
    ranked = context_files([stub_snip], ContextLayout(group=False))
    assert ranked[0].text.endswith('object."""') and stub_snip.text == stub  # the snippet itself is unchanged


def test_a_stub_shorter_than_its_range_is_kept_whole() -> None:
    stub = Snippet("m.py", 10, 40, 1.0, ["graph"], "def big(x): ...")
    files = context_files([snip("m.py", 1, "import os"), stub])
    assert files[0].text == "import os\n\ndef big(x): ..."


def test_pieces_of_the_current_file_that_the_prompt_shows_are_dropped() -> None:
    ranked = [snip("cur.py", 48, "def near():\n    pass"), snip("cur.py", 5, "def far():\n    pass"),
              snip("other.py", 50, "def x():\n    pass")]
    kept = not_shown(ranked, "cur.py", (40, 66))
    assert [(s.path, s.start_line) for s in kept] == [("cur.py", 5), ("other.py", 50)]
    assert not_shown(ranked, "cur.py", (40, 66), ContextLayout(same_file="drop")) == [ranked[2]]
    assert not_shown(ranked, "cur.py", (40, 66), ContextLayout(same_file="keep")) == ranked


def test_ranked_layout_keeps_one_entry_per_snippet() -> None:
    ranked = [snip("b.py", 3, "x = 1"), snip("b.py", 9, "y = 2")]
    files = context_files(ranked, ContextLayout(group=False))
    assert [(f.path, f.text) for f in files] == [("b.py", "y = 2"), ("b.py", "x = 1")]
