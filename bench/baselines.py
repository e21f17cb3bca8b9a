"""Lexical retrieval baselines over a package, independent of ragls.

- `none`: no context at all.
- `jaccard-20`: the RepoCoder / Cody method. Sliding windows of 20 lines (stride 10) over every
  file but the current one; the query is the last 20 lines before the cursor; windows are ranked
  by the Jaccard similarity of their identifier-token sets.
- `bm25-windows`: the same windows and query, ranked by Okapi BM25 (k1=1.2, b=0.75) over
  identifier tokens.

Both share one inverted index (`WindowIndex`), built once per package; a query touches only the
postings of its terms. Each method returns a ranked list of `(path, start_line, end_line)`
(1-based, inclusive).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
from common import identifiers, py_files

WINDOW = 20
STRIDE = 10
QUERY_LINES = 20
K1 = 1.2
B = 0.75

Span = tuple[str, int, int]


def query_text(prefix: str, n_lines: int = QUERY_LINES) -> str:
    """The last `n_lines` lines before the cursor (the prefix buffer's tail)."""
    return "".join(prefix.splitlines(keepends=True)[-n_lines:])


def window_starts(n_lines: int, window: int = WINDOW, stride: int = STRIDE) -> list[int]:
    """0-based first lines of the windows of a file; the last window reaches the end."""
    if n_lines <= window:
        return [0]
    starts = list(range(0, n_lines - window + 1, stride))
    if starts[-1] + window < n_lines:
        starts.append(starts[-1] + stride)
    return starts


class WindowIndex:
    """Sliding windows of every file of a workspace, with postings for Jaccard and BM25."""

    def __init__(self, root: Path, files: list[str] | None = None):
        self.root = root
        self.paths = files if files is not None else py_files(root)
        self.spans: list[Span] = []
        win_file: list[int] = []
        vocab: dict[str, int] = {}
        post_win: list[list[int]] = []
        post_tf: list[list[int]] = []
        set_sizes: list[int] = []
        lengths: list[int] = []
        for fid, rel in enumerate(self.paths):
            lines = (root / rel).read_text(encoding="utf-8", errors="replace").splitlines()
            for start in window_starts(len(lines)):
                end = min(start + WINDOW, len(lines))
                tokens = identifiers("\n".join(lines[start:end]))
                counts = Counter(tokens)
                wid = len(self.spans)
                self.spans.append((rel, start + 1, max(end, start + 1)))
                win_file.append(fid)
                set_sizes.append(len(counts))
                lengths.append(len(tokens))
                for term, tf in counts.items():
                    tid = vocab.setdefault(term, len(vocab))
                    if tid == len(post_win):
                        post_win.append([])
                        post_tf.append([])
                    post_win[tid].append(wid)
                    post_tf[tid].append(tf)
        self.vocab = vocab
        self.file_id = {rel: i for i, rel in enumerate(self.paths)}
        self.win_file = np.asarray(win_file, dtype=np.int32)
        self.set_sizes = np.asarray(set_sizes, dtype=np.float64)
        n = len(self.spans)
        dl = np.asarray(lengths, dtype=np.float64)
        avgdl = float(dl.mean()) if n else 1.0
        self.postings: list[np.ndarray] = [np.asarray(w, dtype=np.int32) for w in post_win]
        self.bm25_weights: list[np.ndarray] = []
        for wins, tfs in zip(self.postings, post_tf, strict=True):
            tf = np.asarray(tfs, dtype=np.float64)
            idf = math.log((n - len(wins) + 0.5) / (len(wins) + 0.5) + 1.0)
            norm = K1 * (1.0 - B + B * dl[wins] / avgdl)
            self.bm25_weights.append(idf * tf * (K1 + 1.0) / (tf + norm))

    def __len__(self) -> int:
        return len(self.spans)

    def _ranked(self, scores: np.ndarray, exclude_path: str | None, k: int) -> list[Span]:
        if exclude_path in self.file_id:
            scores[self.win_file == self.file_id[exclude_path]] = -np.inf
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")]
        return [self.spans[i] for i in top if scores[i] > 0]

    def jaccard(self, query: str, exclude_path: str | None = None, k: int = 50) -> list[Span]:
        terms = set(identifiers(query))
        inter = np.zeros(len(self.spans), dtype=np.float64)
        for term in terms:
            tid = self.vocab.get(term)
            if tid is not None:
                inter[self.postings[tid]] += 1.0
        union = len(terms) + self.set_sizes - inter
        scores = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        return self._ranked(scores, exclude_path, k)

    def bm25(self, query: str, exclude_path: str | None = None, k: int = 50) -> list[Span]:
        scores = np.zeros(len(self.spans), dtype=np.float64)
        for term in set(identifiers(query)):
            tid = self.vocab.get(term)
            if tid is not None:
                scores[self.postings[tid]] += self.bm25_weights[tid]
        return self._ranked(scores, exclude_path, k)


def lexical_methods(index: WindowIndex) -> dict[str, Callable[[str, str], list[Span]]]:
    """name -> f(prefix buffer, task file) -> ranked spans."""
    return {
        "none": lambda prefix, path: [],
        "jaccard-20": lambda prefix, path: index.jaccard(query_text(prefix), path),
        "bm25-windows": lambda prefix, path: index.bm25(query_text(prefix), path),
    }
