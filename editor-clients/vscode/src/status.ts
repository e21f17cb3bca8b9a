/**
 * The status bar item from `ragls.indexStatus`: index progress, the model's state and name.
 * Pure (no `vscode` import) so node tests it; the extension polls the command and applies this.
 */

export interface IndexStatus {
  state?: string; // not started | indexing | ready | failed
  progress?: { done: number; total: number };
  index?: Record<string, unknown>;
  model?: string | null;
  model_state?: string; // not loaded | loading | ready | failed (older servers: absent)
  model_error?: string | null;
  engine_error?: string | null;
  completions_computed?: number;
  completions_cancelled?: number;
  completions_failed?: number;
  cache_hits?: number;
}

/** Where the client is, before any status can be asked for. */
export type Phase = "missing" | "starting" | "running" | "stopped";

export interface StatusView {
  text: string;
  tooltip: string;
  /** poll again soon: something is in progress */
  busy: boolean;
  error: boolean;
}

function short(text: string, max = 40): string {
  const line = text.split("\n")[0];
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

function tooltip(s: IndexStatus): string {
  const lines: string[] = [];
  const done = s.progress?.done ?? 0;
  const total = s.progress?.total ?? 0;
  const files = s.index?.files;
  const symbols = s.index?.symbols;
  let index = `Index: ${s.state ?? "unknown"}`;
  if (s.state === "indexing" && total > 0) index += ` (${done}/${total} files)`;
  else if (typeof files === "number") index += ` (${files} files${typeof symbols === "number" ? `, ${symbols} symbols` : ""})`;
  lines.push(index);
  lines.push(`Model: ${s.model ?? "none"}${s.model_state ? ` (${s.model_state})` : ""}`);
  if (s.model_error) lines.push(`Model error: ${s.model_error}`);
  if (s.engine_error) lines.push(`Engine error: ${s.engine_error}`);
  lines.push(
    `Completions: ${s.completions_computed ?? 0} computed, ${s.completions_cancelled ?? 0} cancelled, ` +
      `${s.completions_failed ?? 0} failed, ${s.cache_hits ?? 0} from cache`,
  );
  lines.push("Click for ragls commands");
  return lines.join("\n");
}

export function statusView(phase: Phase, s?: IndexStatus): StatusView {
  if (phase === "missing") {
    return { text: "$(error) ragls: not found", tooltip: "The ragls executable was not found. Click for commands.", busy: false, error: true };
  }
  if (phase === "stopped") {
    return { text: "$(debug-stop) ragls: stopped", tooltip: "The ragls server is not running. Click for commands.", busy: false, error: true };
  }
  if (phase === "starting" || s === undefined) {
    return { text: "$(sync~spin) ragls: starting", tooltip: "Starting ragls serve", busy: true, error: false };
  }
  const tip = tooltip(s);
  const model = s.model ?? "no model";
  if (s.engine_error) return { text: `$(error) ragls: ${short(s.engine_error)}`, tooltip: tip, busy: false, error: true };
  if (s.state === "indexing") {
    const total = s.progress?.total ?? 0;
    const done = s.progress?.done ?? 0;
    const pct = total > 0 ? ` ${Math.min(100, Math.floor((100 * done) / total))}%` : "";
    return { text: `$(sync~spin) ragls: indexing${pct}`, tooltip: tip, busy: true, error: false };
  }
  if (s.state === "not started") return { text: "$(sync~spin) ragls: starting", tooltip: tip, busy: true, error: false };
  if (s.state === "failed") return { text: "$(error) ragls: indexing failed", tooltip: tip, busy: false, error: true };
  switch (s.model_state) {
    case "loading":
      return { text: `$(sync~spin) ragls: loading ${short(model, 30)}`, tooltip: tip, busy: true, error: false };
    case "failed":
      return { text: `$(error) ragls: ${short(model, 30)} failed`, tooltip: tip, busy: false, error: true };
    case "not loaded":
      return { text: `$(circle-large-outline) ragls: ${short(model, 30)}`, tooltip: tip, busy: false, error: false };
    default:
      return { text: `$(check) ragls: ${short(model, 30)}`, tooltip: tip, busy: false, error: false };
  }
}
