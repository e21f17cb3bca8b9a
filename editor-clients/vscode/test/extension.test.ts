/**
 * The bundled extension (dist/extension.js, vscode-languageclient included) under node with a
 * fake `vscode` module, starting a real `ragls serve`: settings and trust reach the server, the
 * status bar follows it, its log arrives as window/logMessage. Needs RAGLS_SERVER (the ragls
 * executable; `make test` sets it); skipped without it.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import Module from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fakeHost } from "./fakeVscode";

const server = process.env.RAGLS_SERVER;
const root = join(__dirname, "..", "..");

async function until<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 60000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test("the packaged extension starts ragls with the user's settings and the workspace's trust", { skip: !server && "RAGLS_SERVER is not set" }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "ragls-vscode-"));
  const ws = join(dir, "ws");
  mkdirSync(ws);
  writeFileSync(join(ws, "a.py"), "def f():\n    return 1\n");
  process.env.RAGLS_CACHE_DIR = join(dir, "cache"); // the index and default log stay in the temp folder
  const host = fakeHost(
    ws,
    {
      "ragls.serverPath": { globalValue: server },
      "ragls.serverArgs": { globalValue: ["serve", "--log-file", join(dir, "serve.log")] },
      "ragls.embeddings.kind": { globalValue: "none" },
      "ragls.model.maxTokens": { workspaceValue: 12 },
      // restricted: in an untrusted workspace only the user's own value counts
      "ragls.testCommand": { globalValue: "pytest -q", workspaceValue: "make evil" },
    },
    false,
  );
  const load = (Module as any)._load;
  (Module as any)._load = function (request: string, ...rest: unknown[]) {
    return request === "vscode" ? host.vscode : load.call(this, request, ...rest);
  };
  const ext = require(join(root, "dist", "extension.js"));
  const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  try {
    await ext.activate({ subscriptions: [], extension: { packageJSON: manifest } });
    // the status bar: starting, then the model once the index is ready
    await until("a ready status", () => {
      if (/not found|stopped/.test(host.status.text)) throw new Error(`${host.status.text}\n${host.output.join("\n")}`);
      // the index is ready; the model (not loaded until the first completion) is named
      return /^\$\(circle-large-outline\) ragls: \S+/.test(host.status.text);
    });
    assert.equal(host.status.history[0], "$(sync~spin) ragls: starting");
    // the server's log reaches the output channel as window/logMessage
    assert.ok(host.output.some((l) => l.includes("ragls.server.features.lifecycle: initialize from fake host")), host.output.join("\n"));
    // the language client registered the server's commands; ask the server what it resolved
    const before = await host.commands["ragls.indexStatus"]();
    assert.equal(before.settings.model.maxTokens, 12);
    assert.equal(before.settings.embeddings.kind, "none");
    assert.equal(before.settings.trustedWorkspace, false);
    assert.equal(before.settings.testCommand, "pytest -q");
    assert.equal(before.model_state, "not loaded");

    // trust granted: pushed as didChangeConfiguration; now the workspace's values count too
    host.trust.grant();
    const trusted = await until("trust to reach the server", async () => {
      const s = await host.commands["ragls.indexStatus"]();
      return s.settings.trustedWorkspace === true && s;
    });
    assert.equal(trusted.settings.testCommand, "make evil");

    // a changed setting is pushed too (a context change restarts the engine)
    host.settings["ragls.context.topK"] = { globalValue: 3 };
    host.changeSettings(["ragls.context.topK"]);
    await until("the new topK", async () => (await host.commands["ragls.indexStatus"]()).settings.context.topK === 3);
    await until("the engine restart", () => host.output.some((l) => l.includes("settings changed: restarting the engine")));
  } finally {
    await ext.deactivate();
    (Module as any)._load = load;
  }
});
