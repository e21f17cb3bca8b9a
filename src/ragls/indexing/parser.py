"""Parse one source file into definitions, references, imports and chunks.

One tree-sitter parse and one query pass (`queries/<language>.scm`) per file; scopes are
found by bisecting sorted definition ranges, not by walking the tree in Python.

Import conventions (`records.Import(module, names, line, alias)`), for the import resolver:
- python: `import a.b as c` -> ("a.b", (), alias "c"); `from ..x.y import a, b as z` ->
  ("..x.y", ("a", "b")) (names are the imported names, not their aliases);
  `from . import m` -> (".", ("m",)); `from m import *` -> ("m", ("*",)).
- javascript/typescript/tsx: module = the string as written. `import d, {a as b} from './x'` ->
  ("./x", ("d", "a")); `import * as ns from 'y'` -> ("y", ("*",), alias "ns");
  `import './side'` -> ("./side", ()); `export {a} from './x'` -> ("./x", ("a",));
  `export * from './x'` -> ("./x", ("*",)); `const m = require('./x')` -> ("./x", (), alias "m");
  `import('./x')` -> ("./x", ()); TS `import m = require('x')` -> ("x", (), alias "m").
- go: one Import per spec: ("github.com/a/b", (), alias "x" for `x "github.com/a/b"`, also "."
  and "_"); `package p` is a Definition(kind "package", name "p").
- rust: `use crate::a::b::{c, d as e};` -> ("crate::a::b", ("c", "d")); `use super::x::Y;` ->
  ("super::x", ("Y",)); `use a::b::*;` -> ("a::b", ("*",)); `use a::b as c;` -> ("a", ("b",),
  alias "c"); `use foo;` -> ("foo", ()); nested groups give one Import per path prefix;
  `mod foo;` (no body) -> ("self::foo", (), alias "mod"); `extern crate foo;` -> ("foo", ()).
  Methods in `impl T` / `impl Tr for T` get parent "T" (generics stripped).
- java: `import com.a.B;` -> ("com.a.B", ("B",)); `import com.a.*;` -> ("com.a", ("*",));
  `import static com.a.B.m;` -> ("com.a.B", ("m",)); `import static com.a.B.*;` ->
  ("com.a.B", ("*",)); `package x.y;` is a Definition(kind "package", name "x.y").
"""

from __future__ import annotations

import bisect
import inspect
import logging
import re

from tree_sitter import Node, QueryCursor

from ragls.filetypes import language_for_path
from ragls.indexing.chunker import chunk_file
from ragls.indexing.languages import LANGUAGES, get_parser, get_query
from ragls.indexing.records import Definition, Import, ParsedFile, Reference, content_hash, line_count

logger = logging.getLogger(__name__)

# capture kinds in priority order: when two patterns capture one node, the first wins
_DEF_KINDS = (
    "function", "method", "class", "struct", "interface", "enum", "trait", "record", "module",
    "impl", "macro", "package", "type", "constant", "variable", "field",
)  # fmt: skip
_CONTAINERS = frozenset({"class", "interface", "struct", "enum", "trait", "record", "impl"})
_REF_KINDS = ("call", "type", "attribute", "name")
_SKIP_NAMES = {"python": frozenset({"self", "cls"})}
_MAX_SIG = 200
_MAX_DOC = 400
_COMMENT_MARK = re.compile(r"^\s*(?://[/!]?|/\*\*?|\*/|\*(?!\*)|#)\s?")
_GO_SPEC_PREFIX = {"type_spec": "type ", "type_alias": "type ", "const_spec": "const ", "var_spec": "var "}
_GO_RECEIVER = re.compile(r"\(\s*(?:[A-Za-z_]\w*\s+)?\*?\s*([A-Za-z_]\w*)")


def _first(node: Node | None, named: bool = True) -> Node | None:
    """First (named) child, or None (tree-sitter raises IndexError on a missing child)."""
    if node is None or not (node.named_child_count if named else node.child_count):
        return None
    return node.named_child(0) if named else node.child(0)


def _text(src: bytes, node: Node) -> str:
    return src[node.start_byte : node.end_byte].decode("utf-8", "replace")


def parse_source(
    path: str,
    source: bytes,
    language: str | None = None,
    *,
    max_lines: int = 60,
    max_chars: int = 3000,
) -> ParsedFile:
    """Parse `source` (the bytes of `path`); ValueError only for an unknown language."""
    lang = language or language_for_path(path)
    if lang is None or lang not in LANGUAGES:
        raise ValueError(f"unknown language for {path!r}: {language!r}")
    text = source.decode("utf-8", "replace")
    parsed = ParsedFile(
        path=path, language=lang, content_hash=content_hash(source), line_count=line_count(text)
    )
    if not text.strip():
        return parsed
    tree = get_parser(lang).parse(source)
    root = tree.root_node
    caps = QueryCursor(get_query(lang)).captures(root)
    if root.has_error:
        parsed.syntax_errors = max(1, len(caps.get("error", ())))
    try:
        _extract(parsed, caps, source, lang)
    except Exception:  # a grammar surprise must not sink indexing of the file
        logger.exception("parsing %s: definition/reference extraction failed", path)
    try:
        parsed.chunks = chunk_file(path, text, tree, parsed.definitions, lang, max_lines, max_chars)
    except Exception:
        logger.exception("parsing %s: syntax chunking failed; chunking by lines", path)
        parsed.chunks = chunk_file(path, text, None, [], lang, max_lines, max_chars)
    return parsed


def _extract(parsed: ParsedFile, caps: dict[str, list[Node]], src: bytes, lang: str) -> None:
    raw = _raw_definitions(caps)
    skip_ranges = sorted((n.start_byte, n.end_byte) for n in caps.get("import", ()))
    for node in caps.get("definition.package", ()):
        skip_ranges.append((node.start_byte, node.end_byte))
    skip_ranges.sort()
    importer = _IMPORTERS[lang]
    for node in caps.get("import", ()):
        parsed.imports.extend(importer(node, src))
    parsed.imports.sort(key=lambda imp: imp.line)
    scopes = _build_definitions(parsed, raw, src, lang)
    skip = {name.start_byte for _, _, _, name, _ in raw}
    skip.update(n.start_byte for n in caps.get("skip", ()))
    parsed.references = _references(caps, src, lang, skip, skip_ranges, scopes)


def _raw_definitions(caps: dict[str, list[Node]]) -> list[tuple[int, int, str, Node, Node]]:
    """(start, end, kind, name node, node) per definition, deduplicated, in document order."""
    raw: list[tuple[int, int, str, Node, Node]] = []
    seen: set[tuple[int, int]] = set()
    for kind in _DEF_KINDS:
        nodes = caps.get("definition." + kind)
        if not nodes:
            continue
        names = sorted(caps.get("name.definition." + kind, ()), key=lambda n: n.start_byte)
        name_starts = [n.start_byte for n in names]
        for node in nodes:
            span = (node.start_byte, node.end_byte)
            i = bisect.bisect_left(name_starts, span[0])
            if span in seen or i == len(names) or name_starts[i] >= span[1]:
                continue
            seen.add(span)
            raw.append((span[0], span[1], kind, names[i], node))
    raw.sort(key=lambda r: (r[0], -r[1]))
    return raw


def _build_definitions(
    parsed: ParsedFile, raw: list[tuple[int, int, str, Node, Node]], src: bytes, lang: str
) -> tuple[list[int], list[int], list[int], list[str]]:
    """Fill parsed.definitions; return starts, ends, nesting parent index and qualname of each."""
    starts: list[int] = []
    ends: list[int] = []
    nest: list[int] = []  # index of the enclosing definition, -1 at top level
    quals: list[str] = []
    kinds: list[str] = []
    stack: list[int] = []
    for idx, (start, end, kind, name_node, node) in enumerate(raw):
        while stack and ends[stack[-1]] <= start:
            stack.pop()
        outer = stack[-1] if stack else -1
        name = _text(src, name_node)
        if kind == "impl":
            name = re.split(r"[<\s]", name.strip(), maxsplit=1)[0]
        parent = quals[outer] if outer >= 0 else None
        kind = _refine_kind(kind, name, node, kinds[outer] if outer >= 0 else None, lang)
        if lang == "go" and node.type == "method_declaration":
            receiver = node.child_by_field_name("receiver")
            match = _GO_RECEIVER.match(_text(src, receiver)) if receiver is not None else None
            parent = match.group(1) if match else None
        starts.append(start)
        ends.append(end)
        nest.append(outer)
        kinds.append(kind)
        quals.append(f"{parent}.{name}" if parent else name)
        stack.append(idx)
        if kind == "impl":
            continue
        parsed.definitions.append(
            Definition(
                name=name,
                kind=kind,
                start_line=node.start_point.row + 1,
                end_line=node.end_point.row + 1,
                signature=_signature(node, src),
                doc=_doc(node, src, lang),
                parent=parent,
            )
        )
    return starts, ends, nest, quals


def _refine_kind(kind: str, name: str, node: Node, outer_kind: str | None, lang: str) -> str:
    if kind == "function" and outer_kind in _CONTAINERS:
        return "method"
    if kind == "variable" and lang == "python" and name.isupper():
        return "constant"
    if kind == "constant" and lang in ("javascript", "typescript", "tsx"):
        keyword = _first(node.parent, named=False)
        if keyword is not None and keyword.type == "let":
            return "variable"
    if kind == "field":
        modifiers = _first(node, named=False)
        mods = modifiers.text or b"" if modifiers is not None and modifiers.type == "modifiers" else b""
        if (b"static" in mods and b"final" in mods) or name.isupper():
            return "constant"
    return kind


def _signature(node: Node, src: bytes) -> str:
    """Header text up to the body, single-spaced; first line for body-less definitions."""
    start = node.start_byte
    body = node.child_by_field_name("body")
    if node.type == "variable_declarator":
        value = node.child_by_field_name("value")
        body = value.child_by_field_name("body") if value is not None else None
        if node.parent is not None and node.parent.type in ("lexical_declaration", "variable_declaration"):
            start = node.parent.start_byte
    if body is not None and body.start_byte > start:
        end = body.start_byte
    else:
        newline = src.find(b"\n", start, node.end_byte)
        end = node.end_byte if newline < 0 else newline
    sig = " ".join(src[start:end].decode("utf-8", "replace").split()).rstrip("{ ").rstrip()
    prefix = _GO_SPEC_PREFIX.get(node.type)
    if prefix and not sig.startswith(prefix):
        sig = prefix + sig
    return sig[:_MAX_SIG]


def _doc(node: Node, src: bytes, lang: str) -> str:
    """Python docstring, else the contiguous comment block right above the definition."""
    if lang == "python":
        body = node.child_by_field_name("body")
        first = _first(body)
        if first is not None and first.type == "expression_statement":
            string = _first(first)
            if string is not None and string.type == "string":
                raw = _text(src, string).lstrip("rRbBuUfF")
                quote = raw[:3] if raw[:3] in ('"""', "'''") else raw[:1]
                return inspect.cleandoc(raw[len(quote) : len(raw) - len(quote)])[:_MAX_DOC]
        return ""
    anchor = node
    while anchor.parent is not None and anchor.parent.type in (
        "export_statement", "lexical_declaration", "variable_declaration", "type_declaration",
        "const_declaration", "var_declaration",
    ):  # fmt: skip
        anchor = anchor.parent
    lines: list[str] = []
    row = anchor.start_point.row
    cur = anchor.prev_sibling
    while cur is not None:
        if cur.type == "attribute_item":  # rust #[...] between the doc comment and the item
            row = cur.start_point.row
        elif "comment" in cur.type and cur.end_point.row >= row - 1 and cur.end_point.row < row + 1:
            lines[:0] = _text(src, cur).splitlines()
            row = cur.start_point.row
        else:
            break
        cur = cur.prev_sibling
    cleaned = [_COMMENT_MARK.sub("", line).removesuffix("*/").rstrip() for line in lines]
    return "\n".join(cleaned).strip()[:_MAX_DOC]


def _references(
    caps: dict[str, list[Node]],
    src: bytes,
    lang: str,
    skip: set[int],
    skip_ranges: list[tuple[int, int]],
    scopes: tuple[list[int], list[int], list[int], list[str]],
) -> list[Reference]:
    """References keyed by node; a node captured twice keeps the first kind of _REF_KINDS.

    Hot path (one iteration per identifier): nodes are visited in byte order while cursors
    advance through the sorted skip ranges and the flattened scope segments.
    """
    chosen: dict[int, tuple[str, Node]] = {}
    for kind in reversed(_REF_KINDS):  # later updates win: "call" beats "name"
        chosen.update({n.start_byte: (kind, n) for n in caps.get("name.reference." + kind, ())})
    for start in skip:
        chosen.pop(start, None)
    seg_starts, seg_scopes = _segments(*scopes)
    skip_names = _SKIP_NAMES.get(lang, frozenset())
    ranges = iter(skip_ranges)
    r_start, r_end = next(ranges, _NO_RANGE)
    seg, last_seg = 0, len(seg_starts) - 1
    seen: set[tuple[int, str, str, str]] = set()
    for start in sorted(chosen):
        while start >= r_end:
            r_start, r_end = next(ranges, _NO_RANGE)
        if start >= r_start:
            continue
        while seg < last_seg and seg_starts[seg + 1] <= start:
            seg += 1
        kind, node = chosen[start]
        name = src[start : node.end_byte].decode("utf-8", "replace")
        if name not in skip_names:
            seen.add((node.start_point[0] + 1, name, kind, seg_scopes[seg]))
    return [Reference(name, line, kind, scope or None) for line, name, kind, scope in sorted(seen)]


_INF = 1 << 62
_NO_RANGE = (_INF, _INF)


def _segments(
    starts: list[int], ends: list[int], nest: list[int], quals: list[str]
) -> tuple[list[int], list[str]]:
    """Flatten nested definition ranges into (segment starts, innermost qualname or "")."""
    events: list[tuple[int, int, int, str]] = []
    for i, (start, end) in enumerate(zip(starts, ends, strict=True)):
        events.append((start, 1, -end, quals[i]))
        events.append((end, 0, -start, quals[nest[i]] if nest[i] >= 0 else ""))
    events.sort()
    seg_starts, seg_scopes = [0], [""]
    for pos, _, _, qual in events:
        if seg_starts[-1] == pos:
            seg_scopes[-1] = qual
        else:
            seg_starts.append(pos)
            seg_scopes.append(qual)
    return seg_starts, seg_scopes


# ---- imports ----------------------------------------------------------------------------------


def _line(node: Node) -> int:
    return node.start_point.row + 1


def _py_imports(node: Node, src: bytes) -> list[Import]:
    line = _line(node)
    if node.type == "import_statement":
        out = []
        for item in node.children_by_field_name("name"):
            if item.type == "aliased_import":
                name, alias = item.child_by_field_name("name"), item.child_by_field_name("alias")
                out.append(
                    Import(_text(src, name) if name else "", (), line, _text(src, alias) if alias else None)
                )
            else:
                out.append(Import(_text(src, item), (), line))
        return out
    names: list[str] = []
    for item in node.children_by_field_name("name"):
        target = item.child_by_field_name("name") if item.type == "aliased_import" else item
        if target is not None:
            names.append(_text(src, target))
    if any(c.type == "wildcard_import" for c in node.named_children):
        names.append("*")
    module_node = node.child_by_field_name("module_name")
    module = "__future__" if node.type == "future_import_statement" else ""
    if module_node is not None:
        module = "".join(_text(src, module_node).split())
    return [Import(module, tuple(names), line)]


def _unquote(text: str) -> str:
    return text.strip().strip("\"'`")


def _js_imports(node: Node, src: bytes) -> list[Import]:
    line = _line(node)
    if node.type == "call_expression":  # require('x') / import('x')
        args = node.child_by_field_name("arguments")
        first = _first(args)
        if first is None:
            return []
        decl = node.parent
        alias = None
        if decl is not None and decl.type == "variable_declarator":
            name = decl.child_by_field_name("name")
            alias = _text(src, name) if name is not None and name.type == "identifier" else None
        return [Import(_unquote(_text(src, first)), (), line, alias)]
    if node.type == "import_require_clause":
        ident, source = _first(node), node.child_by_field_name("source")
        if source is None:
            return []
        return [Import(_unquote(_text(src, source)), (), line, _text(src, ident) if ident else None)]
    source = node.child_by_field_name("source")
    if source is None:
        return []
    names: list[str] = []
    alias = None
    for clause in node.named_children:
        if clause.type == "import_clause":
            for part in clause.named_children:
                if part.type == "identifier":
                    names.append(_text(src, part))
                elif part.type == "namespace_import":
                    names.append("*")
                    ident = _first(part)
                    alias = _text(src, ident) if ident is not None else None
                elif part.type == "named_imports":
                    names.extend(_specifier_names(part, src))
        elif clause.type == "export_clause":
            names.extend(_specifier_names(clause, src))
    if node.type == "export_statement" and not names:
        names.append("*")
    return [Import(_unquote(_text(src, source)), tuple(names), line, alias)]


def _specifier_names(clause: Node, src: bytes) -> list[str]:
    out = []
    for spec in clause.named_children:
        name = spec.child_by_field_name("name")
        if name is not None:
            out.append(_unquote(_text(src, name)))
    return out


def _go_imports(node: Node, src: bytes) -> list[Import]:
    out = []
    specs = [c for c in node.named_children if c.type == "import_spec"]
    for group in (c for c in node.named_children if c.type == "import_spec_list"):
        specs.extend(c for c in group.named_children if c.type == "import_spec")
    for spec in specs:
        path, name = spec.child_by_field_name("path"), spec.child_by_field_name("name")
        if path is not None:
            out.append(
                Import(_unquote(_text(src, path)), (), _line(spec), _text(src, name) if name else None)
            )
    return out


def _rust_imports(node: Node, src: bytes) -> list[Import]:
    line = _line(node)
    if node.type == "mod_item":
        name = node.child_by_field_name("name")
        if node.child_by_field_name("body") is not None or name is None:
            return []
        return [Import(f"self::{_text(src, name)}", (), line, "mod")]
    if node.type == "extern_crate_declaration":
        name = node.child_by_field_name("name")
        return [Import(_text(src, name), (), line)] if name is not None else []
    arg = node.child_by_field_name("argument")
    if arg is None:
        return []
    grouped: dict[str, list[str]] = {}
    aliases: dict[str, str] = {}
    _rust_use(arg, "", src, grouped, aliases)
    return [
        Import(module, tuple(n for n in names if n), line, aliases.get(module) if len(names) == 1 else None)
        for module, names in grouped.items()
    ]


def _rust_use(
    node: Node, prefix: str, src: bytes, out: dict[str, list[str]], aliases: dict[str, str]
) -> None:
    """Expand one `use` tree into {module path: [names]} (recursive over groups)."""

    def join(*parts: str) -> str:
        return "::".join(p for p in parts if p)

    kind = node.type
    if kind == "use_list":
        for child in node.named_children:
            _rust_use(child, prefix, src, out, aliases)
    elif kind == "scoped_use_list":
        path = node.child_by_field_name("path")
        inner = node.child_by_field_name("list")
        if inner is not None:
            _rust_use(inner, join(prefix, _text(src, path) if path else ""), src, out, aliases)
    elif kind == "use_wildcard":
        path = _first(node)
        out.setdefault(join(prefix, _text(src, path) if path else ""), []).append("*")
    elif kind == "use_as_clause":
        path, alias = node.child_by_field_name("path"), node.child_by_field_name("alias")
        if path is None:
            return
        full = join(prefix, _text(src, path))
        module, _, last = full.rpartition("::")
        out.setdefault(module or full, []).append(last if module else "")
        if alias is not None:
            aliases[module or full] = _text(src, alias)
    elif kind == "scoped_identifier":
        path, name = node.child_by_field_name("path"), node.child_by_field_name("name")
        module = join(prefix, _text(src, path) if path else "")
        out.setdefault(module, []).append(_text(src, name) if name else "")
    elif prefix:
        out.setdefault(prefix, []).append(_text(src, node))  # `self`, a plain name inside a group
    else:
        out.setdefault(_text(src, node), [])  # `use foo;`


def _java_imports(node: Node, src: bytes) -> list[Import]:
    body = _text(src, node).strip().removeprefix("import").rstrip(";").strip()
    static = body.startswith("static ")
    path = "".join(body.removeprefix("static").split())
    module, _, last = path.rpartition(".")
    if last == "*":
        return [Import(module, ("*",), _line(node))]
    if static:
        return [Import(module, (last,), _line(node))]
    return [Import(path, (last,), _line(node))]


_IMPORTERS = {
    "python": _py_imports,
    "javascript": _js_imports,
    "typescript": _js_imports,
    "tsx": _js_imports,
    "go": _go_imports,
    "rust": _rust_imports,
    "java": _java_imports,
}
