"""Degenerate repetition: a small model that loops writes the same lines until its token limit.

Seen with the 0.5B model in `make demo`: asked for tests of `line_count`, it wrote the example
test four times over and then ran out of tokens; asked again, it wrote `"a\\nb\\n\\n\\n...` until
the limit. Each such reply cost the whole `max_tokens` (512 tokens, about 20 s on two cores)
for nothing past its first copy. The token loop stops a reply once it loops:
- its last k complete lines (k <= 12, at least 40 characters that are not spaces) are the same
  as the k before them (and the k before those, for one or two lines: a short line may repeat
  on purpose), or
- its last 128 characters repeat a pattern of at most 16 (`\\n\\n\\n...`, `0, 0, 0, ...`).
What was written before the loop is kept; callers cut the rest as they would a reply that ran
out of tokens (the longest start that parses, the completion's unit).
"""

from __future__ import annotations

MAX_BLOCK_LINES = 12
MIN_BLOCK_CHARS = 40
TAIL_CHARS = 128
MAX_PERIOD = 16
_SCAN_CHARS = 4000  # only the end of a long reply is looked at


def looping(text: str) -> bool:
    """Whether `text` ends in a loop (see the module docstring)."""
    return _repeated_lines(text) or _periodic_tail(text)


def _repeated_lines(text: str) -> bool:
    lines = text[-_SCAN_CHARS:].split("\n")[:-1]  # complete lines only
    for k in range(1, MAX_BLOCK_LINES + 1):
        copies = 3 if k <= 2 else 2
        if len(lines) < k * copies:
            break
        block = lines[-k:]
        if sum(len(line.strip()) for line in block) < MIN_BLOCK_CHARS:
            continue
        if all(lines[len(lines) - k * (r + 1) : len(lines) - k * r] == block for r in range(1, copies)):
            return True
    return False


def _periodic_tail(text: str) -> bool:
    tail = text[-TAIL_CHARS:]
    return len(tail) == TAIL_CHARS and any(tail[p:] == tail[:-p] for p in range(1, MAX_PERIOD + 1))
