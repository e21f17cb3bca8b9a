"""Records of retrieval: the cursor query, candidates, packed snippets and the settings."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class CursorQuery:
    """Where the editor's cursor is; `text` is the unsaved buffer (None: overlay or disk)."""

    path: str  # workspace-relative
    line: int  # 1-based
    col: int  # 1-based
    text: str | None = None


@dataclass
class Snippet:
    """One packed piece of context: a line range of a file, with its fused score."""

    path: str
    start_line: int
    end_line: int
    score: float
    sources: list[str]
    text: str
    symbol: str | None = None

    def to_json(self) -> dict:
        return {
            "path": self.path,
            "start_line": self.start_line,
            "end_line": self.end_line,
            "score": round(float(self.score), 6),
            "sources": list(self.sources),
            "text": self.text,
        }


@dataclass
class RetrievalResult:
    snippets: list[Snippet]
    elapsed_ms: float
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class Candidate:
    """What a source proposes, before fusion: a line range, the text, and why.

    `score` is the source's own score (only its rank order matters to fusion);
    `sources` are tags such as "graph:import" or "lexical"; `signature`/`doc` let
    packing condense a long definition. A stub (`full_end` set) is the header of a
    longer definition: its range and text are the header lines, `body` the whole.
    """

    path: str
    start_line: int
    end_line: int
    text: str
    score: float
    sources: list[str] = field(default_factory=list)
    symbol: str | None = None
    chunk_id: str | None = None
    signature: str = ""
    doc: str = ""
    from_buffer: bool = False  # cut from the current buffer (not the disk index)
    full_end: int | None = None  # a stub: the definition goes on to this line
    body: str = ""  # a stub: the definition's lines start_line..full_end

    @property
    def key(self) -> str:
        return self.chunk_id or f"{self.path}:{self.start_line}-{self.end_line}"

    def overlaps(self, other: Candidate) -> bool:
        return (
            self.path == other.path
            and self.start_line <= other.end_line
            and other.start_line <= self.end_line
        )


DEFAULT_WEIGHTS: dict[str, float] = {"graph": 2.0, "dense": 0.7, "lexical": 0.6, "recent": 0.3}


@dataclass
class RetrievalConfig:
    """Knobs of retrieval; the defaults suit inline completion with a small local model."""

    top_k: int = 8
    budget_tokens: int = 1024
    sources: tuple[str, ...] = ("graph", "dense", "lexical")
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    rrf_k: int = 60
    graph_lead: int = 2  # the graph's best candidates open the fused list
    prefix_window_lines: int = 40  # lines before the cursor used as the query
    suffix_window_lines: int = 20  # lines after the cursor the prompt shows anyway
    max_snippet_lines: int = 60
    signature_only_over_lines: int = 40  # longer definitions may be condensed to fit the budget
    latency_budget_ms: float = 25.0  # past it, remaining slow stages are skipped
    per_source_limit: int = 30  # candidates each source proposes
    # Ranking for an empty function body (body_context.BODY_SIGNALS); remove one to turn it off.
    # The others ("unused", "siblings", "callers", "header_dense") measured no gain on
    # bench/body_bench.py and stay off (README, Retrieval).
    body_signals: tuple[str, ...] = ("header", "pagerank", "fill")
    # Sources for an empty body when the caller names none: lexical matching of the lines
    # before the cursor found nothing the graph did not (bench/body_bench.py) and costs ~8 ms.
    body_sources: tuple[str, ...] = ("graph", "dense", "recent")
    body_fill_limit: int = 160  # graph candidates proposed for an empty body when "fill" is on
    fill_budget: bool = True  # after top_k, keep packing compact definition stubs while the budget lasts
