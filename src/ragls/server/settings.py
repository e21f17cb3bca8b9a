"""Server settings: raw camelCase options (as clients send them) -> typed, fully defaulted settings.

Sources, lowest priority first: defaults, the user configuration file (``config.toml``, see
`ragls.server.user_config`), the project file (``ragls.toml`` or ``[tool.ragls]`` in
``pyproject.toml`` at the workspace root), ``initializationOptions``, then
``workspace/didChangeConfiguration`` (section ``ragls``). Parsing never raises: an invalid
value is reported in the error list and the default (or the lower layer) is kept.

A project file is untrusted input: the settings in `SENSITIVE` (where code and keys go, what
runs) are taken from it only when the workspace is trusted (`trustedWorkspace` from the client
or the user file, or the workspace listed in the user file's ``trustedWorkspaces``).
"""

from __future__ import annotations

import json
import logging
import tomllib
from collections.abc import Mapping
from dataclasses import Field, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ragls.redact import redact, redact_obj
from ragls.server.settings_checks import (
    BOOL,
    OPT_STR,
    OPT_STR_LIST,
    STR_LIST,
    Check,
    choice,
    integer,
    number,
    setting,
    subset,
)
from ragls.server.user_config import UserConfig, load_user_config

logger = logging.getLogger(__name__)

SECTION = "ragls"


@dataclass(frozen=True)
class ModelSettings:
    source: str = setting(
        "local", choice("local", "remote"), "where completions come from", sensitive=frozenset({"remote"})
    )
    path: str | None = setting(
        None, OPT_STR, "GGUF file of the local model for every task (default: the bundled code models)",
        sensitive=True,
    )  # a repository's GGUF would be parsed by native code
    completion_path: str | None = setting(
        None, OPT_STR, "GGUF file or model name for inline completions (default: the largest code "
        "model fast enough here)", sensitive=True,
    )
    generation_path: str | None = setting(
        None, OPT_STR, "GGUF file or model name for fixes and tests (default: the largest code model)",
        sensitive=True,
    )
    name: str | None = setting(None, OPT_STR, "a model `ragls models` lists, when no path is given")
    endpoint: str | None = setting(None, OPT_STR, "OpenAI-compatible base URL (remote)", sensitive=True)
    remote_model: str | None = setting(None, OPT_STR, "model name to ask the endpoint for")
    api_key_env: str | None = setting(
        None, OPT_STR, "environment variable holding the endpoint's API key", sensitive=True
    )
    n_ctx: int = setting(4096, integer(128, 1 << 20), "context window of the local model, in tokens")
    threads: int = setting(2, integer(1, 256), "CPU threads of the local model")
    max_tokens: int = setting(64, integer(1, 4096), "longest completion, in tokens")
    temperature: float = setting(0.1, number(0.0, 2.0), "sampling temperature")
    template: str | None = setting(None, OPT_STR, "FIM prompt format (default: from the GGUF metadata)")
    lookup_decoding: bool = setting(
        True, BOOL, "fixes and tests: draft tokens copied from the prompt, checked in one batch (local)"
    )


@dataclass(frozen=True)
class ContextSettings:
    budget_tokens: int = setting(1024, integer(0, 1 << 17), "context packed into the prompt, in model tokens")
    top_k: int = setting(8, integer(0, 200), "most snippets retrieved")
    sources: tuple[str, ...] = setting(
        ("graph", "dense", "lexical"), subset("graph", "dense", "lexical", "recent"), "retrieval sources"
    )


@dataclass(frozen=True)
class EmbeddingSettings:
    kind: str = setting(
        "onnx",
        choice("onnx", "remote", "none"),
        "bundled int8 MiniLM, a /v1/embeddings endpoint, or off",
        sensitive=frozenset({"remote"}),
    )
    endpoint: str | None = setting(None, OPT_STR, "OpenAI-compatible base URL (remote)", sensitive=True)
    model: str | None = setting(None, OPT_STR, "embedding model name to ask the endpoint for")
    api_key_env: str | None = setting(
        None, OPT_STR, "environment variable holding the endpoint's API key", sensitive=True
    )
    threads: int = setting(2, integer(1, 256), "CPU threads of the ONNX embedder")


@dataclass(frozen=True)
class CompletionSettings:
    debounce_ms: int = setting(150, integer(0, 10_000), "wait after the last keystroke before completing")
    cold_prompt_ms: int = setting(
        3000, integer(0, 600_000), "prompts are sized so the loaded model reads them cold in this time"
    )
    enable_completion_fallback: bool = setting(
        False, BOOL, "one textDocument/completion item for clients without inline completion"
    )
    timeout_ms: int = setting(30_000, integer(100, 600_000), "a completion request gives up after this long")


@dataclass(frozen=True)
class IndexSettings:
    ignore: tuple[str, ...] = setting((), STR_LIST, "extra gitignore-style patterns")
    languages: tuple[str, ...] | None = setting(None, OPT_STR_LIST, "only these languages (default: all)")
    max_file_bytes: int = setting(1_000_000, integer(1, 1 << 31), "larger files are not indexed")
    in_workspace: bool = setting(
        False, BOOL, "keep the index in the workspace (`.ragls/`) instead of the user cache"
    )
    remove_after_days: int = setting(
        30, integer(0, 36_500), "indexes of deleted workspaces go after this many idle days (0: never)"
    )


@dataclass(frozen=True)
class VerifySettings:
    """Generated tests and fixes are run before they are offered (trusted workspaces only)."""

    test_candidates: int = setting(2, integer(1, 16), "test files sampled when the first fails (best of N)")
    test_repair_rounds: int = setting(2, integer(0, 8), "rounds of repair with the failure output")
    fix_candidates: int = setting(3, integer(1, 16), "patches sampled (best of N)")
    fix_repair_rounds: int = setting(1, integer(0, 8), "rounds of repair of the best failing patch")
    fix_other_tests_s: int = setting(
        60, integer(0, 3600),
        "a fix's other tests (in the files that cover it) start within this time; 0: none"
    )
    allow_unverified_fixes: bool = setting(
        False, BOOL, 'offer "Fix (unverified: no test covers this)" when no test covers the code'
    )
    timeout_s: int = setting(60, integer(1, 3600), "wall-clock limit of one test run, in seconds")
    cpu_s: int = setting(120, integer(1, 36_000), "CPU-time limit of one test run, in seconds")
    memory_mb: int = setting(4096, integer(64, 1 << 20), "memory limit of one test run, in MB")


@dataclass(frozen=True)
class Settings:
    model: ModelSettings = field(default_factory=ModelSettings)
    context: ContextSettings = field(default_factory=ContextSettings)
    embeddings: EmbeddingSettings = field(default_factory=EmbeddingSettings)
    completion: CompletionSettings = field(default_factory=CompletionSettings)
    index: IndexSettings = field(default_factory=IndexSettings)
    verify: VerifySettings = field(default_factory=VerifySettings)
    test_command: str | None = setting(None, OPT_STR, "command that runs the project's tests", sensitive=True)
    log_level: str = setting("info", choice("debug", "info", "warning", "error"), "server log level")
    # The client vouches for the workspace (VS Code workspace trust, a Neovim setting): only then
    # may project files choose endpoints, keys or commands, and only then is project code run.
    trusted_workspace: bool = setting(
        False, BOOL, "the client trusts this workspace (never read from a project file)"
    )


# ---- what is derived from the description above -------------------------------------------

SECTIONS: dict[str, type] = {f.name: f.default_factory for f in fields(Settings) if not f.metadata}  # type: ignore[misc]


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def _spec(cls: type) -> dict[str, tuple[str, Check]]:
    return {_camel(f.name): (f.name, f.metadata["check"]) for f in fields(cls) if f.metadata}


# section name -> (dataclass, {camelCase key: (attribute, check)}); top-level keys alike
SCHEMA: dict[str, tuple[type, dict[str, tuple[str, Check]]]] = {
    name: (cls, _spec(cls)) for name, cls in SECTIONS.items()
}
TOP_LEVEL: dict[str, tuple[str, Check]] = _spec(Settings)


def described_fields() -> list[tuple[str, Field[Any]]]:
    """Every setting as (dotted camelCase name, its dataclass field), in declaration order."""
    out = [(f"{name}.{_camel(f.name)}", f) for name, cls in SECTIONS.items() for f in fields(cls)]
    return out + [(_camel(f.name), f) for f in fields(Settings) if f.metadata]


# Settings that choose where code and keys go or what runs (`sensitive=` above): a project file
# may set them only in a trusted workspace. Dotted name -> sensitive values (None: any value).
SENSITIVE: dict[str, frozenset[str] | None] = {
    name: (None if f.metadata["sensitive"] is True else f.metadata["sensitive"])
    for name, f in described_fields()
    if f.metadata["sensitive"]
}
# Never read from a project file: only the client or the user may vouch for a workspace.
CLIENT_ONLY: frozenset[str] = frozenset({"trustedWorkspace"})


def settings_table() -> str:
    """The settings as a Markdown table (the README's copy is checked against it)."""
    rows = ["| setting | default | accepts | what it does |", "| --- | --- | --- | --- |"]
    for name, f in described_fields():
        default = json.dumps(list(f.default) if isinstance(f.default, tuple) else f.default)
        doc = f.metadata["doc"] + (
            " (trusted workspaces only from a project file)" if name in SENSITIVE else ""
        )
        rows.append(f"| `{name}` | `{default}` | {f.metadata['check'].text} | {doc} |")
    return "\n".join(rows) + "\n"


_snake_to_camel = _camel


def _normalise_keys(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Accept snake_case keys (project files) as well as camelCase (clients)."""
    return {(_snake_to_camel(k) if isinstance(k, str) else k): v for k, v in raw.items()}


def _unwrap(raw: Mapping[str, Any]) -> dict[str, Any]:
    """``{"ragls": {...}}`` (as some clients nest it) -> ``{...}``, keys in camelCase."""
    if isinstance(raw.get(SECTION), Mapping) and not any(k in raw for k in (*SCHEMA, *TOP_LEVEL)):
        raw = raw[SECTION]
    return _normalise_keys(raw)


def _held_back(name: str, value: Any, trusted: bool) -> bool:
    if name in CLIENT_ONLY:
        return True
    if trusted or name not in SENSITIVE:
        return False
    values = SENSITIVE[name]
    return values is None or (isinstance(value, str) and value.lower() in values)


def without_sensitive(raw: Any, *, trusted: bool = False) -> tuple[Any, list[str]]:
    """A project file's raw settings less those it may not set, and their dotted names:
    `CLIENT_ONLY` always, `SENSITIVE` unless the workspace is trusted."""
    if not isinstance(raw, Mapping):
        return raw, []
    kept: dict[str, Any] = {}
    dropped: list[str] = []
    for key, value in _unwrap(raw).items():
        if key in SCHEMA and isinstance(value, Mapping):
            section: dict[str, Any] = {}
            for sub_key, sub_value in _normalise_keys(value).items():
                name = f"{key}.{sub_key}"
                if _held_back(name, sub_value, trusted):
                    dropped.append(name)
                else:
                    section[sub_key] = sub_value
            kept[key] = section
        elif _held_back(key, value, trusted):
            dropped.append(key)
        else:
            kept[key] = value
    return kept, dropped


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
    raw = _unwrap(raw)
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


def load_project_settings(root: Path) -> tuple[dict[str, Any], list[str], str]:
    """Raw settings from ``ragls.toml`` (whole file) or ``pyproject.toml`` ``[tool.ragls]``,
    the problems found, and the name of the file they came from."""
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
            return {}, [f"{name}: cannot read: {exc}"], name
        section = pick(data)
        if section is None:
            continue
        if not isinstance(section, dict):
            return {}, [f"{name}: the ragls section must be a table"], name
        logger.info("project settings from %s", path)
        return section, [], name
    return {}, [], "ragls.toml"


@dataclass(frozen=True)
class ResolvedSettings:
    """What `resolve_settings` found: the settings, problems, and what trust held back."""

    settings: Settings
    errors: list[str]
    ignored: list[str]  # sensitive project settings ignored because the workspace is not trusted
    warning: str | None  # one message naming them and how to trust the workspace


def resolve_settings(
    root: Path | None,
    init_options: Any,
    client_config: Any = None,
    *,
    trusted: bool | None = None,
    user_config: UserConfig | None = None,
) -> ResolvedSettings:
    """Defaults <- user file <- project file <- initializationOptions <- client configuration.

    `trusted`: True trusts the workspace whatever the layers say (the CLI: the user pointed it
    there); None asks the client and user layers (and the user's ``trustedWorkspaces``).
    """
    user = user_config if user_config is not None else load_user_config()
    errors = list(user.errors)
    # who vouches for the workspace: the user file, the client (never the project file)
    vouched = Settings()
    for layer in (user.settings, init_options, client_config):
        vouched = parse_settings(layer, vouched)[0]
    is_trusted = bool(trusted) or vouched.trusted_workspace or user.trusts(root)
    settings, errs = parse_settings(user.settings, Settings(), str(user.path.name))
    errors += errs
    ignored: list[str] = []
    warning = None
    if root is not None:
        project, errs, name = load_project_settings(root)
        errors += errs
        # trust comes from the client or the user, never from the project file itself
        project, dropped = without_sensitive(project, trusted=is_trusted)
        ignored = [n for n in dropped if n not in CLIENT_ONLY]
        errors += [
            f"{name}.{n}: only the editor or the user file can trust a workspace"
            for n in dropped
            if n in CLIENT_ONLY
        ]
        settings, errs = parse_settings(project, settings, name)
        errors += errs
        if ignored:
            warning = untrusted_warning(name, ignored, user.path)
    settings, errs = parse_settings(init_options, settings, "initializationOptions")
    errors += errs
    settings, errs = parse_settings(client_config, settings, "configuration")
    errors += errs
    settings = replace(settings, trusted_workspace=is_trusted)
    for err in errors:
        logger.warning("invalid setting: %s", redact(err))
    if warning:
        logger.warning("%s", warning)
    return ResolvedSettings(settings, errors, ignored, warning)


def untrusted_warning(file_name: str, ignored: list[str], user_file: Path) -> str:
    names = ", ".join(ignored)
    return (
        f"{file_name} sets {names}, ignored because this workspace is not trusted. To use "
        f"{'it' if len(ignored) == 1 else 'them'}, trust the workspace in your editor (VS Code: "
        "Manage Workspace Trust; other clients: initializationOptions trustedWorkspace = true) "
        f"or list it in trustedWorkspaces in {user_file}."
    )


def settings_to_json(settings: Settings) -> dict[str, Any]:
    """The resolved settings as camelCase JSON (for logs and the indexStatus command)."""

    def conv(obj: Any) -> Any:
        if hasattr(obj, "__dataclass_fields__"):
            return {_snake_to_camel(f.name): conv(getattr(obj, f.name)) for f in fields(obj)}
        if isinstance(obj, tuple):
            return list(obj)
        return obj

    return redact_obj(conv(settings))  # an endpoint's user:password never shows
