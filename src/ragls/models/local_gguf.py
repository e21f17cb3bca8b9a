"""Local GGUF models through llama-cpp-python, owned by one dedicated worker thread.

The model is loaded once; every generate/chat call is submitted to a single-thread
executor, so calls from any thread are serialised and the model is only ever touched by
its worker. llama.cpp keeps the KV cache of the previous evaluation and reuses the longest
shared token prefix of the next prompt, so nothing here resets the model between calls.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ragls.cancel import NEVER, CancelToken
from ragls.errors import ModelError
from ragls.models.backend import GenerationRequest, GenerationResult, check_gguf_file, cut_at_stop
from ragls.models.fim import TEMPLATES, FimTemplate, detect_template

log = logging.getLogger(__name__)


class LocalGGUFBackend:
    """A llama.cpp model with streaming generation, cancellation and early stop."""

    def __init__(self, model_path: Path | str, n_ctx: int = 4096, threads: int = 2,
                 template: str | None = None, seed: int = 0) -> None:
        self.path = Path(model_path)
        check_gguf_file(self.path)
        self.name = self.path.stem
        n_ctx = _clamp_context(self.path, n_ctx)
        self.n_ctx = n_ctx
        self.seed = seed
        self.last_prefix_reuse = 0  # prompt tokens reused from the KV cache by the last call
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"ragls-llm-{self.name}")
        self._closed = False
        self._lock = threading.Lock()
        t0 = time.perf_counter()
        try:
            self._llm = self._executor.submit(self._load, n_ctx, threads).result()
        except BaseException:
            self._executor.shutdown(wait=False)
            raise
        self.load_ms = (time.perf_counter() - t0) * 1000
        self.metadata: dict[str, str] = dict(self._llm.metadata or {})
        if template is not None:
            if template not in TEMPLATES:
                raise ModelError(f"unknown FIM template {template!r}; known: {', '.join(sorted(TEMPLATES))}")
            self.template: FimTemplate = TEMPLATES[template]
        else:
            self.template = detect_template(self.metadata, self.path.name)
        log.info("loaded %s in %.0f ms (n_ctx=%d, threads=%d, template=%s)",
                 self.path, self.load_ms, n_ctx, threads, self.template.name)

    def _load(self, n_ctx: int, threads: int) -> Any:
        try:
            import llama_cpp
        except ImportError as exc:
            raise ModelError(
                "local models need llama-cpp-python (pip install 'ragls[local]'); "
                f"import failed: {exc}"
            ) from exc
        try:
            return llama_cpp.Llama(
                model_path=str(self.path), n_ctx=n_ctx, n_threads=threads, n_batch=512,
                verbose=False, logits_all=False, seed=self.seed,
            )
        except Exception as exc:  # llama-cpp raises ValueError/RuntimeError on bad files
            raise ModelError(f"cannot load model {self.path}: {exc}") from exc

    # --- public API -------------------------------------------------------------------

    def generate(self, req: GenerationRequest, cancel: CancelToken = NEVER,
                 on_text: Callable[[str], bool] | None = None) -> GenerationResult:
        """Complete ``req.prompt``; blocks until done, cancelled or stopped by ``on_text``."""
        return self._submit(self._generate, req, cancel, on_text)

    def chat(self, messages: list[dict[str, Any]], max_tokens: int = 512, temperature: float = 0.2,
             cancel: CancelToken = NEVER) -> GenerationResult:
        """Chat completion with the GGUF's chat template, streamed so cancellation is prompt."""
        return self._submit(self._chat, messages, max_tokens, temperature, cancel)

    def count_tokens(self, text: str) -> int:
        """Exact token count with the model's tokenizer (read-only; safe from any thread)."""
        if not text:
            return 0
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        llm = self._llm
        self._executor.submit(llm.close).result()
        self._executor.shutdown(wait=True)

    def __enter__(self) -> LocalGGUFBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- worker side --------------------------------------------------------------------

    def _submit(self, fn: Callable[..., GenerationResult], *args: Any) -> GenerationResult:
        if self._closed:
            raise ModelError(f"model {self.name} is closed")
        return self._executor.submit(fn, *args).result()

    def _note_prefix_reuse(self, prompt: str) -> None:
        llm = self._llm
        n_cached = int(llm.n_tokens)
        if n_cached == 0:
            self.last_prefix_reuse = 0
            return
        tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
        cached = getattr(llm, "_input_ids", ())[:n_cached]
        shared = 0
        for a, b in zip(cached, tokens, strict=False):
            if int(a) != b:
                break
            shared += 1
        self.last_prefix_reuse = shared
        log.debug("prompt of %d tokens shares %d with the KV cache", len(tokens), shared)

    def _generate(self, req: GenerationRequest, cancel: CancelToken,
                  on_text: Callable[[str], bool] | None) -> GenerationResult:
        t0 = time.perf_counter()
        if cancel.cancelled:
            return GenerationResult("", self.name, 0, "cancelled", 0.0)
        self._note_prefix_reuse(req.prompt)
        try:
            stream = self._llm.create_completion(
                req.prompt, max_tokens=req.max_tokens, temperature=req.temperature,
                stop=list(req.stop) or None, stream=True,
                seed=req.seed if req.seed is not None else self.seed,
            )
        except Exception as exc:
            raise ModelError(f"{self.name}: generation failed: {exc}") from exc
        return self._consume(stream, _text_piece, req.stop, cancel, on_text, t0)

    def _chat(self, messages: list[dict[str, Any]], max_tokens: int, temperature: float,
              cancel: CancelToken) -> GenerationResult:
        t0 = time.perf_counter()
        if cancel.cancelled:
            return GenerationResult("", self.name, 0, "cancelled", 0.0)
        try:
            stream = self._llm.create_chat_completion(
                messages=messages, max_tokens=max_tokens, temperature=temperature,
                stream=True, seed=self.seed,
            )
        except Exception as exc:
            raise ModelError(f"{self.name}: chat failed: {exc}") from exc
        return self._consume(stream, _delta_piece, [], cancel, None, t0)

    def _consume(self, stream: Iterator[dict[str, Any]], piece_of: Callable[[dict[str, Any]], str],
                 stops: Iterable[str], cancel: CancelToken, on_text: Callable[[str], bool] | None,
                 t0: float) -> GenerationResult:
        """Drain a llama-cpp stream, checking cancel and ``on_text`` between tokens."""
        text = ""
        tokens = 0
        finish = "length"
        try:
            for chunk in stream:
                choice = chunk["choices"][0]
                piece = piece_of(choice)
                if piece:
                    tokens += 1
                    text += piece
                if choice.get("finish_reason"):
                    finish = "stop" if choice["finish_reason"] == "stop" else "length"
                    break
                if cancel.cancelled:
                    finish = "cancelled"
                    break
                if piece and on_text is not None and on_text(text):
                    finish = "callback"
                    break
        except Exception as exc:
            raise ModelError(f"{self.name}: generation failed: {exc}") from exc
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
        text, hit = cut_at_stop(text, list(stops))
        if hit and finish in ("length", "callback"):
            finish = "stop"
        elapsed = (time.perf_counter() - t0) * 1000
        log.debug("%s: %d tokens in %.0f ms (%s)", self.name, tokens, elapsed, finish)
        return GenerationResult(text, self.name, tokens, finish, elapsed)


def _clamp_context(path: Path, n_ctx: int) -> int:
    """``n_ctx`` capped at the model's training context (more only wastes memory and warns)."""
    from ragls.models.catalog import read_gguf_metadata

    try:
        meta = read_gguf_metadata(path, scan_tokens=False)
        trained = int(meta.get(f"{meta.get('general.architecture', '')}.context_length", "0"))
    except (ModelError, ValueError):
        return n_ctx
    if 0 < trained < n_ctx:
        log.info("%s: n_ctx %d capped at the training context %d", path.name, n_ctx, trained)
        return trained
    return n_ctx


def _text_piece(choice: dict[str, Any]) -> str:
    return choice.get("text") or ""


def _delta_piece(choice: dict[str, Any]) -> str:
    return (choice.get("delta") or {}).get("content") or ""
