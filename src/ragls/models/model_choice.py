"""Which installed code model completes as you type: the largest that is fast enough here.

Per-keystroke work is small once the prompt head is cached: the model reads the tail (the
cursor line, a short suffix, the FIM markers) and writes one line. That cost is measured once
per model, thread count and llama.cpp build on this machine (a few seconds at first load)
and cached in the data directory; a setting (``model.completionPath``) overrides the choice.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import time
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

from ragls.models import bundles

if TYPE_CHECKING:
    from ragls.models.bundles import Bundle

logger = logging.getLogger(__name__)

TARGET_KEYSTROKE_MS = 1000.0  # p50 keystroke-to-suggestion target on the machine it runs on
TAIL_TOKENS = 48  # what a keystroke makes the model read: cursor line, short suffix, markers
LINE_TOKENS = 12  # what it writes: about one line of code
_SAMPLE = (
    "import os\nfrom pathlib import Path\n\n\ndef read_config(path: Path) -> dict:\n"
    '    """Read a key = value file into a dict."""\n    result = {}\n'
    "    for line in path.read_text().splitlines():\n        key, _, value = line.partition('=')\n"
    "        result[key.strip()] = value.strip()\n    return result\n\n\n"
)


def _cache_file() -> Path:
    return bundles.data_dir() / "keystroke-latency.json"


def _machine_key(bundle: Bundle, threads: int) -> str:
    try:
        import llama_cpp

        build = getattr(llama_cpp, "__version__", "?")
        system = llama_cpp.llama_print_system_info().decode(errors="replace")
    except Exception:  # no llama-cpp: nothing to measure with anyway
        build, system = "?", ""
    cpu = platform.processor() or platform.machine()
    flags = "".join(sorted(p for p in system.split("|") if "= 1" in p)) if system else ""
    return f"{bundle.sha256[:16]}|t{threads}|{cpu}|{os.cpu_count()}|{build}|{zlib.crc32(flags.encode()):x}"


def _load_cache() -> dict[str, float]:
    try:
        data = json.loads(_cache_file().read_text(encoding="utf-8"))
        return {k: float(v) for k, v in data.items()} if isinstance(data, dict) else {}
    except (OSError, ValueError, TypeError):
        return {}


def _save_cache(data: dict[str, float]) -> None:
    path = _cache_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        logger.warning("cannot cache the keystroke latency in %s: %s", path, exc)


def measure_keystroke_ms(model_path: Path, threads: int = 2) -> float:
    """Time one keystroke's work on a warm prompt: read TAIL_TOKENS, write LINE_TOKENS."""
    from ragls.models.local_gguf import LocalGGUFBackend

    backend = LocalGGUFBackend(model_path, n_ctx=1024, threads=threads)
    try:
        llm = backend._llm
        head = llm.tokenize((_SAMPLE * 4).encode(), add_bos=False, special=True)[:256]
        tail = llm.tokenize(_SAMPLE.encode(), add_bos=False, special=True)[:TAIL_TOKENS]
        llm.reset()
        llm.eval(head)
        t0 = time.perf_counter()
        llm.eval(tail)
        for _ in range(LINE_TOKENS):
            token = llm.sample(temp=0.0)
            llm.eval([token])
        return (time.perf_counter() - t0) * 1000
    finally:
        backend.close()


def keystroke_ms(bundle: Bundle, threads: int = 2) -> float:
    """The cached measurement for this machine, measured now when there is none."""
    key = _machine_key(bundle, threads)
    cache = _load_cache()
    if key in cache:
        return cache[key]
    logger.info("measuring %s per keystroke on this machine (once)", bundle.name)
    ms = measure_keystroke_ms(bundles.assemble(bundle), threads)
    cache[key] = round(ms, 1)
    _save_cache(cache)
    logger.info("%s: %.0f ms per keystroke (target %.0f ms)", bundle.name, ms, TARGET_KEYSTROKE_MS)
    return ms


def fastest_enough(installed: list[Bundle], threads: int = 2) -> Bundle:
    """The largest installed bundle whose keystroke cost meets the target; else the smallest."""
    ordered = sorted(installed, key=lambda b: b.params_b)
    for bundle in reversed(ordered[1:]):
        try:
            if keystroke_ms(bundle, threads) <= TARGET_KEYSTROKE_MS:
                return bundle
        except Exception as exc:  # a model that cannot be measured is not chosen
            logger.warning("cannot measure %s: %s", bundle.name, exc)
    return ordered[0]
