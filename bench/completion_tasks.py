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
        return [tuple(g) for g in task.golds]
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


class Packing:
    """Snippets taken in order while they fit a token budget and top_k."""

    def __init__(self, budget_tokens: int, top_k: int, count_tokens):
        self.budget, self.top_k, self.count = budget_tokens, top_k, count_tokens
        self.snippets: list = []
        self.used = 0

    @property
    def full(self) -> bool:
        return len(self.snippets) >= self.top_k

    def overlaps(self, path: str, start: int, end: int) -> bool:
        return any(s.path == path and s.start_line <= end and start <= s.end_line for s in self.snippets)

    def add(self, snippet) -> bool:
        """Take `snippet` if it fits the budget left."""
        cost = self.count(snippet.text)
        if self.used + cost > self.budget:
            return False
        self.snippets.append(snippet)
        self.used += cost
        return True


class ContextOverride:
    """Snippets a baseline chooses instead of ragls' retrieval, within the engine's token budget
    and top_k, and the files' lines they are cut from. `file_head`: the prompt shows the file's
    imports and scope headers in front of the code, as retrieval's does."""

    file_head = False

    def __init__(self, root: Path, budget_tokens: int, top_k: int, count_tokens):
        self.root = root
        self.budget, self.top_k, self.count = budget_tokens, top_k, count_tokens
        self._lines: dict[str, list[str]] = {}

    def packing(self) -> Packing:
        return Packing(self.budget, self.top_k, self.count)

    def lines(self, path: str) -> list[str]:
        if path not in self._lines:
            self._lines[path] = (self.root / path).read_text(encoding="utf-8", errors="replace").splitlines()
        return self._lines[path]

    def _text(self, path: str, start: int, end: int) -> str:
        return "\n".join(self.lines(path)[start - 1 : end])


class Jaccard(ContextOverride):
    """Top Jaccard-20 windows as Snippets within the engine's token budget and top_k."""

    def __init__(self, root: Path, budget_tokens: int, top_k: int, count_tokens):
        super().__init__(root, budget_tokens, top_k, count_tokens)
        self.windows = WindowIndex(root)

    def snippets(self, task: Task):
        from ragls.retrieval.types import Snippet

        pack = self.packing()
        spans = self.windows.jaccard(query_text(task.buffer_prefix_text), task.file, k=JACCARD_CANDIDATES)
        for rank, (path, start, end) in enumerate(spans):
            if pack.full or pack.used >= self.budget:
                break
            if pack.overlaps(path, start, end):
                continue  # stride 10 < window 20: neighbours overlap
            text = self._text(path, start, end)
            pack.add(Snippet(path, start, end, 1.0 / (rank + 1), ["jaccard-20"], text))
        return pack.snippets


class Oracle(ContextOverride):
    """The task's own gold definitions as context: what a perfect retriever would hand over.

    An upper bound for retrieval's ranking, not a method: it reads the answer. Definitions the
    expected first line names come first, then the rest of the body's; each is whole when it
    has at most `ORACLE_LINES` lines and fits, else its stub (header and first docstring line,
    as ragls packs it). What budget and top_k leave is filled with ragls' own snippets for the
    task (`fill`), so the prompt is as large as ragls' and only the ranking differs.
    """

    file_head = True  # it stands in for retrieval in ragls' own prompt

    def __init__(self, root: Path, budget_tokens: int, top_k: int, count_tokens, fill=None):
        super().__init__(root, budget_tokens, top_k, count_tokens)
        self.fill = fill  # task -> ragls' packed snippets

    def snippets(self, task: Task | BodyTask):
        from ragls.retrieval.stubs import stub_range
        from ragls.retrieval.types import Snippet

        want = expected_line(task)
        spans = sorted(gold_spans(task), key=lambda g: g[0].split(".")[-1] not in want)
        pack = self.packing()
        for rank, (symbol, path, start, end) in enumerate(spans):
            if pack.full:
                break
            stub_end = stub_range(self.lines(path), start, end)[1]
            for last in ([end] if end - start < ORACLE_LINES else []) + [stub_end]:
                snippet = Snippet(path, start, last, 1.0 / (rank + 1), ["oracle"],
                                  self._text(path, start, last), symbol)
                if pack.add(snippet):
                    break
        for snippet in self.fill(task) if self.fill else []:
            if pack.full:
                break
            if not pack.overlaps(snippet.path, snippet.start_line, snippet.end_line):
                pack.add(snippet)
        return pack.snippets
