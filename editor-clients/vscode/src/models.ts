/**
 * `ragls models --json` -> quick pick entries for "ragls: Select model". Pure (no `vscode`).
 */

export interface ModelRow {
  name: string;
  source: string;
  path: string;
  size_bytes: number;
  architecture?: string | null;
  template?: string | null;
  error?: string;
}

export interface ModelPick {
  label: string;
  description: string;
  detail: string;
  path: string;
}

export function formatSize(bytes: number): string {
  let size = bytes;
  for (const unit of ["B", "KB", "MB"]) {
    if (size < 1024) return unit === "B" ? `${size.toFixed(0)} B` : `${size.toFixed(1)} ${unit}`;
    size /= 1024;
  }
  return `${size.toFixed(1)} GB`;
}

/** Parse the command's stdout; rows with errors (unreadable GGUFs) are left out. */
export function modelPicks(stdout: string, current?: string | null): ModelPick[] {
  let rows: unknown;
  try {
    rows = JSON.parse(stdout);
  } catch {
    throw new Error("`ragls models --json` did not print JSON");
  }
  if (!Array.isArray(rows)) throw new Error("`ragls models --json` did not print a list");
  return (rows as ModelRow[])
    .filter((r) => r && typeof r.path === "string" && typeof r.name === "string" && !r.error)
    .map((r) => {
      const base = r.path.split(/[\\/]/).pop() ?? r.path;
      const mark = current && (current === base || current === r.path) ? " (current)" : "";
      return {
        label: `${r.name}${mark}`,
        description: [r.source, formatSize(r.size_bytes ?? 0), r.architecture ?? "", r.template ? `fim=${r.template}` : ""]
          .filter(Boolean)
          .join(" · "),
        detail: r.path,
        path: r.path,
      };
    });
}
