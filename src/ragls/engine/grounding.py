"""Grounding check: does a completion call things that exist?

Models invent functions. A name that a completion calls or imports is grounded
when the buffer mentions it (defined, imported, a parameter...), the workspace
index defines it, or it is a builtin of the language. Calls on a receiver are
checked only when the receiver is something the workspace defines (a module or
class of the project); methods of third-party objects cannot be checked offline.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import keyword
import logging
import re
import sys
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING

from ragls.engine.builtin_names import BUILTINS

if TYPE_CHECKING:
    from ragls.indexing.workspace import WorkspaceIndex

logger = logging.getLogger(__name__)

_CALL = re.compile(r"(?<![\w.])(?:([A-Za-z_]\w*)\s*\.\s*)?([A-Za-z_]\w*)\s*(?:\(|::<|!\()")
# `from m import a, b` ends at the line's end; only a parenthesized list spans lines
_PY_FROM_IMPORT = re.compile(r"^[ \t]*from\s+[.\w]+\s+import\s+(?:\(([\w\s,]+)\)|([\w \t,]+))", re.MULTILINE)
_STRING = re.compile(
    r"'''.*?'''|\"\"\".*?\"\"\"|'(?:\\.|[^'\\\n])*'|\"(?:\\.|[^\"\\\n])*\"|`[^`]*`", re.DOTALL
)
_COMMENT = {
    "python": re.compile(r"#.*"),
    "default": re.compile(r"//.*|/\*.*?\*/", re.DOTALL),
}


def _strip_literals(code: str, language: str) -> str:
    code = _STRING.sub('""', code)
    return _COMMENT.get(language, _COMMENT["default"]).sub("", code)


def called_names(code: str, language: str) -> list[tuple[str | None, str]]:
    """(receiver, name) for each call in `code`, strings and comments ignored."""
    cleaned = _strip_literals(code, language)
    out: list[tuple[str | None, str]] = []
    for m in _CALL.finditer(cleaned):
        out.append((m.group(1), m.group(2)))
    if language == "python":
        for m in _PY_FROM_IMPORT.finditer(cleaned):
            names = m.group(1) or m.group(2)
            out.extend((None, n.split(" as ")[0].strip()) for n in names.split(",") if n.strip())
    return out


_ASSIGNED = re.compile(
    r"\b([A-Za-z_]\w*)\s*(?:=(?!=)|:\s*\w[^=\n]*=(?!=))|\bfor\s+([A-Za-z_]\w*)|\bas\s+([A-Za-z_]\w*)"
)


@lru_cache(maxsize=1)
def installed_top_level_names() -> frozenset[str]:
    """Importable top-level names: the standard library and every installed distribution."""
    names = set(sys.stdlib_module_names)
    with contextlib.suppress(Exception):  # a broken distribution must not break grounding
        names.update(importlib.metadata.packages_distributions())
    return frozenset(names)


def _assigned_in(code: str) -> set[str]:
    return {name for m in _ASSIGNED.finditer(code) for name in m.groups() if name}


class _BufferNames:
    """`name in buffer` as a whole word, looked up per name: a set of every identifier of a
    100 KB buffer took 4 ms per completion, a few `str.find` calls take microseconds."""

    def __init__(self, buffer: str, extra: set[str] | None = None) -> None:
        self.buffer, self.extra = buffer, extra or set()

    def __contains__(self, name: str) -> bool:
        if name in self.extra:
            return True
        at = self.buffer.find(name)
        while at >= 0:
            end = at + len(name)
            if not (at and _is_word_char(self.buffer[at - 1])) and not (
                    end < len(self.buffer) and _is_word_char(self.buffer[end])):
                return True
            at = self.buffer.find(name, at + 1)
        return False

    def with_names(self, names: set[str]) -> _BufferNames:
        return _BufferNames(self.buffer, self.extra | names)


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _known_receiver(receiver: str, known: set[str] | _BufferNames, index: WorkspaceIndex) -> bool:
    return (
        receiver in known
        or receiver in BUILTINS["python"]
        or receiver in installed_top_level_names()
        or bool(index.find_definitions(receiver, limit=1))
    )


_WORD = re.compile(r"[A-Za-z_]\w*|\d|['\"]")


def says_something(cut: str) -> bool:
    """Whether a suggestion cut before an invented name still holds a name or a literal: `if not`
    or `return` alone (keywords only) is not worth showing."""
    return any(not keyword.iskeyword(w) for w in _WORD.findall(cut))


def grounded(text: str, clean: Callable[[str], tuple[str, list[str]]], resample: Callable[[], str],
             where: str = "") -> tuple[str, list[str]]:
    """The suggestion to show from the model's `text`, and the invented names it wrote.

    `clean` turns model text into (suggestion, names it calls that exist nowhere). A suggestion
    with such a name is cut before it; when only keywords are left, the model samples once more
    (`resample`: cheap, the prompt is cached) and a grounded candidate is preferred, else the
    keywords (`if not`) are shown when there are any. Nothing invented is shown.
    """
    completion, ungrounded = clean(text)
    if not ungrounded:
        return completion, []
    logger.info("completion at %s calls unknown names: %s", where, ungrounded)
    cut = cut_before(completion, ungrounded).rstrip()
    if says_something(cut):
        return cut, ungrounded
    second, second_ungrounded = clean(resample())
    if second and not second_ungrounded:
        return second, ungrounded
    return (cut if _WORD.search(cut) else ""), ungrounded


def cut_before(completion: str, names: list[str]) -> str:
    """``completion`` up to the first place it uses one of ``names`` (the invented ones)."""
    cut = len(completion)
    for label in names:
        m = re.search(rf"(?<![\w.]){re.escape(label)}\b", completion)
        if m:
            cut = min(cut, m.start())
    return completion[:cut]


def ungrounded_names(
    completion: str, *, language: str, path: str, buffer: str, index: WorkspaceIndex
) -> list[str]:
    """Names the completion calls or imports that exist nowhere the model could know of."""
    known_builtins = BUILTINS.get(language, set())
    known_in_buffer = _BufferNames(buffer)  # the buffer never contains the completion itself
    defined_in_completion = set(re.findall(r"(?:def|function|func|fn|class)\s+([A-Za-z_]\w*)", completion))
    missing: list[str] = []
    seen: set[str] = set()
    for receiver, name in called_names(completion, language):
        label = f"{receiver}.{name}" if receiver else name
        if label in seen:
            continue
        seen.add(label)
        if name in known_builtins or name in defined_in_completion or keyword.iskeyword(name):
            continue
        if receiver is None:
            if name in known_in_buffer or index.find_definitions(name, limit=1):
                continue
            missing.append(name)
            continue
        # obj.method(): check only receivers that the workspace itself defines or imports.
        if receiver in ("self", "this", "cls"):
            if name in known_in_buffer or index.find_definitions(name, limit=1):
                continue
            missing.append(label)
            continue
        if language == "python" and not _known_receiver(
            receiver, known_in_buffer.with_names(defined_in_completion | _assigned_in(completion)), index
        ):
            missing.append(receiver)  # `pb.DataFrame()` where nothing is called pb
            continue
        receiver_defs = index.resolve_name(path, receiver)
        if receiver_defs and not (name in known_in_buffer or index.find_definitions(name, limit=1)):
            missing.append(label)
    return missing
