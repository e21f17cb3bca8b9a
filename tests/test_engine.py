"""Engine pipelines: cursor cutting, grounding, verified fixes, test generation, completion."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragls.cancel import NEVER
from ragls.engine.buffer import extract_code, window
from ragls.engine.fix import FixEngine, fix_region, minimal_edits
from ragls.engine.grounding import called_names, ungrounded_names
from ragls.engine.prompt_fit import same_language
from ragls.engine.testgen import TestGenerator, fenced_tests, locate_test_file, python_module
from ragls.errors import WorkspaceError
from ragls.indexing.parser import parse_source
from ragls.indexing.records import Definition
from ragls.indexing.workspace import WorkspaceIndex
from ragls.models.backend import GenerationResult
from ragls.models.fim import TEMPLATES
from ragls.retrieval.retriever import Retriever

PROJECT = {
    "shop/models.py": '''
        class Order:
            def __init__(self, total):
                self.total = total

        def load_order(order_id):
            """Fetch an order."""
            return Order(order_id * 10)
        ''',
    "shop/service.py": """
        from shop.models import load_order


        def order_total(order_id):
            order = load_order(order_id)
            return order.total


        def apply_discount(price, rate):
            return price * (1 - rate)
        """,
}


class ScriptedBackend:
    """A stand-in model whose chat replies are given by the test, to check what ragls does with them."""

    name = "scripted"
    template = TEMPLATES["prefix"]

    def __init__(self, replies: list[str]) -> None:
        self.replies = list(replies)
        self.prompts: list[list[dict]] = []

    def chat(self, messages, max_tokens=512, temperature=0.2, cancel=NEVER):
        self.prompts.append(messages)
        text = self.replies.pop(0) if self.replies else ""
        return GenerationResult(text, self.name, len(text.split()), "stop", 1.0)

    def generate(self, req, cancel=NEVER, on_text=None):
        return self.chat([])

    def count_tokens(self, text: str) -> int:
        return len(text) // 4 + 1

    def close(self) -> None:
        pass


@pytest.fixture
def project(write_workspace) -> WorkspaceIndex:
    root = write_workspace(PROJECT)
    index = WorkspaceIndex.open(root)
    index.update()
    yield index
    index.close()


@pytest.fixture
def tiny_backend(tiny_server_model: Path):
    """The tiny generated GGUF with a window long enough for prompts of a long file."""
    from ragls.models.local_gguf import LocalGGUFBackend

    backend = LocalGGUFBackend(tiny_server_model, n_ctx=4096, threads=1)
    yield backend
    backend.close()


def test_window_keeps_the_last_lines_before_and_the_first_after() -> None:
    head, tail = window("\n".join(str(i) for i in range(100)), "x\ny\nz", 3, 1)
    assert head == "96\n97\n98\n99" and tail == "x\ny"


def test_extract_code_takes_the_first_fence() -> None:
    assert extract_code("Sure:\n```python\nx = 1\n```\nmore ```y```") == "x = 1"
    assert extract_code("x = 2\n") == "x = 2"


def test_grounding_flags_invented_calls_only(project: WorkspaceIndex) -> None:
    buffer = (project.root / "shop/service.py").read_text()
    kwargs = {"language": "python", "path": "shop/service.py", "buffer": buffer, "index": project}
    assert ungrounded_names("order = load_order(3)\nprint(len(order.total))", **kwargs) == []
    assert ungrounded_names("x = fetch_order_from_cache(3)", **kwargs) == ["fetch_order_from_cache"]
    # A call inside a string is not a call.
    assert called_names("s = 'nothing(here)'", "python") == []


def test_minimal_edits_touch_only_changed_lines() -> None:
    old = ["a", "b", "c", "d"]
    new = ["a", "B", "c", "d", "e"]
    edits = minimal_edits(old, new, 10)
    assert [(e.start_line, e.end_line, e.new_text) for e in edits] == [(11, 11, "B\n"), (14, 13, "e\n")]


def test_fix_is_offered_only_when_the_patch_parses(project: WorkspaceIndex) -> None:
    path = "shop/service.py"
    broken = (project.root / path).read_text().replace("price * (1 - rate)", "price * (1 - rate")
    line = broken.split("\n").index("    return price * (1 - rate") + 1
    retriever = Retriever(project)
    bad_then_good = ScriptedBackend(
        [
            "```python\ndef apply_discount(price, rate):\n    return price * ((1 - rate)\n```",
            "```python\ndef apply_discount(price, rate):\n    return price * (1 - rate)\n```",
        ]
    )
    proposal = FixEngine(project, retriever, bad_then_good).propose(
        path, broken, line, line, "'(' was never closed"
    )
    assert proposal is not None and proposal.parses
    assert [(e.start_line, e.end_line) for e in proposal.edits] == [(line, line)]
    assert proposal.edits[0].new_text == "    return price * (1 - rate)\n"
    assert len(bad_then_good.prompts) == 2  # the unparsable first answer was rejected and retried
    assert "was never closed" in bad_then_good.prompts[0][-1]["content"]

    never_parses = ScriptedBackend(["```\ndef apply_discount(:\n```"] * 3)
    rejected = FixEngine(project, retriever, never_parses).propose(path, broken, line, line, None)
    assert rejected is not None and not rejected.parses and "does not parse" in rejected.reason


def test_test_paths_follow_each_language_convention() -> None:
    fn = Definition("add", "function", 1, 2)
    assert locate_test_file("src/pkg/calc.py", "python", fn, None) == ("tests/test_calc.py", "pytest")
    assert locate_test_file("web/util.ts", "typescript", fn, None, "vitest") == ("web/util.test.ts", "vitest")
    assert locate_test_file("lib/calc.go", "go", fn, "calc") == ("lib/calc_test.go", "go test")
    assert locate_test_file("src/lib.rs", "rust", fn, None)[0] == "src/lib.rs"
    method = Definition("add", "method", 3, 4, parent="Calc")
    assert (
        locate_test_file("src/main/java/a/b/Calc.java", "java", method, "a.b")[0]
        == "src/test/java/a/b/CalcTest.java"
    )
    assert python_module("src/pkg/calc.py") == "pkg.calc" and python_module("pkg/__init__.py") == "pkg"


def test_generated_tests_import_the_target_when_the_model_forgets(project: WorkspaceIndex) -> None:
    path = "shop/service.py"
    buffer = (project.root / path).read_text()
    reply = "```python\ndef test_apply_discount():\n    assert apply_discount(100, 0.5) == 50\n```"
    gen = TestGenerator(project, Retriever(project), ScriptedBackend([reply]))
    assert (
        gen.target_at(path, buffer, 10) is not None
        and gen.target_at(path, buffer, 10).name == "apply_discount"
    )
    plan = gen.plan(path, buffer, 10)
    assert plan.test_path == "tests/test_service.py" and not plan.append and plan.target == "apply_discount"
    code = gen.write(plan)
    assert code.startswith("from shop.service import apply_discount")
    assert "def test_apply_discount" in code
    with pytest.raises(WorkspaceError):
        gen.plan(path, buffer, 3)  # a blank line between definitions: nothing to test

    # models paste the code first and copy the target into the test file: the tests must test
    # the workspace's function, so the copy goes and the import stays
    pasted = (
        "```python\ndef apply_discount(price, rate):\n    return 0\n```\nTests:\n```python\n"
        "from shop.service import apply_discount\n\ndef apply_discount(price, rate):\n    return 0\n\n"
        "def test_half():\n    assert apply_discount(100, 0.5) == 50\n```"
    )
    assert "def test_half" in fenced_tests(pasted)
    code = TestGenerator(project, Retriever(project), ScriptedBackend([pasted])).write(plan)
    assert "return 0" not in code and code.startswith("from shop.service import apply_discount")


def test_completion_pipeline_with_a_real_gguf(project: WorkspaceIndex, tiny_backend) -> None:
    from ragls.engine.completion import CompletionEngine
    from ragls.retrieval.types import CursorQuery

    # the tiny model's window (2,048 tokens) leaves room for context beside the code's floor
    backend = tiny_backend
    engine = CompletionEngine(project, Retriever(project), backend, budget_tokens=200, max_tokens=8)
    buffer = "from shop.models import load_order\n\n\ndef total(order_id):\n    order = load_order("
    result = engine.complete(CursorQuery("shop/service.py", 5, 24, buffer))
    assert result.model == backend.name
    assert set(result.timings) >= {"retrieval_ms", "prompt_ms", "generation_ms"}
    assert any(s.path == "shop/models.py" for s in result.context)  # cross-file context was used
    assert isinstance(result.completion, str)
    bare = engine.complete(CursorQuery("shop/service.py", 5, 24, buffer), no_context=True)
    assert bare.context == []


def test_a_rewrite_is_not_offered_as_a_fix(project: WorkspaceIndex) -> None:
    path = "shop/service.py"
    broken = (project.root / path).read_text().replace("price * (1 - rate)", "price * (1 - rate")
    line = broken.split("\n").index("    return price * (1 - rate") + 1
    unrelated = "```python\nimport numpy as np\n\ndef search(q):\n    return np.array(q)\n```"
    proposal = FixEngine(project, Retriever(project), ScriptedBackend([unrelated] * 3)).propose(
        path, broken, line, line, None
    )
    assert proposal is not None and not proposal.parses
    assert "drops or renames apply_discount" in proposal.reason
    star = "```python\nfrom typing import *\n\ndef apply_discount(price, rate):\n"
    star += "    return price * (1 - rate)\n```"
    proposal = FixEngine(project, Retriever(project), ScriptedBackend([star] * 3)).propose(
        path, broken, line, line, None
    )
    assert proposal is not None and not proposal.parses
    assert proposal.reason == "the patch adds a wildcard import (from typing import *)"


def test_prefix_window_start_moves_in_aligned_steps() -> None:
    text = "\n".join(f"line {i}" for i in range(100))
    starts = set()
    for cursor_line in range(70, 80):  # the cursor moves down ten lines
        prefix = "\n".join(text.split("\n")[:cursor_line])
        head, _ = window(prefix, "", 20, 0, align=16)
        assert len(head.split("\n")) >= 21
        starts.add(head.split("\n")[0])
    assert len(starts) <= 2  # at most one jump of the window start in ten lines


class FixedRetriever:
    """Returns the snippets a test gives it, in order, one list per call."""

    def __init__(self, *answers: list) -> None:
        self.answers = list(answers)

    def retrieve(self, query, **kwargs):
        from ragls.retrieval.types import RetrievalResult

        return RetrievalResult(self.answers.pop(0), 1.0, {})


class RecordingBackend(ScriptedBackend):
    def __init__(self) -> None:
        super().__init__([])
        self.raw_prompts: list[str] = []

    def generate(self, req, cancel=NEVER, on_text=None):
        self.raw_prompts.append(req.prompt)
        return GenerationResult("x", self.name, 1, "stop", 1.0)


def test_context_stays_identical_across_keystrokes(project: WorkspaceIndex) -> None:
    from ragls.engine.completion import CompletionEngine
    from ragls.retrieval.types import CursorQuery, Snippet

    def snip(path: str, line: int) -> Snippet:
        return Snippet(path, line, line + 1, 1.0, ["graph"], f"def f{line}():\n    pass")

    a, b, c, d = snip("x.py", 1), snip("y.py", 5), snip("z.py", 9), snip("w.py", 2)
    retriever = FixedRetriever([a, b, c], [b, a, c], [d, c, a])
    backend = RecordingBackend()
    engine = CompletionEngine(project, retriever, backend, budget_tokens=500, max_tokens=8)
    buffer = "from shop.models import load_order\n\n\ndef total(order_id):\n    order = load_"
    first = engine.complete(CursorQuery("shop/service.py", 5, 99, buffer))
    # typing along the line asks the retriever nothing: the line's context is reused as it is
    same_line = engine.complete(CursorQuery("shop/service.py", 5, 99, buffer + "or"))
    assert same_line.context == first.context and len(retriever.answers) == 2
    buffer += "order(order_id)\n    "
    second = engine.complete(CursorQuery("shop/service.py", 6, 99, buffer))
    assert second.context == first.context  # the same snippets reordered: the old list is kept
    third = engine.complete(CursorQuery("shop/service.py", 7, 99, buffer + "\n    "))
    assert [s.path for s in third.context] == ["w.py", "z.py", "x.py"]  # d is new: fresh context
    p1, p2 = backend.raw_prompts[0], backend.raw_prompts[2]
    head = p1.index("order = load_")
    assert p2[:head] == p1[:head]  # the whole context head of the prompt is unchanged


def test_imports_above_the_window_lead_the_prompt(project: WorkspaceIndex, tiny_backend) -> None:
    from ragls.engine.completion import CompletionEngine
    from ragls.engine.completion_prompt import PREFIX_LINES
    from ragls.retrieval.types import CursorQuery, Snippet

    backend = tiny_backend
    engine = CompletionEngine(project, Retriever(project), backend, max_tokens=8)
    filler = [f"def step_{i}(x):\n    return sorted(x)" for i in range(PREFIX_LINES)]
    buffer = ("import os\nfrom collections import OrderedDict\nfrom shop.models import load_order\n\n"
              + "\n".join(filler) + "\n\n\ndef total(order_id):\n    ")
    query = CursorQuery("shop/service.py", buffer.count("\n") + 1, 5, buffer)
    prompt = engine.prompt_for(query)
    window_start = prompt.prefix.index("def step_")
    head = prompt.prefix[:window_start]
    assert "from shop.models import load_order" in head and "import os" in head
    assert "def step_0(" not in prompt.prefix  # the window really starts below the imports
    # only what is named somewhere: a name the window already uses is not repeated
    used = buffer.replace("return sorted(x)", "return OrderedDict(x)")
    head = engine.prompt_for(CursorQuery("shop/service.py", query.line, 5, used)).prefix
    assert "OrderedDict" not in head.split("def step_")[0]
    bare = engine.prompt_for(query, no_context=True)
    assert "load_order" not in bare.prefix and not bare.prefix.startswith("import")
    # a benchmark's own context (Jaccard windows) gets the plain code; an oracle standing in for
    # retrieval asks for retrieval's prompt, imports in front
    snippet = Snippet("shop/models.py", 1, 2, 1.0, ["oracle"], "def load_order(order_id):\n    return {}")
    plain = engine.prompt_for(query, context_override=[snippet])
    assert plain.prefix.startswith("def step_") and plain.context == [snippet]
    headed = engine.prompt_for(query, context_override=[snippet], override_head=True)
    assert "from shop.models import load_order" in headed.prefix.split("def step_")[0]


def test_a_window_inside_a_long_docstring_still_shows_the_function_header(project: WorkspaceIndex,
                                                                          tiny_backend) -> None:
    from ragls.engine.completion import CompletionEngine
    from ragls.engine.completion_prompt import PREFIX_LINES
    from ragls.retrieval.types import CursorQuery

    backend = tiny_backend
    engine = CompletionEngine(project, Retriever(project), backend, max_tokens=8)
    doc = "\n".join(f"        step {i} of the total." for i in range(PREFIX_LINES + 20))
    buffer = ("from shop.models import load_order\n\n\nclass Till:\n    def total(self, order_id):\n"
              '        """Add up an order.\n\n' + doc + '\n        """\n        ')
    query = CursorQuery("shop/service.py", buffer.count("\n") + 1, 9, buffer)
    for prompt in (engine.prompt_for(query), engine.prompt_for(query, no_context=True)):
        assert "step 0 of" not in prompt.prefix  # the window starts inside the docstring
        header = 'class Till:\n    def total(self, order_id):\n        """Add up an order.\n'
        assert header in prompt.prefix
        code = prompt.prefix.split("class Till:")[1]
        assert code.count('"""') == 2  # opened and closed: the model does not read code as a string


def test_a_long_cold_prompt_time_never_outgrows_the_models_window(project: WorkspaceIndex,
                                                                  tmp_path: Path) -> None:
    from gguf_tiny import make_tiny_gguf

    from ragls.engine.completion import CompletionEngine
    from ragls.models.local_gguf import LocalGGUFBackend
    from ragls.retrieval.types import CursorQuery

    backend = LocalGGUFBackend(make_tiny_gguf(tmp_path / "tiny.gguf", "llama"), n_ctx=512, threads=1)
    try:
        engine = CompletionEngine(project, Retriever(project), backend, max_tokens=16, cold_prompt_ms=60_000)
        engine.read_speed.tps = 500.0  # 30,000 tokens in a minute: far more than the window
        assert engine.prompt_tokens_target() <= 512 - 16
        buffer = "\n".join(f"value_{i} = compute({i})" for i in range(400)) + "\n"
        prompt = engine.prompt_for(CursorQuery("shop/service.py", 401, 1, buffer))
        assert backend.count_tokens(prompt.text) + 16 <= 512
    finally:
        backend.close()


def test_typing_an_imported_name_leaves_the_imports_in_the_prompt(project: WorkspaceIndex,
                                                                  tiny_backend) -> None:
    from ragls.engine.completion import CompletionEngine
    from ragls.engine.completion_prompt import PREFIX_LINES
    from ragls.retrieval.types import CursorQuery

    backend = tiny_backend
    engine = CompletionEngine(project, Retriever(project), backend, max_tokens=8)
    filler = "\n".join(f"def step_{i}(x):\n    return sorted(x)" for i in range(PREFIX_LINES))
    buffer = "from shop.models import load_order\n\n" + filler + "\n\n\ndef total(order_id):\n    "
    line = buffer.count("\n") + 1
    before = engine.prompt_for(CursorQuery("shop/service.py", line, 5, buffer))
    # a fresh engine: what it puts in the head cannot come from the first prompt's memo
    fresh = CompletionEngine(project, Retriever(project), backend, max_tokens=8)
    typed = fresh.prompt_for(CursorQuery("shop/service.py", line, 15, buffer + "load_order"))
    assert "import load_order" in before.prefix
    head = before.text[: before.stable_chars]
    assert typed.text.startswith(head)  # the model's cached head is still good


def test_typing_into_a_string_keeps_the_lines_context(project: WorkspaceIndex) -> None:
    from ragls.engine.completion import CompletionEngine
    from ragls.retrieval.types import CursorQuery, Snippet

    snippet = Snippet("x.py", 1, 2, 1.0, ["graph"], "def shout(text):\n    pass")
    retriever = FixedRetriever([snippet], [snippet])
    backend = RecordingBackend()
    engine = CompletionEngine(project, retriever, backend, budget_tokens=500, max_tokens=8)
    buffer = "from shop.models import load_order\n\n\ndef total(order_id):\n    "
    first = engine.complete(CursorQuery("shop/service.py", 5, 5, buffer))
    assert first.context == [snippet]
    # the user types on into a string literal: no new retrieval, the same context and prompt head
    quoted = engine.complete(CursorQuery("shop/service.py", 5, 99, buffer + 'shout("an order of'))
    assert quoted.context == [snippet] and len(retriever.answers) == 1
    head = backend.raw_prompts[0].index("def total")
    assert backend.raw_prompts[1][:head] == backend.raw_prompts[0][:head]
    # a new line that starts inside a comment gains nothing from context: nothing is retrieved
    comment = engine.complete(CursorQuery("shop/service.py", 6, 99, buffer + "x = 1\n    # the total of"))
    assert comment.context == [] and len(retriever.answers) == 1


def test_a_small_prompt_is_all_code_and_asks_for_no_context(project: WorkspaceIndex, tiny_backend) -> None:
    from ragls.engine.completion import CompletionEngine
    from ragls.engine.completion_prompt import MIN_CODE_TOKENS
    from ragls.retrieval.types import CursorQuery, Snippet

    stub = Snippet("shop/models.py", 6, 8, 1.0, ["graph"],
                   'def load_order(order_id):\n    """Fetch an order."""')
    retriever = FixedRetriever([stub], [stub])
    engine = CompletionEngine(project, retriever, tiny_backend, max_tokens=8)
    engine.read_speed.observe = lambda res: None
    filler = "\n".join(f"def step_{i}(x):\n    return sorted(x)\n" for i in range(40))
    buffer = f"from shop.models import load_order\n\n{filler}\n\ndef total(order_id):\n    "
    query = CursorQuery("shop/service.py", buffer.count("\n") + 1, 5, buffer)
    engine.read_speed.tps = 60.0  # a slow model: 180 tokens in 3 s, under the code's floor
    assert engine.prompt_tokens_target() <= MIN_CODE_TOKENS and engine.context_budget() == 0
    small = engine.prompt_for(query)
    assert small.context == [] and len(retriever.answers) == 2  # the retriever was not asked
    engine.read_speed.tps = 200.0  # 600 tokens: the code keeps its share, context gets the rest
    assert engine.context_budget() > 0
    large = engine.prompt_for(query)
    assert [s.path for s in large.context] == ["shop/models.py"] and len(retriever.answers) == 1
    # the code's share of a prompt with context: never under the floor, the prefix share above it
    assert engine.code_share(320) * 320 >= MIN_CODE_TOKENS and engine.code_share(2000) == engine.prefix_share


def test_the_style_example_is_a_test_in_the_targets_language(write_workspace) -> None:
    files = {
        "app/text.py": "def shout(s):\n    return s.upper()\n",
        "client/test/cursor.test.ts": 'import { test } from "node:test";\ntest("moves", () => {});\n',
        "app/test_selection.py": "def pick(names):\n    return sorted(names)\n",  # a module, not a test
    }
    index = WorkspaceIndex.open(write_workspace(files))
    try:
        index.update()
        buffer = files["app/text.py"]
        gen = TestGenerator(index, Retriever(index), ScriptedBackend([]))
        prompt = gen.plan("app/text.py", buffer, 1).messages[-1]["content"]
        assert "node:test" not in prompt and "existing test" not in prompt  # no Python test yet
        assert "def pick" not in prompt
        (index.root / "tests").mkdir()
        (index.root / "tests" / "test_other.py").write_text("def test_other():\n    assert 1 + 1 == 2\n")
        index.update()
        prompt = gen.plan("app/text.py", buffer, 1).messages[-1]["content"]
        assert "existing test" in prompt and "def test_other" in prompt and "node:test" not in prompt
    finally:
        index.close()


def test_the_style_example_comes_from_a_test_of_the_targets_module(write_workspace) -> None:
    long_test = "def test_long():\n" + "    x = 1\n" * 15 + "    assert x == 1\n"
    files = {
        "app/text.py": "def shout(s):\n    return s.upper()\n\n\ndef whisper(s):\n    return s.lower()\n",
        "tests/test_alpha.py": "def test_alpha():\n    assert 'a' < 'b'\n",  # sorts first, unrelated
        "tests/test_words.py": (
            "import pytest\nfrom app.text import whisper\n\n\n" + long_test + "\n\n"
            "@pytest.fixture\ndef word():\n    return 'Hi'\n\n\n"
            "def test_fixture(word):\n    assert whisper(word) == 'hi'\n\n\n"
            "def test_whisper():\n    assert whisper('AB') == 'ab'\n"
        ),
    }
    index = WorkspaceIndex.open(write_workspace(files))
    try:
        index.update()
        gen = TestGenerator(index, Retriever(index), ScriptedBackend([]))
        prompt = gen.plan("app/text.py", files["app/text.py"], 1).messages[-1]["content"]
        example = prompt.split("follow its style:\n```\n")[1].split("```")[0]
        # the related file's imports and its one short test that needs no fixture, nothing else
        assert example.startswith("import pytest\nfrom app.text import whisper\n")
        assert "def test_whisper" in example and "test_alpha" not in example
        assert "test_long" not in example and "test_fixture" not in example
    finally:
        index.close()


def test_a_style_example_with_set_up_code_shows_only_its_imports(write_workspace) -> None:
    """A small model copies an example test that builds things; it follows one that only asserts."""
    set_up = "def test_built():\n    s = 'a' * 3\n    assert shout(s) == 'AAA'\n"
    files = {
        "app/text.py": "def shout(s):\n    return s.upper()\n\n\ndef whisper(s):\n    return s.lower()\n",
        "tests/test_alpha.py": "import os\n\n\ndef test_alpha():\n    path = os.sep\n    assert path\n",
        "tests/test_names.py": "from app.text import shout\n\n\ndef test_n():\n    assert 1\n",  # names it
        "tests/test_words.py": "import pytest\nfrom app.text import shout, whisper\n\n\n" + set_up,
    }
    index = WorkspaceIndex.open(write_workspace(files))
    try:
        index.update()
        gen = TestGenerator(index, Retriever(index), ScriptedBackend([]))
        prompt = gen.plan("app/text.py", files["app/text.py"], 5).messages[-1]["content"]
        example = prompt.split("follow its style:\n```\n")[1].split("```")[0]
        # the file importing `whisper` (not the one that only imports its module), imports alone
        assert example == "import pytest\nfrom app.text import shout, whisper\n"
        (index.root / "tests" / "test_words.py").unlink()
        (index.root / "tests" / "test_names.py").unlink()
        index.update()
        prompt = gen.plan("app/text.py", files["app/text.py"], 5).messages[-1]["content"]
        assert "existing test" not in prompt  # an unrelated file lends nothing without such a test
    finally:
        index.close()


def test_a_broken_python_function_is_fixed_within_its_indentation() -> None:
    source = (
        "import os\n\n\n"
        "@cache\n"
        "def count(text: str) -> int:\n"
        '    """How many."""\n'
        '    return text.count("x"\n'  # unclosed: the parse runs on into the class below
        "\n\n"
        "class Point:\n"
        "    x: int\n"
        "    y: int\n"
    )
    lines = source.split("\n")
    parsed = parse_source("m.py", source.encode())
    assert parsed.syntax_errors
    fixed = source.replace('count("x"\n', 'count("x")\n')
    region = fix_region(fixed.split("\n"), parse_source("m.py", fixed.encode()), 7, 7)
    assert region[1] == 7 and fix_region(lines, parsed, 7, 7) == region  # the function, not the class


def test_fix_and_test_prompts_show_context_in_the_targets_language_only(write_workspace) -> None:
    from ragls.retrieval.types import Snippet

    files = {
        "app/text.py": "def shout(s):\n    return s.upper()\n",
        "web/text.ts": "export function shout(s: string): string {\n  return s.toUpperCase();\n}\n",
        "web/view.tsx": "export const View = () => null;\n",
        "web/old.js": "module.exports = {};\n",
    }
    index = WorkspaceIndex.open(write_workspace(files))
    try:
        index.update()
        snippets = [Snippet(p, 1, 2, 1.0, ["lexical"], files[p]) for p in files]
        assert [s.path for s in same_language(index, snippets, "python")] == ["app/text.py"]
        family = [s.path for s in same_language(index, snippets, "typescript")]
        assert family == ["web/text.ts", "web/view.tsx", "web/old.js"]
    finally:
        index.close()


def test_the_suffix_ends_where_the_next_definition_starts(project: WorkspaceIndex, tiny_backend) -> None:
    from ragls.engine.code_window import block_suffix
    from ragls.engine.completion import CompletionEngine
    from ragls.retrieval.types import CursorQuery

    # an empty body: the next method is not the one being written
    assert block_suffix("\n\n    @property\n    def is_redirect(self):", 8) == "\n\n"
    # inside a body the rest of the body stays, up to the next definition outside it
    inside = "x)\n        return y\n\n    def other(self):\n        pass"
    assert block_suffix(inside, 8) == "x)\n        return y\n\n"
    # a closing bracket or a nested definition is not the end of the block
    call = "\n    )\n    def inner():\n        pass"
    assert block_suffix(call, 8) == "\n    )\n"
    assert block_suffix("\n        def helper():\n            pass", 8).endswith("pass")
    assert block_suffix("\ndef top():\n    pass", 0) == "\ndef top():\n    pass"  # module level: all of it

    engine = CompletionEngine(project, Retriever(project), tiny_backend, max_tokens=8)
    buffer = ("class Response:\n    @property\n    def is_success(self):\n        \n\n"
              "    @property\n    def is_redirect(self):\n        return 3\n")
    query = CursorQuery("shop/service.py", 4, 9, buffer)
    assert "is_redirect" not in engine.prompt_for(query).suffix
    engine.own_block = False
    assert "is_redirect" in engine.prompt_for(query).suffix
