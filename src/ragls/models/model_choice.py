"""Which installed code model completes as you type: the largest that is fast enough here.

Per-keystroke work is small once the prompt head is cached: the model reads the tail (the
cursor line, a short suffix, the FIM markers) and writes the rest of the line. But the head
must be cached first: a model is fast enough only when it also reads a head with room for
cross-file context (MIN_HEAD_TOKENS) in the time a user leaves before typing (HEAD_WARM_S).
Both are measured once per model, thread count and llama.cpp build on this machine (a few
seconds at first load) and cached in the data directory; a setting (``model.completionPath``)
overrides the choice.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import platform
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from ragls.models import bundles

if TYPE_CHECKING:
    from ragls.models.bundles import Bundle

logger = logging.getLogger(__name__)

TARGET_KEYSTROKE_MS = 1000.0  # p50 keystroke-to-suggestion target on the machine it runs on
# The median model request while typing, as bench/typing_bench.py measured it (24 tasks, two
# cores, the 1.5B model): it reads 22 prompt tokens (the cursor line, a short suffix, the FIM
# markers; the head is cached) and writes about 6 (the rest of the line: 365 ms at 15.5
# tokens/s), 730 ms in all. The measurement below times that request; an earlier one (read 48,
# write 12) took 1.0 s for the 0.5B model and 1.6 s for the 1.5B, whose keystroke-to-suggestion
# p50 in that benchmark were 583 and 652 ms, so it ruled out a model that met the target.
TAIL_TOKENS = 24
LINE_TOKENS = 6
MEASURE_VERSION = 3  # part of the cache key: a new measurement is taken when it changes
# A completion prompt with cross-file context needs about this many tokens: on the 60 usage-line
# tasks (bench/completion_bench.py --kind line) the 1.5B model's 3 s prompt on two cores (256
# tokens, all code) scored ES 0.363, 0.359 with ~70 tokens of it context, and 0.446 with 448
# tokens and context (the 0.5B model's 3 s prompt here: 0.401). The editor warms that head in
# the background; the typing benchmark starts typing 4 s after a file opens (the issue's "open
# for 4 s"). The 1.5B model reads 448 tokens in 5.2 s here: with its prompt raised to 448 tokens
# all 84 of its model requests in bench/typing_bench.py were answered from the lean prompt (no
# context), and keystroke p50 / p95 went from 570 / 1,576 ms to 823 / 2,158 ms.
MIN_HEAD_TOKENS = 448
HEAD_WARM_S = 4.0
# The measurement's CPU time over threads x its wall time. Two cores here: 0.83-0.88 on a quiet
# machine, 0.59 with one other busy process. The 1.5B model measured 1,544 ms while a test
# suite ran and 1,030-1,311 ms quiet: a busy measurement cached for good would decide for good.
MIN_CPU_SHARE = 0.75
_SAMPLE = (
    "import os\nfrom pathlib import Path\n\n\ndef read_config(path: Path) -> dict:\n"
    '    """Read a key = value file into a dict."""\n    result = {}\n'
    "    for line in path.read_text().splitlines():\n        key, _, value = line.partition('=')\n"
    "        result[key.strip()] = value.strip()\n    return result\n\n\n"
)


def _cache_file() -> Path:
    return bundles.data_dir() / "keystroke-latency.json"


@functools.cache
def _machine() -> str:
    """This machine and llama.cpp build: the CPU, its core count, the build's version and flags."""
    try:
        import llama_cpp

        build = getattr(llama_cpp, "__version__", "?")
        system = llama_cpp.llama_print_system_info().decode(errors="replace")
    except Exception:  # no llama-cpp: nothing to measure with anyway
        build, system = "?", ""
    cpu = platform.processor() or platform.machine()
    flags = "".join(sorted(p for p in system.split("|") if "= 1" in p)) if system else ""
    return f"{cpu}|{os.cpu_count()}|{build}|{zlib.crc32(flags.encode()):x}"


def _machine_key(bundle: Bundle, threads: int) -> str:
    return f"v{MEASURE_VERSION}|{bundle.sha256[:16]}|t{threads}|{_machine()}"


def _load_cache() -> dict[str, KeystrokeCost]:
    try:
        data = json.loads(_cache_file().read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            return {}
        return {k: KeystrokeCost(float(v["ms"]), 1.0, float(v["read_tps"]))  # only quiet ones are cached
                for k, v in data.items() if isinstance(v, dict)}
    except (OSError, ValueError, TypeError, KeyError):
        return {}


def _save_cache(costs: dict[str, KeystrokeCost]) -> None:
    data = {k: {"ms": c.ms, "read_tps": c.read_tps} for k, c in costs.items()}
    path = _cache_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        logger.warning("cannot cache the keystroke latency in %s: %s", path, exc)


@dataclass(frozen=True)
class KeystrokeCost:
    ms: float  # one keystroke's model work (the better of two runs)
    cpu_share: float  # CPU time over threads x wall time during the runs: near 1 when undisturbed
    read_tps: float = float("inf")  # prompt tokens read per second in one batch (the better of two)

    def fast_enough(self) -> bool:
        """Meets the keystroke target, and warms a head with room for context in time."""
        return self.ms <= TARGET_KEYSTROKE_MS and self.read_tps * HEAD_WARM_S >= MIN_HEAD_TOKENS


def measure_keystroke(model_path: Path, threads: int = 2) -> KeystrokeCost:
    """Time one keystroke's work on a warm prompt: read TAIL_TOKENS, write LINE_TOKENS, and the
    head's read speed (the better of two runs each: the first pays for cold caches)."""
    from ragls.models.local_gguf import LocalGGUFBackend

    backend = LocalGGUFBackend(model_path, n_ctx=1024, threads=threads)
    try:
        llm = backend._llm
        room = max(1, min(256, backend.n_ctx - TAIL_TOKENS - LINE_TOKENS - 8))  # a small window
        head = llm.tokenize((_SAMPLE * 4).encode(), add_bos=False, special=True)[:room]
        tail = llm.tokenize(_SAMPLE.encode(), add_bos=False, special=True)[:TAIL_TOKENS]
        wall0, cpu0 = time.perf_counter(), time.process_time()
        reads = []
        for _ in range(2):
            llm.reset()
            t0 = time.perf_counter()
            llm.eval(head)
            reads.append(time.perf_counter() - t0)
        runs = []
        for _ in range(2):
            llm.n_tokens = len(head)  # back to the cached head: the tail is read again
            t0 = time.perf_counter()
            llm.eval(tail)
            for _ in range(LINE_TOKENS):
                token = llm.sample(temp=0.0)
                llm.eval([token])
            runs.append((time.perf_counter() - t0) * 1000)
        share = (time.process_time() - cpu0) / max(1e-9, threads * (time.perf_counter() - wall0))
        return KeystrokeCost(min(runs), round(share, 2), round(len(head) / max(1e-9, min(reads)), 1))
    finally:
        backend.close()


def keystroke_cost(bundle: Bundle, threads: int = 2) -> KeystrokeCost:
    """The cached measurement for this machine, measured now when there is none. A measurement
    taken while other work held the cores is used once, not cached: it is taken again next time."""
    key = _machine_key(bundle, threads)
    cache = _load_cache()
    if key in cache:
        return cache[key]
    logger.info("measuring %s per keystroke on this machine (once)", bundle.name)
    cost = measure_keystroke(bundles.assemble(bundle), threads)
    if cost.cpu_share >= MIN_CPU_SHARE:
        cache[key] = replace(cost, ms=round(cost.ms, 1))
        _save_cache(cache)
    else:
        logger.info("%s: the machine was busy (%.0f%% of %d cores): measured again next time",
                    bundle.name, cost.cpu_share * 100, threads)
    logger.info("%s: %.0f ms per keystroke (target %.0f ms), reads %.0f prompt tokens/s (%d in %.0f s "
                "needs %.0f)", bundle.name, cost.ms, TARGET_KEYSTROKE_MS, cost.read_tps, MIN_HEAD_TOKENS,
                HEAD_WARM_S, MIN_HEAD_TOKENS / HEAD_WARM_S)
    return cost


def fastest_enough(installed: list[Bundle], threads: int = 2) -> Bundle:
    """The largest installed bundle that is fast enough here; else the smallest."""

    def cost(bundle: Bundle) -> KeystrokeCost:
        try:
            return keystroke_cost(bundle, threads)
        except Exception as exc:  # a model that cannot be measured is not chosen
            logger.warning("cannot measure %s: %s", bundle.name, exc)
            return KeystrokeCost(float("inf"), 0.0)

    chosen = _largest_within_target(installed, cost)
    if chosen is None:  # every cost is known here: only an empty list gives no answer
        raise ValueError("no installed code model to choose from")
    return chosen


def chosen_if_measured(installed: list[Bundle], threads: int = 2) -> Bundle | None:
    """What ``fastest_enough`` picks, from cached measurements alone; None while one it needs
    was never taken (``ragls models`` lists roles without loading a model)."""
    cache = _load_cache()  # read once for all the bundles
    return _largest_within_target(installed, lambda b: cache.get(_machine_key(b, threads)))


def _largest_within_target(installed: list[Bundle],
                           cost: Callable[[Bundle], KeystrokeCost | None]) -> Bundle | None:
    """The largest bundle that is fast enough, else the smallest (the fallback is never
    measured); None when a cost it needs is unknown."""
    ordered = sorted(installed, key=lambda b: b.params_b)
    for bundle in reversed(ordered[1:]):
        measured = cost(bundle)
        if measured is None:
            return None
        if measured.fast_enough():
            return bundle
    return ordered[0] if ordered else None
