"""A reply that loops stops at the loop, not at the token limit (models/repetition.py)."""

from __future__ import annotations

import itertools

from ragls.cancel import NEVER
from ragls.models.backend import drain
from ragls.models.repetition import looping

TEST = '''def test_long_signature_is_single_spaced_and_capped() -> None:
    params = ",\\n    ".join(f"p{i}: int" for i in range(80))
    assert "\\n" not in params


'''


def test_a_block_of_lines_written_twice_is_a_loop_once_is_not() -> None:
    head = "import pytest\n\n\n"
    assert not looping(head + TEST)
    assert looping(head + TEST + TEST)
    assert not looping(head + TEST + TEST[:-20])  # the second copy is not complete yet


def test_short_or_purposeful_repeats_are_not_loops() -> None:
    # the same short line, blank lines, closing brackets: code repeats these on purpose
    assert not looping("x = [\n" + "    0,\n" * 10 + "]\n")
    assert not looping("\n" * 50 + "pass\n")
    # a long line twice can be deliberate; three times in a row is a loop
    line = "    assert line_count('a\\nb') == 2  # two lines\n"
    assert not looping("def test_x():\n" + line * 2)
    assert looping("def test_x():\n" + line * 3)
    # different lines of one shape are not the same line
    assert not looping("".join(f"    assert f({i}) == {i * i}  # the square of it\n" for i in range(20)))


def test_a_tail_that_repeats_a_short_pattern_is_a_loop() -> None:
    assert looping('    ("a\\nb' + "\\n" * 80)  # `\n` as two characters, over and over
    assert not looping('    ("a\\nb' + "\\n" * 20)
    assert not looping("# " + "-" * 98 + "\n")  # a separator comment is shorter than the tail


def test_the_token_loop_stops_a_looping_stream_and_keeps_what_came_before() -> None:
    pieces = itertools.chain([("import pytest\n\n\n", None)],
                             ((line + "\n", None) for line in itertools.cycle(TEST.split("\n")[:-1])))
    text, tokens, finish, ran_out = drain(pieces, stops=[], cancel=NEVER)
    assert finish == "loop" and not ran_out
    assert text.startswith("import pytest\n\n\n" + TEST) and text.count("def test_long") == 2
    assert tokens < 20  # not the thousands the stream would have gone on for
