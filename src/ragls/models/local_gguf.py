"""Local GGUF models through llama-cpp-python, owned by one dedicated worker thread.

The model is loaded once; every call runs on a single-thread executor, so the model is only
ever touched by its worker. The prompt is tokenized once per request (the stable head is
tokenized on its own and cached, so its tokens never depend on the tail) and read in small
chunks: between chunks and between generated tokens a request checks its cancel token, and
background work (fixes, tests, cache warming) steps aside for a waiting completion
(``gate.GATE``). llama.cpp keeps the KV cache of the last evaluation; only the tokens after
the longest shared prefix are read again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from ragls.cancel import NEVER, CancelToken
from ragls.errors import ModelError
from ragls.lru import LRUCache
from ragls.models.answer_start import AnswerStart
from ragls.models.backend import GenerationRequest, GenerationResult, check_gguf_file, cut_at_stop, drain
from ragls.models.fim import TEMPLATES, FimTemplate, detect_template
from ragls.models.gate import GATE
from ragls.models.kv_slots import KVSlots
from ragls.models.lookup_decoding import LookupDecoder, Sampler, draft_cap

logger = logging.getLogger(__name__)

# Tokens read per step. Background work (warming, fixes, tests) reads small steps, so that a
# completion never waits long behind it (a 32-token step of the 0.5B model is ~0.2 s on two
# cores); a completion reads larger ones (fewer thread barriers: faster on a busy machine) and
# checks its cancel token between them. What a cancelled step read stays in the cache.
PREFILL_CHUNK = 32
INTERACTIVE_CHUNK = 128
# Prompt tokens/s before the first measurement, guessed from the file size: reading costs about
# one pass over the weights per batch. Measured on two cores: 0.5B (491 MB) 159 tok/s, 1.5B
# (1.1 GB) 86; this guess is lower (122, 54), so a first request errs towards a lean prompt.
READ_TPS_PER_MB = 60_000


class LocalGGUFBackend:
    """A llama.cpp model with streaming generation, cancellation, preemption and cache warming."""

    def __init__(self, model_path: Path | str, n_ctx: int = 4096, threads: int = 2,
                 template: str | None = None, seed: int = 0, lookup: bool = True) -> None:
        self.path = Path(model_path)
        check_gguf_file(self.path)
        self.name = self.path.stem
        n_ctx = _clamp_context(self.path, n_ctx)
        self.n_ctx = n_ctx
        self.seed = seed
        self.threads = threads
        self.last_prefix_reuse = 0  # prompt tokens reused from the KV cache by the last call
        self.preemptions = 0  # times background generation stepped aside for a completion
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"ragls-llm-{self.name}")
        self._closed = False
        self._lock = threading.Lock()
        self._pending = 0  # calls submitted and not yet started (warming yields to them)
        self._head_tokens: LRUCache[str, list[int]] = LRUCache(16)
        t0 = time.perf_counter()
        try:
            self._llm = self._executor.submit(self._load, n_ctx, threads).result()
        except BaseException:
            self._executor.shutdown(wait=False)
            raise
        self.load_ms = (time.perf_counter() - t0) * 1000
        self._kv = KVSlots(self._llm)
        # background answers (fixes, tests) copy long runs of the prompt: prompt-lookup drafts
        self._lookup = LookupDecoder(self._llm) if lookup else None
        self._start = AnswerStart(self._llm)
        size_mb = max(1.0, self.path.stat().st_size / 1e6)
        self.read_tps_guess = min(5000.0, READ_TPS_PER_MB / size_mb)
        self.metadata: dict[str, str] = dict(self._llm.metadata or {})
        if template is not None:
            if template not in TEMPLATES:
                raise ModelError(f"unknown FIM template {template!r}; known: {', '.join(sorted(TEMPLATES))}")
            self.template: FimTemplate = TEMPLATES[template]
        else:
            self.template = detect_template(self.metadata, self.path.name)
        self._bos = self._bos_token()
        self._chat_format = self._chat_formatter()
        logger.info("loaded %s in %.0f ms (n_ctx=%d, threads=%d, template=%s)",
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

    def _bos_token(self) -> list[int]:
        model = self._llm._model
        bos = self._llm.token_bos()
        return [bos] if bos != -1 and model.add_bos_token() else []

    def _chat_formatter(self) -> Any:
        template = self.metadata.get("tokenizer.chat_template")
        if not template:
            return None
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        model, llm = self._llm._model, self._llm
        eos, bos = llm.token_eos(), llm.token_bos()
        return Jinja2ChatFormatter(
            template=template,
            eos_token=model.token_get_text(eos) if eos != -1 else "",
            bos_token=model.token_get_text(bos) if bos != -1 else "",
            stop_token_ids=[eos],
        )

    # --- public API -------------------------------------------------------------------

    def generate(self, req: GenerationRequest, cancel: CancelToken = NEVER,
                 on_text: Callable[[str], bool] | None = None) -> GenerationResult:
        """Complete ``req.prompt``; blocks until done, cancelled or stopped by ``on_text``.

        An interactive request runs before any background work. A background one steps aside
        whenever a completion is waiting and continues from the text it had generated.
        """
        if req.interactive:
            with GATE.interactive():
                return self._submit(self._run, req, cancel, on_text)
        t0 = time.perf_counter()
        done, tokens, first = "", 0, None
        while True:
            if not GATE.wait_idle(cancel):
                return GenerationResult(done, self.name, tokens, "cancelled", _ms(t0))
            part = replace(req, prompt=req.prompt + done, max_tokens=req.max_tokens - tokens)
            wrapped = None if on_text is None else (lambda text, d=done: on_text(d + text))
            res = self._submit(self._run, part, cancel, wrapped)
            first = first or res
            done, tokens = done + res.text, tokens + res.tokens
            if res.finish_reason != "preempted" or tokens >= req.max_tokens:
                text, hit = cut_at_stop(done, list(req.stop))
                finish = res.finish_reason if res.finish_reason != "preempted" else "length"
                finish = "stop" if hit else finish
                return GenerationResult(text, self.name, tokens, finish, _ms(t0), first.prompt_tokens,
                                        first.cached_tokens, first.prompt_ms)
            self.preemptions += 1
            logger.debug("%s: background generation stepped aside after %d tokens", self.name, tokens)

    def chat(self, messages: list[dict[str, Any]], max_tokens: int = 512, temperature: float = 0.2,
             cancel: CancelToken = NEVER) -> GenerationResult:
        """Chat completion with the GGUF's chat template; background work, so it yields to completions."""
        if self._chat_format is None:  # no template in the file: llama-cpp's own default format
            return self._submit(self._chat_fallback, messages, max_tokens, temperature, cancel)
        try:
            formatted = self._chat_format(messages=messages)
        except Exception as exc:
            raise ModelError(f"{self.name}: cannot format the chat: {exc}") from exc
        stops = formatted.stop if isinstance(formatted.stop, list) else [formatted.stop]
        req = GenerationRequest(formatted.prompt, max_tokens=max_tokens, temperature=temperature,
                                stop=[s for s in stops if s])
        return self.generate(req, cancel)

    def warm(self, head: str) -> None:
        """Read ``head`` (the stable start of a coming prompt) into the KV cache, in the background.

        Runs only while nothing else waits for the model and stops at the next chunk when a
        request arrives; what it read stays cached for the request.
        """
        if self._closed or self._pending or GATE.busy() or not head:
            return
        self._executor.submit(self._warm, head)

    def missing_tokens(self, head: str) -> int:
        """Tokens of ``head`` (the start of a coming prompt) that no cached state holds: what a
        request with this head would have to read first."""
        tokens = self._prompt_tokens(GenerationRequest(head, stable_chars=len(head)))
        return len(tokens) - self._kv.known(tokens)

    def count_tokens(self, text: str) -> int:
        """Exact token count with the model's tokenizer (read-only; safe from any thread)."""
        if not text:
            return 0
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def can_heal(self, wait_s: float = 0.0) -> bool:
        """Whether a request's ``heal`` is honoured now (the vocabulary has been read, waiting up
        to `wait_s` for it: under a second after the model loads)."""
        return self._start.ready() or (wait_s > 0 and self._start.wait(wait_s))

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        llm = self._llm
        self._start.stop()
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
        with self._lock:
            self._pending += 1

        def started() -> GenerationResult:
            with self._lock:
                self._pending -= 1
            return fn(*args)

        return self._executor.submit(started).result()

    def _tokenize(self, text: str) -> list[int]:
        return self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def _prompt_tokens(self, req: GenerationRequest) -> list[int]:
        """BOS + head tokens (cached by text) + tail tokens."""
        cut = max(0, min(req.stable_chars, len(req.prompt)))
        head_text = req.prompt[:cut]
        head = self._head_tokens.get(head_text) if head_text else []
        if head is None:
            head = self._tokenize(head_text)
            self._head_tokens.put(head_text, head)
        has_bos = self._bos and req.prompt.startswith(self._llm._model.token_get_text(self._bos[0]))
        bos = [] if has_bos else self._bos
        return bos + head + self._tokenize(req.prompt[cut:])

    def _prefill(self, tokens: list[int], stop: Callable[[], bool],
                 chunk: int = PREFILL_CHUNK) -> tuple[int, bool]:
        """Bring the KV cache to ``tokens`` in chunks; (tokens reused, finished).

        The live state or a saved one (``KVSlots``) that shares the longest start is reused.
        """
        llm = self._llm
        shared = self._kv.reuse(tokens)
        llm.n_tokens = min(int(llm.n_tokens), shared)  # eval() drops the KV cells after n_tokens
        pos = int(llm.n_tokens)
        while pos < len(tokens):
            if stop():
                return shared, False
            step = tokens[pos : pos + chunk]
            llm.eval(step)
            pos += len(step)
        return shared, True

    def _warm(self, head: str) -> None:
        try:
            head_tokens = self._prompt_tokens(GenerationRequest(head, stable_chars=len(head)))
            self._prefill(head_tokens, stop=lambda: self._pending > 0 or GATE.busy() or self._closed)
        except Exception:  # warming is best effort; the request will read what is missing
            logger.debug("%s: warming failed", self.name, exc_info=True)

    def _run(self, req: GenerationRequest, cancel: CancelToken,
             on_text: Callable[[str], bool] | None) -> GenerationResult:
        t0 = time.perf_counter()
        if cancel.cancelled:
            return GenerationResult("", self.name, 0, "cancelled", 0.0)
        tokens = self._prompt_tokens(req)
        if len(tokens) + 1 >= self.n_ctx:
            raise ModelError(f"{self.name}: prompt of {len(tokens)} tokens does not fit n_ctx {self.n_ctx}")
        max_tokens = max(1, min(req.max_tokens, self.n_ctx - len(tokens) - 1))
        yielding = (lambda: False) if req.interactive else GATE.busy
        chunk = INTERACTIVE_CHUNK if req.interactive else PREFILL_CHUNK
        stop = lambda: cancel.cancelled or yielding()  # noqa: E731
        reused, finished = self._prefill(tokens[:-1], stop, chunk)
        self.last_prefix_reuse = reused
        prompt_ms = _ms(t0)
        if not finished:
            finish = "cancelled" if cancel.cancelled else "preempted"
            return GenerationResult("", self.name, 0, finish, prompt_ms, len(tokens), reused, prompt_ms)
        heal = req.heal if self.can_heal() else ""
        start = self._start.processor(heal, req.avoid_start, len(tokens))
        seed = req.seed if req.seed is not None else self.seed
        if self._lookup is not None and not req.interactive:
            cap = lambda: draft_cap(GATE.busy, GATE.quiet_for)  # noqa: E731
            pieces = self._lookup.stream(tokens, max_tokens, Sampler(req.temperature, seed, start), cap)
            return self._finish(self._consume(pieces, req.stop, cancel, on_text, yielding, t0, heal),
                                tokens, reused, prompt_ms)
        try:
            stream = self._llm.create_completion(
                tokens, max_tokens=max_tokens, temperature=req.temperature,
                stop=list(req.stop) or None, stream=True, seed=seed,
                logits_processor=None if start is None else [start],
            )
        except Exception as exc:
            raise ModelError(f"{self.name}: generation failed: {exc}") from exc
        res = self._consume(_texts(stream), req.stop, cancel, on_text, yielding, t0, heal, stream)
        return self._finish(res, tokens, reused, prompt_ms)

    def _finish(self, res: GenerationResult, tokens: list[int], reused: int,
                prompt_ms: float) -> GenerationResult:
        res.prompt_tokens, res.cached_tokens, res.prompt_ms = len(tokens), reused, prompt_ms
        logger.debug("%s: prompt %d tokens (%d cached) read in %.0f ms; %d tokens in %.0f ms (%s)",
                     self.name, len(tokens), reused, prompt_ms, res.tokens, res.elapsed_ms, res.finish_reason)
        return res

    def _chat_fallback(self, messages: list[dict[str, Any]], max_tokens: int, temperature: float,
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
        pieces = (((c["choices"][0].get("delta") or {}).get("content") or "",
                   c["choices"][0].get("finish_reason")) for c in stream)
        return self._consume(pieces, [], cancel, None, lambda: False, t0, stream=stream)

    def _consume(self, pieces: Iterator[tuple[str, str | None]], stops: list[str], cancel: CancelToken,
                 on_text: Callable[[str], bool] | None, yielding: Callable[[], bool],
                 t0: float, heal: str = "", stream: Any = None) -> GenerationResult:
        """Drain (text piece, finish reason) pairs with the shared token loop (cancel, preemption,
        ``on_text``), then close ``stream`` (llama-cpp's); a healed start is taken off before the
        loop sees the text."""
        if heal:
            pieces = _after_heal(pieces, heal)
        try:
            text, tokens, finish, _ = drain(pieces, stops=list(stops), cancel=cancel, on_text=on_text,
                                            yielding=yielding)
        except Exception as exc:
            raise ModelError(f"{self.name}: generation failed: {exc}") from exc
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
        return GenerationResult(text, self.name, tokens, finish, _ms(t0))


def _texts(stream: Iterator[dict[str, Any]]) -> Iterator[tuple[str, str | None]]:
    """(text, finish reason) of each chunk of a llama-cpp completion stream."""
    for chunk in stream:
        choice = chunk["choices"][0] if "choices" in chunk else chunk
        yield choice.get("text") or "", choice.get("finish_reason")


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000


def _after_heal(pieces: Iterator[tuple[str, str | None]], heal: str) -> Iterator[tuple[str, str | None]]:
    """The stream with the healed start taken off: nothing until the answer has covered `heal`,
    then what follows it. An answer that does not begin with it ends at once, empty."""
    head, healed = "", False
    for piece, reason in pieces:
        if healed:
            yield piece, reason
            continue
        head += piece
        if len(head) < len(heal) and not reason:
            continue
        if not head.startswith(heal):
            yield "", reason or "stop"
            return
        healed = True
        yield head[len(heal):], reason


def _clamp_context(path: Path, n_ctx: int) -> int:
    """``n_ctx`` capped at the model's training context (more only wastes memory and warns)."""
    from ragls.models.catalog import read_gguf_metadata

    try:
        meta = read_gguf_metadata(path, scan_tokens=False)
        trained = int(meta.get(f"{meta.get('general.architecture', '')}.context_length", "0"))
    except (ModelError, ValueError):
        return n_ctx
    if 0 < trained < n_ctx:
        logger.info("%s: n_ctx %d capped at the training context %d", path.name, n_ctx, trained)
        return trained
    return n_ctx
