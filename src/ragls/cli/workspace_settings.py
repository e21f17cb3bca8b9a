"""The settings a CLI command uses: defaults <- user file <- project file (the CLI trusts it).

The user pointed the command at the workspace, so its project file may choose endpoints and keys
here; command-line flags override both files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ragls.server.settings import Settings, resolve_settings


def workspace_settings(root: Path) -> Settings:
    """Resolved settings for `root` (problems are logged by resolve_settings)."""
    return resolve_settings(root, None, trusted=True).settings


def session_kwargs(root: Path) -> dict[str, Any]:
    """`open_session` keyword arguments from the workspace's settings."""
    from ragls.server.engine_host import session_configs

    return session_configs(workspace_settings(root))
