"""The current file's imports in front of a completion window (engine/file_head.py)."""

from __future__ import annotations

from ragls.engine.file_head import file_head, import_statements

PY_TEXT = """\
\"\"\"A module.\"\"\"
import os
import sys as system
from collections import OrderedDict
from .utils import (  # noqa: F401
    default_headers,
    to_key_val_list,
    requote_uri,
)
from .hooks import default_hooks


def helper():
    import json
    return to_key_val_list(os.environ), system.argv, OrderedDict()


class Session:
    def __init__(self):
        pass
"""
PY = PY_TEXT.split("\n")


def words(text: str) -> int:
    return len(text.split())


def test_python_statements_with_their_continuation_lines():
    found = import_statements("python", PY, len(PY))
    assert [(s.start, s.end) for s in found] == [(1, 1), (2, 2), (3, 3), (4, 8), (9, 9)]
    assert found[3].names() == ["default_headers", "to_key_val_list", "requote_uri"]
    assert found[1].names() == ["system"]
    # the indented import inside helper() is not the file's head
    assert all("json" not in s.text for s in found)


def test_import_lines_inside_a_multi_line_string_are_text_not_imports():
    # a parser test keeps sample source in a string: its `import` lines are not the file's
    lines = ["import pytest", "", 'SAMPLE = """', "import os.path as osp", "from pkg import *", '"""',
             "from ragls.indexing.parser import parse_source", 'SQL = """select 1"""', "import json"]
    found = import_statements("python", lines, len(lines))
    assert [s.text for s in found] == ["import pytest", "from ragls.indexing.parser import parse_source",
                                       "import json"]


def test_statements_inside_the_window_are_not_repeated():
    found = import_statements("python", PY, 4)  # the window starts on line 4 (0-based)
    assert [s.start for s in found] == [1, 2, 3]


def test_names_in_view_are_dropped_and_a_statement_without_names_goes():
    shown = "class Session:\n    def __init__(self):\n        x = OrderedDict()\n        requote_uri(x)\n"
    head = file_head("python", PY, 12, shown, 200, words)
    assert "OrderedDict" not in head
    assert "from .utils import default_headers, to_key_val_list\n" in head + "\n"
    assert head.splitlines()[0] == "import os"


def test_a_small_budget_keeps_what_nothing_below_uses_yet():
    # helper() uses os, system, OrderedDict and to_key_val_list; nothing uses the default_* names
    head = file_head("python", PY, 12, "", 12, words)
    assert "default_headers" in head and "default_hooks" in head
    assert "to_key_val_list" not in head and "import os" not in head
    assert words(head) + len(head.splitlines()) <= 12


def test_no_budget_or_no_language_gives_nothing():
    assert file_head("python", PY, 12, "", 0, words) == ""
    assert file_head(None, PY, 12, "", 100, words) == ""
    assert file_head("ruby", ["require 'json'"], 1, "", 100, words) == ""


def test_other_languages_keep_whole_statements():
    ts = ["import {", "  a,", "  b,", "} from './x';", "import c from 'c'", "", "const y = 1;"]
    assert [(s.start, s.end) for s in import_statements("typescript", ts, 6)] == [(0, 3), (4, 4)]
    go = ["package main", "", "import (", '\t"fmt"', '\t"os"', ")", "", "func main() {}"]
    assert [(s.start, s.end) for s in import_statements("go", go, 7)] == [(2, 5)]
    rs = ["use std::{", "    io,", "    fs,", "};", "pub use crate::x::Y;", "fn main() {}"]
    assert [(s.start, s.end) for s in import_statements("rust", rs, 5)] == [(0, 3), (4, 4)]
    java = ["package a;", "import java.util.List;", "class A {}"]
    found = import_statements("java", java, 2)
    assert [s.text for s in found] == ["import java.util.List;"]
    assert "List" in file_head("java", java, 2, "", 100, words)
