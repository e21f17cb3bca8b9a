"""Identifier-aware tokenisation shared by the lexical index and lexical queries."""

from __future__ import annotations

import re

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CAMEL = re.compile(r"[A-Z]+\d*(?=[A-Z][a-z])|[A-Z]?[a-z]+\d*|[A-Z]+\d*|\d+")

STOPWORDS = frozenset(
    [
        "self",
        "this",
        "the",
        "a",
        "an",
        "and",
        "or",
        "not",
        "in",
        "is",
        "if",
        "else",
        "elif",
        "for",
        "while",
        "return",
        "def",
        "class",
        "function",
        "import",
        "from",
        "as",
        "with",
        "pass",
        "none",
        "null",
        "true",
        "false",
        "let",
        "const",
        "var",
        "fn",
        "pub",
        "use",
        "mod",
        "package",
        "func",
        "int",
        "str",
        "bool",
        "void",
        "new",
        "try",
        "except",
        "catch",
        "finally",
        "raise",
        "throw",
        "public",
        "private",
        "static",
        "final",
    ]
)


def identifiers(text: str) -> list[str]:
    """Identifiers in `text`, in order, as written."""
    return _IDENT.findall(text)


def split_identifier(ident: str) -> list[str]:
    """'parseHTTPResponse_v2' -> ['parse', 'http', 'response', 'v2'] (lowercase subwords)."""
    parts: list[str] = []
    for piece in ident.split("_"):
        if piece:
            parts.extend(p.lower() for p in _CAMEL.findall(piece))
    return parts


def lexical_terms(text: str, *, keep_stopwords: bool = False) -> list[str]:
    """Terms for lexical matching: each identifier lowercased plus its subwords (len >= 2)."""
    out: list[str] = []
    for ident in identifiers(text):
        low = ident.lower()
        if keep_stopwords or low not in STOPWORDS:
            out.append(low)
        subs = split_identifier(ident)
        if len(subs) > 1:
            out.extend(s for s in subs if len(s) >= 2 and (keep_stopwords or s not in STOPWORDS))
    return out
