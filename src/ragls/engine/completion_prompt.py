"""A completion prompt: its text, the head that stays while the user types, and its chat form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ragls.retrieval.types import Snippet


@dataclass
class Prompt:
    text: str
    stable_chars: int  # the head that stays while the user types on this line
    prefix: str  # the windowed prefix and suffix the prompt holds
    suffix: str
    context: list[Snippet]
    buffer_prefix: str = ""  # the whole buffer before the cursor (the prompt holds its end)


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
