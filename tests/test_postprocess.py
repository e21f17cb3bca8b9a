"""Completion post-processing: one case per rule, plus the incremental stop check."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragls.models.postprocess import MAX_LINES, is_unit_complete, postprocess


def pp(completion: str, prefix: str, suffix: str = "", language: str = "python") -> str:
    return postprocess(completion, prefix=prefix, suffix=suffix, language=language)


def test_python_dedent_ends_the_block() -> None:
    assert pp("return a + b\n\ndef other():\n    pass\n", "def add(a, b):\n    ") == "return a + b"


def test_python_block_opened_on_cursor_line() -> None:
    got = pp("\n    total = 0\n    return total\n\nprint(1)\n", "def f():")
    assert got == "\n    total = 0\n    return total"


def test_python_whole_definition_then_next_top_level_is_cut() -> None:
    got = pp("def f():\n    return 1\n\n\ndef g():\n    return 2\n", "import os\n\n")
    assert got == "def f():\n    return 1"


def test_python_else_branch_is_kept() -> None:
    got = pp("if x:\n        return 1\n    else:\n        return 2\nprint(3)", "def f(x):\n    ")
    assert got == "if x:\n        return 1\n    else:\n        return 2"


def test_python_open_bracket_in_prefix_does_not_trigger_dedent() -> None:
    got = pp("1,\n    2,\n]\nfoo()\n", "items = [\n    ")
    assert got == "1,\n    2,\n]"


def test_brace_language_unmatched_closer_ends_completion() -> None:
    # the suffix already closes the function: the model's "}" is dropped
    assert pp("return 1;\n}\n\nfunction g() {}\n", "function f() {\n  ", "\n}\n", "javascript") == "return 1;"
    # no closing brace after the cursor: keep the model's one, cut what follows
    assert pp("return 1;\n}\n\nfunction g() {}\n", "function f() {\n  ", "", "javascript") == "return 1;\n}"


def test_brackets_in_strings_and_comments_are_ignored() -> None:
    got = pp('x = "}"; // }\n  y = 2;\n}\nmore();', "function f() {\n  ", "", "javascript")
    assert got == 'x = "}"; // }\n  y = 2;\n}'
    assert pp("x = 1\ny = 2", "s = '('  # (\n", "", "python") == "x = 1\ny = 2"


def test_trailing_closer_provided_by_suffix_is_dropped() -> None:
    assert pp("a, b)", "y = foo(", ")\n") == "a, b"
    assert pp("x):", "if ok(", "):\n") == "x"
    assert pp("x)", "print(len(", ")\n") == "x)"  # the completion's ")" closes len(


def test_tail_duplicating_suffix_is_dropped() -> None:
    assert pp("a, b) + bar(c)", "y = foo(", " + bar(c)\n") == "a, b)"
    got = pp("x = 1\n    return x\n", "def f():\n    ", "\n    return x\n")
    assert got == "x = 1"


def test_repeated_lines_stop_completion() -> None:
    assert pp("x.append(1)\nx.append(1)\nx.append(1)\nx.append(1)\n", "    ") == "x.append(1)"


def test_repeating_the_prefix_stops_completion() -> None:
    prefix = "def f():\n    a = 1\n    b = 2\n    "
    assert pp("c = 3\n    a = 1\n    b = 2\n    c = 3\n", prefix) == "c = 3"


def test_mid_line_cursor_keeps_one_line() -> None:
    assert pp("compute(1)\nmore = 2\n", "x = ", " + 3\n") == "compute(1)"


def test_multi_line_limit() -> None:
    body = "".join(f"    v{i} = {i}\n" for i in range(40))
    got = pp(body.lstrip(), "def f():\n    ")
    assert got.count("\n") + 1 == MAX_LINES


def test_whitespace_handling() -> None:
    assert pp("   \n\n", "x = ") == ""
    assert pp("value   \n\n", "x = ") == "value"
    assert pp("a ", "x = ", "+ b\n") == "a "  # the space separates the completion from the suffix


@pytest.mark.parametrize(
    ("text", "prefix", "suffix", "done"),
    [
        ("compute(1", "x = ", " + 3\n", False),
        ("compute(1)\n", "x = ", " + 3\n", True),
        ("return a + b\n", "def add(a, b):\n    ", "", False),
        ("return a + b\n\ndef", "def add(a, b):\n    ", "", True),
        ("return 1;\n}", "function f() {\n  ", "", True),
        ("return 1;\n", "function f() {\n  ", "", False),
        ("y\ny\ny", "    ", "", True),
    ],
)
def test_is_unit_complete(text: str, prefix: str, suffix: str, done: bool) -> None:
    lang = "javascript" if "function" in prefix else "python"
    assert is_unit_complete(text, prefix, lang, suffix) is done


def test_empty_language_string_means_unknown() -> None:
    assert pp("return a + b\n\ndef other():\n    pass\n", "def add(a, b):\n    ", "", "") == "return a + b"


def test_tree_sitter_trims_lines_that_break_the_syntax() -> None:
    pytest.importorskip("ragls.indexing.languages")
    # the heuristics keep both lines; the second one opens a string that never closes
    got = pp("x = 1\n    y = 'oops\n", "def f():\n    ", "\n    return x\n")
    assert got == "x = 1"


def test_an_answer_cut_by_the_token_limit_does_not_end_on_an_empty_block() -> None:
    pytest.importorskip("ragls.indexing.languages")
    # what the 0.5B model wrote in make demo, cut at 48 tokens inside the else branch
    raw = ("if args.batch:\n        query = make(\n            args.file,\n        )\n    else:\n"
           "        query = make(\n           ")
    got = pp(raw, "def run(args):\n    root = 1\n    ")
    assert got == "if args.batch:\n        query = make(\n            args.file,\n        )"


def test_a_lone_opener_line_stays() -> None:
    assert pp("\n    if x:\n        ", "def f(x):\n    y = 1\n    ") == "if x:"


def test_blank_lines_before_code_on_an_indented_empty_line_are_dropped() -> None:
    prefix = "def f(args):\n    x = 1\n    "
    out = postprocess("\n\n    if not x:\n        return 2", prefix=prefix, suffix="", language="python")
    assert out == "if not x:\n        return 2"


def test_the_open_brackets_from_the_memoized_lines_above_match_a_full_lex() -> None:
    from ragls.models import postprocess as post

    text = Path(post.__file__).read_text(encoding="utf-8")
    text += '\nx = call(a, [1, 2,\n    """doc ( [ {\nstill doc\n'  # ends inside a string, brackets open
    for cut in range(0, len(text), 97):  # the cursor anywhere, typing along its line
        prefix = text[:cut]
        for typed in ("", "f(", 'g("(', "h[0]"):
            tail = (prefix + typed)[-post._PREFIX_SCAN_CHARS:]
            want = post._push_pop([], post.bracket_positions(tail, "python"))
            assert post.open_brackets(prefix + typed, "python") == want
    inside = text + "call("  # inside the docstring: the bracket typed there opens nothing
    assert post.open_brackets(inside, "python") == ["(", "["]
