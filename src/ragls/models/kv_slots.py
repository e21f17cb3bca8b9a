"""Saved KV-cache states of recent prompts, so that switching back to one costs a copy, not a read.

llama.cpp keeps one sequence: the tokens of the last evaluation. A prompt that shares only a
short start with it (another file, another place in the file, or the short prompt answered
while a long one was being warmed) throws the rest away, and coming back means reading it
all again (seconds on two cores). Before a long tail is thrown away, its state (the sequence's
KV cells, ~12 KB per token for the 0.5B model) is copied out; a later prompt that shares more
with a saved state than with the live one gets that state copied back in.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

SLOTS = 3  # saved states besides the live one
MIN_TOKENS = 64  # a tail shorter than this is cheaper to read again than to save
MAX_BYTES = 256 * 1024 * 1024  # all saved states together


@dataclass
class _Slot:
    tokens: list[int]
    data: Any  # ctypes byte array: the sequence's state as llama.cpp serialises it
    size: int


def shared_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if int(x) != y:
            break
        n += 1
    return n


class KVSlots:
    """The live sequence of one ``llama_cpp.Llama`` plus up to ``SLOTS`` saved ones.

    Only the model's worker thread calls ``reuse``; ``known`` may be called from any thread
    (it reads snapshots).
    """

    def __init__(self, llm: Any, slots: int = SLOTS, max_bytes: int = MAX_BYTES) -> None:
        self._llm = llm
        self._max_slots = slots
        self._max_bytes = max_bytes
        self._slots: list[_Slot] = []  # most recently used last
        self._lock = threading.Lock()
        self.saves = self.restores = 0

    def live_tokens(self) -> list[int]:
        llm = self._llm
        return [int(t) for t in llm.input_ids[: llm.n_tokens]]

    def known(self, tokens: Sequence[int]) -> int:
        """The longest start of ``tokens`` held by the live sequence or a saved one."""
        with self._lock:
            saved = [s.tokens for s in self._slots]
        return max([shared_prefix(self.live_tokens(), tokens)] + [shared_prefix(s, tokens) for s in saved])

    def reuse(self, tokens: Sequence[int]) -> int:
        """Make the live sequence start with as much of ``tokens`` as any state holds; return
        that count. The live sequence's tail past it is saved first when it is long."""
        live = self.live_tokens()
        shared = shared_prefix(live, tokens)
        best, best_shared = None, shared
        with self._lock:
            for slot in self._slots:
                n = shared_prefix(slot.tokens, tokens)
                if n > best_shared:
                    best, best_shared = slot, n
        if best is not None and best_shared - shared >= MIN_TOKENS // 4:
            self._save(live, shared)
            if self._restore(best):
                return best_shared
            return 0
        self._save(live, shared)
        return shared

    # --- worker side --------------------------------------------------------------------

    def _save(self, live: list[int], keep: int) -> None:
        """Save the live state when the part about to be dropped (past ``keep``) is long."""
        if len(live) - keep < MIN_TOKENS:
            return
        with self._lock:
            if any(s.tokens[: len(live)] == live for s in self._slots):
                return  # a saved state already holds all of it
        import llama_cpp

        ctx = self._llm._ctx.ctx
        size = int(llama_cpp.llama_state_seq_get_size(ctx, 0))
        if size <= 0 or size > self._max_bytes:
            return
        data = (ctypes.c_uint8 * size)()
        got = int(llama_cpp.llama_state_seq_get_data(ctx, data, size, 0))
        if got <= 0:
            return
        with self._lock:
            # a saved state that the new one extends is no longer needed
            self._slots = [s for s in self._slots if live[: len(s.tokens)] != s.tokens]
            self._slots.append(_Slot(live, data, got))
            while len(self._slots) > self._max_slots or sum(s.size for s in self._slots) > self._max_bytes:
                self._slots.pop(0)
        self.saves += 1

    def _restore(self, slot: _Slot) -> bool:
        import llama_cpp

        llm = self._llm
        ctx = llm._ctx.ctx
        with self._lock:
            if slot in self._slots:
                self._slots.remove(slot)
        llama_cpp.llama_memory_seq_rm(llama_cpp.llama_get_memory(ctx), 0, -1, -1)
        ok = int(llama_cpp.llama_state_seq_set_data(ctx, slot.data, slot.size, 0))
        if ok <= 0:  # the cells are gone: read everything again
            logger.debug("restoring a saved KV state failed; the prompt is read again")
            llm.n_tokens = 0
            return False
        n = len(slot.tokens)
        llm.input_ids[:n] = slot.tokens
        llm.n_tokens = n
        llm._requires_eval = True  # no logits for the last token: generation evaluates one again
        self.restores += 1
        return True
