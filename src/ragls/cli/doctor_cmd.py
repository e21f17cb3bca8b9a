"""`ragls doctor`: what an editor's health check needs to know, without starting the server.

The version, whether llama-cpp-python is importable, the model the settings select (and whether
it is a readable GGUF), the index folder of a workspace and its size, and the log file. Editors
call it with the settings they would send (`--settings JSON`); nothing is contacted or loaded.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import sys
from pathlib import Path
from typing import IO, Any

from ragls.cli.models_cmd import human_size


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "doctor", help="check the installation, the model and a workspace's index (for health checks)"
    )
    p.add_argument("--workspace", default=".", help="workspace root (default: the current folder)")
    p.add_argument("--settings", default=None, help="settings as the editor sends them (JSON)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def _llama_cpp() -> dict[str, Any]:
    if importlib.util.find_spec("llama_cpp") is None:
        error = "llama-cpp-python is not installed (pip install 'ragls[local]')"
        return {"ok": False, "version": None, "error": error}
    try:
        version = importlib.metadata.version("llama-cpp-python")
    except importlib.metadata.PackageNotFoundError:
        version = None
    return {"ok": True, "version": version, "error": None}


def _model(settings: Any) -> dict[str, Any]:
    from ragls.errors import RaglsError
    from ragls.models.catalog import is_gguf, resolve_model
    from ragls.redact import redact_url

    m = settings.model
    if m.source == "remote":
        ok = bool(m.endpoint)
        return {"source": "remote", "name": m.remote_model or m.name, "endpoint": redact_url(m.endpoint),
                "path": None,
                "ok": ok, "error": None if ok else "model.source is remote but model.endpoint is not set"}
    try:
        path = resolve_model(m.completion_path or m.path or m.name, role="completion")
    except RaglsError as exc:
        return {"source": "local", "name": m.name, "path": m.path, "ok": False, "error": str(exc)}
    if not is_gguf(path):
        return {"source": "local", "name": m.name, "path": str(path), "ok": False, "error": "not a GGUF file"}
    return {"source": "local", "name": m.name or path.name, "path": str(path), "ok": True,
            "size_bytes": path.stat().st_size, "error": None}


def _index(root: Path, settings: Any) -> dict[str, Any]:
    from ragls.indexing.config import IndexConfig, index_dir_for

    folder = index_dir_for(root, IndexConfig(in_workspace=settings.index.in_workspace))
    files = [p for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []
    return {"path": str(folder), "exists": folder.is_dir(), "files": len(files),
            "bytes": sum(p.stat().st_size for p in files)}


def diagnose(root: Path, raw_settings: Any) -> dict[str, Any]:
    from ragls import __version__
    from ragls.cli.serve_cmd import default_log_file
    from ragls.server.settings import resolve_settings

    resolved = resolve_settings(root, raw_settings)
    settings, errors = resolved.settings, resolved.errors
    return {
        "version": __version__,
        "python": sys.executable,
        "workspace": str(root),
        "llama_cpp": _llama_cpp(),
        "model": _model(settings),
        "index": _index(root, settings),
        "log_file": str(default_log_file()),
        "settings_errors": errors,
    }


def run(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    out = out or sys.stdout
    try:
        raw = json.loads(args.settings) if args.settings else None
    except json.JSONDecodeError as exc:
        print(f"ragls: error: --settings is not JSON: {exc}", file=sys.stderr)
        return 2
    report = diagnose(Path(args.workspace).expanduser().resolve(), raw)
    if args.json:
        print(json.dumps(report, indent=2), file=out)
        return 0
    llama, model, index = report["llama_cpp"], report["model"], report["index"]
    print(f"ragls {report['version']} ({report['python']})", file=out)
    print(f"llama-cpp-python: {llama['version'] if llama['ok'] else llama['error']}", file=out)
    where = model["path"] or model.get("endpoint")
    print(f"model: {where} {'ok' if model['ok'] else model['error']}", file=out)
    state = f"{index['files']} files, {human_size(index['bytes'])}" if index["exists"] else "not built yet"
    print(f"index: {index['path']} ({state})", file=out)
    print(f"log file: {report['log_file']}", file=out)
    for err in report["settings_errors"]:
        print(f"invalid setting: {err}", file=out)
    runnable = model["source"] == "remote" or llama["ok"]
    return 0 if model["ok"] and runnable and not report["settings_errors"] else 1
