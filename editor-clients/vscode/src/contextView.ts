/**
 * The result of `ragls.showContext` as a Markdown document: each snippet with path:lines,
 * the retrieval sources that chose it and its fused score, then the stage timings.
 * Pure (no `vscode` import); the extension shows it as a read-only virtual document.
 */

export interface Snippet {
  path: string;
  start_line: number;
  end_line: number;
  score: number;
  sources: string[];
  text: string;
}

export interface ContextResult {
  uri?: string | null;
  snippets?: Snippet[];
  timings?: Record<string, number>;
  ungrounded?: string[];
}

const FENCES: Record<string, string> = {
  py: "python", js: "javascript", jsx: "javascript", mjs: "javascript", cjs: "javascript",
  ts: "typescript", tsx: "typescript", go: "go", rs: "rust", java: "java",
};

/** What each source tag means, for the reader who asks "why this snippet?". */
const WHY: Record<string, string> = {
  graph: "imported or called by this buffer (dependency graph)",
  dense: "similar to the code at the cursor (embeddings)",
  lexical: "shares identifiers with it (BM25)",
  recent: "recently edited or opened",
};

function fence(path: string): string {
  const dot = path.lastIndexOf(".");
  return dot < 0 ? "" : FENCES[path.slice(dot + 1).toLowerCase()] ?? "";
}

/** A fence longer than any backtick run in the text, so snippets cannot break out of it. */
function ticks(text: string): string {
  const longest = Math.max(2, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  return "`".repeat(longest + 1);
}

export function why(sources: string[]): string {
  const kinds = [...new Set(sources.map((s) => s.split(":")[0]))];
  return kinds.map((k) => WHY[k] ?? k).join("; ");
}

function ms(value: number): string {
  return value >= 100 ? value.toFixed(0) : value.toFixed(1);
}

export function renderContext(result: ContextResult | null | undefined): string {
  const snippets = result?.snippets ?? [];
  const out: string[] = ["# ragls: context of the last completion", ""];
  if (result?.uri) out.push(`Buffer: ${result.uri}`, "");
  if (snippets.length === 0) {
    out.push(
      "No context yet: no completion has been computed for this file.",
      "Type in the file, wait for a suggestion, then run this command again.",
    );
    return out.join("\n") + "\n";
  }
  out.push(`## ${snippets.length} snippet${snippets.length === 1 ? "" : "s"}`, "");
  snippets.forEach((s, i) => {
    out.push(`### ${i + 1}. ${s.path}:${s.start_line}-${s.end_line}`);
    out.push(`score ${s.score.toFixed(4)} · sources ${s.sources.join(", ") || "none"}`);
    out.push(`why: ${why(s.sources) || "no source recorded"}`, "");
    const t = ticks(s.text);
    out.push(t + fence(s.path), s.text.replace(/\n$/, ""), t, "");
  });
  const timings = Object.entries(result?.timings ?? {});
  if (timings.length > 0) {
    out.push("## Stage timings", "", "| stage | ms |", "| --- | ---: |");
    for (const [stage, value] of timings) out.push(`| ${stage.replace(/_ms$/, "")} | ${ms(value)} |`);
    out.push("");
  }
  const ungrounded = result?.ungrounded ?? [];
  if (ungrounded.length > 0) {
    out.push("## Names the completion used that exist nowhere", "", ungrounded.map((n) => `\`${n}\``).join(", "), "");
  }
  return out.join("\n");
}
