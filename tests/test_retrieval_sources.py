"""Each retrieval source, and the retriever, on small real workspaces (Python, TypeScript, Go)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragls.cancel import CancelToken
from ragls.errors import Cancelled, WorkspaceError
from ragls.indexing.workspace import WorkspaceIndex
from ragls.models.backend import estimate_tokens
from ragls.retrieval.cursor import build_context
from ragls.retrieval.dense_source import dense_candidates
from ragls.retrieval.graph_source import graph_candidates
from ragls.retrieval.lexical_source import lexical_candidates, recent_candidates
from ragls.retrieval.retriever import Retriever
from ragls.retrieval.types import CursorQuery, RetrievalConfig

CFG = RetrievalConfig()

PY = {
    "models.py": '''
        class User:
            """A registered user."""

            def __init__(self, name: str, email: str) -> None:
                self.name = name
                self.email = email


        def load_user(user_id: int) -> User:
            """Load a user by id from the store."""
            return User(name=f"user{user_id}", email="x@example.com")
        ''',
    "reports.py": '''
        def summarize(rows):
            zebra_quota = len(rows)
            walrus_factor = 3
            return zebra_quota * walrus_factor
        ''',
    "service.py": '''
        from models import User, load_user


        def greet(user_id: int) -> str:
            user = load_user(
        ''',
}

TS = {
    "src/util/format.ts": """
        export function formatPrice(amount: number, currency: string): string {
          return `${currency} ${amount.toFixed(2)}`;
        }
        """,
    "src/types.ts": """
        export interface Item {
          name: string;
          price: number;
        }
        """,
    "src/cart.ts": """
        import { formatPrice } from "./util/format";
        import { Item } from "./types";

        export function total(items: Item[]): string {
          const sum = items.reduce((acc, it) => acc + it.price, 0);
          return formatPrice(
        }
        """,
}

GO = {
    "go.mod": "module example.com/shop\n\ngo 1.22\n",
    "pkg/store/store.go": (
        "package store\n\n"
        "// Inventory counts items on the shelves.\n"
        "type Inventory struct {\n\tCounts map[string]int\n}\n\n"
        "// NewInventory returns an empty inventory.\n"
        "func NewInventory() *Inventory {\n\treturn &Inventory{Counts: map[string]int{}}\n}\n"
    ),
    "cmd/shop/main.go": (
        'package main\n\nimport "example.com/shop/pkg/store"\n\n'
        "func main() {\n\tinv := store.NewInventory(\n}\n"
    ),
}


def _open(write_workspace, files: dict[str, str]) -> WorkspaceIndex:
    index = WorkspaceIndex.open(write_workspace(files))
    index.update()
    return index


def _at(index: WorkspaceIndex, path: str, needle: str) -> CursorQuery:
    """A cursor right after the first occurrence of `needle` in `path`."""
    lines = (index.read_text(path) or "").split("\n")
    line = next(i for i, text in enumerate(lines, 1) if needle in text)
    return CursorQuery(path=path, line=line, col=lines[line - 1].index(needle) + len(needle) + 1)


def test_graph_python_finds_called_definition_through_import(write_workspace) -> None:
    index = _open(write_workspace, PY)
    ctx = build_context(index, _at(index, "service.py", "load_user("), CFG)
    assert ctx.enclosing is not None and ctx.enclosing.name == "greet"
    cands = graph_candidates(index, ctx, CFG)
    top = cands[0]
    assert top.path == "models.py" and "def load_user(user_id: int) -> User:" in top.text
    assert top.sources == ["graph:import"]
    assert all(c.path != "service.py" for c in cands)
    assert not any("zebra_quota" in c.text for c in cands)  # reports.py is unrelated to the graph
    index.close()


def test_graph_typescript_relative_imports_and_signature_types(write_workspace) -> None:
    index = _open(write_workspace, TS)
    ctx = build_context(index, _at(index, "src/cart.ts", "formatPrice("), CFG)
    cands = graph_candidates(index, ctx, CFG)
    by_path = {c.path: c for c in cands}
    assert "export function formatPrice" in by_path["src/util/format.ts"].text
    assert "interface Item" in by_path["src/types.ts"].text
    assert cands[0].path == "src/util/format.ts"  # the call being written ranks first
    index.close()


def test_graph_go_module_import(write_workspace) -> None:
    index = _open(write_workspace, GO)
    ctx = build_context(index, _at(index, "cmd/shop/main.go", "NewInventory("), CFG)
    cands = graph_candidates(index, ctx, CFG)
    assert cands, "no graph candidates for the Go cursor"
    assert cands[0].path == "pkg/store/store.go"
    assert "func NewInventory() *Inventory" in cands[0].text
    index.close()


def test_graph_callees_of_enclosing_function_come_from_buffer(write_workspace) -> None:
    files = dict(PY)
    files["audit.py"] = "def audit_trail(event):\n    return [event]\n"
    index = _open(write_workspace, files)
    filler = "\n".join(f"    step_{i} = {i}" for i in range(10))
    buffer = (
        "from models import load_user\nimport audit\n\n\n"
        f"def greet(user_id):\n    user = load_user(\n{filler}\n    audit.audit_trail(user)\n"
    )
    ctx = build_context(index, CursorQuery("service.py", 6, 22, text=buffer), CFG)
    cands = {c.path: c for c in graph_candidates(index, ctx, CFG)}
    assert "audit_trail" not in ctx.window_text and cands["audit.py"].sources == ["graph:callee"]
    assert "def audit_trail" in cands["audit.py"].text
    assert cands["models.py"].score > cands["audit.py"].score  # the call at the cursor ranks first
    index.close()


def test_lexical_finds_chunk_by_rare_identifiers(write_workspace) -> None:
    files = dict(PY)
    files["service.py"] = "def audit(data):\n    total = zebra_quota + walrus_factor\n"
    index = _open(write_workspace, files)
    ctx = build_context(index, CursorQuery("service.py", 2, 40), CFG)
    cands = lexical_candidates(index, ctx, CFG)
    assert cands and cands[0].path == "reports.py" and "walrus_factor" in cands[0].text
    assert cands[0].sources == ["lexical"]
    assert all(c.path != "service.py" for c in cands)
    index.close()


def test_recent_buffers_match_by_shared_identifiers(write_workspace) -> None:
    index = _open(write_workspace, PY)
    buffer = "def use():\n    well = compute_gravity_well(probe, orbit_radius)\n"
    index.set_overlay("reports.py", "def draft(x):\n    return compute_gravity_well(x, orbit_radius)\n")
    index.set_overlay("service.py", buffer)  # the current file is never "recent" context
    if not hasattr(index, "overlay_paths"):  # the index does not list overlays (yet): say which exist
        index.overlay_paths = lambda: ["service.py", "reports.py"]
    ctx = build_context(index, CursorQuery("service.py", 2, 50, text=buffer), CFG)
    cands = recent_candidates(index, ctx, CFG)
    assert [c.path for c in cands] == ["reports.py"] and "orbit_radius" in cands[0].text
    index.close()


def test_dense_with_real_embedder(write_workspace, tmp_path: Path) -> None:
    from ragls.indexing.vectors import VectorStore
    from ragls.models.embeddings import OnnxEmbedder

    files = {
        "csvtools.py": '''
            import csv


            def read_rows(path):
                """Parse a CSV file into a list of row dictionaries."""
                with open(path, newline="") as fh:
                    return list(csv.DictReader(fh))
            ''',
        "geometry.py": '''
            import math


            def circle_area(radius):
                """Area of a circle."""
                return math.pi * radius ** 2
            ''',
        "app.py": "# load the spreadsheet rows from a csv file on disk\ndef load(path):\n    rows = \n",
    }
    index = _open(write_workspace, files)
    embedder = OnnxEmbedder(threads=1)
    store = VectorStore(tmp_path / "vec", embedder.model_id, embedder.dim)
    ctx = build_context(index, CursorQuery("app.py", 3, 12), CFG)
    assert dense_candidates(index, ctx, CFG, embedder, store) == []  # empty store: nothing, no error
    rows = [r for batch in index.iter_chunks() for r in batch]
    store.add([r.content_hash for r in rows], embedder.embed([r.text for r in rows]))
    cands = dense_candidates(index, ctx, CFG, embedder, store)
    assert cands[0].path == "csvtools.py" and cands[0].sources == ["dense"]
    assert all(c.path != "app.py" for c in cands)
    res = Retriever(index, embedder, store).retrieve(CursorQuery("app.py", 3, 12), sources=["dense"])
    assert res.snippets and res.snippets[0].path == "csvtools.py" and res.timings["dense"] > 0
    hurried = Retriever(index, embedder, store, config=RetrievalConfig(latency_budget_ms=0.0))
    res = hurried.retrieve(CursorQuery("app.py", 3, 12), sources=["dense"])
    assert res.snippets == [] and res.timings["dense"] == 0.0  # over the latency budget: skipped
    index.close()


def test_retriever_end_to_end_python(write_workspace) -> None:
    index = _open(write_workspace, PY)
    res = Retriever(index).retrieve(_at(index, "service.py", "load_user("), budget_tokens=200)
    assert res.snippets[0].path == "models.py"
    assert "def load_user" in res.snippets[0].text
    assert res.snippets[0].sources[0].startswith("graph")
    assert {"cursor", "graph", "lexical", "fusion", "packing"} <= set(res.timings)
    assert sum(estimate_tokens(s.text) for s in res.snippets) <= 200  # the retriever's default counter
    assert res.elapsed_ms > 0
    index.close()


def test_retriever_skips_failing_source(write_workspace) -> None:
    class Broken:
        model_id, dim = "broken", 4

        def embed(self, texts):
            raise RuntimeError("boom")

    class OneVector:
        def __len__(self) -> int:
            return 1

    index = _open(write_workspace, PY)
    res = Retriever(index, Broken(), OneVector()).retrieve(_at(index, "service.py", "load_user("))
    assert res.snippets and res.snippets[0].path == "models.py"
    index.close()


def test_retriever_cancel_and_bad_queries(write_workspace) -> None:
    index = _open(write_workspace, PY)
    retriever = Retriever(index)
    token = CancelToken()
    token.cancel("newer request")
    with pytest.raises(Cancelled):
        retriever.retrieve(_at(index, "service.py", "load_user("), cancel=token)
    with pytest.raises(WorkspaceError, match="out of range"):
        retriever.retrieve(CursorQuery("service.py", 500, 1))
    with pytest.raises(WorkspaceError, match="outside the workspace"):
        retriever.retrieve(CursorQuery("../x.py", 1, 1))
    with pytest.raises(WorkspaceError, match="no such file"):
        retriever.retrieve(CursorQuery("missing.py", 1, 1))
    index.close()


def test_graph_proposes_imported_unused_names_at_line_start(write_workspace) -> None:
    files = dict(PY)
    files["helpers.py"] = "def slugify(text):\n    return text.lower()\n"
    index = _open(write_workspace, files)
    filler = "\n".join(f"    step_{i} = {i}" for i in range(30))
    buffer = (
        "from models import User, load_user\nfrom helpers import slugify\nimport os\n\n\n"
        f"def greet(user_id: int) -> str:\n    name = slugify(str(user_id))\n{filler}\n    "
    )
    line = buffer.count("\n") + 1
    ctx = build_context(index, CursorQuery("service.py", line, 5, text=buffer), CFG)
    cands = graph_candidates(index, ctx, CFG)
    symbols = [c.symbol for c in cands]
    # never used yet, far from the cursor: still proposed, and before the old use of slugify
    assert "load_user" in symbols and "User" in symbols
    assert symbols.index("load_user") < symbols.index("slugify")
    assert all(c.sources == ["graph:import"] for c in cands if c.symbol in {"load_user", "User", "slugify"})
    user = next(c for c in cands if c.symbol == "User")  # short: whole, with its real lines
    assert user.text.split("\n")[0] == "class User:" and user.full_end is None
    lines = (index.read_text("models.py") or "").split("\n")
    assert user.text.split("\n") == lines[user.start_line - 1 : user.end_line]
    index.close()


def test_graph_puts_a_functions_own_unused_imports_before_names_it_just_used(write_workspace) -> None:
    files = dict(PY)
    files["helpers.py"] = "def slugify(text):\n    return text.lower()\n"
    index = _open(write_workspace, files)
    # a function imports what it needs; slugify is used two lines above the cursor, load_user
    # not yet (a module-level unused import would score below that recent use)
    head = "import os\n\n\ndef greet(user_id: int) -> str:\n"
    body = ("    from helpers import slugify\n    from models import load_user\n\n"
            "    if not user_id:\n        raise ValueError(slugify('no id'))\n    ")
    line = (head + body).count("\n") + 1
    ctx = build_context(index, CursorQuery("service.py", line, 5, text=head + body), CFG)
    symbols = [c.symbol for c in graph_candidates(index, ctx, CFG)]
    assert symbols.index("load_user") < symbols.index("slugify")
    # the same imports at module level: the recent use of slugify comes first
    moved = "from helpers import slugify\nfrom models import load_user\n" + head + body.split("\n\n", 1)[1]
    line = moved.count("\n") + 1
    ctx = build_context(index, CursorQuery("service.py", line, 5, text=moved), CFG)
    symbols = [c.symbol for c in graph_candidates(index, ctx, CFG)]
    assert symbols.index("slugify") < symbols.index("load_user")
    index.close()


def test_graph_attribute_of_imported_module(write_workspace) -> None:
    files = dict(PY)
    files["service.py"] = "import models as m\n\n\ndef greet(uid):\n    return m.load_user(uid)\n\n\n"
    index = _open(write_workspace, files)
    ctx = build_context(index, CursorQuery("service.py", 6, 1), CFG)
    cands = graph_candidates(index, ctx, CFG)
    assert cands and cands[0].symbol == "load_user" and cands[0].sources == ["graph:import"]
    index.close()
