"""Keeping a local model from starting its answer with something known to be wrong.

A small code model at the start of a function body that already has a docstring often opens
a second one (on 60 empty-body tasks, 7 of its 12 docstring openings were in such functions).
Ruling those tokens out for the first generated token lets it write its most likely code
instead, at no cost: no second generation. The vocabulary's pieces are read once, on a
background thread after the model loads; until then nothing is ruled out.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)


class FirstTokenBan:
    """Token ids whose text starts one of the given strings (or begins with one)."""

    def __init__(self, llm: Any) -> None:
        self._llm = llm
        self._pieces: list[bytes] | None = None
        self._bans: dict[tuple[str, ...], np.ndarray] = {}
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._read_vocab, name="ragls-vocab", daemon=True)
        self._thread.start()

    def _read_vocab(self) -> None:
        try:
            model = self._llm._model
            pieces = []
            for i in range(self._llm.n_vocab()):
                if self._stopped.is_set():  # the model is being closed: never read freed memory
                    return
                pieces.append(model.token_to_piece(i, special=False).rstrip(b"\x00").lstrip())
            self._pieces = pieces
        except Exception:  # best effort: without the pieces nothing is ruled out
            logger.debug("cannot read the vocabulary's pieces", exc_info=True)

    def stop(self) -> None:
        """Stop reading the vocabulary; returns once the reader is gone (before the model closes)."""
        self._stopped.set()
        self._thread.join()

    def ids(self, starts: Sequence[str]) -> np.ndarray | None:
        """Ids of tokens that would begin an answer with one of ``starts`` (None: not ready)."""
        key = tuple(starts)
        if key in self._bans:
            return self._bans[key]
        pieces = self._pieces
        if pieces is None or not key:
            return None
        wanted = [s.encode() for s in key]
        ids = np.array([i for i, p in enumerate(pieces)
                        if p and any(p.startswith(w) or w.startswith(p) for w in wanted)], dtype=np.int64)
        self._bans[key] = ids
        return ids

    def processor(self, starts: Sequence[str], prompt_tokens: int) -> Any:
        """A llama-cpp logits processor that rules the tokens out for the first answer token."""
        ids = self.ids(starts)
        if ids is None or not len(ids):
            return None

        def ban_first(input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
            if len(input_ids) <= prompt_tokens:
                scores[ids] = -np.inf
            return scores

        return ban_first
