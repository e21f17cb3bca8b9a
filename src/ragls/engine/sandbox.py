"""The sandbox that runs a project's tests: a temporary copy of the workspace, limited and isolated.

Running tests runs the project's code, so every run happens in a throw-away copy of the
workspace with the unsaved buffers applied, under a wall-clock timeout and resource limits
(CPU seconds, address space, file size, no core dumps), with an environment stripped of
anything that looks like a secret, HOME and TMPDIR inside the copy, and, where the platform
allows it (`unshare`), no network and the real workspace mounted read-only.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import resource
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ragls.errors import WorkspaceError

logger = logging.getLogger(__name__)

# Never copied: version control, caches, build outputs. Virtualenvs are run from the real
# workspace (read-only when isolated) and node_modules are linked, not copied.
SKIP_DIRS = {
    ".git",
    ".hg",
    ".svn",
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".ragls",
    ".tox",
    ".nox",
    "target",
    "dist",
    "build",
    ".coverage",
    ".cache",
}
LINK_DIRS = {"node_modules"}
MAX_COPY_BYTES = 5_000_000  # a larger single file (data, binaries) is not copied

_SECRET = re.compile(r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH|COOKIE|SESSION|PRIVATE", re.IGNORECASE)


@dataclass(frozen=True)
class Limits:
    """What one run may use."""

    timeout_s: float = 60.0  # wall clock
    cpu_s: int = 120
    memory_mb: int = 4096  # address space (Python) / data segment (other runtimes)
    file_mb: int = 256  # largest file a test may write
    output_chars: int = 200_000  # captured stdout+stderr kept


@dataclass
class RunResult:
    returncode: int
    output: str  # stdout and stderr, interleaved, truncated to Limits.output_chars
    timed_out: bool
    elapsed_s: float


@functools.cache
def isolation() -> str:
    """'full' (no network, workspace read-only), 'network' (no network only) or 'none'."""
    if shutil.which("unshare") is None:
        return "none"
    probe = ["sh", "-c", "mount --bind -o ro / /mnt 2>/dev/null || mount --bind -o ro /tmp /tmp"]
    for kind, cmd in (
        ("full", ["unshare", "-n", "-m", "--propagation", "private", *probe]),
        ("network", ["unshare", "-n", "true"]),
    ):
        try:
            if subprocess.run(cmd, capture_output=True, timeout=10).returncode == 0:
                return kind
        except (OSError, subprocess.SubprocessError):
            continue
    logger.warning("unshare is not usable here: tests run without network isolation")
    return "none"


def clean_environment(
    base: Mapping[str, str], home: Path, extra_secrets: Sequence[str] = ()
) -> dict[str, str]:
    """`base` without secrets (names that look like keys or tokens, and `extra_secrets`)."""
    drop = {s for s in extra_secrets if s}
    env = {k: v for k, v in base.items() if not _SECRET.search(k) and k not in drop}
    env.update(
        HOME=str(home),
        TMPDIR=str(home / "tmp"),
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONHASHSEED="0",
        NO_COLOR="1",
        CI="1",
    )
    env.pop("PYTHONPATH", None)
    env.pop("PYTHONHOME", None)
    return env


def _copy_tree(src: Path, dst: Path) -> None:
    for dirpath, dirnames, filenames in os.walk(src, followlinks=False):
        here = Path(dirpath)
        rel = here.relative_to(src)
        target = dst / rel
        target.mkdir(parents=True, exist_ok=True)
        keep = []
        for d in dirnames:
            p = here / d
            if d in LINK_DIRS:
                (target / d).symlink_to(p, target_is_directory=True)
            elif d in SKIP_DIRS or p.is_symlink() or (p / "pyvenv.cfg").is_file():
                continue
            else:
                keep.append(d)
        dirnames[:] = keep
        for f in filenames:
            p = here / f
            try:
                if p.is_symlink() or not p.is_file() or p.stat().st_size > MAX_COPY_BYTES:
                    continue
                shutil.copy2(p, target / f)
            except OSError as exc:
                logger.debug("not copied into the sandbox: %s (%s)", p, exc)


class Sandbox:
    """A temporary copy of `root`; write files into it and run commands inside it."""

    def __init__(
        self,
        root: Path,
        overlays: Mapping[str, str] | None = None,
        *,
        limits: Limits | None = None,
        secret_env: Sequence[str] = (),
    ) -> None:
        self.source = Path(root).resolve()
        self.limits = limits or Limits()
        self._tmp = Path(tempfile.mkdtemp(prefix="ragls-sandbox-"))
        self.root = self._tmp / self.source.name
        self.home = self._tmp / "home"
        (self.home / "tmp").mkdir(parents=True)
        _copy_tree(self.source, self.root)
        self.env = clean_environment(os.environ, self.home, secret_env)
        for path, text in (overlays or {}).items():
            self.write(path, text)

    def path(self, rel: str) -> Path:
        target = (self.root / rel).resolve()
        if not target.is_relative_to(self.root.resolve()):
            raise WorkspaceError(f"path outside the workspace: {rel}")
        return target

    def write(self, rel: str, text: str) -> None:
        target = self.path(rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")

    def read(self, rel: str) -> str | None:
        try:
            return self.path(rel).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None

    def _preexec(self) -> None:
        lim = self.limits
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_CPU, (lim.cpu_s, lim.cpu_s + 5))
        file_bytes = lim.file_mb << 20
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_bytes, file_bytes))
        mem = lim.memory_mb << 20
        kind = resource.RLIMIT_AS if self._limit_address_space else resource.RLIMIT_DATA
        resource.setrlimit(kind, (mem, mem))

    def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        timeout_s: float | None = None,
        limit_address_space: bool = True,
    ) -> RunResult:
        """Run argv in the copy (cwd = its root); never raises on the command's failure."""
        timeout = timeout_s or self.limits.timeout_s
        self._limit_address_space = limit_address_space  # Go and V8 reserve huge address spaces
        full_env = {**self.env, **(env or {})}
        cmd = list(argv)
        mode = isolation()
        if mode == "full":
            ws = str(self.source)
            cmd = [
                "unshare",
                "-n",
                "-m",
                "--propagation",
                "private",
                "sh",
                "-c",
                'mount --bind -o ro "$0" "$0" && exec "$@"',
                ws,
                *cmd,
            ]
        elif mode == "network":
            cmd = ["unshare", "-n", *cmd]
        started = time.monotonic()
        try:
            proc = subprocess.Popen(
                cmd,
                cwd=self.root,
                env=full_env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=self._preexec,
            )
        except OSError as exc:
            return RunResult(127, f"cannot run {argv[0]}: {exc}", False, 0.0)
        timed_out = False
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc)
            out, _ = proc.communicate()
        elapsed = time.monotonic() - started
        text = out.decode("utf-8", errors="replace")
        if len(text) > self.limits.output_chars:
            text = (
                text[: self.limits.output_chars // 4] + "\n...\n" + text[-3 * self.limits.output_chars // 4 :]
            )
        if timed_out:
            text += f"\n[ragls: killed after {timeout:.0f}s wall-clock timeout]"
        return RunResult(proc.returncode if not timed_out else -9, text, timed_out, elapsed)

    def close(self) -> None:
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
