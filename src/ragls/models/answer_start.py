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


class _Index:
    """Byte strings sorted for prefix look-ups: which ids' strings begin with a text, or are one."""

    def __init__(self, strings: list[bytes]) -> None:
        order = sorted(range(len(strings)), key=strings.__getitem__)
        self.sorted = [strings[i] for i in order]
        self.order = np.array(order, dtype=np.int64)
        self.exact: dict[bytes, list[int]] = {}
        for i, p in enumerate(strings):
            if p:
                self.exact.setdefault(p, []).append(i)

    def starting_with(self, text: bytes) -> np.ndarray:
        """Ids whose string begins with `text` (a range of the sorted strings)."""
        lo = bisect.bisect_left(self.sorted, text)
        hi = lo
        if text and text[-1] < 255:
            hi = bisect.bisect_left(self.sorted, text[:-1] + bytes([text[-1] + 1]), lo)
        else:
            while hi < len(self.sorted) and self.sorted[hi].startswith(text):
                hi += 1
        return self.order[lo:hi]

    def prefixes_of(self, text: bytes, shortest: int = 1) -> np.ndarray:
        """Ids whose string is a proper prefix of `text`, at least `shortest` bytes long."""
        return np.array([i for k in range(shortest, len(text)) for i in self.exact.get(text[:k], ())],
                        dtype=np.int64)

    def opening(self, text: bytes, shortest: int = 1) -> np.ndarray:
        """Ids whose string begins with `text` or is a proper prefix of it (a token that could start it)."""
        return np.union1d(self.starting_with(text), self.prefixes_of(text, shortest))


class AnswerStart:
    """The vocabulary's pieces, indexed for prefix look-ups, and the logits processors built on them."""

    def __init__(self, llm: Any) -> None:
        self._llm = llm
        self._pieces: list[bytes] | None = None
        self._raw: _Index | None = None  # the pieces as they are
        self._bare: _Index | None = None  # the pieces without leading whitespace
        self._sets: LRUCache[tuple[Any, ...], np.ndarray] = LRUCache(256)
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
            self._raw = _Index(pieces)
            self._bare = _Index([p.lstrip() for p in pieces])
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

    # --- token sets (each built once, from the sorted pieces) -----------------------------------

    def _memo(self, key: tuple[Any, ...], build: Any) -> np.ndarray:
        hit = self._sets.get(key)
        if hit is None:
            hit = build()
            self._sets.put(key, hit)
        return hit

    def allowed(self, left: bytes, avoid: Sequence[str] = (), tight: bool = False) -> np.ndarray:
        """Ids of tokens that agree with the healed text still to come (`left`): pieces that
        begin with it, or with which it begins. Pieces that run past it must not open the
        answer with one of `avoid`, nor (`tight`: the healed text is the line's indentation)
        with more whitespace."""
        return self._memo(("allowed", left, tuple(avoid), tight), lambda: self._allowed(left, avoid, tight))

    def _allowed(self, left: bytes, avoid: Sequence[str], tight: bool) -> np.ndarray:
        raw, pieces = self._raw, self._pieces or []
        assert raw is not None
        longer = raw.starting_with(left)
        if tight:  # past `left` comes no whitespace, so what follows it opens the answer as it is
            out = [raw.starting_with(left + s) for s in _SPACE]
            out += [raw.opening(left + w.encode(), len(left) + 1) for w in avoid]
            longer = np.setdiff1d(longer, np.concatenate(out)) if out else longer
        elif avoid:
            keep = [i for i in longer if not _opens_with(pieces[i][len(left):], avoid)]
            longer = np.array(keep, dtype=np.int64)
        return np.union1d(longer, raw.prefixes_of(left))

    def ruled_out(self, avoid: Sequence[str]) -> np.ndarray:
        """Ids of tokens that would open an answer (leading whitespace aside) with one of `avoid`."""
        bare = self._bare
        assert bare is not None
        return self._memo(("avoid", tuple(avoid)), lambda: np.unique(np.concatenate(
            [bare.opening(w.encode()) for w in avoid])))

    def spacing(self) -> np.ndarray:
        """Ids of tokens that begin with whitespace (a newline included)."""
        raw = self._raw
        assert raw is not None
        return self._memo(("space",), lambda: np.unique(np.concatenate(
            [raw.starting_with(c) for c in _SPACE])))

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
