"""Per-message records stay bounded however long a session runs."""

from __future__ import annotations

from ragls.server.state import CONTEXTS_MAX, REPORTED_MAX, ServerState


def test_reported_error_kinds_are_bounded_and_still_deduplicate() -> None:
    state = ServerState(engine_factory=lambda root, settings: None)  # type: ignore[arg-type,return-value]
    for i in range(20_000):  # kinds carry message text: every one distinct
        assert state.should_report(f"completion failed: {i} " + "x" * 200)
    assert len(state._reported) <= REPORTED_MAX
    assert state.should_report("recent") and not state.should_report("recent")


def test_remembered_contexts_are_bounded() -> None:
    state = ServerState(engine_factory=lambda root, settings: None)  # type: ignore[arg-type,return-value]
    for i in range(1000):
        state.remember_context(f"file:///w/f{i}.py", [])
    assert len(state.contexts) == CONTEXTS_MAX and "file:///w/f999.py" in state.contexts
    state.remember_context("file:///w/f500.py", [])  # touched again: kept as the newest
    state.remember_context("file:///w/new.py", [])
    assert "file:///w/f500.py" in state.contexts


def test_handled_notifications_leave_no_futures_behind() -> None:
    """pygls keeps the future of every notification (and of each step of its generator
    handlers) until a response that never comes; RaglsProtocol drops them when done."""
    import asyncio
    import io
    import logging

    from ragls.server.app import build_server

    def send(protocol, method: str, params: dict, msg_id: int | None = None) -> None:
        data = {"jsonrpc": "2.0", "method": method, "params": params}
        if msg_id is not None:
            data["id"] = msg_id
        protocol.handle_message(protocol.structure_message(data))

    class Sink:
        def __init__(self) -> None:
            self.out = io.BytesIO()

        def write(self, data: bytes) -> None:
            self.out.write(data)

        def close(self) -> None:
            pass

    async def session() -> int:
        protocol = build_server(engine_factory=lambda root, settings: None).protocol
        protocol.set_writer(Sink())
        send(protocol, "initialize", {"processId": None, "rootUri": None, "capabilities": {}}, 1)
        uri = "file:///elsewhere/a.py"
        doc = {"uri": uri, "languageId": "python", "version": 1, "text": "x = 1\n"}
        send(protocol, "textDocument/didOpen", {"textDocument": doc})
        start = {"line": 0, "character": 0}
        for version in range(2, 302):
            change = {"range": {"start": start, "end": start}, "text": "y"}
            send(protocol, "textDocument/didChange",
                 {"textDocument": {"uri": uri, "version": version}, "contentChanges": [change]})
        for _ in range(100):  # an async notification handler of ragls's own
            send(protocol, "ragls/cursorMoved", {"textDocument": {"uri": uri}, "position": start})
        send(protocol, "textDocument/didClose", {"textDocument": {"uri": uri}})
        await asyncio.sleep(0.2)
        return len(protocol._request_futures)

    level = logging.getLogger("ragls").level  # initialize sets it: restored afterwards
    try:
        assert asyncio.run(session()) == 0  # was 402 with pygls 2.1.1's own bookkeeping
    finally:
        logging.getLogger("ragls").setLevel(level)
