"""The SQLite store on its own, with hand-made parser records."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ragls.indexing import store_queries as q
from ragls.indexing import store_schema
from ragls.indexing.records import Chunk, Definition, Import, ParsedFile, Reference, content_hash
from ragls.indexing.store import Store


def _parsed(
    path: str, funcs: list[str], *, imports: list[Import] | None = None, calls: list[str] | None = None
) -> ParsedFile:
    defs, chunks = [], []
    for n, name in enumerate(funcs):
        line = 1 + 3 * n
        text = f"def {name}():\n    return {n}\n"
        defs.append(Definition(name, "function", line, line + 1, f"def {name}():", f"doc of {name}"))
        chunks.append(
            Chunk(content_hash(f"{path}\0{name}"), line, line + 1, "function", name, text, content_hash(text))
        )
    refs = [Reference(c, 100 + i, "call", None) for i, c in enumerate(calls or [])]
    return ParsedFile(
        path, "python", content_hash(path + "".join(funcs)), 3 * len(funcs), defs, refs, imports or [], chunks
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "idx")
    yield s
    s.close()


def _count(conn: sqlite3.Connection, table: str) -> int:
    return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_round_trip(store: Store) -> None:
    with store.writer() as w:
        a = w.write_file(_parsed("pkg/a.py", ["parse_file", "HTTPClient"]), 10, 111)
        b = w.write_file(
            _parsed(
                "pkg/b.py",
                ["main"],
                imports=[Import("pkg.a", ("parse_file",), 1)],
                calls=["parse_file", "print"],
            ),
            20,
            222,
        )
        w.replace_targets([(imp.import_id, imp.file_id, "pkg/a.py") for imp in w.imports_to_resolve()], None)
        w.set_meta({"root": "/x", "n": 3})
        assert w.recount_edges(None) == 2  # b->a import edge + b's use of parse_file
        assert w.recount_edges([a]) == 2
    conn = store.reader()
    assert q.files(conn) == [("pkg/a.py", "python"), ("pkg/b.py", "python")]
    defs = q.definitions_in(conn, "pkg/a.py")
    assert [(d.name, d.start_line, d.end_line, d.signature, d.doc) for d in defs] == [
        ("parse_file", 1, 2, "def parse_file():", "doc of parse_file"),
        ("HTTPClient", 4, 5, "def HTTPClient():", "doc of HTTPClient"),
    ]
    assert [d.path for d in q.find_definitions(conn, "main", 10)] == ["pkg/b.py"]
    (imp,) = q.imports_of(conn, "pkg/b.py")
    assert (imp.module, imp.names, imp.line, imp.targets, imp.external) == (
        "pkg.a",
        ("parse_file",),
        1,
        ("pkg/a.py",),
        False,
    )
    assert q.importers_of(conn, "pkg/a.py") == ["pkg/b.py"]
    assert q.importers_of(conn, "pkg/a.py", exclude={"pkg/b.py"}) == []
    assert [(r.path, r.name, r.line, r.kind) for r in q.refs_named(conn, "parse_file", ["pkg/b.py"], 10)] == [
        ("pkg/b.py", "parse_file", 100, "call")
    ]
    assert [r.name for r in q.refs_in_range(conn, "pkg/b.py", 101, 200)] == ["print"]
    assert [c.name for c in q.chunks_in(conn, "pkg/a.py")] == ["parse_file", "HTTPClient"]
    first = q.chunks_in(conn, "pkg/a.py")[0]
    assert q.chunks_where(conn, "chunk_id", [first.chunk_id]) == [first]
    assert q.chunks_where(conn, "content_hash", [first.content_hash]) == [first]
    assert sum(len(b) for b in q.iter_chunks(conn, 1)) == 3
    assert store.writer().get_meta("n") == 3
    assert (a, b) == (1, 2)


def test_edges_follow_a_changed_import_target(store: Store) -> None:
    with store.writer() as w:
        a = w.write_file(_parsed("a.py", ["helper", "other"]), 1, 1)
        w.write_file(
            _parsed("b.py", ["main"], imports=[Import("a", ("helper",), 1)], calls=["helper", "main"]), 1, 1
        )
        w.replace_targets([(i.import_id, i.file_id, "a.py") for i in w.imports_to_resolve()], None)
        assert w.recount_edges(None) == 3  # import b->a, helper (in a), main (in b itself)
        w.write_file(_parsed("a.py", ["renamed"]), 2, 2, a)
        assert w.recount_edges([a]) == 2  # only a changed, but b, its importer, is recounted
        assert w.recount_edges(None) == 2


def test_lexical_search_splits_identifiers(store: Store) -> None:
    with store.writer() as w:
        w.write_file(_parsed("a.py", ["parse_file", "HTTPClient"]), 1, 1)
        w.write_file(_parsed("b.py", ["unrelated"]), 1, 1)
    conn = store.reader()
    hits = q.lexical_search(conn, ["http"], 10)
    assert [(c.path, c.name) for c, _ in hits] == [("a.py", "HTTPClient")]
    assert hits[0][1] > 0
    # whole identifiers survive the tokenizer; exclude drops a path but still fills the limit
    assert [c.name for c, _ in q.lexical_search(conn, ["parse_file", "unrelated"], 1, exclude={"b.py"})] == [
        "parse_file"
    ]
    assert q.clean_terms(['"; DROP', "*", "HTTP", "http"]) == ["http"]
    assert q.lexical_search(conn, q.clean_terms(['"; DROP', "*"]), 5) == []


def test_replacing_a_file_leaves_no_old_rows(store: Store) -> None:
    with store.writer() as w:
        w.write_file(_parsed("a.py", ["old_one", "old_two"], calls=["x"]), 1, 1)
    with store.writer() as w:
        w.write_file(_parsed("a.py", ["fresh"]), 2, 2)
    conn = store.reader()
    assert [d.name for d in q.definitions_in(conn, "a.py")] == ["fresh"]
    assert _count(conn, "chunks") == 1 and _count(conn, "chunks_fts") == 1 and _count(conn, "ref_names") == 0
    assert q.refs_in_range(conn, "a.py", 1, 1000) == []
    assert q.lexical_search(conn, ["old_one"], 5) == []
    with store.writer() as w:
        w.delete_files([w.file_states()["a.py"].file_id])
    tables = ("files", "definitions", "chunks_fts", "file_refs", "imports")
    assert [_count(conn, t) for t in tables] == [0] * len(tables)


def test_rollback_keeps_previous_state(store: Store) -> None:
    with store.writer() as w:
        w.write_file(_parsed("a.py", ["keep"]), 1, 1)
    with pytest.raises(RuntimeError), store.writer() as w:
        w.write_file(_parsed("a.py", ["lost"]), 2, 2)
        raise RuntimeError("crash")
    assert [d.name for d in q.definitions_in(store.reader(), "a.py")] == ["keep"]


def test_schema_bump_rebuilds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = Store(tmp_path / "idx")
    with s.writer() as w:
        w.write_file(_parsed("a.py", ["f"]), 1, 1)
    s.close()
    monkeypatch.setattr(store_schema, "SCHEMA_VERSION", store_schema.SCHEMA_VERSION + 1)
    s2 = Store(tmp_path / "idx")
    conn = s2.reader()
    assert conn.execute("PRAGMA user_version").fetchone()[0] == store_schema.SCHEMA_VERSION
    assert q.files(conn) == []
    s2.close()


def test_corrupt_file_rebuilds(tmp_path: Path) -> None:
    (tmp_path / "idx").mkdir()
    (tmp_path / "idx" / store_schema.DB_NAME).write_bytes(b"this is not sqlite" * 500)
    s = Store(tmp_path / "idx")
    conn = s.reader()
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert q.counts(conn) == (0, 0, 0)
    s.close()


def test_term_selection_keeps_rare_terms_within_budget() -> None:
    df = {"common": 5000, "rare": 3, "mid": 900, "absent": 0, "also_mid": 1500}
    assert q.select_terms(df, budget=3000) == ["absent", "rare", "mid", "also_mid"]
    assert q.select_terms({"common": 5000, "other": 6000}, budget=3000) == ["common"]  # never empty


def test_chunk_terms_are_identifiers_and_their_subwords_without_keywords() -> None:
    from ragls.indexing.store import chunk_terms

    pf = _parsed("a.py", ["parseHTTPResponse_v2", "self_check"])  # def parseHTTPResponse_v2(): return 0
    assert chunk_terms(pf) == [
        "parsehttpresponse_v2 parse http response v2 parsehttpresponse_v2 parse http response v2",
        "self_check check self_check check",
    ]


def test_a_chunk_is_found_by_any_subword_of_its_names(store: Store) -> None:
    with store.writer() as w:
        w.write_file(_parsed("a.py", ["parseHTTPResponse_v2", "self_check"]), 1, 1)
    conn = store.reader()
    for term in ("parsehttpresponse_v2", "parse", "http", "response", "v2"):
        assert [c.name for c, _ in q.lexical_search(conn, [term], 5)] == ["parseHTTPResponse_v2"], term
    assert [c.name for c, _ in q.lexical_search(conn, ["check"], 5)] == ["self_check"]
    assert q.lexical_search(conn, ["return"], 5) == []  # keywords are not indexed


def test_importer_edges_are_patched_when_a_target_changes_its_names(store: Store) -> None:
    with store.writer() as w:
        a = w.write_file(_parsed("a.py", ["helper"]), 1, 1)
        w.write_file(
            _parsed("b.py", ["main"], imports=[Import("a", (), 1)], calls=["helper", "later", "main"]), 1, 1
        )
        w.replace_targets([(i.import_id, i.file_id, "a.py") for i in w.imports_to_resolve()], None)
        assert w.recount_edges(None) == 3  # import b->a, helper, main
    for funcs, total in ((["helper", "later"], 4), (["later", "helper"], 4), (["other"], 2), (["helper"], 3)):
        with store.writer() as w:
            w.write_file(_parsed("a.py", funcs), 2, 2, a)
            assert w.recount_edges([a]) == total
            assert w.recount_edges(None) == total


def test_rewriting_a_file_keeps_unchanged_chunks_searchable(store: Store) -> None:
    with store.writer() as w:
        a = w.write_file(_parsed("a.py", ["parse_file", "HTTPClient"]), 1, 1)
    conn = store.reader()
    kept = conn.execute("SELECT rowid FROM chunks WHERE name = 'HTTPClient'").fetchone()[0]
    with store.writer() as w:
        w.write_file(_parsed("a.py", ["tokenize_input", "HTTPClient"]), 2, 2, a)
    assert conn.execute("SELECT rowid FROM chunks WHERE name = 'HTTPClient'").fetchone()[0] == kept
    assert _count(conn, "chunks") == 2 and _count(conn, "chunks_fts") == 2
    assert [c.name for c in q.chunks_in(conn, "a.py")] == ["tokenize_input", "HTTPClient"]
    assert [c.name for c, _ in q.lexical_search(conn, ["http"], 5)] == ["HTTPClient"]
    assert [c.name for c, _ in q.lexical_search(conn, ["tokenize"], 5)] == ["tokenize_input"]
    assert q.lexical_search(conn, ["parse"], 5) == []
