"""Harness for the server tests: recorded client profiles, a pytest-lsp client started on a
command, and a fake engine host.

Run as a script (``python tests/test_server_harness.py``) it serves ragls over stdio with the
fake engine, so the LSP mechanics (debounce, newest-wins, cancellation, code action plumbing)
are tested through a real client without models. ``RAGLS_FAKE`` (JSON) tunes the fake.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types

CLIENTS = Path(__file__).parent / "clients"
PROFILES = ["neovim_v0.12.0", "visual_studio_code_v1.65.2"]


def load_profile(name: str) -> tuple[types.ClientInfo, types.ClientCapabilities]:
    from pygls.protocol import default_converter

    data = json.loads((CLIENTS / f"{name}.json").read_text(encoding="utf-8"))
    caps = default_converter().structure(data["capabilities"], types.ClientCapabilities)
    info = types.ClientInfo(name=data["clientInfo"]["name"], version=data["clientInfo"].get("version"))
    return info, caps


async def start_client(cmd: list[str], env: dict[str, str] | None = None) -> Any:
    from pytest_lsp.client import make_test_lsp_client

    client = make_test_lsp_client()
    client.registrations = []

    @client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def register_capability(ls: Any, params: types.RegistrationParams) -> None:
        ls.registrations.extend(params.registrations)

    full_env = {**os.environ, **(env or {})}
    await client.start_io(cmd[0], *cmd[1:], env=full_env)
    return client


async def initialize(client: Any, profile: str, root: Path, options: Any = None) -> types.InitializeResult:
    info, caps = load_profile(profile)
    return await client.initialize_session(
        types.InitializeParams(
            capabilities=caps,
            client_info=info,
            root_uri=root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
            initialization_options=options,
        )
    )


async def wait_for(predicate: Any, timeout_s: float = 15.0, step_s: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(step_s)
    raise AssertionError(f"condition not met within {timeout_s}s")


def open_doc(client: Any, uri: str, text: str, version: int = 1, language: str = "python") -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id=language, version=version, text=text)
        )
    )


def change_doc(client: Any, uri: str, version: int, text: str) -> None:
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )


# ---- the fake engine host ----------------------------------------------------------------------


@dataclass
class FakeIndex:
    root: Path
    overlays: dict[str, str] = field(default_factory=dict)
    updates: int = 0

    class config:  # mimics IndexConfig's attribute
        watch_debounce_s = 0.3

    def set_overlay(self, path: str, text: str) -> None:
        self.overlays[path] = text

    def clear_overlay(self, path: str) -> None:
        self.overlays.pop(path, None)

    def update(self, progress: Any = None, paths: Any = None) -> dict[str, Any]:
        files = sorted(p.relative_to(self.root).as_posix() for p in self.root.rglob("*.py"))
        for i, f in enumerate(files, 1):
            time.sleep(0.05)
            if progress:
                progress(i, len(files), f)
        self.updates += 1
        return {"files": len(files), "symbols": 0, "reindexed": len(files)}

    def stats(self) -> dict[str, Any]:
        return {
            "files": len(list(self.root.rglob("*.py"))),
            "overlays": sorted(self.overlays),
            "updates": self.updates,
        }


@dataclass
class _Snippet:
    path: str
    start_line: int
    end_line: int
    text: str

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "start_line": self.start_line,
            "end_line": self.end_line,
            "text": self.text,
        }


@dataclass
class _Result:
    completion: str
    model: str
    context: list[Any]
    timings: dict[str, float]


class FakeHost:
    """Deterministic stand-in for the engine: completion echoes the cursor after a delay."""

    def __init__(self, root: Path, settings: Any) -> None:
        opts = json.loads(os.environ.get("RAGLS_FAKE", "{}"))
        if opts.get("fail_start"):
            raise RuntimeError("fake engine refuses to start")
        self.root = root
        self.index = FakeIndex(root)
        self.delay_s = float(opts.get("delay_s", 0.3))
        self.model_name = settings.model.path or "fake-model"
        self.calls = 0
        self._lock = threading.Lock()

    def complete(self, query: Any, *, cancel: Any) -> _Result:
        with self._lock:
            self.calls += 1
        end = time.monotonic() + self.delay_s
        while time.monotonic() < end:
            cancel.raise_if_cancelled()
            time.sleep(0.005)
        line = (query.text or "").split("\n")[query.line - 1]
        before = line[: query.col - 1]
        ctx = [_Snippet("lib.py", 1, 2, "def helper():\n    return 1\n")]
        return _Result(f"completion({before!r})\n    return x", self.model_name, ctx, {"generation_ms": 1.0})

    def verified_fix(self, path: str, buffer: str, start_line: int, end_line: int, diagnostic: Any,
                     *, config: Any, overlays: dict, cancel: Any, progress: Any) -> Any:
        from ragls.engine.fix import FixProposal, LineEdit
        from ragls.engine.verified_fix import FixReport

        progress("generating candidate 1/1")
        progress("running 2 tests")
        self.last_overlays = overlays
        lines = buffer.split("\n")
        new = "\n".join(x.replace("retrun", "return") for x in lines[start_line - 1 : end_line]) + "\n"
        edits = [LineEdit(start_line, end_line, new)]
        proposal = FixProposal(path, "fix typo", edits, buffer, True, "", [])
        if "unfixable" in (diagnostic or ""):
            return FixReport(path, candidates=1, reason="the proposed patch does not parse")
        if "untested" in (diagnostic or ""):
            return FixReport(path, verified=False, candidates=1, proposal=proposal,
                             title="Fix (unverified: no test covers this)", reason="no test covers this code")
        return FixReport(path, "diff", True, 2, 2, 1, 0, proposal, "Fix: tests pass (2/2)", "ok")

    def fix_failing_test(self, path: str, buffer: str, line: int, *, config: Any, overlays: dict,
                         cancel: Any, progress: Any) -> Any:
        from ragls.engine.verified_fix import FixReport

        return FixReport(path, reason="test_x already passes", failing_test="test_x")

    def test_target(self, path: str, buffer: str, line: int) -> Any:
        lines = buffer.split("\n")
        for i in range(min(line, len(lines)) - 1, -1, -1):
            m = re.match(r"\s*(?:def|class)\s+(\w+)", lines[i])
            if m:
                return _Target(m.group(1))
        return None

    def verified_tests(self, path: str, buffer: str, line: int, *, config: Any, overlays: dict,
                       cancel: Any, progress: Any) -> Any:
        from ragls.engine.verified_tests import TestReport

        target = self.test_target(path, buffer, line)
        module = Path(path).stem
        test_path = f"tests/test_{module}.py"
        name = target.name
        code = f"from {module} import {name}\n\n\ndef test_{name}():\n    assert {name}() == 1\n"
        if target.name == "add":  # nothing passed: nothing offered
            bugs = ["test_add expects 3, the code returns 4"]
            return TestReport(test_path, "", False, 3, 0, 0, 3, 2, None, bugs,
                              symbol="add", reason="no generated test passed")
        return TestReport(test_path, code, True, 2, 1, 0, 1, 0, 1.0, [], (self.root / test_path).exists(),
                          target.name, "pytest")

    def select_model(self, name: str) -> str:
        if "missing" in name:
            from ragls.errors import ModelError

            raise ModelError(f"no such model: {name}")
        self.model_name = name
        return name

    def start_background(self) -> None:
        pass

    def close(self) -> None:
        pass


@dataclass
class _Target:
    name: str

    @property
    def qualname(self) -> str:
        return self.name


if __name__ == "__main__":
    from ragls.cli.serve_cmd import configure_logging
    from ragls.server.app import build_server

    configure_logging(os.environ.get("RAGLS_LOG_LEVEL", "info"), None)
    build_server(engine_factory=FakeHost).start_io()
    sys.exit(0)
