"""The one exception hierarchy of ragls.

Every error that ragls raises on purpose derives from RaglsError, so callers
(the CLI, the language server) can turn it into a clear message without
catching everything else.

    RaglsError
    ├── ConfigError          invalid settings or project file
    ├── IndexUnavailable     the workspace index is missing, corrupt or busy
    ├── WorkspaceError       a path outside the workspace, a line out of range
    ├── ModelError           a model cannot be loaded or run
    │   └── BackendError     a remote endpoint is down, slow, or answered garbage
    └── Cancelled            a request was cancelled (newer request, timeout)
"""

from __future__ import annotations


class RaglsError(Exception):
    """Base of every error ragls raises on purpose."""


class ConfigError(RaglsError):
    """Settings or a project file could not be used as given."""


class IndexUnavailable(RaglsError):
    """The workspace index is missing, corrupt or cannot be opened."""


class WorkspaceError(RaglsError):
    """A request names something outside the workspace or out of range."""


class ModelError(RaglsError):
    """A model could not be loaded or failed while generating."""


class BackendError(ModelError):
    """A remote model endpoint failed: connection, timeout, HTTP error or malformed reply."""


class Cancelled(RaglsError):
    """The work was cancelled cooperatively; its result must be dropped."""
