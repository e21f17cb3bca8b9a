"""The settings are described once (src/ragls/server/settings.py): the README table and the VS
Code extension's settings must agree with that description."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ragls.server.settings import SENSITIVE, Settings, described_fields, parse_settings, settings_table

REPO = Path(__file__).resolve().parent.parent
JSON_TYPES = {"integer": int, "number": (int, float), "boolean": bool, "string": str, "array": (list, tuple)}


def test_readme_table_is_the_generated_one() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- settings-table[^\n]*-->\n(.*?)<!-- /settings-table -->", readme, re.S)
    assert found, "README.md lost its settings table markers"
    assert found.group(1) == settings_table(), (
        "README settings table is stale: regenerate it (see the marker)"
    )


def test_vscode_settings_match_the_description() -> None:
    package = json.loads((REPO / "editor-clients" / "vscode" / "package.json").read_text(encoding="utf-8"))
    props = package["contributes"]["configuration"]["properties"]
    described = dict(described_fields())
    extension_only = {"serverPath", "serverArgs", "trace.server"}  # the extension's, not the server's
    offered = {key.removeprefix("ragls.") for key in props}
    # every server setting can be set in VS Code, except trust, which VS Code itself decides
    assert set(described) - offered == {"trustedWorkspace"}
    for key, spec in props.items():
        name = key.removeprefix("ragls.")
        if name in extension_only:
            continue
        assert name in described, f"package.json offers {key}, which the server does not know"
        f = described[name]
        default = list(f.default) if isinstance(f.default, tuple) else f.default
        assert spec.get("default") == default, f"{key}: default {spec.get('default')!r} != {default!r}"
        if "enum" in spec:
            assert tuple(spec["enum"]) == f.metadata["check"].choices, key
        types = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
        if default is not None:
            assert any(isinstance(default, JSON_TYPES[t]) for t in types if t in JSON_TYPES), key


def test_every_default_passes_its_own_check_and_parses_back() -> None:
    for name, f in described_fields():
        value = list(f.default) if isinstance(f.default, tuple) else f.default
        if value is not None:
            f.metadata["check"](value)  # raises if the description contradicts itself
        section, _, key = name.rpartition(".")
        raw = {section: {key: value}} if section else {key: value}
        settings, errors = parse_settings(raw)
        assert errors == [] and settings == Settings(), name
    assert set(SENSITIVE) <= {name for name, _ in described_fields()}
