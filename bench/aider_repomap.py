"""Aider's repo map as a retriever. Runs INSIDE the aider virtualenv (bench/.cache/aider-venv).

Started by `aider_driver.py`; stdlib + aider only, so it shares no code with the ragls venv.
For each task it calls `RepoMap.get_ranked_tags(chat_fnames=[task file], other_fnames=[every
other .py file], mentioned_fnames=set(), mentioned_idents=<identifiers of the prefix buffer>)`
and writes the ranked definition tags as 1-based `[rel_path, line, line]` spans (one line per
tag: the line aider shows for it), with the time of that call.

Fairness notes:
- aider reads the chat file from disk; here the stub `io.read_text` returns the task's buffer
  (the prefix for line tasks, the whole edited file for empty-body tasks) for the task file
  and its tags bypass aider's cache, so aider sees exactly what the
  other methods see (the same buffer).
- The tags cache (`.aider.tags.cache.v*`, diskcache keyed by path + mtime) lives outside the
  sources (`--cache-dir`) and is warmed once before the timed queries, like ragls' persistent
  index; the warm-up time is reported separately.
- Only `get_ranked_tags` is timed; aider's real path also renders the map (tree context and a
  token-budget binary search), which would only add time.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

from aider.repomap import RepoMap

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
SKIP_DIRS = {"__pycache__", ".git", ".ragls"}


class StubModel:
    """What RepoMap needs of a model: a token counter (4 characters a token)."""

    def token_count(self, text) -> int:
        if not isinstance(text, str):
            text = json.dumps(text)
        return len(text) // 4


class StubIO:
    """What RepoMap needs of aider's InputOutput; `overrides` stands in for unsaved buffers."""

    def __init__(self) -> None:
        self.overrides: dict[str, str] = {}

    def read_text(self, filename, silent=False):
        if filename in self.overrides:
            return self.overrides[filename]
        try:
            return Path(filename).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None

    def tool_output(self, *args, **kwargs) -> None:
        print(*args, file=sys.stderr)

    tool_warning = tool_output
    tool_error = tool_output


def make_repomap(root: Path, cache_dir: Path, io: StubIO) -> RepoMap:
    class BenchRepoMap(RepoMap):
        # An absolute path: Path(root) / TAGS_CACHE_DIR is then the path itself.
        TAGS_CACHE_DIR = str(cache_dir / RepoMap.TAGS_CACHE_DIR)

        def get_tags(self, fname, rel_fname):
            if fname in io.overrides:  # the unsaved buffer: parse it, never cache it
                return list(self.get_tags_raw(fname, rel_fname))
            return super().get_tags(fname, rel_fname)

    return BenchRepoMap(map_tokens=1024, root=str(root), main_model=StubModel(), io=io)


def source_files(root: Path) -> list[str]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith(".aider"))
        out.extend(str(Path(dirpath) / n) for n in filenames if n.endswith(".py"))
    return sorted(out)


def ranked_defs(rm: RepoMap, chat: str, others: list[str], idents: set[str], max_tags: int):
    tags = rm.get_ranked_tags([chat], others, set(), idents)
    spans = []
    for tag in tags:
        if len(tag) == 5 and tag.kind == "def":
            spans.append([tag.rel_fname, tag.line + 1, tag.line + 1])
            if len(spans) >= max_tags:
                break
    return spans


def main() -> int:
    ap = argparse.ArgumentParser(description="aider repo-map retrieval over benchmark tasks")
    ap.add_argument("--root", required=True, type=Path)
    ap.add_argument("--tasks", required=True, type=Path, help="tasks JSONL (bench/tasks.py)")
    ap.add_argument("--out", required=True, type=Path, help="results JSONL")
    ap.add_argument("--cache-dir", required=True, type=Path)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--max-tags", type=int, default=400)
    args = ap.parse_args()

    root = args.root.resolve()
    files = source_files(root)
    tasks = [json.loads(x) for x in args.tasks.read_text().splitlines() if x.strip()]
    if args.limit:
        tasks = tasks[: args.limit]
    io = StubIO()
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    rm = make_repomap(root, args.cache_dir.resolve(), io)

    t0 = time.perf_counter()
    cached_before = len(rm.TAGS_CACHE)
    rm.get_ranked_tags([], files, set(), set())  # warm the tags cache (no-op when already warm)
    warm_s = time.perf_counter() - t0

    with args.out.open("w") as out:
        out.write(json.dumps({"meta": {
            "files": len(files), "warmup_s": warm_s, "cache_entries_before": cached_before,
            "cache_dir": str(args.cache_dir), "aider_tags_cache": RepoMap.TAGS_CACHE_DIR,
        }}) + "\n")
        for task in tasks:
            chat = str(root / task["file"])
            others = [f for f in files if f != chat]
            # Empty-body tasks (body_tasks.py) hold the whole edited buffer; line tasks a prefix.
            buffer = task.get("buffer_text") or task["buffer_prefix_text"]
            idents = set(_IDENT.findall(buffer))
            io.overrides = {chat: buffer}
            symbol = task.get("symbol") or task.get("function")
            rec = {"file": task["file"], "line": task["line"], "symbol": symbol}
            t1 = time.perf_counter()
            try:
                rec["spans"] = ranked_defs(rm, chat, others, idents, args.max_tags)
            except Exception as exc:  # one failing task is reported, not fatal
                rec["error"] = f"{type(exc).__name__}: {exc}"
                rec["spans"] = []
            rec["elapsed_ms"] = (time.perf_counter() - t1) * 1000
            out.write(json.dumps(rec) + "\n")
            out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
