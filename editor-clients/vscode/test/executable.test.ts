import assert from "node:assert/strict";
import { test } from "node:test";
import { discoverExecutable, type DiscoveryInput } from "../src/executable";

function input(executables: string[], over: Partial<DiscoveryInput> = {}): DiscoveryInput {
  const set = new Set(executables);
  return {
    configured: "",
    workspaceFolders: ["/ws"],
    trusted: true,
    pathEnv: "/usr/local/bin:/usr/bin",
    platform: "linux",
    home: "/home/me",
    isExecutable: (f) => set.has(f),
    ...over,
  };
}

test("the setting wins over the workspace venv and PATH", () => {
  const found = discoverExecutable(input(["/opt/ragls/bin/ragls", "/ws/.venv/bin/ragls", "/usr/bin/ragls"], { configured: "/opt/ragls/bin/ragls" }));
  assert.deepEqual(found, { found: true, path: "/opt/ragls/bin/ragls", source: "setting" });
});

test("the setting expands ~ and ${workspaceFolder}; a bare name is looked up on PATH", () => {
  assert.deepEqual(discoverExecutable(input(["/home/me/bin/ragls"], { configured: "~/bin/ragls" })), {
    found: true, path: "/home/me/bin/ragls", source: "setting",
  });
  assert.deepEqual(discoverExecutable(input(["/ws/tools/ragls"], { configured: "${workspaceFolder}/tools/ragls" })), {
    found: true, path: "/ws/tools/ragls", source: "setting",
  });
  assert.deepEqual(discoverExecutable(input(["/usr/bin/ragls-dev"], { configured: "ragls-dev" })), {
    found: true, path: "/usr/bin/ragls-dev", source: "setting",
  });
});

test("a wrong setting is reported, not silently replaced by another ragls", () => {
  const found = discoverExecutable(input(["/usr/bin/ragls"], { configured: "/nope/ragls" }));
  assert.equal(found.found, false);
  if (!found.found) {
    assert.match(found.reason, /ragls\.serverPath is set to "\/nope\/ragls"/);
    assert.deepEqual(found.tried, ["/nope/ragls"]);
  }
});

test("the workspace venv comes before PATH, in a trusted workspace", () => {
  assert.deepEqual(discoverExecutable(input(["/ws/.venv/bin/ragls", "/usr/bin/ragls"])), {
    found: true, path: "/ws/.venv/bin/ragls", source: "workspace",
  });
  const second = discoverExecutable(input(["/b/.venv/bin/ragls"], { workspaceFolders: ["/a", "/b"] }));
  assert.deepEqual(second, { found: true, path: "/b/.venv/bin/ragls", source: "workspace" });
});

test("an untrusted workspace's venv is never started", () => {
  assert.deepEqual(discoverExecutable(input(["/ws/.venv/bin/ragls", "/usr/bin/ragls"], { trusted: false })), {
    found: true, path: "/usr/bin/ragls", source: "PATH",
  });
  const none = discoverExecutable(input(["/ws/.venv/bin/ragls"], { trusted: false }));
  assert.equal(none.found, false);
  if (!none.found) {
    assert.match(none.reason, /only once the workspace is trusted/);
    assert.ok(!none.tried.includes("/ws/.venv/bin/ragls"));
  }
});

test("PATH is searched in order; nothing found lists what was tried", () => {
  assert.deepEqual(discoverExecutable(input(["/usr/local/bin/ragls", "/usr/bin/ragls"], { workspaceFolders: [] })), {
    found: true, path: "/usr/local/bin/ragls", source: "PATH",
  });
  const none = discoverExecutable(input([]));
  assert.equal(none.found, false);
  if (!none.found) {
    assert.deepEqual(none.tried, ["/ws/.venv/bin/ragls", "/usr/local/bin/ragls", "/usr/bin/ragls"]);
    assert.match(none.reason, /neither in the workspace's .venv nor on PATH/);
  }
});

test("Windows: Scripts\\ragls.exe and PATH with ; and .exe", () => {
  const win = { platform: "win32" as const, workspaceFolders: ["C:\\ws"], pathEnv: "C:\\py\\Scripts;C:\\bin", home: "C:\\Users\\me" };
  assert.deepEqual(discoverExecutable(input(["C:\\ws\\.venv\\Scripts\\ragls.exe"], win)), {
    found: true, path: "C:\\ws\\.venv\\Scripts\\ragls.exe", source: "workspace",
  });
  assert.deepEqual(discoverExecutable(input(["C:\\bin\\ragls.exe"], win)), { found: true, path: "C:\\bin\\ragls.exe", source: "PATH" });
});
