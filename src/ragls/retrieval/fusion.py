"""Weighted reciprocal rank fusion of the sources' candidates, with overlap removal.

Each source ranks its own candidates; a candidate at rank r (0-based) of source s
earns weight[s] / (rrf_k + r + 1). Candidates that are the same chunk or overlap
(same path, overlapping lines) merge: the union of their sources, per source the
best contribution, summed across sources; a stub (the header of a long definition, see
`stubs`) keeps its range when a chunk around it merges in. Candidates of the current file are kept
only when cut from the buffer and outside the prompt window (the model sees that
text already, and the disk version of the current file is stale by definition).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from ragls.retrieval.types import Candidate

logger = logging.getLogger(__name__)


def source_family(tag: str) -> str:
    """'graph:import' -> 'graph'."""
    return tag.split(":", 1)[0]


@dataclass
class Fused:
    """A merged candidate with its fused score and per-source contributions."""

    cand: Candidate
    score: float
    contributions: dict[str, float] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)


def rrf_contributions(
    ranked: Mapping[str, Sequence[Candidate]], weights: Mapping[str, float], rrf_k: int
) -> list[tuple[Candidate, str, float]]:
    """(candidate, source family, contribution) for every candidate of every source."""
    out: list[tuple[Candidate, str, float]] = []
    for source, cands in ranked.items():
        w = weights.get(source, weights.get(source_family(source), 0.0))
        if w <= 0:
            continue
        order = sorted(cands, key=lambda c: -c.score)
        for rank, cand in enumerate(order):
            out.append((cand, source_family(source), w / (rrf_k + rank + 1)))
    return out


def _exact(c: Candidate) -> bool:
    """True when the text is exactly the lines of the range (so ranges can be joined)."""
    return c.text.count("\n") + 1 == c.end_line - c.start_line + 1


def _union(a: Candidate, b: Candidate, max_lines: int) -> Candidate | None:
    """Join two overlapping exact candidates into one spanning both, if small enough."""
    if not (_exact(a) and _exact(b)):
        return None
    start, end = min(a.start_line, b.start_line), max(a.end_line, b.end_line)
    if end - start + 1 > max_lines:
        return None
    first, second = (a, b) if a.start_line <= b.start_line else (b, a)
    lines = first.text.split("\n")
    if second.end_line > first.end_line:
        lines += second.text.split("\n")[first.end_line - second.start_line + 1 :]
    return replace(
        first,
        start_line=start,
        end_line=end,
        text="\n".join(lines),
        chunk_id=None,
        symbol=first.symbol or second.symbol,
        signature=first.signature or second.signature,
        doc=first.doc or second.doc,
    )


def _merge_into(group: Fused, cand: Candidate, family: str, contrib: float, max_lines: int) -> None:
    if contrib > group.contributions.get(family, 0.0):
        group.contributions[family] = contrib
    for tag in cand.sources or [family]:
        if tag not in group.sources:
            group.sources.append(tag)
    g = group.cand
    if cand.start_line >= g.start_line and cand.end_line <= g.end_line:
        return  # already covered
    if g.full_end is not None or cand.full_end is not None:
        return  # a stub keeps its few lines: a chunk around it would undo the condensing
    if g.start_line >= cand.start_line and g.end_line <= cand.end_line:
        if cand.end_line - cand.start_line + 1 <= max_lines:
            group.cand = replace(cand, symbol=cand.symbol or g.symbol)
        return
    joined = _union(g, cand, max_lines)
    if joined is not None:
        group.cand = joined


def in_prompt_window(cand: Candidate, current_path: str, window: tuple[int, int]) -> bool:
    return cand.path == current_path and cand.start_line <= window[1] and window[0] <= cand.end_line


def fuse(
    ranked: Mapping[str, Sequence[Candidate]],
    *,
    weights: Mapping[str, float],
    rrf_k: int = 60,
    current_path: str | None = None,
    window: tuple[int, int] = (0, -1),
    max_lines: int = 60,
    lead: int = 0,
    lead_source: str = "graph",
) -> list[Fused]:
    """Fuse ranked candidate lists into one list, best first.

    The groups holding the first `lead` candidates of `lead_source` come first, in that
    source's order (the graph's best guesses are precise; other sources agreeing on
    weaker candidates must not push them down), then the rest by fused score.

    A candidate of `current_path` is kept only if it was cut from the buffer
    (`from_buffer`) and lies outside the prompt `window`; disk text of the current
    file never gets through.
    """
    groups: list[Fused] = []
    by_key: dict[str, Fused] = {}
    by_path: dict[str, list[Fused]] = {}  # overlap is only possible within a file
    contribs = rrf_contributions(ranked, weights, rrf_k)
    contribs.sort(key=lambda t: -t[2])  # strongest evidence defines each group's range first
    for cand, family, contrib in contribs:
        if cand.path == current_path and (
            not cand.from_buffer or in_prompt_window(cand, current_path, window)
        ):
            continue
        group = by_key.get(cand.key)
        if group is None:
            group = next((g for g in by_path.get(cand.path, ()) if g.cand.overlaps(cand)), None)
        if group is None:
            group = Fused(cand=cand, score=0.0)
            groups.append(group)
            by_path.setdefault(cand.path, []).append(group)
        _merge_into(group, cand, family, contrib, max_lines)
        by_key[cand.key] = group
    for g in groups:
        g.score = sum(g.contributions.values())
        g.sources.sort(key=lambda t: (_family_order(t), t))
    groups = _collapse(groups, max_lines)
    groups.sort(key=lambda g: (-g.score, g.cand.path, g.cand.start_line))
    if lead > 0 and ranked.get(lead_source):
        groups = _lead_first(groups, ranked[lead_source], lead, current_path, window)
    return groups


def _lead_first(
    groups: list[Fused], cands: Sequence[Candidate], lead: int,
    current_path: str | None, window: tuple[int, int],
) -> list[Fused]:
    """Move the groups of the source's top `lead` candidates to the front, in its order."""
    first: list[Fused] = []
    for cand in sorted(cands, key=lambda c: -c.score):
        if len(first) >= lead:
            break
        if cand.path == current_path and (
            not cand.from_buffer or in_prompt_window(cand, current_path, window)
        ):
            continue
        g = next((g for g in groups if g.cand.overlaps(cand)), None)
        if g is not None and all(g is not f for f in first):
            first.append(g)
    return first + [g for g in groups if all(g is not f for f in first)]


def _collapse(groups: list[Fused], max_lines: int) -> list[Fused]:
    """Groups whose ranges grew into each other after merging become one."""
    out: list[Fused] = []
    by_path: dict[str, list[Fused]] = {}
    for g in sorted(groups, key=lambda g: -g.score):
        other = next((o for o in by_path.get(g.cand.path, ()) if o.cand.overlaps(g.cand)), None)
        if other is None:
            out.append(g)
            by_path.setdefault(g.cand.path, []).append(g)
            continue
        for fam, c in g.contributions.items():
            other.contributions[fam] = max(other.contributions.get(fam, 0.0), c)
        for tag in g.sources:
            if tag not in other.sources:
                other.sources.append(tag)
        stub = other.cand.full_end is not None or g.cand.full_end is not None
        joined = None if stub else _union(other.cand, g.cand, max_lines)
        if joined is not None:
            other.cand = joined
        other.score = sum(other.contributions.values())
    return out


_ORDER = {"graph": 0, "dense": 1, "lexical": 2, "recent": 3}


def _family_order(tag: str) -> int:
    return _ORDER.get(source_family(tag), 9)
