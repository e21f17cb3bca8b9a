"""A workspace session: the index, the retriever and the model, loaded lazily and shared.

The CLI and the language server both work through a Session, so they build
prompts, pick context and load models the same way. Heavy parts (the GGUF
model, the embedding model) load on first use, once, behind a lock.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ragls.engine.completion import LEAN_READ_MS, CompletionEngine
from ragls.engine.fix import FixEngine
from ragls.engine.testgen import TestGenerator
from ragls.engine.verified_fix import VerifiedFixer
from ragls.engine.verified_tests import VerifiedTestGenerator
from ragls.engine.verify_config import VerifyConfig
from ragls.indexing.config import IndexConfig
from ragls.indexing.workspace import WorkspaceIndex
from ragls.models.backend import ModelConfig, estimate_tokens, load_backend, model_for_role
from ragls.models.embeddings import EmbeddingConfig, load_embedder
from ragls.retrieval.retriever import Retriever
from ragls.retrieval.types import RetrievalConfig

if TYPE_CHECKING:
    from ragls.indexing.vectors import VectorStore
    from ragls.models.backend import CompletionBackend
    from ragls.models.embeddings import Embedder

logger = logging.getLogger(__name__)


@dataclass
class SessionConfig:
    index: IndexConfig = field(default_factory=IndexConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    embeddings: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)


class Session:
    """Everything one workspace needs to answer completion, fix and test requests."""

    def __init__(self, root: Path | str, config: SessionConfig | None = None) -> None:
        self.config = config or SessionConfig()
        self.index = WorkspaceIndex.open(root, self.config.index)
        self._lock = threading.RLock()
        self._backend: CompletionBackend | None = None
        self._generation_backend: CompletionBackend | None = None  # None: the completion model
        self._embedder: Embedder | None = None
        self._vectors: VectorStore | None = None
        self._dense_loaded = False
        self.retriever = Retriever(self.index, config=self.config.retrieval, count_tokens=self._count_tokens)

    @property
    def root(self) -> Path:
        return self.index.root

    # -- lazily loaded parts ---------------------------------------------------------------
    @property
    def backend(self) -> CompletionBackend:
        with self._lock:
            if self._backend is None:
                self._backend = load_backend(self.config.model)
                logger.info("model loaded: %s", self._backend.name)
            return self._backend

    @property
    def generation_backend(self) -> CompletionBackend:
        """The model for fixes and tests: the largest code model installed, unless configured."""
        with self._lock:
            if self._generation_backend is not None:
                return self._generation_backend
            completion = self.backend
            config = self.config.model
            if config.source == "remote":
                return completion
            from ragls.models.catalog import resolve_model

            path = resolve_model(model_for_role(config, "generation"), role="generation")
            if Path(getattr(completion, "path", "")) == path:
                return completion
            self._generation_backend = load_backend(config, role="generation")
            logger.info("generation model loaded: %s", self._generation_backend.name)
            return self._generation_backend

    @property
    def backend_loaded(self) -> bool:
        return self._backend is not None

    def set_model(self, model: ModelConfig) -> CompletionBackend:
        """Switch models: the new one is loaded before the old one is dropped."""
        new = load_backend(model)
        with self._lock:
            old, self._backend = self._backend, new
            old_generation, self._generation_backend = self._generation_backend, None
            self.config.model = model
        for backend in (old, old_generation):
            if backend is not None:
                backend.close()
        return new

    def _count_tokens(self, text: str) -> int:
        backend = self._backend
        if backend is not None:
            try:
                return backend.count_tokens(text)
            except Exception:  # a remote backend without a tokenizer, a closed model
                logger.debug("count_tokens failed; using the estimate", exc_info=True)
        return estimate_tokens(text)

    def enable_dense(self, *, require_vectors: bool = True) -> bool:
        """Attach the embedder and vector store to the retriever; False when unavailable.

        With require_vectors, dense retrieval is only switched on when vectors for the
        current model already exist (the CLI never embeds a whole repo by surprise).
        """
        with self._lock:
            if self._dense_loaded:
                return self._vectors is not None
            self._dense_loaded = True
            try:
                embedder = load_embedder(self.config.embeddings)
            except Exception as exc:
                logger.warning("embeddings unavailable: %s", exc)
                return False
            if embedder is None:
                return False
            from ragls.indexing.vectors import VectorStore

            store = VectorStore(self.index.index_dir, embedder.model_id, embedder.dim)
            if require_vectors and len(store) == 0:
                logger.info("no vectors yet for %s: dense retrieval off", embedder.model_id)
                self._embedder = embedder
                return False
            self._embedder, self._vectors = embedder, store
            self.retriever.embedder = embedder
            self.retriever.vectors = store
            return True

    def embedding_scheduler(self):  # -> EmbeddingScheduler
        """A scheduler that fills the vector store in the background (and turns dense on)."""
        from ragls.indexing.vectors import VectorStore
        from ragls.retrieval.embedding_jobs import EmbeddingScheduler

        with self._lock:
            embedder = self._embedder or load_embedder(self.config.embeddings)
            if embedder is None:
                return None
            if self._vectors is None:
                self._vectors = VectorStore(self.index.index_dir, embedder.model_id, embedder.dim)
            self._embedder = embedder
            self._dense_loaded = True
            self.retriever.embedder = embedder
            self.retriever.vectors = self._vectors
            return EmbeddingScheduler(self.index, embedder, self._vectors)

    # -- engines -----------------------------------------------------------------------------
    def completion_engine(self, editor: bool = False) -> CompletionEngine:
        """The completion engine; ``editor``: requests come per keystroke, so a prompt that is not
        cached yet is answered quickly from a lean one while the full one is warmed."""
        return CompletionEngine(
            self.index,
            self.retriever,
            self.backend,
            budget_tokens=self.config.retrieval.budget_tokens,
            max_tokens=self.config.model.max_tokens,
            temperature=self.config.model.temperature,
            cold_prompt_ms=self.config.model.cold_prompt_ms,
            repo_name=self.index.root.name,
            lean_read_ms=LEAN_READ_MS if editor else None,
        )

    def fix_engine(self) -> FixEngine:
        return FixEngine(self.index, self.retriever, self.generation_backend)

    def test_generator(self) -> TestGenerator:
        return TestGenerator(self.index, self.retriever, self.generation_backend)

    def verified_tests(self, config: VerifyConfig) -> VerifiedTestGenerator:
        return VerifiedTestGenerator(self.index, self.test_generator(), config)

    def verified_fixer(self, config: VerifyConfig) -> VerifiedFixer:
        return VerifiedFixer(self.index, self.fix_engine(), config)

    def close(self) -> None:
        """Stop the retriever's dense worker, save vectors, release the model, close the index.

        The dense job in hand (if any) finishes before the index closes under it."""
        dense_pool = getattr(self.retriever, "_dense_pool", None)
        self.retriever.close()
        if dense_pool is not None:
            dense_pool.shutdown(wait=True)
        with self._lock:
            if self._vectors is not None:
                try:
                    self._vectors.save()
                except Exception:
                    logger.exception("saving vectors failed")
            for backend in (self._generation_backend, self._backend):
                if backend is not None:
                    backend.close()
            self._backend = self._generation_backend = None
        self.index.close()


def open_session(
    root: Path | str,
    *,
    index_config: IndexConfig | None = None,
    model_config: ModelConfig | None = None,
    embedding_config: EmbeddingConfig | None = None,
    retrieval_config: RetrievalConfig | None = None,
) -> Session:
    return Session(
        root,
        SessionConfig(
            index=index_config or IndexConfig(),
            model=model_config or ModelConfig(),
            embeddings=embedding_config or EmbeddingConfig(),
            retrieval=retrieval_config or RetrievalConfig(),
        ),
    )
