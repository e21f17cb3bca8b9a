"""The current file's imports, for a prompt whose window starts below them.

A completion prompt shows the code around the cursor, a window that in a long file starts far
below the import block. The imports say which names the file can use: in a body still to be
written they are the best guess at what it will call (``from .utils import default_headers``).
So the import statements above the window go in front of it, as the file's own head.

Statements are found line by line (no parse: the buffer is mid-edit): top-level lines that
start an import in the language, with their continuation lines (a parenthesised name list, a
Go import block, a statement that runs until ``;``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ragls.engine.scope_head import outside_triple

_STARTS = {
    "python": re.compile(r"(?:import|from)\s+[\w.]"),
    "javascript": re.compile(r"import[\s{*'\"]"),
    "typescript": re.compile(r"import[\s{*'\"]"),
    "tsx": re.compile(r"import[\s{*'\"]"),
    "go": re.compile(r"import[\s(\"]"),
    "rust": re.compile(r"(?:pub(?:\([^)]*\))?\s+)?use\s"),
    "java": re.compile(r"import\s"),
}
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_COMMENT = re.compile(r"#[^\n]*|//[^\n]*")
_PY_FROM = re.compile(r"from\s+([\w.]+)\s+import\s")
_KEYWORDS = frozenset({"import", "from", "as", "use", "pub", "crate", "self", "super", "type", "static",
                       "package"})
MAX_STATEMENT_LINES = 40  # a statement that runs on longer is not an import block we understand


@dataclass(frozen=True)
class ImportStatement:
    start: int  # 0-based line of the buffer
    end: int  # inclusive
    text: str

    def names(self) -> list[str]:
        """The local names it brings in, roughly: the words after ``import`` (Python's ``from``
        form), else every word outside quotes and comments that is not a keyword."""
        text = _QUOTED.sub("", _COMMENT.sub("", self.text))
        if text.startswith("from ") and " import " in text:
            text = text.split(" import ", 1)[1]
        elif text.startswith("import "):  # import a.b.c as d: the local name is d (else a)
            text = " ".join(p.split(" as ")[-1].strip().split(".")[0] for p in text[7:].split(","))
        return list(dict.fromkeys(w for w in _WORD.findall(text) if w not in _KEYWORDS))

    def only(self, keep: set[str]) -> str:
        """The statement reduced to the names in `keep`, on one line (Python's ``from m import``
        only; other statements are kept whole)."""
        names = self.names()
        match = _PY_FROM.match(self.text)
        if match is None or all(n in keep for n in names):
            return self.text
        parts = _COMMENT.sub("", self.text.split(" import ", 1)[1]).strip().strip("()").split(",")
        kept = [" ".join(p.split()) for p in parts if p.split() and p.split()[-1] in keep]
        return f"from {match.group(1)} import {', '.join(kept)}"


def import_statements(language: str | None, lines: Sequence[str], upto: int) -> list[ImportStatement]:
    """Top-level import statements that start before line `upto` (0-based, exclusive)."""
    start_re = _STARTS.get(language or "")
    if start_re is None:
        return []
    ends = _statement_end(language or "")
    out: list[ImportStatement] = []
    in_string: str | None = None  # Python: the quotes of a multi-line string the scan is inside
    i = 0
    while i < min(upto, len(lines)):
        line = lines[i]
        inside = in_string is not None  # `import x` as text of a string (a test's sample source)
        if language == "python":
            in_string = outside_triple(line, in_string)[1]
        if inside or line[:1].isspace() or not start_re.match(line):
            i += 1
            continue
        j = i
        while not ends(lines[i : j + 1]) and j + 1 < len(lines) and j - i < MAX_STATEMENT_LINES:
            j += 1
        if j < upto:
            out.append(ImportStatement(i, j, "\n".join(lines[i : j + 1])))
        i = j + 1
    return out


def _statement_end(language: str) -> Callable[[Sequence[str]], bool]:
    """Whether the lines so far make a whole statement."""
    if language == "python":
        def ends(so_far: Sequence[str]) -> bool:
            text = "\n".join(so_far)
            return text.count("(") <= text.count(")") and not text.rstrip().endswith("\\")
    elif language == "go":
        def ends(so_far: Sequence[str]) -> bool:
            text = "\n".join(so_far)
            return text.count("(") <= text.count(")")
    else:  # javascript, typescript, rust, java: a statement ends with ';' (or JS's quoted module)
        def ends(so_far: Sequence[str]) -> bool:
            return so_far[-1].split("//")[0].rstrip().endswith((";", "'", '"'))
    return ends


def file_head(language: str | None, lines: Sequence[str], window_start: int, shown: str,
              budget_tokens: int, count_tokens: Callable[[str], int], cursor_line: int | None = None) -> str:
    """The import statements above `window_start` that fit `budget_tokens`, in file order.

    Names the shown code (`shown`) already uses are left out (the model sees them in use), and
    a statement left with no name is dropped. The names the rest of the buffer never uses go in
    first (imports are written for code still to come), then the other names, as far as they fit.
    The line being typed (`cursor_line`, 0-based) counts as neither: it changes with every key.
    """
    statements = import_statements(language, lines, window_start)
    if not statements or budget_tokens <= 0:
        return ""
    used_shown = set(_WORD.findall(shown))
    below = [ln for k, ln in enumerate(lines) if k > statements[-1].end and k != cursor_line]
    used_below = set(_WORD.findall("\n".join(below)))
    fresh = [{n for n in st.names() if n not in used_shown} for st in statements]
    chosen: dict[int, str] = {}
    left = budget_tokens

    def offer(k: int, text: str) -> None:
        nonlocal left
        extra = count_tokens(text) + 1 - (count_tokens(chosen[k]) + 1 if k in chosen else 0)
        if extra <= left:
            chosen[k] = text
            left -= extra

    for k, st in enumerate(statements):  # first what nothing below uses yet
        if fresh[k] - used_below:
            offer(k, st.only(fresh[k] - used_below))
    for k, st in enumerate(statements):  # then whole statements, as far as they fit
        if fresh[k]:
            offer(k, st.only(fresh[k]))
    return "\n".join(chosen[k] for k in sorted(chosen))
