"""Which language a file is in, by its extension, and how that language starts a line comment.

The one table of extensions in ragls (no tree-sitter here, so any package may import it):
`ragls.indexing.languages` attaches grammars to the indexed languages, everything else asks
`language_for_path` or `comment_prefix`.
"""

from __future__ import annotations

import os
from pathlib import PurePosixPath

# Languages ragls parses and indexes (each has a grammar in ragls.indexing.languages).
INDEXED_EXTENSIONS: dict[str, str] = {
    ".py": "python",
    ".pyi": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascript",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "tsx",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
}

# Other languages a buffer may be in: known only for their comment syntax (prompts).
_OTHER_EXTENSIONS: dict[str, str] = {
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".hpp": "cpp",
    ".cs": "csharp",
    ".kt": "kotlin",
    ".swift": "swift",
    ".rb": "ruby",
    ".sh": "shell",
    ".lua": "lua",
    ".sql": "sql",
}

_SLASH_COMMENT = frozenset({
    "javascript", "typescript", "tsx", "go", "rust", "java", "c", "cpp", "csharp", "kotlin", "swift",
    "scala", "php", "dart",
})
_DASH_COMMENT = frozenset({"lua", "sql"})


def _suffix(path: str | os.PathLike[str]) -> str:
    return PurePosixPath(os.fspath(path).replace("\\", "/")).suffix.lower()


def language_for_path(path: str | os.PathLike[str]) -> str | None:
    """The language ragls indexes `path` as, from its extension; None when it indexes no such file."""
    return INDEXED_EXTENSIONS.get(_suffix(path))


def comment_prefix(language: str | None = None, path: str = "") -> str:
    """What starts a line comment in `language`, or, when no language is given, in the file `path`.

    "//" for the C family, Go, Rust, Java and JavaScript/TypeScript, "--" for Lua and SQL,
    "#" otherwise (Python, Ruby, shell, and anything unknown).
    """
    if not language and path:
        suffix = _suffix(path)
        language = INDEXED_EXTENSIONS.get(suffix) or _OTHER_EXTENSIONS.get(suffix)
    if language in _SLASH_COMMENT:
        return "//"
    if language in _DASH_COMMENT:
        return "--"
    return "#"
