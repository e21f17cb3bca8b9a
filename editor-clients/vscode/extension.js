// ragls for VS Code: starts `ragls serve` over stdio through vscode-languageclient.
// vscode-languageclient 10 wires textDocument/inlineCompletion (LSP 3.18) into VS Code's
// inline suggestions; settings under "ragls" are sent as initializationOptions and on change.
// The server's own commands (ragls.reindex, ...) are registered by the client library, so the
// palette entries here use "ragls.ui.*" ids that call them and show the result.
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

const LANGUAGES = ["python", "javascript", "javascriptreact", "typescript", "typescriptreact", "go", "rust", "java"];

function settings() {
  const config = vscode.workspace.getConfiguration("ragls");
  const section = (name) => Object.assign({}, config.get(name) || {});
  return {
    model: section("model"),
    context: section("context"),
    embeddings: section("embeddings"),
    completion: section("completion"),
    index: section("index"),
    testCommand: config.get("testCommand") || undefined,
    logLevel: config.get("logLevel"),
  };
}

async function activate(context) {
  const command = vscode.workspace.getConfiguration("ragls").get("serverCommand") || ["ragls", "serve"];
  const serverOptions = { command: command[0], args: command.slice(1), transport: TransportKind.stdio };
  const clientOptions = {
    documentSelector: LANGUAGES.map((language) => ({ scheme: "file", language })),
    initializationOptions: settings(),
    synchronize: { configurationSection: "ragls" },
    outputChannelName: "ragls",
  };
  client = new LanguageClient("ragls", "ragls", serverOptions, clientOptions);

  const run = (name, args = []) => async () => {
    const result = await client.sendRequest("workspace/executeCommand", { command: name, arguments: args });
    const doc = await vscode.workspace.openTextDocument({ language: "json", content: JSON.stringify(result, null, 2) });
    await vscode.window.showTextDocument(doc, { preview: true });
  };
  context.subscriptions.push(
    vscode.commands.registerCommand("ragls.ui.indexStatus", run("ragls.indexStatus")),
    vscode.commands.registerCommand("ragls.ui.reindex", run("ragls.reindex")),
    vscode.commands.registerCommand("ragls.ui.showContext", async () => {
      const editor = vscode.window.activeTextEditor;
      await run("ragls.showContext", editor ? [editor.document.uri.toString()] : [])();
    }),
    vscode.commands.registerCommand("ragls.ui.selectModel", async () => {
      const picked = await vscode.window.showInputBox({ prompt: "GGUF path or model name" });
      if (picked) await run("ragls.selectModel", [picked])();
    }),
  );
  await client.start();
}

async function deactivate() {
  if (client) await client.stop();
}

module.exports = { activate, deactivate };
