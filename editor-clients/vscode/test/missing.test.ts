/**
 * The bundled extension under node (fake `vscode`) when no ragls can be found: one
 * notification that says how to install it, the status bar says so, nothing is started.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import Module from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fakeHost } from "./fakeVscode";

const root = join(__dirname, "..", "..");

test("no ragls anywhere: one notification with the install hint, status 'not found'", async () => {
  const ws = mkdtempSync(join(tmpdir(), "ragls-vscode-missing-"));
  const host = fakeHost(ws, {}, true);
  const savedPath = process.env.PATH;
  process.env.PATH = ws; // an empty folder: no ragls on PATH, no .venv in the workspace
  const load = (Module as any)._load;
  (Module as any)._load = function (request: string, ...rest: unknown[]) {
    return request === "vscode" ? host.vscode : load.call(this, request, ...rest);
  };
  const ext = require(join(root, "dist", "extension.js"));
  const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  try {
    await ext.activate({ subscriptions: [], extension: { packageJSON: manifest } });
    await host.commands["ragls.ui.restart"](); // trying again does not notify twice
    const notes = host.output.filter((l) => l.startsWith("showErrorMessage:"));
    assert.equal(notes.length, 1, notes.join("\n"));
    assert.match(notes[0], /ragls was found neither in the workspace's \.venv nor on PATH\. Install it with `pip install 'ragls\[local\]'`/);
    assert.equal(host.status.text, "$(error) ragls: not found");
    assert.ok(host.output.some((l) => l.includes(`tried: ${join(ws, ".venv", "bin", "ragls")}, ${join(ws, "ragls")}`)));
    assert.ok(!host.calls.some((c) => c.includes("LanguageClient")));
  } finally {
    await ext.deactivate();
    (Module as any)._load = load;
    process.env.PATH = savedPath;
  }
});
