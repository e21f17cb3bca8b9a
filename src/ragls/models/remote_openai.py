"""OpenAI-compatible HTTP endpoints (llama.cpp server, Ollama, vLLM, LM Studio) over httpx.

Streams ``/v1/completions`` and ``/v1/chat/completions`` as server-sent events so a
cancelled request stops reading at once. The API key is read from an environment variable,
sent as a Bearer token, and never logged nor included in error messages.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import httpx

from ragls.cancel import NEVER, CancelToken
from ragls.errors import BackendError, ConfigError
from ragls.models.backend import GenerationRequest, GenerationResult, drain, estimate_tokens
from ragls.models.fim import TEMPLATES, FimTemplate
from ragls.redact import redact, redact_url, remember_secret

logger = logging.getLogger(__name__)

_BODY_EXCERPT = 200


def normalise_endpoint(endpoint: str) -> str:
    """``http://host:port``, ``.../v1`` or ``.../v1/`` -> base URL ending in ``/v1``."""
    url = endpoint.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"model endpoint must start with http:// or https://, got {endpoint!r}")
    for tail in ("/chat/completions", "/completions"):
        if url.endswith(tail):
            url = url[: -len(tail)]
    return url if url.endswith("/v1") else url + "/v1"


class RemoteOpenAIBackend:
    """A completion backend talking to an OpenAI-compatible server."""

    def __init__(self, endpoint: str, model: str | None = None, api_key_env: str | None = None,
                 connect_timeout_s: float = 3, read_timeout_s: float = 30, use_suffix: bool = False,
                 template: str | FimTemplate = "prefix",
                 transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = normalise_endpoint(endpoint)
        self.endpoint = endpoint
        self.model = model
        self.name = model or redact_url(self.base_url) or ""
        self.use_suffix = use_suffix
        if isinstance(template, FimTemplate):
            self.template = template
        elif template in TEMPLATES:
            self.template = TEMPLATES[template]
        else:
            raise ConfigError(f"unknown FIM template {template!r}; known: {', '.join(sorted(TEMPLATES))}")
        self._api_key: str | None = None
        if api_key_env:
            self._api_key = os.environ.get(api_key_env) or None
            remember_secret(self._api_key)
            if self._api_key is None:
                logger.warning("environment variable %s is not set: sending no API key", api_key_env)
        headers = {"Accept": "text/event-stream"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        timeout = httpx.Timeout(read_timeout_s, connect=connect_timeout_s)
        self._client = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout,
                                    transport=transport, trust_env=False)

    # --- public API -------------------------------------------------------------------

    def generate(self, req: GenerationRequest, cancel: CancelToken = NEVER,
                 on_text: Callable[[str], bool] | None = None) -> GenerationResult:
        body: dict[str, Any] = {"prompt": req.prompt, "max_tokens": req.max_tokens,
                                "temperature": req.temperature, "stream": True}
        if self.model:
            body["model"] = self.model
        if req.stop:
            body["stop"] = list(req.stop)[:4]  # OpenAI allows at most 4; the rest is cut locally
        if req.seed is not None:
            body["seed"] = req.seed
        if self.use_suffix and req.suffix:
            body["suffix"] = req.suffix
        return self._stream("/completions", body, _text_piece, list(req.stop), cancel, on_text)

    def chat(self, messages: list[dict[str, Any]], max_tokens: int = 512, temperature: float = 0.2,
             cancel: CancelToken = NEVER) -> GenerationResult:
        body: dict[str, Any] = {"messages": messages, "max_tokens": max_tokens,
                                "temperature": temperature, "stream": True}
        if self.model:
            body["model"] = self.model
        return self._stream("/chat/completions", body, _delta_piece, [], cancel, None)

    def count_tokens(self, text: str) -> int:
        """Approximate: about 3.5 characters per token for code."""
        return estimate_tokens(text)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> RemoteOpenAIBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- transport ----------------------------------------------------------------------

    def _redact(self, text: str) -> str:
        if self._api_key:
            text = text.replace(self._api_key, "***")
        return redact(text)

    def _fail(self, message: str) -> BackendError:
        err = BackendError(self._redact(message))
        logger.debug("%s", err)
        return err

    def _stream(self, route: str, body: dict[str, Any], piece_of: Callable[[dict[str, Any]], str],
                stops: list[str], cancel: CancelToken,
                on_text: Callable[[str], bool] | None) -> GenerationResult:
        t0 = time.perf_counter()
        if cancel.cancelled:
            return GenerationResult("", self.name, 0, "cancelled", 0.0)
        url = self.base_url + route
        try:
            with self._client.stream("POST", route, json=body) as resp:
                if resp.status_code >= 400:
                    excerpt = resp.read().decode("utf-8", errors="replace")[:_BODY_EXCERPT].strip()
                    detail = excerpt or resp.reason_phrase
                    raise self._fail(f"{url} answered HTTP {resp.status_code}: {detail}")
                pieces = self._pieces(resp, url, piece_of)
                text, tokens, finish, ran_out = drain(pieces, stops=stops, cancel=cancel, on_text=on_text)
                if ran_out and tokens == 0 and finish == "length":
                    raise self._fail(f"{url} sent an empty stream (no choices)")
        except BackendError:
            raise
        except httpx.ConnectError as exc:
            raise self._fail(f"cannot reach {self.endpoint}: {exc}") from None
        except httpx.ConnectTimeout as exc:
            raise self._fail(f"cannot reach {self.endpoint}: connection timed out ({exc})") from None
        except httpx.ReadTimeout:
            raise self._fail(f"{url} did not answer within the read timeout") from None
        except httpx.RemoteProtocolError as exc:
            raise self._fail(f"{url} closed the connection or broke the protocol: {exc}") from None
        except httpx.HTTPError as exc:
            raise self._fail(f"request to {url} failed: {type(exc).__name__}: {exc}") from None
        elapsed = (time.perf_counter() - t0) * 1000
        logger.debug("%s%s: %d chunks in %.0f ms (%s)", self.base_url, route, tokens, elapsed, finish)
        return GenerationResult(text, self.name, tokens, finish, elapsed)

    def _pieces(self, resp: httpx.Response, url: str,
                piece_of: Callable[[dict[str, Any]], str]) -> Iterator[tuple[str, str | None]]:
        """(text piece, finish reason) per streamed choice; an error event raises."""
        for event in self._events(resp, url):
            choices = event.get("choices")
            if not isinstance(choices, list) or not choices:
                if "error" in event:
                    raise self._fail(f"{url} sent an error: {str(event['error'])[:_BODY_EXCERPT]}")
                continue  # e.g. a usage-only chunk
            choice = choices[0] if isinstance(choices[0], dict) else {}
            yield piece_of(choice), choice.get("finish_reason")

    def _events(self, resp: httpx.Response, url: str) -> Iterator[dict[str, Any]]:
        """JSON payloads of an SSE stream up to ``data: [DONE]``; a plain JSON body is accepted too."""
        ctype = resp.headers.get("content-type", "")
        if "text/event-stream" not in ctype:
            raw = resp.read().decode("utf-8", errors="replace")
            try:
                payload = json.loads(raw)
            except ValueError:
                raise self._fail(f"{url} sent invalid JSON: {raw[:_BODY_EXCERPT]!r}") from None
            if not isinstance(payload, dict):
                raise self._fail(f"{url} sent unexpected JSON: {raw[:_BODY_EXCERPT]!r}")
            yield _as_stream_event(payload)
            return
        stream = sse_data(resp.iter_lines())
        while True:
            try:
                data = next(stream)
            except StopIteration:
                return
            except MalformedStream as exc:
                excerpt = str(exc)[:_BODY_EXCERPT]
                raise self._fail(f"{url} sent a malformed event stream line: {excerpt!r}") from None
            if data.strip() == "[DONE]":
                return
            try:
                event = json.loads(data)
            except ValueError:
                excerpt = data[:_BODY_EXCERPT]
                raise self._fail(f"{url} sent malformed JSON in the stream: {excerpt!r}") from None
            if not isinstance(event, dict):
                raise self._fail(f"{url} sent an unexpected stream event: {data[:_BODY_EXCERPT]!r}")
            yield event


class MalformedStream(ValueError):
    """A line of an event stream that is no field the format knows (the body is not SSE)."""


SSE_FIELDS = frozenset({"data", "event", "id", "retry"})


def sse_data(lines: Iterable[str]) -> Iterator[str]:
    """The data of each server-sent event (the HTML living standard's event stream format):
    an event ends at a blank line, its ``data`` lines are joined with newlines, one space after
    the colon is dropped, comments (``:``) and the fields event, id and retry are skipped (any
    other field means the body is no event stream: MalformedStream); an event without data is
    not dispatched. A stream that ends without a blank line still yields its last event
    (servers that close the connection right after it)."""
    buffer: list[str] = []
    for raw in lines:
        line = raw.rstrip("\r")
        if not line:
            if buffer:
                yield "\n".join(buffer)
                buffer = []
            continue
        if line.startswith(":"):
            continue
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            buffer.append(value)
        elif name not in SSE_FIELDS:
            raise MalformedStream(line)
    if buffer:
        yield "\n".join(buffer)


def _as_stream_event(payload: dict[str, Any]) -> dict[str, Any]:
    """A non-streamed reply (some servers ignore ``stream``) as one stream event."""
    choices = payload.get("choices")
    if isinstance(choices, list):
        for c in choices:
            if isinstance(c, dict) and "message" in c and "delta" not in c:
                c["delta"] = c["message"]
            if isinstance(c, dict) and not c.get("finish_reason"):
                c["finish_reason"] = "stop"
    return payload


def _text_piece(choice: dict[str, Any]) -> str:
    piece = choice.get("text")
    return piece if isinstance(piece, str) else ""


def _delta_piece(choice: dict[str, Any]) -> str:
    delta = choice.get("delta")
    piece = delta.get("content") if isinstance(delta, dict) else None
    return piece if isinstance(piece, str) else ""
