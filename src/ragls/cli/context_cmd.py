"""`ragls context`: the repository context retrieval finds for a cursor position."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import IO, Any

from ragls.errors import ConfigError, ModelError, WorkspaceError

logger = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "context",
        help="show the repository context retrieved for a cursor position",
        description="Retrieve the snippets of the rest of the repository that code at a cursor needs.",
    )
    p.add_argument("--workspace", "-w", default=".", help="workspace root (default: .)")
    p.add_argument("--file", help="file of the cursor, relative to the workspace or absolute")
    p.add_argument("--line", type=int, help="cursor line, 1-based")
    p.add_argument("--col", type=int, default=1, help="cursor column, 1-based (default 1)")
    p.add_argument("--stdin", action="store_true", help="read the (unsaved) buffer from standard input")
    p.add_argument("--top-k", type=int, default=None, help="at most K snippets")
    p.add_argument("--budget", type=int, default=None, metavar="TOKENS", help="token budget of the snippets")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--batch",
        metavar="QUERIES.jsonl",
        help='queries {"file","line","col","text"?}, one per line ("-": stdin); JSON lines out',
    )
    p.add_argument("--no-dense", action="store_true", help="skip dense (embedding) retrieval")
    p.add_argument("--embed", action="store_true", help="embed missing chunks before retrieving")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ragls.retrieval.retriever import Retriever
    from ragls.retrieval.types import CursorQuery

    if not args.batch and (args.file is None or args.line is None):
        raise WorkspaceError("context needs --file and --line (or --batch)")
    index, configs = _open_index(args.workspace)
    try:
        embedding_config = configs["embedding_config"]
        embedder, store = (None, None) if args.no_dense else _dense(index, embedding_config, embed=args.embed)
        retriever = Retriever(index, embedder=embedder, vectors=store)
        out = sys.stdout
        if args.batch:
            return _run_batch(retriever, args, out)
        text = sys.stdin.read() if args.stdin else None
        query = CursorQuery(path=args.file, line=args.line, col=args.col, text=text)
        result = retriever.retrieve(query, top_k=args.top_k, budget_tokens=args.budget)
        if args.json:
            out.write(json.dumps(_result_json(result)) + "\n")
        else:
            _print_readable(result, out)
        return 0
    finally:
        index.close()


def _open_index(workspace: str) -> tuple[Any, dict[str, Any]]:
    """The workspace's index (built if it never was) and its session configs (user and project file)."""
    from ragls.cli.workspace_settings import session_kwargs
    from ragls.indexing.workspace import WorkspaceIndex

    root = Path(workspace).expanduser()
    if not root.is_dir():
        raise WorkspaceError(f"no such workspace: {workspace}")
    configs = session_kwargs(root.resolve())
    index = WorkspaceIndex.open(root, configs["index_config"])
    if index.is_empty():
        progress = _progress if sys.stderr.isatty() else None
        index.update(progress=progress)
        if progress:
            sys.stderr.write("\n")
    return index, configs


def _progress(done: int, total: int, path: str) -> None:
    sys.stderr.write(f"\rindexing {done}/{total} {path[:60]:<60}")
    sys.stderr.flush()


def _dense(index: Any, config: Any, *, embed: bool) -> tuple[Any, Any]:
    """The configured embedder and the index's vector store, when vectors exist (or --embed)."""
    if not embed and not any(Path(index.index_dir).glob("vectors-*.npz")):
        return None, None
    try:
        from ragls.indexing.vectors import VectorStore
        from ragls.models.embeddings import load_embedder

        embedder = load_embedder(config)
        if embedder is None:  # embeddings kind "none"
            return None, None
        store = VectorStore(Path(index.index_dir), embedder.model_id, embedder.dim)
        if embed:
            from ragls.retrieval.embedding_jobs import EmbeddingScheduler

            EmbeddingScheduler(index, embedder, store).run_until_done()
            store.save()
    except (ModelError, ConfigError) as exc:
        logger.warning("dense retrieval off: %s", exc)
        return None, None
    return (embedder, store) if len(store) else (None, None)


def _result_json(result: Any) -> dict[str, Any]:
    return {"snippets": [s.to_json() for s in result.snippets], "elapsed_ms": round(result.elapsed_ms, 3)}


def _print_readable(result: Any, out: IO[str]) -> None:
    if not result.snippets:
        out.write("(no context found)\n")
    for s in result.snippets:
        out.write(f"{s.path}:{s.start_line}-{s.end_line}  {s.score:.4f}  {','.join(s.sources)}\n")
        out.write(s.text.rstrip("\n") + "\n\n")
    out.write(f"# {len(result.snippets)} snippets in {result.elapsed_ms:.1f} ms\n")


def _run_batch(retriever: Any, args: argparse.Namespace, out: IO[str]) -> int:
    from ragls.cli.batch import run_batch

    def answer(query: Any) -> dict[str, Any]:
        return _result_json(retriever.retrieve(query, top_k=args.top_k, budget_tokens=args.budget))

    return run_batch(args.batch, answer, out)
