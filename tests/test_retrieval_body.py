"""Retrieval for an empty function body (issue 9): each signal on small workspaces the tests write."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ragls.indexing.workspace import WorkspaceIndex
from ragls.models.backend import estimate_tokens
from ragls.retrieval.body_context import (
    attach_body,
    body_bonuses,
    body_scope,
    header_similarity,
    personalized_pagerank,
    sibling_uses,
    unused_imports,
)
from ragls.retrieval.cursor import build_context
from ragls.retrieval.dense_source import dense_query_text
from ragls.retrieval.fusion import Fused
from ragls.retrieval.packing import pack
from ragls.retrieval.retriever import Retriever
from ragls.retrieval.types import Candidate, CursorQuery, RetrievalConfig

CFG = RetrievalConfig()

HELPERS = {
    "pkg/__init__.py": "",
    "pkg/helpers.py": '''
        def slugify(text):
            """Make a URL slug."""
            return text.lower().replace(" ", "-")


        def checksum(data):
            """A checksum of bytes."""
            return sum(data) % 255


        def render_table(rows):
            """Rows as a text table."""
            return "\\n".join(" | ".join(map(str, r)) for r in rows)
        ''',
    "pkg/names.py": '''
        def format_name(first, last):
            """First and last name."""
            return f"{first} {last}"


        def parse_url(url):
            """Split a URL."""
            return url.split("/")
        ''',
}


def _index(write_workspace, files: dict[str, str]) -> WorkspaceIndex:
    root = write_workspace({**HELPERS, **files})
    index = WorkspaceIndex.open(root)
    index.update()
    return index


def _cursor(text: str, marker: str = "    # CURSOR") -> tuple[str, int, int]:
    """The buffer with the marker line emptied to its indentation, and the cursor (line, col)."""
    lines = text.split("\n")
    line = next(i for i, ln in enumerate(lines, 1) if ln.strip() == marker.strip())
    indent = lines[line - 1][: len(lines[line - 1]) - len(lines[line - 1].lstrip())]
    lines[line - 1] = indent
    return "\n".join(lines), line, len(indent) + 1


def _ctx(index: WorkspaceIndex, path: str, text: str):
    buffer, line, col = _cursor(text)
    ctx = build_context(index, CursorQuery(path, line, col, buffer), CFG)
    attach_body(ctx)
    return ctx, buffer, line, col


MAIN = '''from pkg.helpers import checksum, render_table, slugify
from pkg.names import format_name


def title(user):
    return format_name(user.first, user.last)


def make_path(title_text):
    """The URL path of a page titled `title_text`."""
    # CURSOR


def other():
    return checksum(b"x") + len(render_table([]))
'''


def test_body_scope_found_after_header_and_docstring(write_workspace) -> None:
    index = _index(write_workspace, {"pkg/main.py": MAIN})
    ctx, *_ = _ctx(index, "pkg/main.py", MAIN)
    assert ctx.body is not None and ctx.body.name == "make_path" and ctx.body.parent is None
    assert "url" in ctx.body.terms and "path" in ctx.body.terms
    assert ctx.enclosing is not None and ctx.enclosing.name == "make_path"


def test_body_scope_multiline_signature_no_docstring_and_method(write_workspace) -> None:
    src = '''class Page:
    def build(
        self,
        name: str,
    ) -> str:
        # CURSOR

    def other(self):
        pass
'''
    index = _index(write_workspace, {"pkg/page.py": src})
    ctx, *_ = _ctx(index, "pkg/page.py", src)
    assert ctx.body is not None and ctx.body.qualname == "Page.build"
    assert "name" in ctx.signature_names and "str" in ctx.signature_names


def test_no_body_scope_once_the_body_has_code(write_workspace) -> None:
    src = '''def run(x):
    y = x + 1
    # CURSOR
'''
    index = _index(write_workspace, {"pkg/run.py": src})
    ctx, *_ = _ctx(index, "pkg/run.py", src)
    assert ctx.body is None
    # the cursor in the middle of a line is not the start of a body either
    mid = build_context(index, CursorQuery("pkg/run.py", 2, 6, src.replace("# CURSOR", "")), CFG)
    assert body_scope(mid) is None


def test_body_that_will_call_an_imported_helper_gets_its_definition(write_workspace) -> None:
    # slugify is imported and used nowhere yet: the body to come is what will use it
    index = _index(write_workspace, {"pkg/main.py": MAIN})
    ctx, buffer, line, col = _ctx(index, "pkg/main.py", MAIN)
    assert unused_imports(ctx) == {"slugify"}
    query = CursorQuery("pkg/main.py", line, col, buffer)
    # the default ranking (editor defaults: top_k 8, 1,024 tokens): the helper is in the context
    res = Retriever(index).retrieve(query)
    assert any(s.path == "pkg/helpers.py" and "def slugify" in s.text for s in res.snippets)
    # the "unused" signal (off by default: no gain on the benchmark) puts it first
    with_unused = replace(CFG, body_signals=(*CFG.body_signals, "unused"))
    res = Retriever(index, config=with_unused).retrieve(query, top_k=1, budget_tokens=400)
    assert "def slugify" in res.snippets[0].text
    # without it the same name is not first: the recently used names lead
    res = Retriever(index).retrieve(query, top_k=1, budget_tokens=400)
    assert "def slugify" not in res.snippets[0].text


SIBLINGS = '''from pkg.helpers import checksum, render_table
from pkg.names import format_name, parse_url


class Report:
    def header(self, user):
        return format_name(user.first, user.last)

    def title(self):
        return "Report"

    def body(self, user):
        """The report's body."""
        # CURSOR


def near(url):
    return parse_url(url)


def farther(rows):
    return render_table(rows), checksum(b"")
'''


def test_sibling_methods_callees_are_ranked_first(write_workspace) -> None:
    index = _index(write_workspace, {"pkg/report.py": SIBLINGS})
    ctx, buffer, line, col = _ctx(index, "pkg/report.py", SIBLINGS)
    assert ctx.body is not None and ctx.body.parent == "Report"
    assert sibling_uses(ctx, ctx.body)["format_name"] == 1
    assert "parse_url" not in sibling_uses(ctx, ctx.body)
    bonus = body_bonuses(ctx, ctx.body, ["format_name", "parse_url"], ["siblings"])
    assert bonus["format_name"] > bonus["parse_url"] == 0.0
    query = CursorQuery("pkg/report.py", line, col, buffer)
    only_siblings = replace(CFG, body_signals=("siblings",))
    res = Retriever(index, config=only_siblings).retrieve(query, top_k=2, budget_tokens=400)
    assert "def format_name" in res.snippets[0].text
    # by default the buffer PageRank reaches the same name through the class
    res = Retriever(index).retrieve(query, top_k=2, budget_tokens=400)
    assert "def format_name" in res.snippets[0].text
    # without them the name used nearest to the cursor (in another function) leads
    no_signals = replace(CFG, body_signals=("fill",))
    res = Retriever(index, config=no_signals).retrieve(query, top_k=1, budget_tokens=400)
    assert "def format_name" not in res.snippets[0].text


def test_header_terms_rank_the_matching_name(write_workspace) -> None:
    src = '''from pkg.helpers import checksum, render_table


def print_table(rows):
    """Print rows as a table."""
    # CURSOR
'''
    index = _index(write_workspace, {"pkg/show.py": src})
    ctx, buffer, line, col = _ctx(index, "pkg/show.py", src)
    assert header_similarity("render_table", ctx.body.terms) == 0.5
    assert header_similarity("checksum", ctx.body.terms) == 0.0
    res = Retriever(index).retrieve(CursorQuery("pkg/show.py", line, col, buffer), top_k=1, budget_tokens=400)
    assert "def render_table" in res.snippets[0].text


def test_personalized_pagerank_prefers_the_seeds_neighbourhood() -> None:
    edges = {"seed": {"a": 1.0}, "a": {"b": 1.0, "seed": 1.0}, "b": {"a": 1.0}, "far": {"farther": 1.0},
             "farther": {"far": 1.0}}
    rank = personalized_pagerank(edges, {"seed": 1.0})
    assert rank["a"] > rank["b"] > rank.get("far", 0.0) == 0.0
    assert abs(sum(rank.values()) - 1.0) < 1e-6


def test_pagerank_signal_reaches_names_of_the_class_neighbourhood(write_workspace) -> None:
    index = _index(write_workspace, {"pkg/report.py": SIBLINGS})
    ctx, *_ = _ctx(index, "pkg/report.py", SIBLINGS)
    bonus = body_bonuses(ctx, ctx.body, ["format_name", "parse_url", "checksum"], ["pagerank"])
    assert bonus["format_name"] > bonus["parse_url"]
    assert bonus["format_name"] > bonus["checksum"]


def test_header_and_docstring_are_the_dense_query(write_workspace) -> None:
    index = _index(write_workspace, {"pkg/main.py": MAIN})
    ctx, *_ = _ctx(index, "pkg/main.py", MAIN)
    text = dense_query_text(ctx, ("header_dense",))
    assert text.startswith("def make_path(title_text):") and "URL path" in text
    assert "def make_path" not in dense_query_text(ctx, ()).split("\n")[-1]


def test_fill_adds_the_other_definitions_of_an_imported_module(write_workspace) -> None:
    src = '''from pkg import helpers


def make(rows):
    """Make it."""
    # CURSOR
'''
    index = _index(write_workspace, {"pkg/make.py": src})
    buffer, line, col = _cursor(src)
    query = CursorQuery("pkg/make.py", line, col, buffer)
    res = Retriever(index).retrieve(query, top_k=1, budget_tokens=2000)
    names = {s.symbol for s in res.snippets if s.path == "pkg/helpers.py"}
    assert names == {"slugify", "checksum", "render_table"}  # past top_k, within the budget
    cfg = replace(CFG, body_signals=tuple(s for s in CFG.body_signals if s != "fill"), fill_budget=False)
    res = Retriever(index, config=cfg).retrieve(query, top_k=1, budget_tokens=2000)
    assert len(res.snippets) <= 1  # top_k, and the graph proposes no module members


def _fused(i: int, lines: int = 2) -> Fused:
    text = "\n".join(f"def f{i}_{k}(x): pass" for k in range(lines))
    score = 1.0 / (i + 1)
    return Fused(cand=Candidate(f"m{i}.py", 1, lines, text, score, ["graph:import"]), score=score)


def test_packing_fills_the_budget_to_its_end() -> None:
    fused = [_fused(i) for i in range(40)]
    one = estimate_tokens(fused[0].cand.text)
    budget = 10 * one + one // 2
    out = pack(fused, budget_tokens=budget, top_k=3, fill_budget=True)
    used = sum(estimate_tokens(s.text) for s in out)
    assert len(out) == 10 and budget - used < one  # nothing more fits
    assert [s.path for s in out] == [f"m{i}.py" for i in range(10)]  # in rank order
    assert len(pack(fused, budget_tokens=budget, top_k=3)) == 3  # without filling: top_k
    # long candidates do not fill: only compact ones do
    big = [_fused(0, lines=30), *fused[1:4]]
    out = pack(big, budget_tokens=100_000, top_k=1, fill_budget=True)
    assert [s.path for s in out] == ["m0.py", "m1.py", "m2.py", "m3.py"]
    out = pack([_fused(5, lines=30), *big[1:]], budget_tokens=100_000, top_k=0, fill_budget=True)
    assert "m5.py" not in [s.path for s in out]


def test_bench_task_shape_keeps_the_rest_of_the_file(write_workspace, tmp_path: Path) -> None:
    # the rest of the file after the empty body is in the buffer; names used there are not "unused"
    index = _index(write_workspace, {"pkg/main.py": MAIN})
    ctx, *_ = _ctx(index, "pkg/main.py", MAIN)
    assert "checksum" not in unused_imports(ctx) and "render_table" not in unused_imports(ctx)


def test_find_definitions_many_matches_one_by_one(write_workspace) -> None:
    index = _index(write_workspace, {"pkg/more.py": "def slugify(x):\n    return x\n"})
    names = ["slugify", "checksum", "nothing_here"]
    many = index.find_definitions_many(names, limit=50)
    assert set(many) == set(names)
    for name in names:
        assert many[name] == index.find_definitions(name, limit=50)
    assert [s.path for s in many["slugify"]] == ["pkg/helpers.py", "pkg/more.py"]
    first = index.find_definitions_many(["slugify"], limit=1)["slugify"]
    assert [s.path for s in first] == ["pkg/helpers.py"]


def test_file_lines_cache_sees_a_changed_file(write_workspace) -> None:
    import os

    from ragls.retrieval.symbol_lookup import FileLinesCache

    index = _index(write_workspace, {})
    cache = FileLinesCache(size=2)
    first = cache.get(index, "pkg/names.py")
    assert first is not None and first[0].startswith("def format_name")
    assert cache.get(index, "pkg/names.py") is first  # kept
    target = index.root / "pkg/names.py"
    target.write_text("def renamed():\n    pass\n", encoding="utf-8")
    st = os.stat(target)
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert cache.get(index, "pkg/names.py")[0] == "def renamed():"
    assert cache.get(index, "pkg/missing.py") is None


def test_an_empty_body_skips_lexical_matching_unless_asked(write_workspace) -> None:
    index = _index(write_workspace, {"pkg/main.py": MAIN})
    buffer, line, col = _cursor(MAIN)
    query = CursorQuery("pkg/main.py", line, col, buffer)
    res = Retriever(index).retrieve(query)
    assert "graph" in res.timings and "lexical" not in res.timings
    res = Retriever(index).retrieve(query, sources=["lexical"])
    assert "lexical" in res.timings
    # elsewhere (code before the cursor in the body) lexical runs as before
    mid = MAIN.replace("    # CURSOR", "    slug = make(title_text)\n    # CURSOR")
    buffer, line, col = _cursor(mid)
    res = Retriever(index).retrieve(CursorQuery("pkg/main.py", line, col, buffer))
    assert "lexical" in res.timings
