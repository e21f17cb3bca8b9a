"""The completion benchmark's tasks, how an answer is scored, and the Jaccard-window baseline.

Shared by completion_bench.py's methods: the expected first line of a task, what the editor
holds, the definitions a task needs, first-line edit similarity, the task sample, and the
RepoCoder / Cody Jaccard windows packed into the engine's context budget.
"""

from __future__ import annotations

from pathlib import Path

from baselines import WindowIndex, query_text
from body_tasks import BodyTask, load_body_tasks
from common import Package
from tasks import Task, load_tasks

JACCARD_CANDIDATES = 50
ORACLE_LINES = 12


def expected_line(task: Task | BodyTask) -> str:
    """The first line the model must write: the removed body's first line, or the rest of the line."""
    if isinstance(task, BodyTask):
        return first_line(task.removed_body)
    lines = task.buffer_full_text.splitlines()
    return lines[task.line - 1][task.col - 1 :].strip()


def buffer_of(task: Task | BodyTask) -> str:
    """What the editor holds: the file with the body removed, or the file up to the cursor."""
    return task.buffer_text if isinstance(task, BodyTask) else task.buffer_prefix_text


def golds_of(task: Task | BodyTask) -> list[tuple[str, str, int]]:
    """(symbol, path, start line) of each definition the task needs."""
    return [(sym, path, start) for sym, path, start, _ in gold_spans(task)]


def gold_spans(task: Task | BodyTask) -> list[tuple[str, str, int, int]]:
    """(symbol, path, start line, end line) of each definition the task needs."""
    if isinstance(task, BodyTask):
        return [(g[0], g[1], g[2], g[3]) for g in task.golds]
    return [(task.symbol, task.gold_path, task.gold_start, task.gold_end)]


def first_line(completion: str) -> str:
    for ln in completion.splitlines():
        if ln.strip():
            return ln.strip()
    return ""


def levenshtein(a: str, b: str) -> int:
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def edit_similarity(a: str, b: str) -> float:
    if not a and not b:
        return 1.0
    return 1.0 - levenshtein(a, b) / max(len(a), len(b))


def sample_tasks(pkgs: list[Package], total: int, kind: str = "body") -> dict[str, list]:
    """`total` tasks spread evenly over the packages (the first ones of each, seeded order)."""
    load = load_body_tasks if kind == "body" else load_tasks
    pools = {p.name: load(p) for p in pkgs}
    picked = {p.name: 0 for p in pkgs}
    left = total
    while left > 0 and any(picked[n] < len(pools[n]) for n in pools):
        for name in pools:
            if left > 0 and picked[name] < len(pools[name]):
                picked[name] += 1
                left -= 1
    return {n: pools[n][: picked[n]] for n in pools}


class ContextOverride:
    """Snippets a baseline chooses instead of ragls' retrieval, within the engine's token budget
    and top_k: the files' lines they are cut from, and whether a span overlaps one chosen."""

    def __init__(self, root: Path, budget_tokens: int, top_k: int, count_tokens):
        self.root = root
        self.budget, self.top_k, self.count = budget_tokens, top_k, count_tokens
        self._lines: dict[str, list[str]] = {}

    def lines(self, path: str) -> list[str]:
        if path not in self._lines:
            self._lines[path] = (self.root / path).read_text(encoding="utf-8", errors="replace").splitlines()
        return self._lines[path]

    def _text(self, path: str, start: int, end: int) -> str:
        return "\n".join(self.lines(path)[start - 1 : end])

    @staticmethod
    def overlaps(chosen, path: str, start: int, end: int) -> bool:
        return any(s.path == path and s.start_line <= end and start <= s.end_line for s in chosen)


class Jaccard(ContextOverride):
    """Top Jaccard-20 windows as Snippets within the engine's token budget and top_k."""

    def __init__(self, root: Path, budget_tokens: int, top_k: int, count_tokens):
        super().__init__(root, budget_tokens, top_k, count_tokens)
        self.windows = WindowIndex(root)

    def snippets(self, task: Task):
        from ragls.retrieval.types import Snippet

        out: list[Snippet] = []
        used = 0
        spans = self.windows.jaccard(query_text(task.buffer_prefix_text), task.file, k=JACCARD_CANDIDATES)
        for rank, (path, start, end) in enumerate(spans):
            if len(out) >= self.top_k or used >= self.budget:
                break
            if self.overlaps(out, path, start, end):
                continue  # stride 10 < window 20: neighbours overlap
            text = self._text(path, start, end)
            cost = self.count(text)
            if used + cost <= self.budget:
                out.append(Snippet(path, start, end, 1.0 / (rank + 1), ["jaccard-20"], text))
                used += cost
        return out


class Oracle(ContextOverride):
    """The task's own gold definitions as context: what a perfect retriever would hand over.

    An upper bound for retrieval's ranking, not a method: it reads the answer. Definitions the
    expected first line names come first, then the rest of the body's; each is whole when it
    has at most `ORACLE_LINES` lines and fits, else its stub (header and first docstring line,
    as ragls packs it). What budget and top_k leave is filled with ragls' own snippets for the
    task (`fill`), so the prompt is as large as ragls' and only the ranking differs.
    """

    def __init__(self, root: Path, budget_tokens: int, top_k: int, count_tokens, fill=None):
        super().__init__(root, budget_tokens, top_k, count_tokens)
        self.fill = fill  # task -> ragls' packed snippets

    def snippets(self, task: Task | BodyTask):
        from ragls.retrieval.stubs import stub_range
        from ragls.retrieval.types import Snippet

        want = expected_line(task)
        spans = sorted(gold_spans(task), key=lambda g: g[0].split(".")[-1] not in want)
        out: list[Snippet] = []
        used = 0
        for rank, (symbol, path, start, end) in enumerate(spans):
            if len(out) >= self.top_k:
                break
            stub_end = stub_range(self.lines(path), start, end)[1]
            for last in ([end] if end - start < ORACLE_LINES else []) + [stub_end]:
                text = self._text(path, start, last)
                cost = self.count(text)
                if used + cost <= self.budget:
                    out.append(Snippet(path, start, last, 1.0 / (rank + 1), ["oracle"], text, symbol))
                    used += cost
                    break
        for snip in self.fill(task) if self.fill else []:
            if len(out) >= self.top_k:
                break
            if self.overlaps(out, snip.path, snip.start_line, snip.end_line):
                continue
            cost = self.count(snip.text)
            if used + cost <= self.budget:
                out.append(snip)
                used += cost
        return out
