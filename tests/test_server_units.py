"""Pure functions behind the server handlers: settings, positions, scheduling, edits."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import pytest
from lsprotocol import types

from ragls.errors import WorkspaceError
from ragls.lru import LRUCache
from ragls.server import positions
from ragls.server.features.code_actions import line_edits_to_text_edits
from ragls.server.features.completion_fallback import make_item
from ragls.server.scheduling import LatestWins, debounce
from ragls.server.settings import Settings, parse_settings, resolve_settings, settings_to_json


def test_settings_defaults_and_camel_case() -> None:
    settings, errors = parse_settings(
        {
            "model": {"path": "/m.gguf", "nCtx": 2048, "apiKeyEnv": "KEY"},
            "completion": {"debounceMs": 0},
            "logLevel": "DEBUG",
        }
    )
    assert errors == []
    assert (
        settings.model.path == "/m.gguf"
        and settings.model.n_ctx == 2048
        and settings.model.api_key_env == "KEY"
    )
    assert settings.completion.debounce_ms == 0 and settings.completion.enable_completion_fallback is False
    assert settings.log_level == "debug"
    assert settings.context == Settings().context


def test_invalid_settings_keep_valid_part() -> None:
    raw = {
        "model": {"nCtx": "big", "threads": 4, "source": "cloud"},
        "context": {"sources": ["graph", "web"]},
        "completion": {"enableCompletionFallback": "yes"},
        "index": {"ignore": "*.log"},
        "x": 1,
    }
    settings, errors = parse_settings(raw)
    assert settings.model.threads == 4
    assert settings.model.n_ctx == 4096 and settings.model.source == "local"
    assert settings.context.sources == ("graph", "dense", "lexical")
    text = "\n".join(errors)
    for key in (
        "model.nCtx",
        "model.source",
        "context.sources",
        "enableCompletionFallback",
        "index.ignore",
        ".x",
    ):
        assert key in text
    assert parse_settings("nope")[1] and parse_settings(None) == (Settings(), [])
    # nested under the section name, as some clients send it
    assert parse_settings({"ragls": {"model": {"threads": 3}}})[0].model.threads == 3


def test_project_file_then_init_options(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.ragls]\ntest_command = "pytest -q"\n[tool.ragls.model]\nthreads = 6\nmax_tokens = 32\n'
    )
    resolved = resolve_settings(tmp_path, {"model": {"maxTokens": 48}, "trustedWorkspace": True})
    settings = resolved.settings
    assert resolved.errors == []
    assert (
        settings.test_command == "pytest -q"  # a command: taken from the project only when trusted
        and settings.model.threads == 6
        and settings.model.max_tokens == 48
    )
    assert resolve_settings(tmp_path, {}).settings.test_command is None
    (tmp_path / "ragls.toml").write_text("[model\nbroken")
    resolved = resolve_settings(tmp_path, None)
    assert resolved.settings == Settings() and "ragls.toml" in resolved.errors[0]
    assert settings_to_json(Settings())["completion"] == {
        "debounceMs": 150,
        "coldPromptMs": 3000,
        "enableCompletionFallback": False,
        "timeoutMs": 30000,
    }


def test_positions_utf16_and_utf8() -> None:
    text = 'x = "😋é" + y\nsecond'
    # the closing quote: 5 code points in, 6 UTF-16 units, 9 UTF-8 bytes
    assert positions.to_cursor(text, types.Position(line=0, character=7)) == (1, 7)
    assert positions.to_cursor(text, types.Position(line=0, character=10), positions.UTF8) == (1, 7)
    assert positions.column_from_units('"😋"', 2) == 1  # inside the surrogate pair: snaps to its start
    assert positions.to_position(text, 1, 7) == types.Position(line=0, character=7)
    assert positions.to_cursor(text, types.Position(line=1, character=6)) == (2, 7)
    with pytest.raises(WorkspaceError):
        positions.to_cursor(text, types.Position(line=2, character=0))
    with pytest.raises(WorkspaceError):
        positions.to_cursor(text, types.Position(line=1, character=7))
    assert positions.word_end("foo_bar baz", types.Position(line=0, character=2)).character == 7


def test_lru_cache_is_bounded() -> None:
    cache: LRUCache[str, int] = LRUCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)  # evicts b, the least recently used
    assert cache.get("b") is None and cache.get("a") == 1 and len(cache) == 2


async def test_latest_wins_and_debounce() -> None:
    latest = LatestWins()
    first = latest.start("doc")
    second = latest.start("doc")
    assert first.token.cancelled and not second.token.cancelled
    assert not latest.is_current(first) and latest.is_current(second)
    other = latest.start("other")
    assert not other.token.cancelled
    waiting = asyncio.ensure_future(debounce(second, 5.0))
    await asyncio.sleep(0.05)
    latest.cancel("doc", "changed")
    assert await asyncio.wait_for(waiting, 1) is False
    assert await debounce(other, 0.01) is True
    latest.finish(second)
    assert latest.start("doc").seq > other.seq


@dataclass
class Edit:
    start_line: int
    end_line: int
    new_text: str


def test_line_edits_to_text_edits() -> None:
    text = "a\nb\nc"
    replace, insert, last, delete = line_edits_to_text_edits(
        text, [Edit(2, 2, "B\n"), Edit(1, 0, "top\n"), Edit(3, 3, "C\n"), Edit(1, 1, "")]
    )
    assert replace.range == types.Range(
        start=types.Position(line=1, character=0), end=types.Position(line=2, character=0)
    )
    assert replace.new_text == "B\n"
    assert insert.range.start == insert.range.end == types.Position(line=0, character=0)
    # the last line has no newline after it: the edit stops at its end and drops the extra newline
    assert last.range.end == types.Position(line=2, character=1) and last.new_text == "C"
    assert delete.new_text == "" and delete.range.end == types.Position(line=1, character=0)


def test_fallback_item() -> None:
    item = make_item("\n  foo(x)\n  return 1", "m", types.Position(line=3, character=2))
    assert item.label == "ragls: foo(x)" and item.detail == "ragls (m)"
    assert item.insert_text_format == types.InsertTextFormat.PlainText
    assert item.text_edit.new_text == "\n  foo(x)\n  return 1"
