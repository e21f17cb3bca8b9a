/**
 * VS Code settings -> the server's initializationOptions (and didChangeConfiguration payload).
 *
 * Only values the user set (user, workspace or folder settings) are sent: sending package.json
 * defaults would hide the project's ragls.toml, which ranks below initializationOptions.
 * Keys keep the server's camelCase names (src/ragls/server/settings.py SCHEMA / TOP_LEVEL).
 * No `vscode` import here, so node can test it without an extension host.
 */

/** Settings that configure the extension itself and are never sent to the server. */
export const CLIENT_ONLY = new Set(["serverPath", "serverArgs", "trace.server"]);

/** The part of `WorkspaceConfiguration.inspect()` that says where a value was set. */
export interface Inspected<T = unknown> {
  globalValue?: T;
  workspaceValue?: T;
  workspaceFolderValue?: T;
}

export type Inspect = (key: string) => Inspected | undefined;

export type Options = Record<string, unknown>;

/** `ragls.model.path` -> `model.path`; the keys of package.json's configuration, minus client-only ones. */
export function serverKeys(properties: Record<string, unknown>): string[] {
  return Object.keys(properties)
    .filter((k) => k.startsWith("ragls."))
    .map((k) => k.slice("ragls.".length))
    .filter((k) => !CLIENT_ONLY.has(k));
}

/**
 * The value the user chose (folder over workspace over user), or undefined when none was set.
 * `userOnly`: a restricted setting in an untrusted workspace, where VS Code itself ignores
 * workspace values (package.json `restrictedConfigurations`); inspect() still reports them.
 */
export function explicitValue(inspected: Inspected | undefined, userOnly = false): unknown {
  if (!inspected) return undefined;
  const layers = userOnly
    ? [inspected.globalValue]
    : [inspected.workspaceFolderValue, inspected.workspaceValue, inspected.globalValue];
  for (const v of layers) {
    if (v !== undefined && v !== null) return v;
  }
  return undefined;
}

/** `ragls.testCommand` etc. from package.json's capabilities.untrustedWorkspaces.restrictedConfigurations. */
export function restrictedKeys(manifest: { capabilities?: { untrustedWorkspaces?: { restrictedConfigurations?: string[] } } }): Set<string> {
  const listed = manifest.capabilities?.untrustedWorkspaces?.restrictedConfigurations ?? [];
  return new Set(listed.filter((k) => k.startsWith("ragls.")).map((k) => k.slice("ragls.".length)));
}

/** Nested options ({model: {path}}) from dotted keys, with `trustedWorkspace` from workspace trust. */
export function buildOptions(
  keys: string[],
  inspect: Inspect,
  trusted: boolean,
  restricted: Set<string> = new Set(),
): Options {
  const options: Options = {};
  for (const key of keys) {
    const value = explicitValue(inspect(key), !trusted && restricted.has(key));
    if (value === undefined) continue;
    const parts = key.split(".");
    let node = options;
    for (const part of parts.slice(0, -1)) {
      const next = node[part];
      if (typeof next !== "object" || next === null || Array.isArray(next)) node[part] = {};
      node = node[part] as Options;
    }
    node[parts[parts.length - 1]] = value;
  }
  options.trustedWorkspace = trusted;
  return options;
}

/** The didChangeConfiguration payload the server reads (`settings.ragls`). */
export function configurationChange(options: Options): { settings: { ragls: Options } } {
  return { settings: { ragls: options } };
}
