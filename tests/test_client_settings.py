"""The editor clients use the server's setting names, types and defaults (settings.py SCHEMA):
the VS Code extension's package.json and the Neovim help file."""

from __future__ import annotations

import json
import re
from dataclasses import fields
from pathlib import Path

import pytest

from ragls.server.settings import SCHEMA, TOP_LEVEL, Settings

CLIENTS = Path(__file__).resolve().parents[1] / "editor-clients"
CLIENT_ONLY = {"serverPath", "serverArgs", "trace.server"}  # the extension's own settings
# announced by other work in progress: clients may list them before the server parses them
PENDING = {"model.completionPath", "model.generationPath"}


def _package_settings() -> dict[str, dict]:
    manifest = json.loads((CLIENTS / "vscode" / "package.json").read_text())
    props = manifest["contributes"]["configuration"]["properties"]
    named = {k.removeprefix("ragls."): v for k, v in props.items()}
    return {k: v for k, v in named.items() if k not in CLIENT_ONLY}


def _server_settings() -> dict[str, tuple]:
    keys = {
        f"{section}.{key}": (section, attr, check)
        for section, (_, spec) in SCHEMA.items()
        for key, (attr, check) in spec.items()
    }
    keys.update({key: (None, attr, check) for key, (attr, check) in TOP_LEVEL.items()})
    keys.pop("trustedWorkspace")  # sent by the clients from the editor's trust, never a setting
    return keys


def _server_default(section: str | None, attr: str):
    holder = getattr(Settings(), section) if section else Settings()
    value = {f.name: getattr(holder, f.name) for f in fields(holder)}[attr]
    return list(value) if isinstance(value, tuple) else value


def test_vscode_lists_every_server_setting_under_its_name() -> None:
    package, server = _package_settings(), _server_settings()
    assert set(server) <= set(package), sorted(set(server) - set(package))
    assert set(package) - set(server) <= PENDING, sorted(set(package) - set(server) - PENDING)


@pytest.mark.parametrize("key", sorted(_server_settings()))
def test_vscode_defaults_and_choices_are_the_servers(key: str) -> None:
    section, attr, check = _server_settings()[key]
    spec = _package_settings()[key]
    default = spec["default"]
    assert default == _server_default(section, attr), key
    if default is not None:
        check(default)  # the server accepts it (raises ValueError otherwise)
    for choice in spec.get("enum", []) + spec.get("items", {}).get("enum", []):
        check([choice] if spec.get("type") == "array" else choice)


def test_neovim_help_names_every_server_setting() -> None:
    help_text = (CLIENTS / "neovim" / "doc" / "ragls.txt").read_text()
    section = help_text.split("*ragls-settings*", 1)[1].split("Example:", 1)[0]
    words = set(re.findall(r"[A-Za-z]+", section))
    missing = [k for k in (*_server_settings(), *PENDING) if k.split(".")[-1] not in words]
    assert not missing, missing
