"""What a completion request builds and returns: its prompt (the text, the head that stays while
the user types, its chat form, what the answer must not start with) and its result."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ragls.filetypes import comment_prefix
from ragls.retrieval.body_context import body_start
from ragls.retrieval.cursor import Cursor
from ragls.retrieval.types import Snippet

DOC_QUOTES = ('"""', "'''")
# how a second docstring would open (raw ones too: sympy writes r"""; a body's first token can
# then not be a lone name `r`)
DOC_OPENINGS = (*DOC_QUOTES, 'r"""', "r'''")
# openings of what follows a body rather than what starts one (a body's first token can then
# not be a lone name `d`)
NOT_A_BODY_START = ("@",)
METHOD_NOT_A_BODY_START = ("def ",)
_SELF_FIRST = re.compile(r"\(\s*(?:self|cls)\b")

PREFIX_LINES = 60  # at most this many lines of the buffer before the cursor go into the prompt
SUFFIX_LINES = 6  # a short suffix: it is read again on every keystroke
# The prefix window starts on a multiple of this many lines, so moving the cursor down a line
# does not change the start of the prompt (and llama.cpp can reuse its KV cache).
WINDOW_ALIGN = 16
# Share of the prompt for the code around the cursor (the rest is cross-file context). Measured
# on 60 empty-body tasks with the 0.5B model (bench/completion_bench.py --prefix-share): first-line
# ES 0.280 at 0.45, 0.297 at 0.65, 0.272 at 0.80 (where the gold left the context a quarter of
# the time); differences this size are within the noise of 60 tasks (see the paired intervals).
# The suffix's share in the lean 1 s prompt (--methods none --cold-prompt-ms 1000 --suffix-share):
# 0.25 against 0.08 gave ES +0.023 [-0.025, +0.074] and log-probability +0.05 [-0.16, +0.27],
# noise both; in the full prompt the suffix is read again on every keystroke.
PREFIX_SHARE, SUFFIX_SHARE = 0.65, 0.08
# The code before the cursor gets at least this many tokens before cross-file context gets any,
# and context smaller than MIN_CONTEXT_TOKENS (about one stub) is not retrieved. In 244-token
# prompts (3 s of reading for the 1.5B model on two cores, 1.6 s for the 0.5B) context gained
# neither model anything on the 60 empty-body tasks: ES 0.408 with it, 0.451 without (1.5B),
# 0.275 / 0.279 (0.5B); the 0.5B model's 422-token prompt (274 for the code) gained 1.08x from
# its context, and 1.12x at 1,040 tokens.
MIN_CODE_TOKENS, MIN_CONTEXT_TOKENS = 256, 48
# At most this share of the prompt (taken from the code's) for the file's own imports above the
# window (file_head.py): the expected line's log-probability per token -2.614 with them, -2.683
# without (bench/completion_bench.py --score logprob, 60 tasks, 3 s prompts; a gain within noise).
HEAD_SHARE = 0.2


@dataclass
class CompletionResult:
    completion: str
    model: str
    context: list[Snippet]
    elapsed_ms: float
    timings: dict[str, float] = field(default_factory=dict)
    ungrounded: list[str] = field(default_factory=list)  # invented names in what the model wrote
    raw: str = ""  # the model's text before post-processing (for debugging and benchmarks)
    prompt_tokens: int = 0
    cached_tokens: int = 0  # prompt tokens the model did not have to read again
    # model | lean (the model, from the lean prompt: the full one was not cached) | typed-ahead | none
    source: str = "model"

    def to_json(self) -> dict[str, Any]:
        return {
            "completion": self.completion,
            "model": self.model,
            "context": [s.to_json() for s in self.context],
            "elapsed_ms": round(self.elapsed_ms, 3),
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "ungrounded": list(self.ungrounded),
            "prompt_tokens": self.prompt_tokens,
            "cached_tokens": self.cached_tokens,
            "source": self.source,
        }


@dataclass
class Prompt:
    text: str
    stable_chars: int  # the head that stays while the user types on this line
    prefix: str  # the windowed prefix and suffix the prompt holds
    suffix: str
    context: list[Snippet]
    avoid: tuple[str, ...] = ()  # what the answer must not open with (avoid_at_start)
    heal: str = ""  # the end of `prefix` left out of `text`; the answer must begin with it


CURSOR_MARK = "<CURSOR>"
CHAT_SYSTEM = (
    "You complete code. Reply with only the code that belongs at <CURSOR>, in a fenced block: "
    "no explanation, and do not repeat the code before or after the cursor."
)


def chat_messages(prompt: Prompt, language: str | None) -> list[dict[str, str]]:
    """The chat form of a completion prompt: the context files, then the file with a cursor mark."""
    lang = language or ""
    parts = [f"File {s.path}:\n```{lang}\n{s.text}\n```" for s in reversed(prompt.context)]
    parts.append(f"Complete at {CURSOR_MARK}:\n```{lang}\n{prompt.prefix}{CURSOR_MARK}{prompt.suffix}\n```")
    return [{"role": "system", "content": CHAT_SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]


# Token healing leaves the cursor line's last space or tab out of the prompt: a BPE
# pre-tokenizer gives a run of spaces' last one to the word after it ("       " + " try"), so a
# prompt that ends in whitespace shows the model a boundary it never saw in training.
# Only whitespace: a prompt that ends at a word's last letter is a natural boundary when the
# word is complete, and healing words measured worse while typing (README, completion).
_HEAL = re.compile(r"[ \t]\Z")


def heal_cut(prefix: str) -> str:
    """What token healing leaves out at the end of `prefix` ("" for nothing)."""
    m = _HEAL.search(prefix)
    return m.group(0) if m else ""


def stable_head(prompt: str, prefix: str, template: Any) -> int:
    """Characters of `prompt` that stay while the user types on the cursor line.

    The head ends where the cursor line starts inside the prompt's prefix. Formats that put
    the suffix first have no such head.
    """
    if getattr(template, "suffix_first", False) or not prefix:
        return 0
    at = prompt.rfind(prefix)
    if at < 0:
        return 0
    return at + prefix.rfind("\n") + 1


def avoid_at_start(cursor: Cursor, language: str | None) -> tuple[str, ...]:
    """What an answer at the start of an empty body (at `cursor`) must not begin with.

    A small model there often writes what comes after the body instead of the body: a second
    docstring (where the function has one), a decorator, or, in a method, the next method's
    `def` line (in typing_bench.py 4 of 24 first suggestions in a file just opened were a
    neighbour's `def ...(self)`). A nested function stays possible outside classes.
    """
    if language != "python" or cursor.line_before.strip():
        return ()
    scope = body_start(language, cursor.lines, cursor.line, cursor.col)  # the buffer split once
    if scope is None:
        return ()
    doc = DOC_OPENINGS if scope.doc.strip() else ()
    # a class around it, or (a buffer fragment without the class line) a `self` or `cls` first parameter
    method = scope.parent is not None or _SELF_FIRST.search(scope.header) is not None
    return (*doc, *NOT_A_BODY_START, *(METHOD_NOT_A_BODY_START if method else ()))


def gains_from_context(cursor: Cursor, language: str | None) -> bool:
    """False where cross-file context cannot help: an empty file, a comment, inside a string."""
    if not cursor.text.strip():
        return False
    before = cursor.line_before.lstrip()
    if before.startswith(comment_prefix(language)):
        return False
    if language == "python" and (cursor.prefix.count('"""') % 2 or cursor.prefix.count("'''") % 2):
        return False
    return not any(before.count(q) % 2 for q in ('"', "'", "`"))
