"""Server settings: raw camelCase options (as clients send them) -> typed, fully defaulted settings.

Sources, lowest priority first: defaults, the project file (``ragls.toml`` or ``[tool.ragls]``
in ``pyproject.toml`` at the workspace root), ``initializationOptions``, then
``workspace/didChangeConfiguration`` (section ``ragls``). Parsing never raises: an invalid
value is reported in the error list and the default (or the lower layer) is kept.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

SECTION = "ragls"


@dataclass(frozen=True)
class ModelSettings:
    source: str = "local"  # local | remote
    path: str | None = None  # GGUF file (local)
    name: str | None = None  # catalog name (local) when no path is given
    endpoint: str | None = None  # OpenAI-compatible base URL (remote)
    remote_model: str | None = None
    api_key_env: str | None = None
    n_ctx: int = 4096
    threads: int = 2
    max_tokens: int = 64
    temperature: float = 0.1
    template: str | None = None


@dataclass(frozen=True)
class ContextSettings:
    budget_tokens: int = 1024
    top_k: int = 8
    sources: tuple[str, ...] = ("graph", "dense", "lexical")


@dataclass(frozen=True)
class EmbeddingSettings:
    kind: str = "onnx"  # onnx | remote | none
    endpoint: str | None = None
    model: str | None = None
    api_key_env: str | None = None
    threads: int = 2


@dataclass(frozen=True)
class CompletionSettings:
    debounce_ms: int = 150
    enable_completion_fallback: bool = False
    timeout_ms: int = 30_000


@dataclass(frozen=True)
class IndexSettings:
    ignore: tuple[str, ...] = ()
    languages: tuple[str, ...] | None = None
    max_file_bytes: int = 1_000_000
    in_workspace: bool = False


@dataclass(frozen=True)
class VerifySettings:
    """Generated tests and fixes are run before they are offered (trusted workspaces only)."""

    test_candidates: int = 2  # best-of-N test files
    test_repair_rounds: int = 2
    fix_candidates: int = 3  # best-of-N patches
    fix_repair_rounds: int = 1
    allow_unverified_fixes: bool = False  # offer "Fix (unverified: no test covers this)"
    timeout_s: int = 60  # wall clock per test run
    cpu_s: int = 120
    memory_mb: int = 4096


@dataclass(frozen=True)
class Settings:
    model: ModelSettings = field(default_factory=ModelSettings)
    context: ContextSettings = field(default_factory=ContextSettings)
    embeddings: EmbeddingSettings = field(default_factory=EmbeddingSettings)
    completion: CompletionSettings = field(default_factory=CompletionSettings)
    index: IndexSettings = field(default_factory=IndexSettings)
    verify: VerifySettings = field(default_factory=VerifySettings)
    test_command: str | None = None
    log_level: str = "info"
    # The client vouches for the workspace (VS Code workspace trust, a Neovim setting): only then
    # may project files choose endpoints, keys or commands, and only then is project code run.
    trusted_workspace: bool = False


# ---- value checkers: return the converted value or raise ValueError with a reason ----------

Check = Callable[[Any], Any]


def _str(v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise ValueError("expected a non-empty string")
    return v


def _opt_str(v: Any) -> str | None:
    return None if v is None else _str(v)


def _choice(*options: str) -> Check:
    def check(v: Any) -> str:
        if not isinstance(v, str) or v.lower() not in options:
            raise ValueError(f"expected one of {', '.join(options)}")
        return v.lower()

    return check


def _int(lo: int, hi: int) -> Check:
    def check(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise ValueError(f"expected an integer in [{lo}, {hi}]")
        return v

    return check


def _float(lo: float, hi: float) -> Check:
    def check(v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, int | float) or not lo <= v <= hi:
            raise ValueError(f"expected a number in [{lo}, {hi}]")
        return float(v)

    return check


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise ValueError("expected true or false")
    return v


def _str_list(v: Any) -> tuple[str, ...]:
    if not isinstance(v, list | tuple) or not all(isinstance(x, str) for x in v):
        raise ValueError("expected a list of strings")
    return tuple(v)


def _opt_str_list(v: Any) -> tuple[str, ...] | None:
    return None if v is None else _str_list(v)


def _sources(v: Any) -> tuple[str, ...]:
    items = _str_list(v)
    bad = [s for s in items if s not in {"graph", "dense", "lexical", "recent"}]
    if bad:
        raise ValueError(f"unknown context source(s) {bad}")
    return items


# section name -> (dataclass, {camelCase key: (attribute, check)})
SCHEMA: dict[str, tuple[type, dict[str, tuple[str, Check]]]] = {
    "model": (
        ModelSettings,
        {
            "source": ("source", _choice("local", "remote")),
            "path": ("path", _opt_str),
            "name": ("name", _opt_str),
            "endpoint": ("endpoint", _opt_str),
            "remoteModel": ("remote_model", _opt_str),
            "apiKeyEnv": ("api_key_env", _opt_str),
            "nCtx": ("n_ctx", _int(128, 1 << 20)),
            "threads": ("threads", _int(1, 256)),
            "maxTokens": ("max_tokens", _int(1, 4096)),
            "temperature": ("temperature", _float(0.0, 2.0)),
            "template": ("template", _opt_str),
        },
    ),
    "context": (
        ContextSettings,
        {
            "budgetTokens": ("budget_tokens", _int(0, 1 << 17)),
            "topK": ("top_k", _int(0, 200)),
            "sources": ("sources", _sources),
        },
    ),
    "embeddings": (
        EmbeddingSettings,
        {
            "kind": ("kind", _choice("onnx", "remote", "none")),
            "endpoint": ("endpoint", _opt_str),
            "model": ("model", _opt_str),
            "apiKeyEnv": ("api_key_env", _opt_str),
            "threads": ("threads", _int(1, 256)),
        },
    ),
    "completion": (
        CompletionSettings,
        {
            "debounceMs": ("debounce_ms", _int(0, 10_000)),
            "enableCompletionFallback": ("enable_completion_fallback", _bool),
            "timeoutMs": ("timeout_ms", _int(100, 600_000)),
        },
    ),
    "index": (
        IndexSettings,
        {
            "ignore": ("ignore", _str_list),
            "languages": ("languages", _opt_str_list),
            "maxFileBytes": ("max_file_bytes", _int(1, 1 << 31)),
            "inWorkspace": ("in_workspace", _bool),
        },
    ),
    "verify": (
        VerifySettings,
        {
            "testCandidates": ("test_candidates", _int(1, 16)),
            "testRepairRounds": ("test_repair_rounds", _int(0, 5)),
            "fixCandidates": ("fix_candidates", _int(1, 16)),
            "fixRepairRounds": ("fix_repair_rounds", _int(0, 5)),
            "allowUnverifiedFixes": ("allow_unverified_fixes", _bool),
            "timeoutS": ("timeout_s", _int(1, 3600)),
            "cpuS": ("cpu_s", _int(1, 36_000)),
            "memoryMb": ("memory_mb", _int(64, 1 << 20)),
        },
    ),
}
TOP_LEVEL: dict[str, tuple[str, Check]] = {
    "testCommand": ("test_command", _opt_str),
    "logLevel": ("log_level", _choice("debug", "info", "warning", "error")),
    "trustedWorkspace": ("trusted_workspace", _bool),
}


def _snake_to_camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def _normalise_keys(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Accept snake_case keys (project files) as well as camelCase (clients)."""
    return {(_snake_to_camel(k) if isinstance(k, str) else k): v for k, v in raw.items()}


def parse_settings(
    raw: Any, base: Settings | None = None, origin: str = "settings"
) -> tuple[Settings, list[str]]:
    """Apply raw options on top of `base`; return the result and one message per problem."""
    settings = base or Settings()
    errors: list[str] = []
    if raw is None:
        return settings, errors
    if not isinstance(raw, Mapping):
        return settings, [f"{origin}: expected an object, got {type(raw).__name__}"]
    if isinstance(raw.get(SECTION), Mapping) and not any(k in raw for k in (*SCHEMA, *TOP_LEVEL)):
        raw = raw[SECTION]  # {"ragls": {...}} as some clients nest it
    raw = _normalise_keys(raw)
    changes: dict[str, Any] = {}
    for key, value in raw.items():
        if key in SCHEMA:
            cls, spec = SCHEMA[key]
            current = getattr(settings, key)
            if value is None:
                continue
            if not isinstance(value, Mapping):
                errors.append(f"{origin}.{key}: expected an object")
                continue
            sub: dict[str, Any] = {}
            for sub_key, sub_value in _normalise_keys(value).items():
                if sub_key not in spec:
                    errors.append(f"{origin}.{key}.{sub_key}: unknown setting")
                    continue
                attr, check = spec[sub_key]
                try:
                    sub[attr] = check(sub_value)
                except ValueError as exc:
                    errors.append(f"{origin}.{key}.{sub_key}: {exc}, got {sub_value!r}")
            changes[key] = replace(current, **sub) if sub else current
            assert isinstance(changes[key], cls)
        elif key in TOP_LEVEL:
            attr, check = TOP_LEVEL[key]
            try:
                changes[attr] = check(value)
            except ValueError as exc:
                errors.append(f"{origin}.{key}: {exc}, got {value!r}")
        else:
            errors.append(f"{origin}.{key}: unknown setting")
    return replace(settings, **changes), errors


def load_project_settings(root: Path) -> tuple[dict[str, Any], list[str]]:
    """Raw settings from ``ragls.toml`` (whole file) or ``pyproject.toml`` ``[tool.ragls]``."""
    for name, pick in (
        ("ragls.toml", lambda d: d),
        ("pyproject.toml", lambda d: d.get("tool", {}).get(SECTION)),
    ):
        path = root / name
        if not path.is_file():
            continue
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8", errors="replace"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            return {}, [f"{name}: cannot read: {exc}"]
        section = pick(data)
        if section is None:
            continue
        if not isinstance(section, dict):
            return {}, [f"{name}: the ragls section must be a table"]
        logger.info("project settings from %s", path)
        return section, []
    return {}, []


def resolve_settings(
    root: Path | None, init_options: Any, client_config: Any = None
) -> tuple[Settings, list[str]]:
    """Defaults <- project file <- initializationOptions <- client configuration."""
    errors: list[str] = []
    settings = Settings()
    if root is not None:
        project, errs = load_project_settings(root)
        errors += errs
        settings, errs = parse_settings(project, settings, "ragls.toml")
        errors += errs
    settings, errs = parse_settings(init_options, settings, "initializationOptions")
    errors += errs
    settings, errs = parse_settings(client_config, settings, "configuration")
    errors += errs
    for err in errors:
        logger.warning("invalid setting: %s", err)
    return settings, errors


def settings_to_json(settings: Settings) -> dict[str, Any]:
    """The resolved settings as camelCase JSON (for logs and the indexStatus command)."""

    def conv(obj: Any) -> Any:
        if hasattr(obj, "__dataclass_fields__"):
            return {_snake_to_camel(f.name): conv(getattr(obj, f.name)) for f in fields(obj)}
        if isinstance(obj, tuple):
            return list(obj)
        return obj

    return conv(settings)
