"""LSP server: handlers, settings, scheduling. The only package that knows LSP."""
