"""Prompt-lookup decoding (models/lookup_decoding.py): how fast fixes and tests are written.

Replays the chats that ragls' fix and test engines sent to the model in a `verify_bench.py`
run (`--record-prompts FILE`: the fix candidates, test files and repairs for HumanEval
problems), each twice on one model: with `model.lookupDecoding` off (llama-cpp-python's own
sampler) and on. Greedy (temperature 0), so both should write the same answer; where batched
logits differ from single-token ones in the last bits, a near-tie can flip and the answers part
(reported). Timed is the writing only (the prompt is read before the clock starts and is the
same for both); the floor is llama.cpp's own single-token writing speed, which the plain run is.

    .venv/bin/python bench/verify_bench.py --limit 5 --record-prompts /tmp/prompts.json ...
    .venv/bin/python bench/lookup_bench.py --prompts /tmp/prompts.json --model qwen2.5-coder-1.5b
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import print_table, write_json

KINDS = (("test file", "Write pytest unit tests"), ("test repair", "Running these tests failed"),
         ("fix", "Related code from the repository"))


def kind(chat: dict) -> str:
    """What the engines asked for, from the last message's opening (testgen.py, fix.py)."""
    text = chat["messages"][-1]["content"]
    return next((name for name, start in KINDS if text.startswith(start)), "other")


def unique(chats: list[dict]) -> list[dict]:
    """Greedy replays of the same messages (candidates at other temperatures) only once."""
    seen, out = set(), []
    for chat in chats:
        key = json.dumps(chat["messages"], sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append(chat)
    return out


def row(label: str, a: list[dict], b: list[dict]) -> list[str]:
    tok_a, tok_b = sum(r["tokens"] for r in a), sum(r["tokens"] for r in b)
    ms_a, ms_b = sum(r["write_ms"] for r in a), sum(r["write_ms"] for r in b)
    same = sum(x["text"] == y["text"] for x, y in zip(a, b, strict=True))
    speed = [(y["tokens"] / max(1.0, y["write_ms"])) / (x["tokens"] / max(1.0, x["write_ms"]))
             for x, y in zip(a, b, strict=True) if x["tokens"] and y["tokens"]]
    return [label, str(len(a)), f"{same}/{len(a)}", f"{tok_a} / {tok_b}",
            f"{tok_a / ms_a * 1000:.1f}", f"{tok_b / ms_b * 1000:.1f}",
            f"{ms_a / 1000:.1f} / {ms_b / 1000:.1f}",
            f"{statistics.median(speed):.2f}x [{min(speed):.2f}, {max(speed):.2f}]"]


def replay(backend, chats: list[dict]) -> list[dict]:
    """Each chat once, greedy: tokens written, writing ms, the text."""
    rows = []
    for chat in chats:
        res = backend.chat(chat["messages"], max_tokens=chat["max_tokens"], temperature=0.0)
        rows.append({"tokens": res.tokens, "write_ms": max(0.0, res.elapsed_ms - res.prompt_ms),
                     "text": res.text})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", required=True, help="the JSON that verify_bench.py --record-prompts wrote")
    ap.add_argument("--model", default=None, help="GGUF path or model name (default: ragls' default)")
    ap.add_argument("--limit", type=int, default=None, help="first N chats only")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-draft", type=int, default=None, help="longest draft (lookup_decoding.MAX_DRAFT)")
    args = ap.parse_args(argv)
    if args.max_draft:
        import ragls.models.lookup_decoding as lookup_decoding

        lookup_decoding.MAX_DRAFT = args.max_draft

    from ragls.models.backend import ModelConfig, load_backend

    chats = unique(json.loads(Path(args.prompts).read_text()))[: args.limit]
    results: dict[str, list[dict]] = {}
    drafts = (0, 0)
    for mode in ("plain", "lookup"):
        config = ModelConfig(model=args.model, n_ctx=4096, threads=args.threads,
                             lookup_decoding=mode == "lookup")
        backend = load_backend(config, role="generation")
        try:
            name = backend.name
            results[mode] = replay(backend, chats)
            if mode == "lookup":
                drafts = (backend._lookup.accepted, backend._lookup.drafted)
        finally:
            backend.close()
    plain, lookup = results["plain"], results["lookup"]
    kinds = [kind(c) for c in chats]
    rows = [row(k, [r for r, x in zip(plain, kinds, strict=True) if x == k],
                [r for r, x in zip(lookup, kinds, strict=True) if x == k])
            for k in dict.fromkeys(kinds)]
    rows.append(row("all", plain, lookup))
    print_table(f"lookup decoding, {name}: greedy replays of {len(chats)} recorded chats; draft tokens "
                f"kept {drafts[0]} of {drafts[1]}",
                ["chats", "n", "same answer", "tokens plain / lookup", "tok/s plain (floor)", "tok/s lookup",
                 "writing s plain / lookup", "lookup / plain tok/s per chat, median [min, max]"], rows)
    label = f"-draft{args.max_draft}" if args.max_draft else ""
    write_json(f"lookup-{name}{label}.json", {"config": vars(args), "drafts": drafts,
                                             "plain": plain, "lookup": lookup})
    return 0


if __name__ == "__main__":
    sys.exit(main())
