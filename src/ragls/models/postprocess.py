"""Trim raw model completions to what an editor should insert at the cursor.

Heuristics (no parser needed): single- vs multi-line mode from the text around the cursor,
cut where the enclosing block ends (Python dedent, an unmatched closing bracket), stop on
degenerate repetition, drop the tail that duplicates the suffix, and drop trailing closers
that the suffix already provides. ``is_unit_complete`` applies the same cuts incrementally
so generation can stop as soon as the unit is closed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ragls.filetypes import comment_prefix
from ragls.lru import LRUCache

logger = logging.getLogger(__name__)

MAX_LINES = 15
_OPEN = {"(": ")", "[": "]", "{": "}"}
_CLOSE = {v: k for k, v in _OPEN.items()}
_PREFIX_SCAN_CHARS = 20_000
# the open brackets (and string) at the end of the lines above a cursor: (head, language) -> them
_HEAD_STACKS: LRUCache[tuple[str, str | None], tuple[tuple[str, ...], str | None]] = LRUCache(8)
_SYNTAX_WINDOW = 4000
_PUNCT = set(")]}:;, \t")


def _is_python(language: str | None) -> bool:
    return language in ("python", None)


def bracket_positions(text: str, language: str | None) -> list[tuple[int, str]]:
    """(position, char) of brackets outside strings and comments (rough lexer)."""
    return _lex(text, language)[0]


def _lex(
    text: str, language: str | None, quote: str | None = None
) -> tuple[list[tuple[int, str]], str | None]:
    """The brackets of `text` starting inside the string `quote` opened (None: in code), and the
    string still open at its end."""
    out: list[tuple[int, str]] = []
    marker = comment_prefix(language)
    hash_comments, slash_comments = marker == "#", marker == "//"
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if quote is not None:
            if c == "\\":
                i += 2
                continue
            if text.startswith(quote, i):
                i += len(quote)
                quote = None
                continue
            if c == "\n" and len(quote) == 1 and quote != "`":
                quote = None  # unterminated single-line string: recover at end of line
            i += 1
            continue
        if c in "\"'`":
            triple = text[i : i + 3]
            quote = triple if _is_python(language) and triple in ('"""', "'''") else c
            i += len(quote)
            continue
        if (c == "#" and hash_comments) or (slash_comments and text.startswith("//", i)):
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        if slash_comments and text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
            continue
        if c in _OPEN or c in _CLOSE:
            out.append((i, c))
        i += 1
    return out, quote


def open_brackets(prefix: str, language: str | None) -> list[str]:
    """Brackets opened in the prefix and not yet closed (innermost last). The lines above the
    cursor line are lexed once (memoized: they stay the same while the user types along the
    line, and lexing 20,000 characters took 6-17 ms per call); the cursor line every time."""
    head, sep, line = prefix[-_PREFIX_SCAN_CHARS:].rpartition("\n")
    key = (head, language)
    memo = _HEAD_STACKS.get(key)
    if memo is None:
        brackets, quote = _lex(head + sep, language)
        memo = (tuple(_push_pop([], brackets)), quote)
        _HEAD_STACKS.put(key, memo)
    stack, quote = memo
    return _push_pop(list(stack), _lex(line, language, quote)[0])


def _push_pop(stack: list[str], brackets: list[tuple[int, str]]) -> list[str]:
    for _, c in brackets:
        if c in _OPEN:
            stack.append(c)
        elif stack and stack[-1] == _CLOSE[c]:
            stack.pop()
    return stack


def indent_width(line: str) -> int:
    """Columns of leading spaces and tabs (each counts one)."""
    return len(line) - len(line.lstrip(" \t"))


@dataclass
class _Cursor:
    """What the text around the cursor says about the completion."""

    line_before: str
    single_line: bool
    stack: list[str]
    language: str | None


_BLOCK_OPENERS = (":", "{", "(", "[", "=>")


def _cursor(prefix: str, suffix: str, language: str | None) -> _Cursor:
    line_before = prefix.rsplit("\n", 1)[-1]
    first_suffix_line = suffix.split("\n", 1)[0]
    # Mid-line (text before the cursor that opens no block) or text after it: finish the line.
    # Blocks are suggested where a block starts: on a blank line or after an opener.
    mid_line = bool(line_before.strip()) and not line_before.rstrip().endswith(_BLOCK_OPENERS)
    single = bool(first_suffix_line.strip()) or mid_line
    return _Cursor(line_before, single, open_brackets(prefix, language), language)


_CONTINUATIONS = ("else", "elif", "except", "finally", "case")


def _multiline_cut(text: str, cur: _Cursor) -> tuple[str, bool]:
    """Cut a multi-line completion where its unit ends; (kept text, whether a cut happened)."""
    python = _is_python(cur.language)
    lines = text.split("\n")
    first = cur.line_before + lines[0]
    base: int | None = indent_width(first) if first.strip() else None  # indentation of the unit
    outer = base
    opener = python and first.rstrip().endswith(":")
    body_seen = False
    depth = 0  # brackets opened in the completion and still open
    stack = list(cur.stack)  # brackets opened in the prefix and still open
    for idx, line in enumerate(lines):
        stripped = line.strip()
        continue_line = False
        if idx > 0 and stripped and python and depth == 0 and not stack:
            ind = indent_width(line)
            if base is None:
                base = outer = ind
                opener = stripped.endswith(":")
                continue_line = True
            elif opener and not body_seen and ind > base:
                base = ind  # first line of the block opened by the unit's first line
            elif ind < base and not (ind == outer and stripped.startswith(_CONTINUATIONS)):
                return "\n".join(lines[:idx]), True
            body_seen = body_seen or not continue_line
        for off, c in bracket_positions(line, cur.language):
            if c in _OPEN:
                depth += 1
            elif depth > 0:
                depth -= 1
            elif stack and stack[-1] == _CLOSE[c]:
                stack.pop()
                if not python and c == "}":  # closed the block the cursor was in
                    return "\n".join([*lines[:idx], line[: off + 1]]), True
            else:  # a closer nothing opened: the enclosing construct ends here
                return "\n".join([*lines[:idx], line[:off]]), True
        if idx >= 2 and stripped and lines[idx - 1].strip() == stripped == lines[idx - 2].strip():
            return "\n".join(lines[: idx - 1]), True
        if idx >= MAX_LINES:
            return "\n".join(lines[:MAX_LINES]), True
    return text, False


def _drop_prefix_echo(lines: list[str], prefix: str) -> list[str]:
    """Cut where the completion starts repeating the last complete lines of the prefix."""
    before = [ln.strip() for ln in prefix.split("\n")[:-1] if ln.strip()][-2:]
    if len(before) < 2:
        return lines
    stripped = [ln.strip() for ln in lines]
    for i in range(len(stripped) - 1):
        if stripped[i : i + 2] == before:
            return lines[:i]
    return lines


def _drop_suffix_overlap(text: str, suffix: str, single_line: bool) -> str:
    """Drop the completion's tail that the suffix already starts with."""
    if single_line:
        head = suffix.split("\n", 1)[0].strip()
        if not head:
            return text
        body = text.rstrip()
        for k in range(min(len(head), len(body)), 0, -1):
            if k < min(4, len(head)):
                break
            if set(head[:k]) <= _PUNCT:
                continue  # closers and separators: left to the bracket balance
            if body.endswith(head[:k]):
                return body[: len(body) - k]
        return text
    tail = [ln.strip() for ln in text.rstrip().split("\n")]
    lead = [ln.strip() for ln in suffix.split("\n") if ln.strip()]
    for k in range(min(len(tail), len(lead)), 0, -1):
        if tail[-k:] == lead[:k] and any(tail[-k:]):
            return "\n".join(text.rstrip().split("\n")[:-k])
    return text


def _drop_extra_closers(text: str, prefix: str, suffix: str, language: str | None) -> str:
    """Remove trailing closers of the completion that the suffix's leading closers duplicate."""
    stack = _push_pop(open_brackets(prefix, language), bracket_positions(text, language))
    excess = 0
    for c in suffix.lstrip():
        if c not in _CLOSE:
            break
        if stack and stack[-1] == _CLOSE[c]:
            stack.pop()
        else:
            excess += 1
    body = text.rstrip()
    if not excess:
        return text
    lead = ""
    for c in suffix.lstrip():
        if c not in _PUNCT:
            break
        lead += c
    lead = lead.rstrip()
    for k in range(len(lead), 0, -1):  # e.g. completion "x):" before suffix "):"
        if any(c in _CLOSE for c in lead[:k]) and body.endswith(lead[:k]):
            return body[: len(body) - k]
    while excess and body and body[-1] in _CLOSE:
        body = body[:-1].rstrip(" \t")
        excess -= 1
    return body


def _syntax_errors(source: str, language: str) -> int | None:
    """ERROR/MISSING nodes tree-sitter finds in ``source``; None when no parser is available."""
    try:
        from ragls.indexing.languages import LANGUAGES, get_parser
    except ImportError:
        return None
    if language not in LANGUAGES:
        return None
    try:
        tree = get_parser(language).parse(source.encode("utf-8"))
    except Exception:  # a grammar problem must never sink a completion
        logger.debug("tree-sitter parse failed for %s", language, exc_info=True)
        return None
    count, stack = 0, [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            count += 1
        elif node.has_error:
            stack.extend(node.children)
    return count


def _trim_to_valid_syntax(text: str, prefix: str, suffix: str, language: str | None) -> str:
    """Drop trailing lines of a multi-line completion that add syntax errors (tree-sitter, if present)."""
    if language is None or "\n" not in text:
        return text
    pre, suf = prefix[-_SYNTAX_WINDOW:], suffix[:_SYNTAX_WINDOW]
    baseline = _syntax_errors(pre + suf, language)
    if baseline is None:
        return text
    lines = text.split("\n")
    for keep in range(len(lines), 0, -1):
        candidate = "\n".join(lines[:keep])
        errors = _syntax_errors(pre + candidate + suf, language)
        if errors is not None and errors <= baseline:
            return candidate
    return text  # nothing parses better: keep the heuristic result


def _drop_dangling_opener(text: str, language: str | None) -> str:
    """Python: drop a last line that opens a block whose body is not there (`else:`).

    A multi-line answer cut by the token limit loses its unfinished last line; the line before
    it may open a block that the suggestion would then leave empty. The lines above stand on
    their own; the opener waits for the next suggestion. (Brace languages are left alone:
    dropping a `} else {` line would unbalance the braces above it.)
    """
    if not _is_python(language):
        return text
    lines = text.split("\n")
    while len(lines) > 1 and lines[-1].split("#")[0].rstrip().endswith(":"):
        lines.pop()
    return "\n".join(lines)


def postprocess(completion: str, *, prefix: str, suffix: str, language: str | None) -> str:
    """The part of ``completion`` worth inserting between ``prefix`` and ``suffix``."""
    language = language or None
    text = completion.replace("\r\n", "\n")
    if not text.strip():
        return ""
    line_before = prefix.rpartition("\n")[2]
    if not line_before.strip() and text.startswith("\n"):
        # the cursor sits on a blank, indented line: blank lines first would push the code
        # away from it, and the indentation is already typed
        text = text.lstrip("\n")
        if line_before and text.startswith(line_before):
            text = text[len(line_before) :]
    cur = _cursor(prefix, suffix, language)
    if cur.single_line:
        text = text.split("\n", 1)[0]
    else:
        text, _ = _multiline_cut(text, cur)
        text = "\n".join(_drop_prefix_echo(text.split("\n"), prefix))
        text = _trim_to_valid_syntax(text, prefix, suffix, language)
        text = _drop_dangling_opener(text, language)
    text = _drop_suffix_overlap(text, suffix, cur.single_line)
    text = _drop_extra_closers(text, prefix, suffix, language)
    if not (cur.single_line and suffix[:1] and not suffix[:1].isspace()):
        text = text.rstrip()  # keep a space that separates the completion from the suffix text
    return text if text.strip() else ""


class UnitEnd:
    """``on_text`` stop callback: True once the completion so far has closed its unit.

    The prefix is lexed once, here, not again after every generated token. Single-line mode
    ends at the first newline after some content; multi-line mode at a dedent below the
    block, an unmatched closer, a repeated line, or the line limit.
    """

    def __init__(self, prefix: str, language: str | None, suffix: str = "") -> None:
        self.cur = _cursor(prefix, suffix, language or None)
        self.last_lines = [ln.strip() for ln in prefix.split("\n")[:-1] if ln.strip()][-2:]

    def __call__(self, text: str) -> bool:
        if self.cur.single_line:
            return "\n" in text
        _, cut = _multiline_cut(text, self.cur)
        if cut:
            return True
        lines = self.last_lines
        done = [ln.strip() for ln in text.split("\n")[:-1]]
        return len(lines) == 2 and any(done[i : i + 2] == lines for i in range(len(done) - 1))


def is_unit_complete(text: str, prefix: str, language: str | None, suffix: str = "") -> bool:
    """One-off form of `UnitEnd` (tests, callers that check once)."""
    return UnitEnd(prefix, language, suffix)(text)
