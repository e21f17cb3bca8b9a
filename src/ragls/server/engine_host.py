"""The real engine host: a `ragls.engine.session.Session` built from the server settings.

The model loads on the first completion (on the model worker, never on the event loop);
listing code actions only parses the buffer; embeddings fill in on their own thread after the
first index pass.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from ragls.cancel import CancelToken
from ragls.errors import ModelError, RaglsError
from ragls.redact import redact_url
from ragls.server.settings import Settings

logger = logging.getLogger(__name__)


def session_configs(settings: Settings) -> dict[str, Any]:
    """Server settings -> the keyword arguments of `open_session`."""
    from ragls.indexing.config import IndexConfig
    from ragls.models.backend import ModelConfig
    from ragls.models.embeddings import EmbeddingConfig
    from ragls.retrieval.types import RetrievalConfig

    m, e, c, i = settings.model, settings.embeddings, settings.context, settings.index
    return {
        "index_config": IndexConfig(
            in_workspace=i.in_workspace,
            ignore=list(i.ignore),
            max_file_bytes=i.max_file_bytes,
            languages=list(i.languages) if i.languages is not None else None,
        ),
        "model_config": ModelConfig(
            source=m.source,  # type: ignore[arg-type]
            model=m.completion_path or m.path or m.name,
            generation_model=m.generation_path or m.path or m.name,
            endpoint=m.endpoint,
            remote_model=m.remote_model,
            api_key_env=m.api_key_env,
            n_ctx=m.n_ctx,
            threads=m.threads,
            template=m.template,
            lookup_decoding=m.lookup_decoding,
            max_tokens=m.max_tokens,
            temperature=m.temperature,
            cold_prompt_ms=settings.completion.cold_prompt_ms or None,
        ),
        "embedding_config": EmbeddingConfig(
            kind=e.kind,  # type: ignore[arg-type]
            endpoint=e.endpoint,
            model=e.model,
            api_key_env=e.api_key_env,
            threads=e.threads,
        ),
        "retrieval_config": RetrievalConfig(
            top_k=c.top_k, budget_tokens=c.budget_tokens, sources=tuple(c.sources)
        ),
    }


def _model_label(settings: Settings) -> str:
    m = settings.model
    if m.source == "remote":
        return f"{m.remote_model or m.name or 'remote'}@{redact_url(m.endpoint)}"
    chosen = m.completion_path or m.path
    if chosen:
        return Path(chosen).name
    return m.name or "default"


class InFlight:
    """Counts calls inside the engine, so `close` never pulls the model or index from under one."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._count = 0
        self._closing = False

    @contextmanager
    def enter(self) -> Iterator[None]:
        with self._cond:
            if self._closing:
                raise RaglsError("the engine is restarting; try again")
            self._count += 1
        try:
            yield
        finally:
            with self._cond:
                self._count -= 1
                self._cond.notify_all()

    def close(self, timeout_s: float) -> bool:
        """Refuse new calls and wait for those inside; False if some are still running."""
        with self._cond:
            self._closing = True
            return self._cond.wait_for(lambda: self._count == 0, timeout_s)


class SessionHost:
    """EngineHost over a Session (see `ragls.server.state.EngineHost`)."""

    close_timeout_s = 60.0

    def __init__(self, root: Path, settings: Settings) -> None:
        from ragls.engine.session import open_session

        self.settings = settings
        self.session = open_session(root, **session_configs(settings))
        self.index = self.session.index
        self.model_name = _model_label(settings)
        # what the clients' status shows: not loaded | loading | ready | failed
        self.model_state = "not loaded"
        self.model_error: str | None = None
        self._engine: Any = None
        self._scheduler: Any = None
        self._busy = 0  # requests in flight that need the cores more than embedding does
        self._lock = threading.Lock()
        self._inflight = InFlight()

    def _completion_engine(self) -> Any:
        with self._lock:
            if self._engine is None:
                self.model_state, self.model_error = "loading", None
                try:
                    self._engine = self.session.completion_engine(editor=True)  # loads the model once
                except ModelError as exc:
                    self.model_state, self.model_error = "failed", str(exc)
                    raise
                except Exception as exc:  # llama.cpp and friends raise their own types
                    self.model_state, self.model_error = "failed", str(exc)
                    raise ModelError(f"cannot load model {self.model_name}: {exc}") from exc
                self.model_state = "ready"
            return self._engine

    def complete(self, query: Any, *, cancel: CancelToken) -> Any:
        # Background embedding yields the two cores while a completion runs.
        with self._foreground():
            return self._completion_engine().complete(query, cancel=cancel)

    def typed_ahead(self, query: Any) -> Any:
        """The rest of the last suggestion when the user typed its beginning; None otherwise."""
        engine = self._engine
        return engine.typed_ahead_result(query) if engine is not None else None

    def warm(self, query: Any) -> int:
        """Warm the model's cache for a cursor at rest (loads the model on first use)."""
        return self._completion_engine().warm(query)

    @contextmanager
    def _foreground(self) -> Iterator[None]:
        with self._inflight.enter(), self._foreground_priority():
            yield

    @contextmanager
    def _foreground_priority(self) -> Iterator[None]:
        with self._lock:
            self._busy += 1
            if self._scheduler is not None:
                self._scheduler.pause()
        try:
            yield
        finally:
            with self._lock:
                self._busy -= 1
                if self._busy == 0 and self._scheduler is not None:
                    self._scheduler.resume()

    def test_target(self, path: str, buffer: str, line: int) -> Any:
        from ragls.engine.testgen import TestGenerator

        # target_at only parses the buffer: no model is loaded to list the action
        with self._inflight.enter():
            return TestGenerator(self.index, self.session.retriever, None).target_at(path, buffer, line)  # type: ignore[arg-type]

    # Verification jobs run on the verify worker; each model call goes to the backend on its own,
    # so a completion waits for one generation step at most.
    def verified_fix(self, path: str, buffer: str, start_line: int, end_line: int, diagnostic: str | None,
                     *, config: Any, overlays: dict[str, str], cancel: CancelToken, progress: Any) -> Any:
        with self._foreground():
            return self.session.verified_fixer(config).fix(
                path, buffer, start_line, end_line, diagnostic, overlays=overlays, cancel=cancel,
                progress=progress)

    def fix_failing_test(self, path: str, buffer: str, line: int, *, config: Any, overlays: dict[str, str],
                         cancel: CancelToken, progress: Any) -> Any:
        with self._foreground():
            return self.session.verified_fixer(config).fix_failing_test(
                path, buffer, line, overlays=overlays, cancel=cancel, progress=progress)

    def verified_tests(self, path: str, buffer: str, line: int, *, config: Any, overlays: dict[str, str],
                       cancel: CancelToken, progress: Any) -> Any:
        with self._foreground():
            return self.session.verified_tests(config).generate(
                path, buffer, line, overlays=overlays, cancel=cancel, progress=progress)

    def select_model(self, name_or_path: str) -> str:
        config = self.session.config.model
        new = replace(
            config,
            source="local",
            model=str(Path(name_or_path).expanduser())
            if Path(name_or_path).expanduser().is_file()
            else name_or_path,
        )
        try:
            with self._inflight.enter():
                self.session.set_model(new)
        except ModelError:
            raise
        except Exception as exc:
            raise ModelError(f"cannot load model {name_or_path}: {exc}") from exc
        with self._lock:
            self._engine = None
        self.model_name = Path(name_or_path).name
        self.model_state, self.model_error = "ready", None  # set_model loaded it
        return self.model_name

    def start_background(self) -> None:
        """Warm the index's read path, then start filling the vector store (if embeddings are on)."""
        try:  # the first full-text query loads term statistics and pages: not on a user's request
            self.index.lexical_search(["def", "class", "import"], limit=1)
        except Exception:
            logger.debug("index warm-up query failed", exc_info=True)
        if self.settings.embeddings.kind == "none" or self._scheduler is not None:
            return
        try:
            self._scheduler = self.session.embedding_scheduler()
        except Exception as exc:
            logger.warning("embeddings unavailable: %s", exc)
            return
        if self._scheduler is not None:
            self._scheduler.start()
            logger.info("background embedding started")

    def embedding_progress(self) -> dict[str, Any] | None:
        """Chunks embedded so far out of those to embed (None when embeddings are off)."""
        if self._scheduler is None:
            return None
        done, total = self._scheduler.progress()
        return {"done": done, "total": total, "model": self.session.config.embeddings.kind}

    def index_changed(self, paths: list[str] | None = None) -> None:
        if self._scheduler is not None:
            if paths:
                self._scheduler.prioritize(paths)
            self._scheduler.notify_changed()

    def close(self) -> None:
        """Stop background embedding, wait for calls in flight, then close the session."""
        if self._scheduler is not None and not self._scheduler.stop(timeout=self.close_timeout_s):
            logger.error("background embedding did not stop in %.0fs", self.close_timeout_s)
            return
        if not self._inflight.close(self.close_timeout_s):
            logger.error("engine calls still running after %.0fs: leaving it open", self.close_timeout_s)
            return
        self.session.close()
