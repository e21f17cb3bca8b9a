"""How a local model's answer may begin: token healing, and starts known to be wrong.

Token healing. A prompt that ends inside what the tokenizer would have made one token shows
the model a token boundary it never saw in training: after "\\n        " a BPE code model
rarely writes "try", because "        try" is always "       " + " try". It then writes odd
things (more indentation, a docstring, the next function). The engine leaves that end out of
the prompt (`GenerationRequest.heal`; it heals a trailing space or tab, `heal_cut`), and the
answer is held to begin with it: while the answer has not yet covered the left-out text, only
tokens that agree with it may be sampled, and after healed whitespace no more whitespace (the
line's indentation is the user's). The backend hands back what follows it.

Ruled-out starts. A small code model at the start of an empty function body often writes
what follows the body instead: a second docstring, a decorator, the next method's `def`
(`completion_prompt.avoid_at_start` says which). Those tokens are ruled out until the answer
holds more than whitespace (after the healed part), so its most likely code comes instead,
with no second generation.

The vocabulary's pieces are read once, on a background thread after the model loads; until
then nothing is constrained (and the engine does not heal).
"""

from __future__ import annotations

import bisect
import logging
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from ragls.lru import LRUCache

logger = logging.getLogger(__name__)


class AnswerStart:
    """The vocabulary's pieces, sorted for prefix look-ups, and the logits processors built on them."""

    def __init__(self, llm: Any) -> None:
        self._llm = llm
        self._pieces: list[bytes] | None = None
        self._sorted: list[bytes] = []
        self._order: np.ndarray = np.zeros(0, dtype=np.int64)
        self._exact: dict[bytes, list[int]] = {}
        self._allowed: LRUCache[tuple[bytes, tuple[str, ...]], np.ndarray] = LRUCache(256)
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
                pieces.append(model.token_to_piece(i, special=False).rstrip(b"\x00"))
            order = sorted(range(len(pieces)), key=pieces.__getitem__)
            exact: dict[bytes, list[int]] = {}
            for i, p in enumerate(pieces):
                if p:
                    exact.setdefault(p, []).append(i)
            self._sorted = [pieces[i] for i in order]
            self._order = np.array(order, dtype=np.int64)
            self._exact = exact
            self._pieces = pieces  # last: ready() turns true once everything above is in place
        except Exception:  # best effort: without the pieces nothing is constrained
            logger.debug("cannot read the vocabulary's pieces", exc_info=True)

    def ready(self) -> bool:
        return self._pieces is not None

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the pieces are read (tests); True once ready."""
        self._thread.join(timeout)
        return self.ready()

    def stop(self) -> None:
        """Stop reading the vocabulary; returns once the reader is gone (before the model closes)."""
        self._stopped.set()
        self._thread.join()

    # --- token sets ----------------------------------------------------------------------------

    def _starting_with(self, text: bytes) -> np.ndarray:
        """Ids of the pieces that begin with `text` (a range of the sorted pieces)."""
        lo = bisect.bisect_left(self._sorted, text)
        hi = lo
        if text and text[-1] < 255:
            hi = bisect.bisect_left(self._sorted, text[:-1] + bytes([text[-1] + 1]), lo)
        else:
            while hi < len(self._sorted) and self._sorted[hi].startswith(text):
                hi += 1
        return self._order[lo:hi]

    def allowed(self, left: bytes, avoid: Sequence[str] = (), tight: bool = False) -> np.ndarray:
        """Ids of tokens that agree with the healed text still to come (`left`): pieces that
        begin with it, or with which it begins. Pieces that run past it must not open the
        answer with one of `avoid`, nor (`tight`: the healed text is the line's indentation)
        with more whitespace."""
        key = (left, tuple(avoid), tight)
        hit = self._allowed.get(key)
        if hit is not None:
            return hit
        pieces = self._pieces or []
        longer = [int(i) for i in self._starting_with(left)]
        if avoid:
            longer = [i for i in longer if not _opens_with(pieces[i][len(left):], avoid)]
        if tight:
            longer = [i for i in longer if pieces[i][len(left):len(left) + 1] not in _SPACE]
        shorter = [i for k in range(1, len(left)) for i in self._exact.get(left[:k], ())]
        ids = np.array(sorted(set(longer + shorter)), dtype=np.int64)
        self._allowed.put(key, ids)
        return ids

    def ruled_out(self, avoid: Sequence[str]) -> np.ndarray:
        """Ids of tokens that would open an answer (leading whitespace aside) with one of `avoid`."""
        key = (b"\x00avoid", tuple(avoid), False)
        hit = self._allowed.get(key)
        if hit is not None:
            return hit
        ids = np.array([i for i, p in enumerate(self._pieces or []) if _opens_with(p, avoid)], dtype=np.int64)
        self._allowed.put(key, ids)
        return ids

    def spacing(self) -> np.ndarray:
        """Ids of tokens that begin with whitespace (a newline included)."""
        key = (b"\x00space", (), False)
        hit = self._allowed.get(key)
        if hit is not None:
            return hit
        ids = np.array([i for i, p in enumerate(self._pieces or []) if p[:1] in _SPACE], dtype=np.int64)
        self._allowed.put(key, ids)
        return ids

    # --- the processor -------------------------------------------------------------------------

    def processor(self, heal: str, avoid: Sequence[str], prompt_tokens: int) -> Any:
        """A llama-cpp logits processor holding the answer to `heal` and off `avoid` (None: nothing
        to do, or the vocabulary is not read yet)."""
        pieces = self._pieces
        if pieces is None or not (heal or avoid):
            return None
        want = heal.encode()
        tight = bool(want) and want[-1:] in _SPACE  # the indentation is the user's: no more of it

        def constrain(input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
            answer = input_ids[prompt_tokens:]
            written = b"".join(pieces[int(t)] for t in answer) if len(answer) else b""
            if len(written) < len(want):
                ids = self.allowed(want[len(written):], avoid, tight)
                if len(ids):
                    keep = scores[ids].copy()
                    scores[:] = -np.inf
                    scores[ids] = keep
                return scores
            if tight and written == want:
                scores[self.spacing()] = -np.inf
            if avoid and written[len(want):].strip() == b"":
                # still only whitespace after the healed part: the answer has not opened yet
                scores[self.ruled_out(avoid)] = -np.inf
            return scores

        return constrain


_SPACE = (b" ", b"\t", b"\n", b"\r")


def _opens_with(piece: bytes, avoid: Sequence[str]) -> bool:
    """Whether `piece`, leading whitespace aside, begins one of `avoid` (or is the start of one)."""
    p = piece.lstrip()
    return bool(p) and any(p.startswith(w.encode()) or w.encode().startswith(p) for w in avoid)
