"""How likely the model finds the right line after a prompt: the gold line's log-probability.

Greedy first-line edit similarity (completion_bench.py's ES) is what a user sees, but on 60
tasks it is noisy: a small prompt change flips single greedy answers by +-0.7 and moves the
mean by a few hundredths either way. Scoring the expected line under the prompt (teacher
forcing) measures the same question, does this context make the right code more likely, with
far less noise, so prompt choices can be made on it.

The model is a second llama.cpp instance of the engine's GGUF (the engine's own stays as the
engine keeps it): the prompt is read once, then the expected line's tokens one at a time, the
log-softmax of each next-token distribution giving that token's log-probability. The line is
scored without its newline: BPE merges a newline with the line's last characters ("()\n"), so
the newline would charge each line for how the model prefers to end it, not for its code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class GoldScore:
    tokens: int
    logprob: float  # summed over the line's tokens (nats)

    @property
    def per_token(self) -> float:
        return self.logprob / max(1, self.tokens)


class GoldScorer:
    def __init__(self, model_path: str | Path, n_ctx: int = 4096, threads: int = 2) -> None:
        from llama_cpp import Llama

        self.llm = Llama(model_path=str(model_path), n_ctx=n_ctx, n_threads=threads,
                         n_threads_batch=threads, n_batch=512, logits_all=False, verbose=False)
        self.n_vocab = self.llm.n_vocab()

    def _last_logprobs(self) -> np.ndarray:
        logits = np.ctypeslib.as_array(self.llm._ctx.get_logits(), shape=(self.n_vocab,)).astype(np.float64)
        top = logits.max()
        return logits - top - math.log(np.exp(logits - top).sum())

    def score(self, prompt: str, line: str) -> GoldScore:
        """log P(line | prompt) under the model."""
        llm = self.llm
        head = llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
        gold = llm.tokenize(line.encode("utf-8"), add_bos=False, special=False)
        if len(head) + len(gold) >= llm.n_ctx():
            raise ValueError(f"prompt of {len(head)} tokens does not fit n_ctx {llm.n_ctx()}")
        llm.reset()
        llm.eval(head)
        total = 0.0
        for tok in gold:
            total += float(self._last_logprobs()[tok])
            llm.eval([tok])
        return GoldScore(len(gold), total)

    def close(self) -> None:
        self.llm.close()
