"""How a local model's answer may begin: token healing and ruled-out starts (models/answer_start.py),
with the tiny generated GGUF and real llama.cpp, and the engine's side (what it leaves out)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from ragls.engine.completion_prompt import DOC_OPENINGS, avoid_at_start, heal_cut
from ragls.retrieval.cursor import Cursor


def at(text: str) -> Cursor:
    """A cursor at the end of `text`."""
    lines = text.split("\n")
    return Cursor.at(text, len(lines), len(lines[-1]) + 1)


FILE_A = "<|file_sep|>a.py\n<|fim_prefix|>" + "".join(f"alpha_{i} = compute({i}, 'a')\n" for i in range(20))


def test_heal_cut_leaves_out_the_space_the_next_token_would_start_with() -> None:
    assert heal_cut("def f():\n    ") == " "  # "       " + " try": the last space starts the word
    assert heal_cut("def f():\n\t\t") == "\t"
    assert heal_cut("x = ") == " "
    assert heal_cut("    proxy = select_pr") == ""  # a word may be complete: it stays
    assert heal_cut("call(") == ""
    assert heal_cut("def f():\n") == ""  # the line is empty


def test_a_second_docstring_is_ruled_out_only_where_the_body_has_one() -> None:
    with_doc = 'class A:\n    def f(self, x):\n        """Return x twice."""\n        '
    assert set(DOC_OPENINGS) <= set(avoid_at_start(at(with_doc), "python"))
    long_header = 'def g(\n    a,\n    b,\n) -> int:\n    """Add.\n\n    Args:\n        a: one\n    """\n    '
    assert set(DOC_OPENINGS) <= set(avoid_at_start(at(long_header), "python"))
    long_doc = 'def h():\n    """Run.\n' + "    More.\n" * 120 + '    """\n    '  # flask's run() has 60 lines
    assert set(DOC_OPENINGS) <= set(avoid_at_start(at(long_doc), "python"))
    assert not set(DOC_OPENINGS) & set(avoid_at_start(at("def f(x):\n    "), "python"))  # no docstring yet
    assert avoid_at_start(at(with_doc + "y = 1\n        "), "python") == ()  # not the start
    assert avoid_at_start(at('x = """text"""\n'), "python") == ()  # not a body
    assert avoid_at_start(at(with_doc), "javascript") == ()


def test_an_empty_body_does_not_open_with_what_follows_a_body() -> None:
    assert "@" in avoid_at_start(at("def f(x):\n    "), "python")  # a decorator belongs to the next function
    assert "def " not in avoid_at_start(at("def f(x):\n    "), "python")  # a nested function may come first
    method = '    @property\n    def is_success(self) -> bool:\n        """2xx."""\n        '
    assert "def " in avoid_at_start(at(method), "python")  # a method's body does not start the next method
    assert "def " in avoid_at_start(at("class A:\n    def f(self):\n        "), "python")


# --- the tiny model ------------------------------------------------------------------------------


@pytest.fixture()
def backend(tiny_server_model: Path):
    pytest.importorskip("llama_cpp")
    from ragls.models.local_gguf import LocalGGUFBackend

    b = LocalGGUFBackend(tiny_server_model, n_ctx=1024, threads=1)
    assert b._start.wait(30), "the vocabulary's pieces were not read"
    yield b
    b.close()


def token(backend, text: str) -> int:
    ids = backend._llm.tokenize(text.encode(), add_bos=False, special=False)
    assert len(ids) == 1, f"{text!r} is {len(ids)} tokens in the tiny vocabulary"
    return ids[0]


def step(processor, prompt: list[int], answer: list[int], n_vocab: int) -> np.ndarray:
    """The scores the processor leaves for the next token, all tokens equally likely before."""
    return processor(np.array(prompt + answer, dtype=np.intc), np.zeros(n_vocab, dtype=np.float32))


def test_a_healed_answer_begins_with_the_left_out_text(backend, monkeypatch: pytest.MonkeyPatch) -> None:
    from ragls.models import local_gguf
    from ragls.models.backend import GenerationRequest

    prompt = FILE_A + "x = <|fim_suffix|><|fim_middle|>"
    free = backend.generate(GenerationRequest(prompt, max_tokens=6, temperature=0.0, interactive=True))
    assert not free.text.startswith("zq")
    raw: list[str] = []
    real = local_gguf._after_heal

    def spy(pieces, heal):
        def seen():
            for piece, reason in pieces:
                raw.append(piece)
                yield piece, reason
        return real(seen(), heal)

    monkeypatch.setattr(local_gguf, "_after_heal", spy)
    healed = backend.generate(GenerationRequest(prompt, max_tokens=6, temperature=0.0, interactive=True,
                                                heal="zq"))
    written = "".join(raw)
    assert written.startswith("zq")  # held to the left-out text, against the model's own choice
    assert healed.text and written == "zq" + healed.text  # and handed back without it


def test_the_indentation_is_the_users(backend) -> None:
    prompt = backend._llm.tokenize(b"def f():\n   ", add_bos=False, special=False)
    n = backend._llm.n_vocab()
    proc = backend._start.processor(" ", (), len(prompt))
    first = step(proc, prompt, [], n)
    assert first[token(backend, " ")] == 0 and first[token(backend, " t")] == 0  # begin with the space
    assert np.isneginf(first[token(backend, "x")])  # anything else waits for it
    after = step(proc, prompt, [token(backend, " ")], n)
    for more in (" ", "\t", "\n"):  # the line's indentation is what the user typed: no more of it
        assert np.isneginf(after[token(backend, more)])
    assert after[token(backend, "x")] == 0


def test_a_ruled_out_start_stays_out_past_leading_whitespace(backend) -> None:
    prompt = backend._llm.tokenize(b'    """Doc."""\n    ', add_bos=False, special=False)
    n = backend._llm.n_vocab()
    proc = backend._start.processor("", ('"""',), len(prompt))
    quote = token(backend, '"')
    assert np.isneginf(step(proc, prompt, [], n)[quote])
    assert np.isneginf(step(proc, prompt, [token(backend, " "), token(backend, "\n")], n)[quote])
    assert step(proc, prompt, [token(backend, "x")], n)[quote] == 0  # the answer has opened


def test_a_ruled_out_start_is_not_written(backend) -> None:
    from ragls.models.backend import GenerationRequest

    prompt = FILE_A + "x = <|fim_suffix|><|fim_middle|>"
    free = backend.generate(GenerationRequest(prompt, max_tokens=4, temperature=0.0, interactive=True))
    first = free.text.lstrip()[:1]
    assert first, "the tiny model wrote nothing to rule out"
    banned = backend.generate(GenerationRequest(prompt, max_tokens=4, temperature=0.0, interactive=True,
                                                avoid_start=(first,)))
    assert banned.text and not banned.text.lstrip().startswith(first)


def test_the_engine_leaves_the_healed_end_out_of_the_prompt(write_workspace, backend) -> None:
    from ragls.engine.completion import CompletionEngine
    from ragls.indexing.workspace import WorkspaceIndex
    from ragls.retrieval.retriever import Retriever
    from ragls.retrieval.types import CursorQuery

    root = write_workspace({"app.py": "def total(order):\n    return order\n"})
    index = WorkspaceIndex.open(root)
    index.update()
    engine = CompletionEngine(index, Retriever(index), backend, max_tokens=8)
    buffer = "def total(order):\n    \n"
    prompt = engine.prompt_for(CursorQuery("app.py", 2, 5, buffer))
    assert prompt.heal == " "
    assert "def total(order):\n   <|fim_suffix|>" in prompt.text
    assert prompt.text[: prompt.stable_chars].endswith("def total(order):\n")  # the head is unchanged
    result = engine.complete(CursorQuery("app.py", 2, 5, buffer))
    assert not result.raw[:1].isspace()  # what follows the user's indentation, not more of it
    engine.heal = False
    assert engine.prompt_for(CursorQuery("app.py", 2, 5, buffer)).heal == ""
    index.close()


def test_a_one_shot_request_waits_for_the_vocabulary_an_editor_request_does_not(
    write_workspace, tiny_server_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Right after a model loads its vocabulary is still being read: the CLI's first (and only)
    request waits for it and heals; an editor request is answered at once, unhealed."""
    pytest.importorskip("llama_cpp")
    from ragls.engine.completion import CompletionEngine
    from ragls.indexing.workspace import WorkspaceIndex
    from ragls.models import answer_start
    from ragls.models.local_gguf import LocalGGUFBackend
    from ragls.retrieval.retriever import Retriever
    from ragls.retrieval.types import CursorQuery

    release = threading.Event()
    read = answer_start.AnswerStart._read_vocab

    def slow_read(self) -> None:  # the vocabulary arrives only once the test says so
        release.wait(10)
        read(self)

    monkeypatch.setattr(answer_start.AnswerStart, "_read_vocab", slow_read)
    root = write_workspace({"app.py": "def total(order):\n    return order\n"})
    index = WorkspaceIndex.open(root)
    index.update()
    backend = LocalGGUFBackend(tiny_server_model, n_ctx=1024, threads=1)
    try:
        query = CursorQuery("app.py", 2, 5, "def total(order):\n    \n")
        editor = CompletionEngine(index, Retriever(index), backend, max_tokens=8, lean_read_ms=1000.0)
        assert editor.prompt_for(query).heal == ""  # not ready, and an editor request never waits
        threading.Timer(0.3, release.set).start()
        one_shot = CompletionEngine(index, Retriever(index), backend, max_tokens=8, lean_read_ms=None)
        assert one_shot.prompt_for(query).heal == " " and backend.can_heal()
    finally:
        release.set()
        backend.close()
        index.close()
