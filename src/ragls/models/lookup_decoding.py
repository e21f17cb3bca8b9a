"""Prompt-lookup decoding: drafts copied from the prompt, checked by the model in one batch.

A fix rewrites a function the prompt already shows; a test repeats the names and calls of the
code under test. When the last tokens written also occur earlier in the prompt or the answer,
the tokens that followed them there are a cheap guess (a draft) of what comes next. The model
reads the last token and the draft in one batch, with logits for every position; the answer
keeps the longest run of draft tokens the sampler agrees with, plus the sampler's own token
after it, and llama.cpp's KV cache drops what was not kept.

The sampler is the one llama-cpp-python builds for `create_completion` (top-k 40, top-p 0.95,
min-p 0.05, then temperature; greedy at temperature 0), run here in numpy so a draft token can
be checked against its probability: at temperature 0 a draft token is kept when it is the
argmax; above it, it is kept with its probability p(d) and on rejection the token is drawn from
p without d (speculative sampling with a draft that is certain of itself), so the answer is
distributed exactly as without drafts.

On two cores a batch costs almost as much per token as single steps until it is long (0.5B
model: 1 token 26 ms, 5 tokens 97 ms, 9 tokens 145 ms), so a draft is only tried after a
match of `MIN_NGRAM` tokens and grows only while drafts keep being accepted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

MIN_NGRAM, MAX_NGRAM = 3, 6  # tokens of the answer's end that must occur earlier to draft
MIN_DRAFT, MAX_DRAFT = 4, 16  # draft length: starts at MIN_DRAFT, doubles on full acceptance
# (16: a completion arriving during a draft batch waits for it: 230 ms for the 0.5B model here)
TYPING_S = 2.0  # a completion ended this recently: drafts stay at MIN_DRAFT (97 ms a batch)
REST, LONG_REST = 8, 32  # reads without a draft after a rejected one / while most were rejected
TOP_K, TOP_P, MIN_P = 40, 0.95, 0.05  # llama-cpp-python's create_completion defaults

Processor = Callable[[np.ndarray, np.ndarray], np.ndarray]


def find_draft(history: Sequence[int], length: int) -> list[int]:
    """Up to `length` tokens that followed the latest earlier occurrence of `history`'s last
    n-gram (the longest n from MAX_NGRAM down to MIN_NGRAM that occurs); [] when none does."""
    seq = np.asarray(history, dtype=np.int64)
    for n in range(MAX_NGRAM, MIN_NGRAM - 1, -1):
        if len(seq) <= n:
            continue
        tail = seq[-n:]
        windows = np.lib.stride_tricks.sliding_window_view(seq[:-1], n)
        hits = np.flatnonzero((windows == tail).all(axis=1))
        if len(hits):
            start = int(hits[-1]) + n
            return seq[start : start + length].tolist()
    return []


@dataclass
class Sampler:
    """The next token from one row of logits, and whether it keeps a draft token."""

    temperature: float
    seed: int
    processor: Processor | None = None

    def __post_init__(self) -> None:
        self._rng = np.random.default_rng(self.seed)

    def choose(self, ids: Sequence[int], logits: np.ndarray, draft: int | None) -> int:
        """The token after `ids`; `draft` when the sampler accepts it."""
        scores = np.array(logits, dtype=np.float32)
        if self.processor is not None:
            scores = self.processor(np.asarray(ids, dtype=np.intc), scores)
        if self.temperature <= 0:
            return int(np.argmax(scores))
        cand, probs = self._distribution(scores)
        if draft is not None:
            where = np.flatnonzero(cand == draft)
            p = float(probs[where[0]]) if len(where) else 0.0
            if p > 0 and self._rng.random() < p:
                return draft
            if len(where):
                probs = probs.copy()
                probs[where[0]] = 0.0
                total = probs.sum()
                if total <= 0:
                    return draft
                probs /= total
        return int(cand[self._rng.choice(len(cand), p=probs)])

    def _distribution(self, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Candidates and their probabilities after top-k, top-p, min-p and temperature."""
        k = min(TOP_K, len(scores))
        cand = np.argpartition(-scores, k - 1)[:k]
        cand = cand[np.argsort(-scores[cand], kind="stable")]
        logits = scores[cand].astype(np.float64)
        finite = np.isfinite(logits)
        cand, logits = cand[finite], logits[finite]
        if not len(cand):
            return np.array([int(np.argmax(scores))]), np.array([1.0])
        p = np.exp(logits - logits[0])
        p /= p.sum()
        keep = int(np.searchsorted(np.cumsum(p), TOP_P)) + 1  # top-p: the smallest head reaching it
        keep = min(keep, len(cand))
        keep = max(1, int(np.count_nonzero(p[:keep] >= MIN_P * p[0])))  # min-p, of what is left
        cand, logits = cand[:keep], logits[:keep]
        q = np.exp((logits - logits[0]) / self.temperature)
        return cand, q / q.sum()


class LookupDecoder:
    """Generation on a llama-cpp-python `Llama` whose KV cache holds all but the last prompt
    token; yields (text piece, finish reason or None) like a `create_completion` stream."""

    def __init__(self, llm: Any) -> None:
        import llama_cpp

        self.llm = llm
        self._is_eog = lambda t: llama_cpp.llama_vocab_is_eog(llm._model.vocab, t)
        self._pieces: dict[int, bytes] = {}
        self.drafted = 0  # draft tokens the model read
        self.accepted = 0  # of those, tokens the answer kept

    def stream(self, prompt: Sequence[int], max_tokens: int, sampler: Sampler,
               cap: Callable[[], int] = lambda: MAX_DRAFT) -> Iterator[tuple[str, str | None]]:
        """The answer's pieces; a draft holds at most `cap()` tokens when it is read (a completion
        that arrives during a batch waits for it: the caller makes that 0 while one waits)."""
        history = list(prompt)
        policy = _Policy()
        written, undecoded = 0, b""
        while True:
            length = min(policy.length(max_tokens - written - 1), cap())
            draft = find_draft(history, length) if length > 0 else []
            start = int(self.llm.n_tokens)
            rows = self._read([history[-1], *draft])
            kept: list[int] = []
            for i, row in enumerate(rows):
                guess = draft[i] if i < len(draft) else None
                token = sampler.choose(history, row, guess)
                history.append(token)  # the next row's choice sees it
                kept.append(token)
                if token != guess:
                    break
            self._keep(start + len(kept))
            self.drafted += len(draft)
            self.accepted += len(kept) - 1
            policy.update(len(draft), len(kept) - 1)
            for token in kept:
                if self._is_eog(token):
                    yield undecoded.decode("utf-8", errors="replace"), "stop"
                    return
                written += 1
                text, undecoded = _utf8_prefix(undecoded + self._piece(token))
                if written >= max_tokens:
                    yield text + undecoded.decode("utf-8", errors="replace"), None
                    yield "", "length"
                    return
                yield text, None

    def _piece(self, token: int) -> bytes:
        piece = self._pieces.get(token)
        if piece is None:
            piece = self._pieces[token] = self.llm._model.detokenize([token])
        return piece

    def _read(self, tokens: list[int]) -> np.ndarray:
        """Evaluate `tokens` after the cache in one batch; their logits, one row each."""
        llm = self.llm
        n_past = int(llm.n_tokens)
        llm._ctx.kv_cache_seq_rm(-1, n_past, -1)
        llm._batch.set_batch(batch=tokens, n_past=n_past, logits_all=True)
        llm._ctx.decode(llm._batch)
        llm.input_ids[n_past : n_past + len(tokens)] = tokens
        llm.n_tokens = n_past + len(tokens)
        n_vocab = llm.n_vocab()
        rows = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(len(tokens) * n_vocab,))
        return rows.reshape(len(tokens), n_vocab)

    def _keep(self, end: int) -> None:
        """Drop the cache after position `end`: the draft tokens after the first one rejected
        (the token read last before it stays: its successor was chosen from its logits)."""
        llm = self.llm
        if end < llm.n_tokens:
            llm._ctx.kv_cache_seq_rm(-1, end, -1)
            llm.n_tokens = end


def draft_cap(busy: Callable[[], bool], quiet_for: Callable[[float], bool]) -> int:
    """The longest draft to read now: none while a completion waits, MIN_DRAFT while the user
    is typing (completions come every few hundred ms), MAX_DRAFT otherwise."""
    if busy():
        return 0
    return MAX_DRAFT if quiet_for(TYPING_S) else MIN_DRAFT


class _Policy:
    """How long the next draft may be: MIN_DRAFT, doubling while drafts are kept whole; none
    for REST reads after a draft whose first token was rejected, and for LONG_REST reads while
    fewer than half of all draft tokens were kept (a rejected draft token costs about 60% of a
    generated one on two cores)."""

    def __init__(self) -> None:
        self.size, self.rest, self.drafted, self.kept = MIN_DRAFT, 0, 0, 0

    def length(self, room: int) -> int:
        self.rest -= 1
        return min(self.size, room) if self.rest < 0 else 0

    def update(self, drafted: int, kept: int) -> None:
        if not drafted:
            return
        self.drafted, self.kept = self.drafted + drafted, self.kept + kept
        self.size = min(MAX_DRAFT, self.size * 2) if kept == drafted else MIN_DRAFT
        if kept == 0:
            self.rest = REST
        if self.drafted >= MIN_DRAFT * 4 and self.kept * 2 < self.drafted:
            self.rest = LONG_REST


def _utf8_prefix(data: bytes) -> tuple[str, bytes]:
    """(the longest prefix of `data` that is whole UTF-8 characters, decoded; the rest)."""
    for cut in range(len(data), max(-1, len(data) - 4), -1):
        try:
            return data[:cut].decode("utf-8"), data[cut:]
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace"), b""
