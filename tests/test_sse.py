"""The event-stream reader of the remote backend follows the format: multi-line data, comments,
other fields, a missing final blank line."""

from __future__ import annotations

import pytest

from ragls.models.remote_openai import MalformedStream, sse_data


def test_multi_line_data_is_one_event() -> None:
    lines = ['data: {"choices":', 'data:  [{"text": "a"}]}', "", "data: [DONE]", ""]
    assert list(sse_data(lines)) == ['{"choices":\n [{"text": "a"}]}', "[DONE]"]


def test_comments_fields_and_carriage_returns() -> None:
    lines = [": keep-alive", "event: completion", "id: 7", "retry: 1000", "data:x\r", "\r", "data: y"]
    assert list(sse_data(lines)) == ["x", "y"]  # the last event needs no blank line
    assert list(sse_data(["event: ping", "", ""])) == []  # no data: nothing dispatched


def test_a_body_that_is_not_an_event_stream_is_refused() -> None:
    with pytest.raises(MalformedStream):
        list(sse_data(["this is not an event stream"]))
