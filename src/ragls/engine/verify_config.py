"""Knobs shared by verified test generation and verified fixes, and the progress callback type."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ragls.engine.sandbox import Limits, Sandbox
from ragls.errors import ConfigError

Progress = Callable[[str], None]
"""Called with what is happening now ("generating candidate 2/3", "running 12 tests")."""


def no_progress(message: str) -> None:
    return None


@dataclass(frozen=True)
class VerifyConfig:
    trusted: bool = False  # run nothing unless the workspace is trusted
    test_candidates: int = 2  # best-of-N test files (sampled when the first one fails)
    test_repair_rounds: int = 2
    test_max_tokens: int = 512  # one test file reply
    fix_candidates: int = 3  # best-of-N patches, temperature-sampled
    fix_repair_rounds: int = 1
    fix_stop_at_first_pass: bool = True  # stop sampling once a patch passes every test
    # the other tests of the covering files start only within this many seconds (the tests that
    # reference the changed code always run): a core module's importers can hold hundreds
    fix_other_tests_s: float = 60.0
    stable_runs: int = 3  # a kept test passes this many times in a row
    allow_unverified_fixes: bool = False
    test_command: str | None = None  # the user's runner prefix (trusted workspaces only)
    secret_env: tuple[str, ...] = ()  # more variables to strip (the configured API key variable)
    limits: Limits = field(default_factory=Limits)

    def require_trusted(self) -> None:
        """Refuse before any work when the workspace may not run code."""
        if not self.trusted:
            raise ConfigError("the workspace is not trusted: ragls runs no tests in it")

    def sandbox(self, root: Path, files: dict[str, str]) -> Sandbox:
        """The sandbox every verified run uses: trusted workspaces only, these limits, no secrets."""
        self.require_trusted()
        return Sandbox(root, files, limits=self.limits, secret_env=self.secret_env)
