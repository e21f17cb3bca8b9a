"""A long simulated editing session against `ragls serve`: does the server's memory stay bounded?

A seeded "user" opens files of a fixture workspace (a copy of ragls' own sources), types into
them character by character with inline completion requests as an editor sends them, saves,
closes, asks for context and status, and now and then edits files on disk (watcher events).
Every `--sample-s` seconds the server's resident memory (VmRSS) is sampled. The session is
bounded by `--minutes` (default 30). The table shows RSS over time; growth is measured from the
end of the warm-up (`--warmup-min`, model and indexes loaded) to the end.

    python bench/editing_session.py --minutes 30
    python bench/editing_session.py --minutes 5 --model none   # no generation: server paths only
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import REPO_DIR
from server_client import LspClient, file_uri

SNIPPETS = ["x", "self.", "return ", "(", ")", ":", "\n    ", "index", "_", "def helper(a, b", "if not "]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def fixture_workspace(base: Path) -> Path:
    root = base / "ws"
    shutil.copytree(REPO_DIR / "src" / "ragls", root / "ragls", ignore=shutil.ignore_patterns("__pycache__"))
    return root


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--warmup-min", type=float, default=None, help="default: 10%% of the run, at most 3")
    ap.add_argument("--sample-s", type=float, default=30.0)
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--model", default="default", help="GGUF path, 'default' (bundled) or 'none'")
    ap.add_argument("--embeddings", default="onnx", choices=["onnx", "none"])
    ap.add_argument("--chars-per-s", type=float, default=8.0, help="typing speed")
    args = ap.parse_args()
    warmup_s = 60 * (args.warmup_min if args.warmup_min is not None else min(3.0, args.minutes / 10))
    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="ragls-session-"))
    root = fixture_workspace(tmp)
    files = sorted(p for p in root.rglob("*.py") if p.stat().st_size > 200)
    options: dict = {
        "completion": {"debounceMs": 100},
        "embeddings": {"kind": args.embeddings},
        "model": {"maxTokens": 24},
    }
    if args.model == "none":
        options["model"] = {"path": str(tmp / "no-model.gguf")}  # completions fail fast
    elif args.model != "default":
        options["model"]["path"] = args.model
    client = LspClient(tmp / "server.log", env={"RAGLS_CACHE_DIR": str(tmp / "cache")})
    samples: list[tuple[float, float, int, int]] = []  # (t, rss, completions, messages)
    latencies: list[float] = []
    failures = 0
    messages = 0
    try:
        client.initialize(root, options)
        client.wait_indexed()
        start = time.monotonic()
        next_sample = 0.0
        texts: dict[str, str] = {}
        versions: dict[str, int] = {}
        end = start + 60 * args.minutes
        while time.monotonic() < end:
            path = rng.choice(files)
            uri = file_uri(path)
            if uri not in texts:
                texts[uri] = path.read_text(encoding="utf-8")
                versions[uri] = 1
                client.did_open(uri, texts[uri])
                messages += 1
            lines = texts[uri].split("\n")
            line = rng.randrange(len(lines))
            for piece in rng.sample(SNIPPETS, k=rng.randrange(1, 5)):
                for ch in piece:
                    col = len(lines[line].encode("utf-16-le")) // 2
                    versions[uri] += 1
                    client.did_change(uri, versions[uri], line, col, ch)
                    messages += 1
                    if ch == "\n":
                        lines.insert(line + 1, "")
                        line += 1
                    else:
                        lines[line] += ch
                    time.sleep(1 / args.chars_per_s)
                pending = client.inline_completion(uri, line, len(lines[line].encode("utf-16-le")) // 2)
                messages += 1
                try:
                    pending.wait(60)
                    latencies.append(pending.rtt_ms)
                except (RuntimeError, TimeoutError):
                    failures += 1
            texts[uri] = "\n".join(lines)
            r = rng.random()
            if r < 0.1:
                client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
                del texts[uri]
                messages += 1
            elif r < 0.2:
                client.command("ragls.showContext", uri)
                client.command("ragls.indexStatus")
                messages += 2
            elif r < 0.25:  # a change on disk (git checkout, formatter): the watcher re-indexes
                target = rng.choice(files)
                target.write_text(
                    target.read_text(encoding="utf-8") + f"\n# touched {messages}\n", encoding="utf-8"
                )
                client.notify(
                    "workspace/didChangeWatchedFiles", {"changes": [{"uri": file_uri(target), "type": 2}]}
                )
                messages += 1
            now = time.monotonic() - start
            if now >= next_sample:
                samples.append((now, rss_mb(client.proc.pid), len(latencies), messages))
                next_sample += args.sample_s
        samples.append((time.monotonic() - start, rss_mb(client.proc.pid), len(latencies), messages))
    finally:
        client.close()
        shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"\nsimulated editing session: {args.minutes:g} min, seed {args.seed}, model {args.model}, "
        f"embeddings {args.embeddings}"
    )
    print(f"{'t (s)':>7} {'RSS (MB)':>9} {'completions':>12} {'messages':>9}")
    for t, rss, n, m in samples:
        print(f"{t:7.0f} {rss:9.1f} {n:12d} {m:9d}")
    after = [s for s in samples if s[0] >= warmup_s] or samples[-1:]
    growth = samples[-1][1] - after[0][1]
    span_min = max((samples[-1][0] - after[0][0]) / 60, 1e-9)
    print(
        f"\nRSS after warm-up ({warmup_s / 60:.1f} min): {after[0][1]:.1f} MB; "
        f"at the end: {samples[-1][1]:.1f} MB; "
        f"growth {growth:+.1f} MB over {span_min:.1f} min ({growth / span_min:+.2f} MB/min)"
    )
    if latencies:
        q = statistics.quantiles(latencies, n=20) if len(latencies) > 1 else latencies * 19
        print(
            f"completions: {len(latencies)} answered, {failures} failed; "
            f"latency p50 {statistics.median(latencies):.0f} ms, p95 {q[18]:.0f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
