"""Restarts never close a resource under a thread still using it; closing stops every worker."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from pathlib import Path

import pytest
from fault_helpers import DIM, HashEmbedder, write_workspace
from lsprotocol import types
from test_server_harness import initialize, open_doc, start_client

from ragls.errors import RaglsError
from ragls.server.engine_host import InFlight
from ragls.server.scheduling import Pools


def test_inflight_close_waits_for_calls_inside_and_refuses_new_ones() -> None:
    gate = InFlight()
    inside = threading.Event()
    left_at: list[float] = []

    def call() -> None:
        with gate.enter():
            inside.set()
            time.sleep(0.3)
            left_at.append(time.monotonic())

    worker = threading.Thread(target=call)
    worker.start()
    inside.wait(5)
    assert gate.close(5.0)
    closed_at = time.monotonic()
    assert left_at and closed_at >= left_at[0]
    with pytest.raises(RaglsError), gate.enter():
        pass
    worker.join()
    busy = InFlight()
    with busy.enter():
        assert busy.close(0.05) is False  # a call that does not leave: close says so


async def test_pools_drain_waits_for_submitted_work_but_not_for_skipped_pools() -> None:
    pools = Pools()
    finished: list[str] = []

    def slow(name: str, s: float) -> None:
        time.sleep(s)
        finished.append(name)

    try:
        reads = asyncio.ensure_future(pools.run(pools.reads, slow, "read", 0.3))
        pools.submit(pools.model, slow, "model", 0.2)
        pools.submit(pools.index, slow, "index", 2.0)
        await asyncio.sleep(0.01)
        assert await pools.drain(5.0, skip=(pools.index,))
        assert sorted(finished) == ["model", "read"]  # the index job may still run
        await reads
        pools.submit(pools.model, slow, "late", 1.0)
        assert await pools.drain(0.05) is False  # timeout reported, not hidden
    finally:
        pools.shutdown()


def test_session_close_stops_the_dense_worker(tmp_path: Path) -> None:
    from ragls.engine.session import open_session
    from ragls.indexing.vectors import VectorStore
    from ragls.models.embeddings import EmbeddingConfig
    from ragls.retrieval.embedding_jobs import EmbeddingScheduler
    from ragls.retrieval.types import CursorQuery

    def dense_threads() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name.startswith("ragls-dense") and t.is_alive()]

    root = tmp_path / "ws"
    write_workspace(root, 12)
    session = open_session(root, embedding_config=EmbeddingConfig(kind="none"))
    session.index.update()
    store = VectorStore(session.index.index_dir, HashEmbedder.model_id, DIM)
    EmbeddingScheduler(session.index, HashEmbedder(), store).run_until_done()
    session.retriever.embedder, session.retriever.vectors = HashEmbedder(), store
    session.retriever.config.latency_budget_ms = 10_000  # let the dense stage start
    before = set(dense_threads())
    session.retriever.retrieve(CursorQuery("pkg1/mod1.py", 8, 1))
    assert set(dense_threads()) - before, "the dense worker never started"
    session.close()
    assert not set(dense_threads()) - before


class SlowBackend:
    """A backend whose generation cannot be interrupted for 0.5 s (like one llama_decode call);
    it records whether anything closed it while it was still generating."""

    name = "slow"

    def __init__(self) -> None:
        from ragls.models.fim import TEMPLATES

        self.template = TEMPLATES["prefix"]
        self.generating = False
        self.closed_while_generating = False

    def generate(self, req, cancel=None, on_text=None):  # type: ignore[no-untyped-def]
        from ragls.models.backend import GenerationResult

        self.generating = True
        time.sleep(0.5)
        self.generating = False
        return GenerationResult("x", self.name, 1, "stop", 500.0)

    def count_tokens(self, text: str) -> int:
        return max(1, len(text) // 4)

    def close(self) -> None:
        self.closed_while_generating |= self.generating


def test_closing_the_host_waits_for_the_model_call_in_flight(tmp_path: Path) -> None:
    from ragls.cancel import CancelToken
    from ragls.retrieval.types import CursorQuery
    from ragls.server.engine_host import SessionHost
    from ragls.server.settings import parse_settings

    root = tmp_path / "ws"
    write_workspace(root, 3)
    settings = parse_settings({"embeddings": {"kind": "none"}})[0]
    host = SessionHost(root, settings)
    host.index.update()
    backend = SlowBackend()
    host.session._backend = backend  # the model a real session would have loaded
    worker = threading.Thread(
        target=host.complete, args=(CursorQuery("pkg1/mod1.py", 8, 1),), kwargs={"cancel": CancelToken()}
    )
    worker.start()
    while not backend.generating:
        time.sleep(0.005)
    host.close()  # on the index pool in the server: must not pull the model from under generate
    worker.join()
    assert not backend.closed_while_generating
    with pytest.raises(RaglsError):
        host.complete(CursorQuery("pkg1/mod1.py", 8, 1), cancel=CancelToken())


@pytest.mark.e2e
@pytest.mark.timeout(180)
async def test_settings_change_during_a_completion_restarts_cleanly(
    tmp_path: Path, tiny_server_model: Path
) -> None:
    """A model-changing setting arrives while the model generates: the restart waits for the
    cancelled generation to stop before closing the model, the request is answered once, and
    the new engine answers the next request."""
    root = tmp_path / "ws"
    root.mkdir()
    (root / "calc.py").write_text(
        "def add(a, b):\n    return a + b\n\n\ndef total(xs):\n    return ", "utf-8"
    )
    client = await start_client([sys.executable, "-m", "ragls", "serve", "--log-file", str(tmp_path / "log")])
    try:
        options = {
            "model": {"path": str(tiny_server_model), "nCtx": 2048, "maxTokens": 400, "threads": 1},
            "embeddings": {"kind": "none"},
            "completion": {"debounceMs": 0},
        }
        await initialize(client, "neovim_v0.12.0", root, options)
        uri = (root / "calc.py").as_uri()
        open_doc(client, uri, (root / "calc.py").read_text())
        params = types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=5, character=len("    return ")),
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
        )
        first = asyncio.ensure_future(client.text_document_inline_completion_async(params))
        await asyncio.sleep(1.5)  # the model is loaded and generating its 400 tokens
        options["model"]["maxTokens"] = 8
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"ragls": options})
        )
        await asyncio.wait_for(first, 120)  # answered (empty or not), exactly once, no crash
        second = await asyncio.wait_for(client.text_document_inline_completion_async(params), 120)
        assert second is not None
        status = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="ragls.indexStatus", arguments=[])
        )
        assert status["engine_error"] is None and status["settings"]["model"]["maxTokens"] == 8
    finally:
        await client.shutdown_session()
        await client.stop()
    log = (tmp_path / "log").read_text(encoding="utf-8")
    assert "settings changed: restarting the engine" in log
    assert "still running" not in log and "Traceback" not in log
