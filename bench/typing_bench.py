"""Typing benchmark (issue 8): suggestions at typing speed over a real stdio connection.

`ragls serve` runs as a child process (bench/server_client.py) on a real registry package. For
each empty-body task (body_tasks.py: a function body removed, cursor at the start of the empty
body, the rest of the file after it) the client, as ragls' editor clients do:

1. opens the file and sends `ragls/cursorMoved` for the cursor, then asks for a suggestion at
   once: the *first suggestion in a file just opened* (time from didOpen to a non-empty answer);
2. waits until the file has been open for `--open-s` seconds (4), then types the first line of
   the removed body, one character every `--key-ms` (60) ms: didChange, `$/cancelRequest` for
   the previous request, a new `textDocument/inlineCompletion` after every key;
3. pauses at the end of each word until the answer to the last key arrives.

Per pause: time from the last keystroke to a non-empty suggestion, whether there was one, and
whether the rest of the line starts with it ("would accept"). Per model request (from the
server log): prompt tokens read and reused, and the model's own time (`generation_ms`: reading
the tokens that had to be read and writing the answer, the floor under ragls' time).

    python bench/typing_bench.py [--packages ...] [--tasks 12] [--model NAME]
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from body_tasks import load_body_tasks
from common import CACHE_DIR, log, pct, percentile, print_table, select_packages, write_json
from server_client import LspClient, file_uri, utf16_len
from sources import ensure_source

PAUSE_TIMEOUT_S = 20.0
_RECORD = re.compile(
    r"completion \S+ model=\S+ source=(\S+) timings=(\{.*?\}) chars=\d+ prompt=(\S+) cached=(\S+)"
)


def first_body_line(task) -> str:
    for ln in task.removed_body.splitlines():
        if ln.strip():
            return ln.strip()
    return ""


def suggestion_text(result) -> str:
    items = (result or {}).get("items") if isinstance(result, dict) else result
    return (items[0].get("insertText") or "") if items else ""


def would_accept(rest: str, suggestion: str) -> bool:
    first = suggestion.split("\n", 1)[0].rstrip()
    return bool(first.strip()) and rest.startswith(first)


def is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def type_line(
    client: LspClient, uri: str, task, line_text: str, key_s: float, version: int
) -> tuple[list[dict], int]:
    """Type `line_text` at the cursor; one record per pause at the end of a word."""
    line0, char0 = task.line - 1, task.col - 1
    pauses: list[dict] = []
    pending = None
    typed = ""
    for i, ch in enumerate(line_text):
        if pending is not None:
            client.cancel(pending)
        version += 1
        client.did_change(uri, version, line0, char0 + utf16_len(typed), ch)
        typed += ch
        key_at = time.perf_counter()
        pending = client.inline_completion(uri, line0, char0 + utf16_len(typed))
        word_end = is_word(ch) and (i + 1 == len(line_text) or not is_word(line_text[i + 1]))
        if word_end and i + 1 < len(line_text):
            try:
                result = pending.wait(PAUSE_TIMEOUT_S)
            except (TimeoutError, RuntimeError):
                result = None
            text = suggestion_text(result)
            rest = line_text[i + 1 :]
            pauses.append({
                "typed": typed, "latency_ms": (pending.arrived - key_at) * 1000 if pending.arrived else None,
                "suggestion": text, "shown": bool(text.strip()), "accept": would_accept(rest, text),
            })
            pending = None
        else:
            time.sleep(key_s)
    if pending is not None:
        client.cancel(pending)
    return pauses, version


def run(args: argparse.Namespace) -> dict:
    packages = select_packages(args.packages, args.quick)
    per_pkg = max(1, args.tasks // len(packages))
    report: dict = {"config": vars(args), "packages": {}}
    pauses: list[dict] = []
    firsts: list[float] = []
    first_shown: list[bool] = []
    first_text: list[dict] = []  # the first suggestion in each file, and whether the line starts with it
    requests: list[dict] = []
    for pkg in packages:
        root = ensure_source(pkg)
        tasks = [t for t in load_body_tasks(pkg) if first_body_line(t)][:per_pkg]
        env = {"RAGLS_CACHE_DIR": str(CACHE_DIR / f"index-{pkg.name}")}
        client = LspClient(CACHE_DIR / "logs" / f"typing-{pkg.name}.log", env=env)
        try:
            model = {"maxTokens": args.max_tokens, **({"path": args.model} if args.model else {})}
            prompts = {"coldPromptMs": args.cold_prompt_ms} if args.cold_prompt_ms is not None else {}
            options = {"embeddings": {"kind": "none"}, "logLevel": args.log_level, "model": model,
                       "completion": prompts}
            client.initialize(root, options)
            client.wait_indexed()
            # the model loads on the first warming; an untimed warm-up request pays for that
            warm_uri = file_uri(root / tasks[0].file)
            client.did_open(warm_uri, tasks[0].buffer_text)
            client.inline_completion(warm_uri, 0, 0).wait(600)
            client.notify("textDocument/didClose", {"textDocument": {"uri": warm_uri}})
            client.log_lines()
            for n, task in enumerate(tasks):
                uri = file_uri(root / task.file)
                opened = time.perf_counter()
                client.did_open(uri, task.buffer_text, version=1)
                client.cursor_moved(uri, task.line - 1, task.col - 1)
                first = client.inline_completion(uri, task.line - 1, task.col - 1)
                result = first.wait(120)
                firsts.append((first.arrived - opened) * 1000)
                shown = suggestion_text(result)
                first_shown.append(bool(shown.strip()))
                first_text.append({"task": task.id, "suggestion": shown,
                                   "accept": would_accept(first_body_line(task), shown)})
                time.sleep(max(0.0, args.open_s - (time.perf_counter() - opened)))
                got, _ = type_line(client, uri, task, first_body_line(task), args.key_ms / 1000, 1)
                pauses += got
                client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
                for line in client.log_lines():
                    m = _RECORD.search(line)
                    if m:
                        timings = ast.literal_eval(m.group(2))
                        requests.append({"source": m.group(1), "timings": timings,
                                         "prompt": int(m.group(3)) if m.group(3).isdigit() else 0,
                                         "cached": int(m.group(4)) if m.group(4).isdigit() else 0})
                log(f"{pkg.key}: task {n + 1}/{len(tasks)}: {len(got)} pauses")
        finally:
            client.close()
    lat = [p["latency_ms"] for p in pauses if p["shown"] and p["latency_ms"] is not None]
    model_reqs = [r for r in requests if r["source"] in ("model", "lean")]
    report["summary"] = {
        "pauses": len(pauses),
        "first_p50": percentile(firsts, 50), "first_p95": percentile(firsts, 95),
        "first_shown": sum(first_shown) / len(first_shown) if first_shown else 0.0,
        "first_accept": sum(f["accept"] for f in first_text) / len(first_text) if first_text else 0.0,
        "key_p50": percentile(lat, 50), "key_p95": percentile(lat, 95),
        "shown": sum(p["shown"] for p in pauses) / len(pauses) if pauses else 0.0,
        "accept": sum(p["accept"] for p in pauses) / len(pauses) if pauses else 0.0,
        "model_requests": len(model_reqs),
        "lean": sum(r["source"] == "lean" for r in requests),
        "typed_ahead": sum(r["source"] == "typed-ahead" for r in requests),
        "read_p50": percentile([r["prompt"] - r["cached"] for r in model_reqs], 50),
        "read_p95": percentile([r["prompt"] - r["cached"] for r in model_reqs], 95),
        "prompt_p50": percentile([r["prompt"] for r in model_reqs], 50),
        "floor_p50": percentile([r["timings"].get("generation_ms", 0.0) for r in model_reqs], 50),
        "floor_p95": percentile([r["timings"].get("generation_ms", 0.0) for r in model_reqs], 95),
        "overhead_p50": percentile([r["timings"].get("overhead_ms", 0.0) for r in model_reqs], 50),
        "overhead_p95": percentile([r["timings"].get("overhead_ms", 0.0) for r in model_reqs], 95),
    }
    report["pauses"], report["firsts_ms"], report["requests"] = pauses, firsts, requests
    report["firsts"] = first_text
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="keystroke-to-suggestion latency over stdio")
    ap.add_argument("--packages", nargs="+", default=["requests", "flask", "httpx", "rich"])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--tasks", type=int, default=12, help="tasks in total, spread over the packages")
    ap.add_argument("--model", help="GGUF path or model name (default: the server's default)")
    ap.add_argument("--max-tokens", type=int, default=48)
    ap.add_argument("--key-ms", type=float, default=60.0)
    ap.add_argument("--open-s", type=float, default=4.0)
    ap.add_argument("--cold-prompt-ms", type=int, help="completion.coldPromptMs (default: the server's)")
    ap.add_argument("--log-level", default="info", help="the server's logLevel (its log file)")
    args = ap.parse_args(argv)
    os.environ.setdefault("RAGLS_LOG_LEVEL", "info")
    report = run(args)
    s = report["summary"]
    print_table(
        f"typing: {args.tasks} tasks, one key every {args.key_ms:.0f} ms, pause at each word end "
        f"({s['pauses']} pauses, {s['model_requests']} model requests of which {s['lean']} lean, "
        f"{s['typed_ahead']} typed-ahead)",
        ["measure", "p50", "p95", "share"],
        [
            ["first suggestion after opening a file (ms)", s["first_p50"], s["first_p95"],
             pct(s["first_shown"])],
            ["keystroke to suggestion, file open >= 4 s (ms)", s["key_p50"], s["key_p95"], pct(s["shown"])],
            ["first suggestion the line starts with", "", "", pct(s["first_accept"])],
            ["suggestion the rest of the line starts with", "", "", pct(s["accept"])],
            ["prompt tokens per model request", s["prompt_p50"], "", ""],
            ["prompt tokens the model had to read", s["read_p50"], s["read_p95"], ""],
            ["floor: llama.cpp's time for those tokens + the answer (ms)", s["floor_p50"],
             s["floor_p95"], ""],
            ["ragls' own time on the request path (ms)", s["overhead_p50"], s["overhead_p95"], ""],
        ],
    )
    path = write_json("typing.json", report)
    log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
