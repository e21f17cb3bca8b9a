"""Pure parts of retrieval: cursor arithmetic, weighted RRF fusion, budget packing."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragls.errors import WorkspaceError
from ragls.indexing.records import Definition
from ragls.models.backend import estimate_tokens
from ragls.retrieval.cursor import (
    Cursor,
    enclosing_definition,
    near_identifiers,
    normalize_path,
    signature_names,
)
from ragls.retrieval.fusion import fuse, rrf_contributions, source_family
from ragls.retrieval.packing import condense, pack
from ragls.retrieval.types import Candidate, Snippet

W = {"graph": 1.0, "dense": 0.7, "lexical": 0.6, "recent": 0.3}


def cand(path: str, start: int, end: int, score: float = 1.0, tag: str = "graph", **kw) -> Candidate:
    text = kw.pop("text", None) or "\n".join(f"{path} line {i}" for i in range(start, end + 1))
    return Candidate(path=path, start_line=start, end_line=end, text=text, score=score, sources=[tag], **kw)


# ---- cursor ----------------------------------------------------------------------------------


def test_cursor_cuts_at_one_based_positions_and_clamps_the_column() -> None:
    text = "a = 1\nb = foo(\nc = 3"
    at = Cursor.at(text, 2, 9)
    assert at.lines == ["a = 1", "b = foo(", "c = 3"]
    assert (at.prefix, at.suffix) == ("a = 1\nb = foo(", "\nc = 3")
    assert (at.line_before, at.line_after) == ("b = foo(", "")
    past = Cursor.at(text, 2, 99)  # past the end of the line: clamped to its end
    assert (past.col, past.prefix, past.suffix) == (9, "a = 1\nb = foo(", "\nc = 3")
    mid = Cursor.at("ab\ncdef\n", 2, 3)
    assert (mid.prefix, mid.suffix, mid.line_before, mid.line_after) == ("ab\ncd", "ef\n", "cd", "ef")
    assert (Cursor.at("ab\n", 1, 1).prefix, Cursor.at("ab\n", 1, 1).suffix) == ("", "ab\n")
    end = Cursor.at("ab\n", 2, 1)  # the empty line after a final newline
    assert (end.prefix, end.suffix, end.col) == ("ab\n", "", 1)
    assert Cursor.at("", 1, 5).col == 1


@pytest.mark.parametrize(("line", "col"), [(0, 1), (4, 1), (5, 1), (1, 0)])
def test_cursor_rejects_out_of_range(line: int, col: int) -> None:
    with pytest.raises(WorkspaceError, match="out of range"):
        Cursor.at("x\ny\n", line, col)


def test_cursor_error_names_the_line_count() -> None:
    with pytest.raises(WorkspaceError, match=r"line 9 out of range \(buffer has 3 lines\)"):
        Cursor.at("a\nb\nc", 9, 1)


def test_near_identifiers_weights_by_closeness() -> None:
    lines = ["far_name = 1", "", "", "", "", "mid_name = 2", "user = load_user(", "after_name()"]
    ids = dict(near_identifiers(lines, 7, len(lines[6]) + 1, 40))
    assert ids["load_user"] > ids["user"] > ids["mid_name"] > ids["far_name"]
    assert ids["after_name"] < ids["far_name"]  # after the cursor counts only a little
    assert "return" not in ids and "self" not in ids


def test_near_identifiers_ignores_text_right_of_cursor_and_keywords() -> None:
    lines = ["def run(self):", "    return helper(x) + hidden_right"]
    ids = dict(near_identifiers(lines, 2, len("    return helper(") + 1, 40, suffix_lines=0))
    assert "helper" in ids and "hidden_right" not in ids and "def" not in ids


def test_enclosing_definition_is_innermost() -> None:
    defs = [
        Definition("Svc", "class", 1, 30),
        Definition("run", "method", 5, 12, signature="def run(self, user: User) -> Result:", parent="Svc"),
        Definition("other", "function", 40, 45),
    ]
    enc = enclosing_definition(defs, 8)
    assert enc is not None and enc.qualname == "Svc.run"
    assert enclosing_definition(defs, 35) is None
    assert signature_names(enc) == ["user", "User", "Result"]
    # a half-typed body must not leak into the header (the parser's signature may run on)
    broken = Definition("greet", "function", 1, 3, signature="def greet(uid: Id) -> str: x = later_call(")
    buffer = ["def greet(uid: Id) -> str:", "    x = later_call(", ""]
    assert signature_names(broken, buffer) == ["uid", "Id"]
    assert signature_names(broken) == ["uid", "Id"]


def test_normalize_path(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    assert normalize_path(root, "pkg/mod.py") == "pkg/mod.py"
    assert normalize_path(root, str(root / "pkg" / "mod.py")) == "pkg/mod.py"
    assert normalize_path(root, "./pkg/../a.py") == "a.py"
    for bad in ("../elsewhere.py", "/etc/passwd", "."):
        with pytest.raises(WorkspaceError):
            normalize_path(root, bad)


# ---- fusion ----------------------------------------------------------------------------------


def test_rrf_contributions_follow_rank_and_weight() -> None:
    out = rrf_contributions({"graph": [cand("a", 1, 2, 0.1), cand("b", 1, 2, 0.9)]}, W, 60)
    by_path = {c.path: v for c, _, v in out}
    assert by_path["b"] == pytest.approx(1.0 / 61) and by_path["a"] == pytest.approx(1.0 / 62)
    assert source_family("graph:import") == "graph"


def test_fusion_sums_sources_of_the_same_chunk() -> None:
    shared = cand("m.py", 10, 20, chunk_id="c1")
    ranked = {
        "graph": [
            cand("x.py", 1, 3, 2.0, "graph:import"),
            cand("m.py", 10, 20, 1.0, "graph:ref", chunk_id="c1"),
        ],
        "lexical": [Candidate(**{**shared.__dict__, "sources": ["lexical"]})],
    }
    fused = fuse(ranked, weights=W)
    assert [f.cand.path for f in fused] == ["m.py", "x.py"]  # two sources beat one better rank
    assert fused[0].sources == ["graph:ref", "lexical"]
    assert fused[0].score == pytest.approx(1.0 / 62 + 0.6 / 61)


def test_fusion_merges_overlapping_ranges_into_union() -> None:
    ranked = {"graph": [cand("m.py", 10, 20, tag="graph:ref")], "dense": [cand("m.py", 15, 25, tag="dense")]}
    fused = fuse(ranked, weights=W, max_lines=60)
    assert len(fused) == 1
    f = fused[0]
    assert (f.cand.start_line, f.cand.end_line) == (10, 25)
    assert f.cand.text.split("\n") == [f"m.py line {i}" for i in range(10, 26)]
    assert f.sources == ["graph:ref", "dense"]


def test_fusion_keeps_contained_and_separate_ranges() -> None:
    ranked = {
        "graph": [cand("m.py", 10, 40)],
        "lexical": [cand("m.py", 12, 14, tag="lexical"), cand("m.py", 50, 52, tag="lexical")],
    }
    fused = fuse(ranked, weights=W)
    ranges = sorted((f.cand.start_line, f.cand.end_line) for f in fused)
    assert ranges == [(10, 40), (50, 52)]


def test_fusion_drops_disk_text_of_current_file_and_prompt_window() -> None:
    ranked = {
        "graph": [
            cand("cur.py", 100, 110, tag="graph:local", from_buffer=True),  # far from the cursor: kept
            cand("cur.py", 48, 52, tag="graph:local", from_buffer=True),  # inside the prompt window
        ],
        "lexical": [cand("cur.py", 200, 210, tag="lexical"), cand("other.py", 1, 5, tag="lexical")],  # disk
    }
    fused = fuse(ranked, weights=W, current_path="cur.py", window=(10, 60))
    kept = {(f.cand.path, f.cand.start_line) for f in fused}
    assert kept == {("cur.py", 100), ("other.py", 1)}


def test_fusion_ignores_zero_weight_sources() -> None:
    fused = fuse({"dense": [cand("a", 1, 1, tag="dense")]}, weights={"dense": 0.0})
    assert fused == []


# ---- packing ---------------------------------------------------------------------------------


def _fused(cands: list[Candidate]):
    return fuse({"graph": cands}, weights=W)


def test_pack_respects_budget_and_top_k() -> None:
    cands = [cand(f"f{i}.py", 1, 10, score=10 - i) for i in range(6)]
    fused = _fused(cands)
    each = estimate_tokens(cands[0].text)
    out = pack(fused, budget_tokens=each * 3 + 1, top_k=8)
    assert [s.path for s in out] == ["f0.py", "f1.py", "f2.py"]
    assert sum(estimate_tokens(s.text) for s in out) <= each * 3 + 1
    assert len(pack(fused, budget_tokens=10_000, top_k=2)) == 2
    assert all(isinstance(s, Snippet) for s in out)
    assert out[0].score >= out[1].score >= out[2].score


def test_pack_condenses_long_definition_that_does_not_fit() -> None:
    body = "\n".join(f"    x{i} = compute_value({i})" for i in range(30))
    text = f'def big(a, b):\n    """Compute the big thing."""\n{body}\n    return a'
    c = cand("big.py", 1, 33, text=text, signature="def big(a, b):", doc="Compute the big thing.")
    full = estimate_tokens(text)
    out = pack(_fused([c]), budget_tokens=full // 3, top_k=8)
    assert len(out) == 1
    s = out[0]
    assert s.text.startswith('def big(a, b):\n    """Compute the big thing."""')
    assert s.text.rstrip().endswith("more lines)") and "    # ..." in s.text
    assert estimate_tokens(s.text) <= full // 3
    assert (s.start_line, s.end_line) == (1, 33)


@pytest.mark.parametrize(
    ("text", "tokens"),
    [("", 0), ("x", 1), ("abcdefg", 2), ("abcdefgh", 3), ("def load_user(user_id):", 7), ("x" * 350, 100)],
)
def test_token_estimate_of_known_strings(text: str, tokens: int) -> None:
    assert estimate_tokens(text) == tokens  # 3.5 characters a token, rounded up


def test_pack_uses_given_token_counter_and_skips_what_cannot_fit() -> None:
    cands = [cand("a.go", 1, 2, 3.0, text="func A() {\n}"), cand("b.go", 1, 1, 2.0, text="B := 1")]
    words = lambda t: len(t.split())  # noqa: E731
    out = pack(_fused(cands), budget_tokens=3, top_k=8, count_tokens=words)
    assert [s.path for s in out] == ["b.go"]  # a.go costs 4 words; condensing cannot shrink 2 lines
    assert sum(words(s.text) for s in out) <= 3


def test_condense_uses_language_comment() -> None:
    text = "func Big() {\n" + "\n".join(f"\tx := {i}" for i in range(20)) + "\n}"
    out = condense(text, "pkg/big.go")
    assert out.startswith("func Big() {") and "\t// ... (" in out
    assert len(out.split("\n")) < 8


def test_snippet_to_json_schema() -> None:
    s = Snippet("a.py", 1, 2, 0.5, ["graph:import", "lexical"], "x = 1", symbol="x")
    assert s.to_json() == {"path": "a.py", "start_line": 1, "end_line": 2, "score": 0.5,
                           "sources": ["graph:import", "lexical"], "text": "x = 1"}


# ---- stubs, graph-led fusion, bodies after stubs -------------------------------------------

LONG_DEF = [
    "import os",
    "",
    "@decorate",
    "def fetch(url,",
    "          timeout=3):",
    '    """Fetch a URL and return its body.',
    "",
    "    More words here.",
    '    """',
    "    a = 1",
    "    b = 2",
    "    return a + b",
]


def test_stub_is_header_and_first_doc_line_with_real_range() -> None:
    from ragls.retrieval.stubs import definition_candidate

    c = definition_candidate("net.py", LONG_DEF, 4, 12, score=1.0, tag="graph:import", symbol="fetch")
    assert c is not None and (c.start_line, c.end_line) == (4, 6)
    assert c.text.split("\n") == LONG_DEF[3:6]  # exactly the file's lines 4..6
    assert c.full_end == 12 and c.body.split("\n") == LONG_DEF[3:12]
    short = definition_candidate("net.py", ["def one():", "    return 1"], 1, 2, score=1.0, tag="graph:ref",
                                 symbol="one")
    assert short is not None and short.full_end is None and (short.start_line, short.end_line) == (1, 2)


def test_fusion_lead_keeps_graph_top_candidate_first() -> None:
    ranked = {
        "graph": [cand("top.py", 1, 2, 3.0, "graph:import"), cand("two.py", 1, 2, 2.0, "graph:import")],
        "lexical": [cand("two.py", 1, 2, 5.0, "lexical"), cand("lex.py", 1, 9, 4.0, "lexical")],
        "dense": [cand("two.py", 1, 2, 5.0, "dense")],
    }
    assert fuse(ranked, weights=W)[0].cand.path == "two.py"  # plain RRF: agreement wins
    fused = fuse(ranked, weights=W, lead=1)
    assert [f.cand.path for f in fused][:2] == ["top.py", "two.py"]


def test_fusion_keeps_stub_range_when_a_chunk_around_it_merges() -> None:
    stub = cand("m.py", 10, 12, 2.0, "graph:import", full_end=40, body="x")
    ranked = {"graph": [stub], "lexical": [cand("m.py", 5, 40, 1.0, "lexical")]}
    fused = fuse(ranked, weights={"graph": 2.0, "lexical": 0.6})
    assert len(fused) == 1 and (fused[0].cand.start_line, fused[0].cand.end_line) == (10, 12)
    assert fused[0].sources == ["graph:import", "lexical"]


def test_pack_adds_whole_body_of_best_stub_after_stubs() -> None:
    body = "\n".join(f"big line {i}" for i in range(1, 21))
    stubs = [cand("big.py", 1, 2, 3.0, text="big line 1\nbig line 2", full_end=20, body=body),
             cand("b.py", 1, 1, 2.0), cand("c.py", 1, 1, 1.0)]
    out = pack(_fused(stubs), budget_tokens=10_000, top_k=8)
    assert [(s.path, s.start_line, s.end_line) for s in out] == [
        ("big.py", 1, 2), ("b.py", 1, 1), ("c.py", 1, 1), ("big.py", 1, 20)]
    assert out[-1].text == body
    tight = pack(_fused(stubs), budget_tokens=estimate_tokens(stubs[0].text) + 20, top_k=8)
    assert all(s.end_line - s.start_line < 19 for s in tight)  # no room: stubs only
