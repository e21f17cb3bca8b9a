"""ragls: a local-first AI coding assistant that speaks the Language Server Protocol."""

__version__ = "0.1.0"
