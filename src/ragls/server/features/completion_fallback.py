"""textDocument/completion fallback for clients without inline completion (or when enabled):
one item carrying the whole multi-line suggestion as plain text."""

from __future__ import annotations

import logging
from typing import Any

from lsprotocol import types

from ragls.server.features.inline_completion import compute
from ragls.server.state import ServerState

logger = logging.getLogger(__name__)


def fallback_enabled(state: ServerState) -> bool:
    return not state.client_inline_completion or state.settings.completion.enable_completion_fallback


def make_item(text: str, model: str, position: types.Position) -> types.CompletionItem:
    first = next((line for line in text.split("\n") if line.strip()), text).strip()
    label = f"ragls: {first[:60]}"
    return types.CompletionItem(
        label=label,
        kind=types.CompletionItemKind.Snippet,
        detail=f"ragls ({model})",
        documentation=types.MarkupContent(kind=types.MarkupKind.PlainText, value=text),
        insert_text_format=types.InsertTextFormat.PlainText,
        text_edit=types.TextEdit(range=types.Range(start=position, end=position), new_text=text),
        filter_text="",
        sort_text="0",
        preselect=True,
    )


def register(server: Any) -> None:
    @server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(resolve_provider=False))
    async def completion(ls: Any, params: types.CompletionParams) -> types.CompletionList | None:
        state: ServerState = ls.state
        if not fallback_enabled(state):
            return None
        suggestion = await compute(ls, params.text_document.uri, params.position)
        if suggestion is None or not suggestion.text.strip():
            return types.CompletionList(is_incomplete=True, items=[])
        item = make_item(suggestion.text, suggestion.model, suggestion.position)
        return types.CompletionList(is_incomplete=True, items=[item])
