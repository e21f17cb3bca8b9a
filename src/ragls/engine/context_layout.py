"""How retrieved snippets are laid out as files in a completion prompt.

A repository-level FIM prompt shows the model other files, then the current one. Retrieval
returns line ranges ranked best first, often several from one file and some from the current
file itself. Small code models read such a prompt best when it looks like real files: each
path once, its pieces in line order; pieces of the current file that the prompt already shows
around the cursor are not repeated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ragls.models.fim import ContextFile
from ragls.retrieval.types import Snippet


@dataclass(frozen=True)
class ContextLayout:
    """``group``: one entry per path, pieces in line order (else one entry per snippet, as ranked).
    ``same_file``: "keep" | "outside" (drop pieces of the current file that overlap the lines the
    prompt shows around the cursor) | "drop" (no pieces of the current file).
    ``gap``: what separates two pieces of one file that are not adjacent.
    """

    group: bool = True
    same_file: str = "outside"
    gap: str = "\n\n"


def not_shown(snippets: Sequence[Snippet], path: str, shown: tuple[int, int],
              layout: ContextLayout = ContextLayout()) -> list[Snippet]:
    """The snippets worth a place beside the code: ``shown`` is the 1-based line range of the
    current file (``path``) that the prompt already holds as prefix and suffix."""
    return [s for s in snippets if s.path != path or _keeps_same_file(s, shown, layout.same_file)]


def context_files(kept: Sequence[Snippet], layout: ContextLayout = ContextLayout()) -> list[ContextFile]:
    """The prompt's context files from snippets ranked best first, least relevant first (the
    best ends next to the code)."""
    if not layout.group:
        return [ContextFile(s.path, close_docstring(s.text.rstrip("\n"))) for s in reversed(kept)]
    order: list[str] = []
    pieces: dict[str, list[Snippet]] = {}
    for s in kept:
        if s.path not in pieces:
            order.append(s.path)
            pieces[s.path] = []
        pieces[s.path].append(s)
    return [ContextFile(p, _join(pieces[p], layout.gap)) for p in reversed(order)]


def _keeps_same_file(s: Snippet, shown: tuple[int, int], mode: str) -> bool:
    if mode == "drop":
        return False
    if mode == "outside":
        return s.end_line < shown[0] or s.start_line > shown[1]
    return True


def _join(snippets: list[Snippet], gap: str) -> str:
    """The pieces of one file in line order; overlapping or adjacent ones run on."""
    runs: list[str] = []
    last_end = None
    for s in sorted(snippets, key=lambda x: (x.start_line, x.end_line)):
        text = s.text.rstrip("\n")
        exact = text.count("\n") + 1 == s.end_line - s.start_line + 1  # a stub may be shorter
        if last_end is not None and s.start_line <= last_end and exact:
            # overlap: keep only the lines past what is already there
            skip = last_end - s.start_line + 1
            text = "\n".join(text.split("\n")[skip:])
            if not text:
                continue
            runs[-1] += "\n" + text
        elif last_end is not None and s.start_line == last_end + 1:
            runs[-1] += "\n" + text
        else:
            runs.append(text)
        last_end = max(last_end or 0, s.end_line)
    return gap.join(close_docstring(r) for r in runs)


def close_docstring(text: str) -> str:
    """`text` with a docstring it leaves open closed on its last line (a stub keeps only a
    docstring's first line): the code after it in the prompt must not read as a string. The
    expected line's log-probability per token (60 tasks, paired): +0.010 [-0.000, +0.021] with
    3 s prompts (4 tasks better, none worse by more than 0.1), -0.003 [-0.011, +0.005] with 8 s."""
    for quotes in ('"""', "\'\'\'"):
        if text.count(quotes) % 2:
            return text + quotes
    return text
