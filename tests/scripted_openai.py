"""A real OpenAI-compatible HTTP server on 127.0.0.1 that answers chat requests from a script.

Tests give it the replies a model would send (patches, test files) and check what ragls does
with them: the pass/fail logic is then exercised on known inputs, over a real socket.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ScriptedServer:
    def __init__(self) -> None:
        self.replies: list[str] = []
        self.requests: list[dict] = []  # the JSON bodies received, in order
        self._lock = threading.Lock()
        self.url = ""

    def script(self, *replies: str) -> None:
        with self._lock:
            self.replies = list(replies)
            self.requests = []

    def _next(self, body: dict) -> str:
        with self._lock:
            self.requests.append(body)
            return self.replies.pop(0) if self.replies else "I have nothing more to say."

    @property
    def user_messages(self) -> list[str]:
        return [r["messages"][-1]["content"] for r in self.requests if "messages" in r]


def _handler(server: ScriptedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            text = server._next(body)
            if self.path.endswith("/chat/completions"):
                events = [{"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": "stop"}]}]
            else:
                events = [{"choices": [{"index": 0, "text": text, "finish_reason": "stop"}]}]
            payload = b"".join(f"data: {json.dumps(e)}\n\n".encode() for e in events) + b"data: [DONE]\n\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


@contextmanager
def scripted_server() -> Iterator[ScriptedServer]:
    state = ScriptedServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
