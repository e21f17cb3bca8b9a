"""The editor buffer overrides the disk version of the current file, everywhere in retrieval."""

from __future__ import annotations

from ragls.indexing.workspace import WorkspaceIndex
from ragls.retrieval.cursor import build_context
from ragls.retrieval.retriever import Retriever
from ragls.retrieval.types import CursorQuery, RetrievalConfig

MARKER = "DISK_ONLY_MARKER_7f3a"

FILES = {
    "helpers.py": '''
        def normalize_email(address: str) -> str:
            """Lower-case and strip an e-mail address."""
            return address.strip().lower()
        ''',
    # the saved version: what the index holds for app.py
    "app.py": f'''
        from helpers import normalize_email


        def stale_helper(value):
            """{MARKER}: only on disk."""
            return "{MARKER}" + normalize_email(value)


        def register(form):
            email = stale_helper(form["email"])
            return email
        ''',
}

FILLER = "\n".join(f"CONSTANT_{i} = {i}" for i in range(30))

# the unsaved buffer: stale_helper is gone, fresh_helper is defined far below the cursor
BUFFER = f'''from helpers import normalize_email


def register(form):
    email = fresh_helper(normalize_email(form["email"]))
    stale = stale_helper(email)
    return email


{FILLER}


def fresh_helper(value):
    """Only in the unsaved buffer."""
    return value.replace("+", "")
'''


def _cursor() -> CursorQuery:
    line = BUFFER.split("\n").index("    stale = stale_helper(email)") + 1
    return CursorQuery("app.py", line, len("    stale = stale_helper(") + 1, text=BUFFER)


def _open(write_workspace) -> WorkspaceIndex:
    index = WorkspaceIndex.open(write_workspace(FILES))
    index.update()
    assert MARKER in (index.read_text("app.py") or "")
    return index


def _assert_buffer_wins(snippets) -> None:
    texts = [s.text for s in snippets]
    assert texts, "retrieval found nothing"
    assert not any(MARKER in t for t in texts), "disk text of the current file leaked into the context"
    assert not any("def stale_helper" in t for t in texts)
    helper = [s for s in snippets if s.path == "helpers.py"]
    assert helper and "def normalize_email" in helper[0].text
    fresh = [s for s in snippets if s.path == "app.py"]
    assert fresh and "def fresh_helper(value):" in fresh[0].text  # cut from the buffer
    assert fresh[0].sources == ["graph:local"]
    lines = BUFFER.split("\n")
    assert fresh[0].text.split("\n")[0] == lines[fresh[0].start_line - 1]


def test_query_text_overrides_disk(write_workspace) -> None:
    index = _open(write_workspace)
    res = Retriever(index).retrieve(_cursor(), budget_tokens=2000)
    _assert_buffer_wins(res.snippets)
    index.close()


def test_overlay_overrides_disk_when_query_has_no_text(write_workspace) -> None:
    index = _open(write_workspace)
    index.set_overlay("app.py", BUFFER)
    q = _cursor()
    q.text = None
    res = Retriever(index).retrieve(q, budget_tokens=2000)
    _assert_buffer_wins(res.snippets)
    index.close()


def test_cursor_context_comes_from_buffer(write_workspace) -> None:
    index = _open(write_workspace)
    ctx = build_context(index, _cursor(), RetrievalConfig())
    assert ctx.enclosing is not None and ctx.enclosing.name == "register"
    assert ctx.prefix.endswith("stale = stale_helper(")
    assert ctx.suffix.startswith("email)\n    return email")
    assert MARKER not in ctx.prefix + ctx.suffix
    assert {d.name for d in ctx.parsed.definitions} >= {"register", "fresh_helper"}
    names = [n for n, _ in ctx.identifiers]
    assert names[0] == "stale_helper"
    index.close()


def test_buffer_definitions_inside_prompt_window_are_not_repeated(write_workspace) -> None:
    index = _open(write_workspace)
    small = BUFFER.replace(FILLER + "\n", "")  # fresh_helper now sits right below the cursor
    q = _cursor()
    q.text = small
    res = Retriever(index).retrieve(q, budget_tokens=2000)
    assert not [s for s in res.snippets if s.path == "app.py"]
    assert not any(MARKER in s.text for s in res.snippets)
    index.close()
