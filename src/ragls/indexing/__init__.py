"""Workspace index: discovery, tree-sitter parsing, import graph, chunks, SQLite store, watcher."""
