"""Splitting a generated test into one test per case (engine/test_split.py)."""

from __future__ import annotations

import ast

from ragls.engine import pytest_file
from ragls.engine.test_split import split_cases, unroll_parametrize

# What the 0.5B model wrote for `line_count` in `make demo` (cut off by the token limit),
# shortened: two right cases, one wrong, one duplicate, and a case cut before its assert.
CASES = '''from ragls.indexing.records import line_count

def test_line_count() -> None:
    """Tests line_count."""
    # Test case 1: two lines
    text = "a\\nb"
    expected = 2
    assert line_count(text) == expected, f"Expected {expected}, got {line_count(text)}"

    # Test case 2: empty
    text = ""
    expected = 0
    assert line_count(text) == expected

    # Test case 3: a wrong expectation
    text = "a\\nb\\n"
    expected = 3
    assert line_count(text) == expected

    text = ""
    expected = 0
    assert line_count(text) == expected

    # Test case 5
    text = "a\\nb\\n"
    expected = 6

    # Test case 6: a reply cut off here
'''


def _outcomes(code: str) -> dict[str, bool]:
    """Run each test function of `code` in-process: name -> passed."""
    scope: dict = {}
    exec(compile(code, "t.py", "exec"), scope)
    result = {}
    for name, fn in scope.items():
        if name.startswith("test_"):
            try:
                fn()
                result[name] = True
            except AssertionError:
                result[name] = False
    return result


def test_cases_become_tests_so_a_wrong_case_fails_alone() -> None:
    assert _outcomes(CASES) == {"test_line_count": False}  # one wrong case sinks the right ones
    split = split_cases(CASES)
    assert _outcomes(split) == {"test_line_count_1": True, "test_line_count_2": True,
                                "test_line_count_3": False}
    case = '    text = "a\\nb"\n    expected = 2\n    assert line_count(text) == expected, f"Expected'
    assert case in split
    assert "expected = 6" not in split  # cut off before its assert: asserts nothing
    assert "Test case 6" not in split  # nor is a comment left where the test was


def test_asserts_alone_are_one_test_each() -> None:
    code = ("from calc import add\n\n\ndef test_add():\n    assert add(1, 1) == 2\n"
            "    assert add(1, 1) == 2\n    assert add(\n        2, 2) == 5\n")
    split = split_cases(code)
    assert [f.name for f in pytest_file.test_functions(split)] == ["test_add_1", "test_add_2"]
    assert "    assert add(\n        2, 2) == 5" in split


def test_dependent_or_other_statements_are_not_split() -> None:
    dependent = ("def test_grow():\n    x = 1\n    assert f(x) == 1\n    y = x + 1\n    assert f(y) == 2\n")
    looped = ("def test_loop():\n    for x in (1, 2):\n        assert f(x) == x\n    assert f(0) == 0\n")
    one_case = "def test_one():\n    x = 1\n    assert f(x) == 1\n    assert f(x + 1) == 2\n"
    attribute = "def test_attr():\n    o.x = 1\n    assert f(o) == 1\n    o.x = 2\n    assert f(o) == 2\n"
    for code in (dependent, looped, one_case, attribute):
        assert split_cases(code) == code
    assert split_cases("def test_(:\n") == "def test_(:\n"
    ast.parse(split_cases(CASES))


# What the 0.5B model wrote in `make demo` (session 15) after a repair round, shortened: one
# parametrized test whose expected value is right for two texts and wrong for two.
PARAMETRIZED = '''import pytest
from ragls.indexing.records import line_count


@pytest.mark.parametrize("text", ["a\\nb", "a\\nb\\n", "", "a\\nb\\n\\n\\n", "a\\nb"])
def test_line_count(text: str) -> None:
    size = len(text)
    assert line_count(text) == 2


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", 0),
        ("a\\nb", 2),
        ("a\\nb\\n", 3),
    ],
)
def test_pairs(text, expected):
    assert line_count(text) == expected
'''


def test_a_parametrized_test_becomes_one_test_per_value_set() -> None:
    code = unroll_parametrize(PARAMETRIZED)
    assert "parametrize" not in code and "\n\n\n\n" not in code
    assert _outcomes(code) == {  # the repeated "a\\nb" is kept once
        "test_line_count_1": True, "test_line_count_2": True, "test_line_count_3": False,
        "test_line_count_4": False, "test_pairs_1": True, "test_pairs_2": True, "test_pairs_3": False,
    }


def test_parametrize_with_ids_fixtures_or_unpacked_values_is_left_alone() -> None:
    for code in (
        '@pytest.mark.parametrize("x", [1, 2], ids=["a", "b"])\ndef test_a(x):\n    assert x\n',
        '@pytest.mark.parametrize("x", [1, 2])\ndef test_b(x, tmp_path):\n    assert x\n',
        '@pytest.mark.parametrize("x, y", [(1, 2), [3]])\ndef test_c(x, y):\n    assert x\n',
        '@pytest.mark.parametrize("x", CASES)\ndef test_d(x):\n    assert x\n',
        '@pytest.mark.parametrize("x", [pytest.param(1, id="one")])\ndef test_e(x):\n    assert x\n',
    ):
        assert unroll_parametrize(code) == code
