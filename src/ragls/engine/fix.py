"""Bug-fix candidates: the model rewrites a region with retrieved context; ragls checks the patch.

A candidate is kept only when the patched buffer still parses with no new syntax error
(tree-sitter), changes something and does not rewrite or rename the region. Whether it is a
fix is decided by running the tests (`verified_fix`). Edits are minimal: only the changed
lines, as 1-based inclusive line ranges to replace.
"""

from __future__ import annotations

import difflib
import logging
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ragls.cancel import NEVER, CancelToken
from ragls.engine.buffer import extract_code
from ragls.engine.prompt_fit import chat_max_tokens, chat_tokens, fit_items, same_language
from ragls.engine.scope_head import SCOPE_HEADER
from ragls.indexing.parser import parse_source
from ragls.indexing.records import ParsedFile
from ragls.models.postprocess import indent_width
from ragls.retrieval.types import CursorQuery, Snippet

if TYPE_CHECKING:
    from ragls.indexing.workspace import WorkspaceIndex
    from ragls.models.backend import CompletionBackend
    from ragls.retrieval.retriever import Retriever

logger = logging.getLogger(__name__)

MAX_REGION_LINES = 60
CONTEXT_MARGIN = 3


@dataclass
class LineEdit:
    """Replace lines start_line..end_line (1-based, inclusive) with new_text.

    end_line == start_line - 1 is a pure insertion before start_line; new_text
    ends with a newline unless it is empty (a deletion).
    """

    start_line: int
    end_line: int
    new_text: str


@dataclass
class FixProposal:
    path: str
    title: str
    edits: list[LineEdit]
    new_text: str
    parses: bool  # the patched file parses and the patch stays a fix; nothing was run
    reason: str
    context: list[Snippet] = field(default_factory=list)
    region_lines: int = 0  # lines of the rewritten region


@dataclass
class FixPlan:
    """A fix request, prepared once and asked of the model once per candidate."""

    path: str
    buffer: str
    lines: list[str]
    first: int
    last: int
    old_region: list[str]
    syntax_errors: int
    messages: list[dict]
    max_tokens: int | None  # None: the region does not fit the model's window
    context: list[Snippet] = field(default_factory=list)


def fix_region(lines: list[str], parsed: ParsedFile, start_line: int, end_line: int) -> tuple[int, int]:
    """The region a fix may rewrite: the innermost definition around the range, or a margin."""
    start_line = max(1, min(start_line, len(lines)))
    end_line = max(start_line, min(end_line, len(lines)))
    best: tuple[int, int] | None = None
    for d in parsed.definitions:
        if d.kind == "package" or not (d.start_line <= start_line and end_line <= d.end_line):
            continue
        if d.end_line - d.start_line + 1 > MAX_REGION_LINES:
            continue
        if best is None or d.end_line - d.start_line < best[1] - best[0]:
            best = (d.start_line, d.end_line)
    if best is not None:
        if parsed.language == "python" and parsed.syntax_errors:
            return best[0], max(end_line, _indented_end(lines, best[0], best[1]))
        return best
    return max(1, start_line - CONTEXT_MARGIN), min(len(lines), end_line + CONTEXT_MARGIN)


_CLOSERS = (")", "]", "}", "#")


def _indented_end(lines: list[str], first: int, last: int) -> int:
    """Where a Python definition starting at `first` really ends: before the next line indented no
    deeper than its header. A broken file parses into error nodes that run on (an unclosed
    parenthesis in `make demo`'s line_count took the next class into the region, 22 lines, and
    the 0.5B model answered with the error message)."""
    start = first  # the def or class line, below its decorators
    while start < last and not SCOPE_HEADER.match(lines[start - 1]):
        start += 1
    indent = indent_width(lines[start - 1])
    end = start
    for i in range(start + 1, last + 1):
        text = lines[i - 1]
        if not text.strip():
            continue
        if indent_width(text) <= indent and not text.lstrip().startswith(_CLOSERS):
            break
        end = i
    return end


def minimal_edits(old_lines: list[str], new_lines: list[str], first_line: int) -> list[LineEdit]:
    """Line edits turning old_lines (starting at 1-based first_line) into new_lines."""
    edits: list[LineEdit] = []
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        text = "".join(line + "\n" for line in new_lines[j1:j2])
        edits.append(LineEdit(first_line + i1, first_line + i2 - 1, text))
    return edits


def _reindent(code: str, like: str) -> str:
    """Give `code` the base indentation of `like` when the model dropped it."""

    def base(text: str) -> str:
        for line in text.split("\n"):
            if line.strip():
                return line[: len(line) - len(line.lstrip())]
        return ""

    want, have = base(like), base(code)
    if want == have or have:
        return code
    return "\n".join(want + line if line.strip() else line for line in code.split("\n"))


MIN_SIMILARITY = 0.5  # a fix is a small change; a rewrite of the region is something else


def _defined_names(lines: list[str], path: str) -> set[str]:
    try:
        parsed = parse_source(path, "\n".join(lines).encode("utf-8", "surrogatepass"))
    except ValueError:
        return set()
    return {d.name for d in parsed.definitions if d.parent is None and d.kind != "package"}


_STAR_IMPORT = re.compile(r"\s*from\s+[\w.]+\s+import\s+\*")


def _drift(old_region: list[str], new_region: list[str], path: str) -> str | None:
    """Why a patch is not a fix of the region (it renames or drops definitions, or rewrites it)."""
    lost = _defined_names(old_region, path) - _defined_names(new_region, path)
    if lost:
        return f"the patch drops or renames {', '.join(sorted(lost))}"
    star = sorted({x.strip() for x in new_region if _STAR_IMPORT.match(x)} - {x.strip() for x in old_region})
    if star:  # `make demo`'s 0.5B fix of a missing parenthesis put two of these above the function
        return f"the patch adds a wildcard import ({star[0]})"
    ratio = difflib.SequenceMatcher(a="\n".join(old_region), b="\n".join(new_region), autojunk=False).ratio()
    if ratio < MIN_SIMILARITY:
        return f"the patch rewrites the code instead of fixing it (similarity {ratio:.2f})"
    return None


class FixEngine:
    """Asks the model for a corrected region and verifies it before offering it."""

    def __init__(
        self, index: WorkspaceIndex, retriever: Retriever, backend: CompletionBackend, *, attempts: int = 3
    ) -> None:
        self.index = index
        self.retriever = retriever
        self.backend = backend
        self.attempts = attempts

    def _prompt(
        self, path: str, region: str, first: int, diagnostic: str | None, context: list[Snippet]
    ) -> list[dict]:
        parts = []
        for s in context:
            parts.append(f"File {s.path} lines {s.start_line}-{s.end_line}:\n```\n{s.text}\n```")
        numbered = region
        problem = f"The problem reported: {diagnostic}\n" if diagnostic else "Find and fix the bug.\n"
        user = (
            ("Related code from the repository:\n" + "\n\n".join(parts) + "\n\n" if parts else "")
            + f"This is {path}, starting at line {first}:\n```\n{numbered}\n```\n"
            + problem
            + "Reply with the corrected version of exactly this code in one fenced code block, nothing else."
        )
        return [
            {
                "role": "system",
                "content": "You are an expert programmer who fixes bugs with minimal changes.",
            },
            {"role": "user", "content": user},
        ]

    def prepare(
        self,
        path: str,
        buffer: str,
        start_line: int,
        end_line: int,
        diagnostic: str | None,
        cancel: CancelToken = NEVER,
    ) -> FixPlan:
        """The region to rewrite, its context and the prompt (no model call)."""
        parsed = parse_source(path, buffer.encode("utf-8", "surrogatepass"))
        lines = buffer.split("\n")
        first, last = fix_region(lines, parsed, start_line, end_line)
        old_region = lines[first - 1 : last]
        try:
            found = self.retriever.retrieve(CursorQuery(path, first, 1, buffer), cancel=cancel).snippets
            context = same_language(self.index, found, parsed.language)[:4]
        except Exception:  # one failing stage must not sink the fix
            logger.exception("retrieval for fix failed")
            context = []
        region_text = "\n".join(old_region)
        want = min(1024, 2 * self.backend.count_tokens(region_text) + 64)
        context, messages = fit_items(
            self.backend,
            context,
            lambda ctx: self._prompt(path, region_text, first, diagnostic, ctx),
            want,
            measure=chat_tokens,
        )
        max_tokens = chat_max_tokens(self.backend, messages, want)
        return FixPlan(path, buffer, lines, first, last, old_region, parsed.syntax_errors, messages,
                       max_tokens, context)

    def candidate(
        self, plan: FixPlan, temperature: float, cancel: CancelToken = NEVER,
        messages: list[dict] | None = None,
    ) -> FixProposal:
        """One model call: a patch of the plan's region, checked to parse and to stay a fix."""
        assert plan.max_tokens is not None
        reply = self.backend.chat(
            messages or plan.messages, max_tokens=plan.max_tokens, temperature=temperature, cancel=cancel
        )
        return self._check(plan, reply.text)

    def repair_messages(self, plan: FixPlan, patch: FixProposal, failure: str) -> list[dict]:
        """The prompt for a repair round: the last patch and how its tests failed."""
        region = "\n".join(patch.new_text.split("\n")[plan.first - 1 : plan.first - 1 + patch.region_lines])
        return [
            *plan.messages,
            {"role": "assistant", "content": f"```\n{region}\n```"},
            {"role": "user", "content": "With that change the tests still fail:\n```\n" + failure
             + "\n```\nReply with a corrected version of the original code in one fenced code block."},
        ]

    def _check(self, plan: FixPlan, reply: str) -> FixProposal:
        return self.patch(plan, _reindent(extract_code(reply), "\n".join(plan.old_region)))

    def patch(self, plan: FixPlan, code: str) -> FixProposal:
        """`code` in place of the plan's region, checked to parse and to stay a fix."""
        path, lines, first, last, old_region = plan.path, plan.lines, plan.first, plan.last, plan.old_region
        before = plan.syntax_errors
        new_region = code.split("\n")
        if not code.strip() or new_region == old_region:
            return FixProposal(path, "Fix with ragls", [], plan.buffer, False, "the model proposed no change")
        new_lines = lines[: first - 1] + new_region + lines[last:]
        new_text = "\n".join(new_lines)
        after = parse_source(path, new_text.encode("utf-8", "surrogatepass")).syntax_errors
        # Kept only if the file parses afterwards, or at least has fewer syntax errors
        # than before (a broken file elsewhere must not block a real improvement).
        if after and after >= before:
            reason = f"the proposed patch does not parse ({after} syntax errors, {before} before)"
            return FixProposal(path, "Fix with ragls", [], plan.buffer, False, reason)
        drift = _drift(old_region, new_region, path)
        if drift:
            return FixProposal(path, "Fix with ragls", [], plan.buffer, False, drift)
        edits = minimal_edits(old_region, new_region, first)
        return FixProposal(
            path=path,
            title=f"Fix with ragls ({len(edits)} change{'s' if len(edits) != 1 else ''})",
            edits=edits,
            new_text=new_text,
            parses=True,
            reason="patched file parses"
            + (f"; {before - after} syntax error(s) fewer" if after < before else ""),
            context=plan.context,
            region_lines=len(new_region),
        )

    def propose(
        self,
        path: str,
        buffer: str,
        start_line: int,
        end_line: int,
        diagnostic: str | None,
        cancel: CancelToken = NEVER,
    ) -> FixProposal | None:
        """The first patch (of `attempts`) that parses and stays a fix; not executed (see verified_fix)."""
        plan = self.prepare(path, buffer, start_line, end_line, diagnostic, cancel)
        if plan.max_tokens is None:
            return FixProposal(path, "Fix with ragls", [], buffer, False,
                               "the code is too long for the model's context window", plan.context)
        proposal = FixProposal(path, "Fix with ragls", [], buffer, False, "the model proposed no change")
        for attempt in range(self.attempts):
            cancel.raise_if_cancelled()
            proposal = self.candidate(plan, 0.2 + 0.3 * attempt, cancel)
            if proposal.parses:
                return proposal
            logger.info("fix attempt %d rejected: %s", attempt + 1, proposal.reason)
        proposal.context = plan.context
        return proposal
