"""The scope headers in front of a completion window that starts inside them (engine/scope_head.py)."""

from __future__ import annotations

from ragls.engine.scope_head import scope_head

TEXT = '''\
import os


class Adapter(Base):
    """Sends requests."""

    def send(
        self, request, stream=False
    ) -> Response:
        """Send a request.

        :param request: the request
        :param stream: whether to stream
        :return: the response
        """
        x = 1
        if x:
            y = [
                1,
            ]
'''
LINES = [*TEXT.split("\n")[:-1], " " * 12]  # the cursor line, indented
CURSOR = 20  # 0-based: the last, indented line inside `if x:`


def test_a_window_inside_the_docstring_gets_the_headers_and_the_opening_quotes():
    start = 12  # ":param stream:" — the def, its signature and the docstring's first line are above
    head = scope_head("python", LINES, start, CURSOR)
    assert head == (
        "class Adapter(Base):\n"
        "    def send(\n"
        "        self, request, stream=False\n"
        "    ) -> Response:\n"
        '        """Send a request.\n'
    )


def test_a_window_starting_in_the_signature_gets_only_the_lines_above_it():
    head = scope_head("python", LINES, 8, CURSOR)  # line 8 is ") -> Response:"
    assert head == "class Adapter(Base):\n    def send(\n        self, request, stream=False\n"


def test_a_window_below_the_docstring_gets_the_headers_alone():
    head = scope_head("python", LINES, 16, CURSOR)  # line 16 is "if x:"
    assert head.splitlines() == [
        "class Adapter(Base):", "    def send(", "        self, request, stream=False", "    ) -> Response:"]


def test_nothing_when_the_window_holds_the_scopes_or_the_cursor_is_at_module_level():
    assert scope_head("python", LINES, 0, CURSOR) == ""
    assert scope_head("python", LINES, 2, 3) == ""  # blank module-level line after the imports
    assert scope_head("javascript", LINES, 12, CURSOR) == ""


def test_a_window_inside_another_strings_middle_gets_its_opening_line():
    lines = ['X = """one', "two", "three", '"""', "", "y = 1", ""]
    assert scope_head("python", lines, 2, 6) == 'X = """one\n'
