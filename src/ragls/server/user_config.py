"""The user configuration file: settings for every workspace, and the workspaces the user trusts.

``$XDG_CONFIG_HOME/ragls/config.toml`` (platformdirs ``user_config_dir("ragls")``;
``RAGLS_CONFIG_FILE`` names another file, tests use it). It holds the same settings as a
project file, e.g. ``[model] endpoint = ...`` and ``apiKeyEnv = ...`` set once for the server
and the CLI, plus ``trustedWorkspaces = ["~/src/foo"]``: folders whose project files may
choose endpoints, keys and commands (a listed folder trusts everything below it).
"""

from __future__ import annotations

import logging
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

logger = logging.getLogger(__name__)

CONFIG_ENV = "RAGLS_CONFIG_FILE"
TRUSTED_KEYS = ("trustedWorkspaces", "trusted_workspaces")


def user_config_path() -> Path:
    """Where the user configuration file is (it need not exist)."""
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_config_dir("ragls")) / "config.toml"


@dataclass
class UserConfig:
    """The parsed user configuration: raw settings, trusted folders, problems found."""

    path: Path
    settings: dict[str, Any] = field(default_factory=dict)
    trusted: list[Path] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def trusts(self, root: Path | None) -> bool:
        """True when `root` is a listed folder or lies under one."""
        if root is None:
            return False
        root = root.resolve()
        return any(root == folder or folder in root.parents for folder in self.trusted)


def load_user_config(path: Path | None = None) -> UserConfig:
    """Read the user configuration; a missing file is an empty configuration, never an error."""
    path = path or user_config_path()
    config = UserConfig(path)
    if not path.is_file():
        return config
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        config.errors.append(f"{path}: cannot read: {exc}")
        return config
    raw_trusted: Any = []
    for key in TRUSTED_KEYS:
        if key in data:
            raw_trusted = data.pop(key)
    if not isinstance(raw_trusted, list) or not all(isinstance(x, str) for x in raw_trusted):
        config.errors.append(f"{path}: trustedWorkspaces: expected a list of folder paths")
        raw_trusted = []
    for entry in raw_trusted:
        try:
            config.trusted.append(Path(entry).expanduser().resolve())
        except (OSError, RuntimeError) as exc:
            config.errors.append(f"{path}: trustedWorkspaces: cannot use {entry!r}: {exc}")
    config.settings = data
    logger.info("user settings from %s (%d trusted folder(s))", path, len(config.trusted))
    return config
