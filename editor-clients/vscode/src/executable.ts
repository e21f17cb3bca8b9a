/**
 * Which `ragls` to start: the `ragls.serverPath` setting, else the workspace's virtualenv
 * (`.venv/bin/ragls`, only in a trusted workspace: it is the project's code), else PATH.
 * Pure: the file system is passed in, so node tests it without VS Code.
 */
import * as path from "path";

export interface DiscoveryInput {
  /** ragls.serverPath as the user wrote it ("" when unset). */
  configured: string;
  workspaceFolders: string[];
  trusted: boolean;
  /** process.env.PATH */
  pathEnv: string;
  platform: NodeJS.Platform;
  home: string;
  isExecutable: (file: string) => boolean;
}

export type Source = "setting" | "workspace" | "PATH";

export type Discovery =
  | { found: true; path: string; source: Source }
  | { found: false; tried: string[]; reason: string };

function names(platform: NodeJS.Platform): string[] {
  return platform === "win32" ? ["ragls.exe", "ragls.cmd", "ragls"] : ["ragls"];
}

function venvCandidates(folder: string, platform: NodeJS.Platform): string[] {
  const p = platform === "win32" ? path.win32 : path.posix;
  return platform === "win32"
    ? names(platform).map((n) => p.join(folder, ".venv", "Scripts", n))
    : [p.join(folder, ".venv", "bin", "ragls")];
}

function expand(value: string, input: DiscoveryInput): string {
  let out = value.trim();
  if (out === "~" || out.startsWith("~/")) out = input.home + out.slice(1);
  const first = input.workspaceFolders[0];
  if (first !== undefined) out = out.split("${workspaceFolder}").join(first);
  return out;
}

function searchPath(file: string, input: DiscoveryInput, tried: string[]): string | undefined {
  const p = input.platform === "win32" ? path.win32 : path.posix;
  const sep = input.platform === "win32" ? ";" : ":";
  for (const dir of input.pathEnv.split(sep).filter(Boolean)) {
    const candidate = p.join(dir, file);
    tried.push(candidate);
    if (input.isExecutable(candidate)) return candidate;
  }
  return undefined;
}

export function discoverExecutable(input: DiscoveryInput): Discovery {
  const tried: string[] = [];
  const configured = expand(input.configured, input);
  if (configured) {
    // a bare name ("ragls-dev") is looked up on PATH; anything with a separator is a path
    if (!/[\\/]/.test(configured)) {
      const hit = searchPath(configured, input, tried);
      if (hit) return { found: true, path: hit, source: "setting" };
    } else {
      tried.push(configured);
      if (input.isExecutable(configured)) return { found: true, path: configured, source: "setting" };
    }
    // an explicit setting that is wrong is reported, not silently replaced by another ragls
    return { found: false, tried, reason: `ragls.serverPath is set to "${input.configured}", which is not an executable file` };
  }
  if (input.trusted) {
    for (const folder of input.workspaceFolders) {
      for (const candidate of venvCandidates(folder, input.platform)) {
        tried.push(candidate);
        if (input.isExecutable(candidate)) return { found: true, path: candidate, source: "workspace" };
      }
    }
  }
  for (const name of names(input.platform)) {
    const hit = searchPath(name, input, tried);
    if (hit) return { found: true, path: hit, source: "PATH" };
  }
  const reason = input.trusted
    ? "ragls was found neither in the workspace's .venv nor on PATH"
    : "ragls was not found on PATH (the workspace's .venv is used only once the workspace is trusted)";
  return { found: false, tried, reason };
}

export const INSTALL_HINT = "Install it with `pip install 'ragls[local]'` (or `make install` in a ragls checkout), or set ragls.serverPath.";
