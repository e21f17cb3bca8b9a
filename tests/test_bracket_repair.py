"""Bracket closings as patches without a model (engine/bracket_repair.py)."""

from __future__ import annotations

from ragls.engine.bracket_repair import closing_candidates

DEMO = ['def line_count(text: str) -> int:', '    """Lines of text."""',
        '    return text.count("\\n" + (1 if text and not text.endswith("\\n") else 0)']


def test_each_place_where_the_closer_compiles_nearest_first() -> None:
    lines = [c[-1].strip() for c in closing_candidates(DEMO)]
    assert lines == [
        'return text.count("\\n") + (1 if text and not text.endswith("\\n") else 0)',  # the fix
        'return text.count("\\n" + (1) if text and not text.endswith("\\n") else 0)',
        'return text.count("\\n" + (1 if text and not text.endswith("\\n") else 0))',  # what models write
    ]
    assert all(c[:2] == DEMO[:2] for c in closing_candidates(DEMO))  # only the open line changes


def test_strings_comments_and_other_lines_brackets_are_left_alone() -> None:
    # a bracket inside a string or a comment is not open; never inside a word or a string
    assert closing_candidates(['def f():', '    return "(" + g("x")  # (']) == []
    got = [c[-1].strip() for c in closing_candidates(['def f(a, b):', '    return max(a, b'])]
    assert got == ["return max(a), b", "return max(a, b)"]
    # a line that closes a bracket opened above is part of a longer statement: not mended
    assert closing_candidates(['def f(a):', '    x = g(', '        a))', '    return x']) == []
    # a list comprehension and a subscript get their own closers
    assert [c[-1].strip() for c in closing_candidates(['def f(xs):', '    return [x * 2 for x in xs'])] == [
        "return [x * 2 for x in xs]"]
