/**
 * ragls for VS Code: finds and starts `ragls serve` through vscode-languageclient 10 (which
 * wires LSP 3.18 textDocument/inlineCompletion into VS Code's inline suggestions), keeps the
 * server's settings in step with VS Code's (and with workspace trust), and shows a status bar
 * item, the context of the last completion and a model picker. The logic that needs no VS Code
 * host lives in options.ts, executable.ts, status.ts, contextView.ts and models.ts.
 */
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as vscode from "vscode";
import {
  DidChangeConfigurationNotification,
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  State,
  TransportKind,
} from "vscode-languageclient/node";
import { CURSOR_MOVED, cursorNotifier } from "./cursor";
import { renderContext, type ContextResult } from "./contextView";
import { discoverExecutable, INSTALL_HINT, type Discovery } from "./executable";
import { modelPicks } from "./models";
import { buildOptions, configurationChange, explicitValue, restrictedKeys, serverKeys, type Options } from "./options";
import { statusView, type IndexStatus, type Phase } from "./status";

const LANGUAGES = ["python", "javascript", "javascriptreact", "typescript", "typescriptreact", "go", "rust", "java"];
const SCHEME = "ragls";
const CONTEXT_URI = vscode.Uri.parse(`${SCHEME}:/last-completion-context.md`);
const STATUS_URI = vscode.Uri.parse(`${SCHEME}:/index-status.json`);

let client: LanguageClient | undefined;
let executable: string | undefined;
let keys: string[] = [];
let restricted = new Set<string>();
let output: vscode.LogOutputChannel;
let statusItem: vscode.StatusBarItem;
let pollTimer: NodeJS.Timeout | undefined;
let phase: Phase = "starting";
let warnedMissing = false;
const documents = new Map<string, string>();
const changed = new vscode.EventEmitter<vscode.Uri>();

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function folders(): string[] {
  return (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === "file").map((f) => f.uri.fsPath);
}

function config(): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration("ragls");
}

/** A client setting, honouring restricted settings in an untrusted workspace. */
function clientSetting<T>(key: string, fallback: T): T {
  const userOnly = !vscode.workspace.isTrusted && restricted.has(key);
  const value = explicitValue(config().inspect<T>(key), userOnly) as T | undefined;
  return value ?? fallback;
}

function serverOptions(): Options {
  const cfg = config();
  return buildOptions(keys, (k) => cfg.inspect(k), vscode.workspace.isTrusted, restricted);
}

function discover(): Discovery {
  return discoverExecutable({
    configured: clientSetting("serverPath", ""),
    workspaceFolders: folders(),
    trusted: vscode.workspace.isTrusted,
    pathEnv: process.env.PATH ?? "",
    platform: process.platform,
    home: os.homedir(),
    isExecutable,
  });
}

function setPhase(next: Phase, status?: IndexStatus): void {
  phase = next;
  const view = statusView(next, status);
  statusItem.text = view.text;
  statusItem.tooltip = view.tooltip;
  statusItem.backgroundColor = view.error ? new vscode.ThemeColor("statusBarItem.errorBackground") : undefined;
  schedulePoll(view.busy ? 1000 : 10000);
}

function schedulePoll(delayMs: number): void {
  if (pollTimer) clearTimeout(pollTimer);
  if (phase !== "running") return;
  pollTimer = setTimeout(() => void refreshStatus(), delayMs);
}

async function execute<T>(command: string, args: unknown[] = []): Promise<T> {
  if (!client || !client.isRunning()) throw new Error("the ragls server is not running");
  return (await client.sendRequest(ExecuteCommandRequest.type, { command, arguments: args })) as T;
}

async function refreshStatus(): Promise<IndexStatus | undefined> {
  try {
    const status = await execute<IndexStatus>("ragls.indexStatus");
    if (phase === "running") setPhase("running", status);
    return status;
  } catch (err) {
    output.appendLine(`ragls.indexStatus failed: ${String(err)}`);
    schedulePoll(10000);
    return undefined;
  }
}

async function notifyMissing(found: Extract<Discovery, { found: false }>): Promise<void> {
  output.appendLine(`${found.reason}; tried: ${found.tried.join(", ")}`);
  if (warnedMissing) return;
  warnedMissing = true;
  const choice = await vscode.window.showErrorMessage(`${found.reason}. ${INSTALL_HINT}`, "Open setting", "Retry");
  if (choice === "Open setting") await vscode.commands.executeCommand("workbench.action.openSettings", "ragls.serverPath");
  if (choice === "Retry") await restart();
}

async function start(): Promise<void> {
  const found = discover();
  if (!found.found) {
    setPhase("missing");
    await notifyMissing(found);
    return;
  }
  executable = found.path;
  output.appendLine(`starting ${found.path} (${found.source})`);
  const server: ServerOptions = {
    command: found.path,
    args: clientSetting<string[]>("serverArgs", ["serve"]),
    transport: TransportKind.stdio,
    options: { cwd: folders()[0] },
  };
  const options: LanguageClientOptions = {
    documentSelector: LANGUAGES.map((language) => ({ scheme: "file", language })),
    initializationOptions: () => serverOptions(),
    outputChannel: output,
    middleware: {
      workspace: {
        // the server may pull its section: answer with what the user set, never the defaults
        configuration: (params) => params.items.map((item) => (item.section === "ragls" ? serverOptions() : null)),
      },
    },
  };
  client = new LanguageClient("ragls", "ragls", server, options);
  client.onDidChangeState((e) => {
    if (e.newState === State.Running) setPhase("running");
    else if (e.newState === State.Stopped) setPhase("stopped");
    else setPhase("starting");
  });
  setPhase("starting");
  try {
    await client.start();
    setPhase("running");
    void refreshStatus();
  } catch (err) {
    setPhase("stopped");
    void vscode.window.showErrorMessage(`ragls could not start: ${String(err)}`);
  }
}

async function stop(): Promise<void> {
  if (pollTimer) clearTimeout(pollTimer);
  const old = client;
  client = undefined;
  if (old) await old.stop().catch((err) => output.appendLine(`stopping ragls: ${String(err)}`));
}

async function restart(): Promise<void> {
  await stop();
  await start();
}

/** Settings and trust changes go to the server as didChangeConfiguration ({ragls: options}). */
async function pushConfiguration(): Promise<void> {
  if (!client || !client.isRunning()) return;
  await client.sendNotification(DidChangeConfigurationNotification.type, configurationChange(serverOptions()));
  void refreshStatus();
}

async function showDocument(uri: vscode.Uri, content: string, language: string): Promise<void> {
  documents.set(uri.toString(), content);
  changed.fire(uri);
  const doc = await vscode.workspace.openTextDocument(uri);
  await vscode.languages.setTextDocumentLanguage(doc, language);
  await vscode.window.showTextDocument(doc, { preview: true, viewColumn: vscode.ViewColumn.Beside });
}

async function showContext(): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  const args = editor && editor.document.uri.scheme === "file" ? [editor.document.uri.toString()] : [];
  const result = await execute<ContextResult>("ragls.showContext", args);
  await showDocument(CONTEXT_URI, renderContext(result), "markdown");
}

async function showIndexStatus(): Promise<void> {
  const status = await refreshStatus();
  await showDocument(STATUS_URI, JSON.stringify(status ?? { error: "no answer from ragls" }, null, 2), "json");
}

async function reindex(): Promise<void> {
  const result = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Window, title: "ragls: re-indexing" },
    () => execute<Record<string, unknown>>("ragls.reindex"),
  );
  if (typeof result?.error === "string") void vscode.window.showErrorMessage(`ragls: re-indexing failed: ${result.error}`);
  else void vscode.window.showInformationMessage(`ragls: index updated (${result?.files ?? "?"} files, ${result?.symbols ?? "?"} symbols)`);
  void refreshStatus();
}

function listModels(): Promise<string> {
  return new Promise((resolve, reject) => {
    if (!executable) return reject(new Error("ragls is not installed"));
    execFile(executable, ["models", "--json"], { timeout: 30000, maxBuffer: 8 << 20 }, (err, stdout) =>
      err ? reject(err) : resolve(stdout),
    );
  });
}

async function selectModel(): Promise<void> {
  const browse = { label: "$(folder-opened) Browse for a GGUF file…", description: "", detail: "", path: "" };
  let picks: (typeof browse)[] = [];
  try {
    const status = await refreshStatus();
    picks = modelPicks(await listModels(), status?.model);
  } catch (err) {
    output.appendLine(`ragls models failed: ${String(err)}`);
  }
  const picked = await vscode.window.showQuickPick([...picks, browse], { placeHolder: "Model for ragls completions" });
  if (!picked) return;
  let path = picked.path;
  if (!path) {
    const files = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { "GGUF model": ["gguf"] } });
    if (!files?.[0]) return;
    path = files[0].fsPath;
  }
  const result = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `ragls: loading ${path}` },
    () => execute<{ ok: boolean; model?: string; error?: string }>("ragls.selectModel", [path]),
  );
  if (!result?.ok) {
    void vscode.window.showErrorMessage(`ragls: ${result?.error ?? "the model could not be loaded"}`);
    return;
  }
  const save = await vscode.window.showInformationMessage(`ragls: the model is now ${result.model} (this session).`, "Save in settings");
  if (save) await config().update("model.path", path, vscode.ConfigurationTarget.Global);
  void refreshStatus();
}

async function menu(): Promise<void> {
  const items: { label: string; command: string }[] = [
    { label: "$(list-tree) Show context of the last completion", command: "ragls.ui.showContext" },
    { label: "$(hubot) Select model", command: "ragls.ui.selectModel" },
    { label: "$(refresh) Re-index workspace", command: "ragls.ui.reindex" },
    { label: "$(info) Show index status", command: "ragls.ui.indexStatus" },
    { label: "$(debug-restart) Restart server", command: "ragls.ui.restart" },
    { label: "$(gear) Open settings", command: "ragls.ui.openSettings" },
    { label: "$(output) Show output", command: "ragls.ui.showOutput" },
  ];
  const picked = await vscode.window.showQuickPick(items, { placeHolder: "ragls" });
  if (picked) await vscode.commands.executeCommand(picked.command);
}

function guarded(fn: () => Promise<void>): () => Promise<void> {
  return async () => {
    try {
      await fn();
    } catch (err) {
      void vscode.window.showErrorMessage(`ragls: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const manifest = context.extension.packageJSON;
  keys = serverKeys(manifest.contributes.configuration.properties);
  restricted = restrictedKeys(manifest);
  output = vscode.window.createOutputChannel("ragls", { log: true });
  statusItem = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Right, 100);
  statusItem.command = "ragls.ui.menu";
  statusItem.show();
  context.subscriptions.push(
    output,
    statusItem,
    changed,
    vscode.workspace.registerTextDocumentContentProvider(SCHEME, {
      onDidChange: changed.event,
      provideTextDocumentContent: (uri) => documents.get(uri.toString()) ?? "",
    }),
    vscode.commands.registerCommand("ragls.ui.menu", guarded(menu)),
    vscode.commands.registerCommand("ragls.ui.reindex", guarded(reindex)),
    vscode.commands.registerCommand("ragls.ui.indexStatus", guarded(showIndexStatus)),
    vscode.commands.registerCommand("ragls.ui.showContext", guarded(showContext)),
    vscode.commands.registerCommand("ragls.ui.selectModel", guarded(selectModel)),
    vscode.commands.registerCommand("ragls.ui.restart", guarded(restart)),
    vscode.commands.registerCommand("ragls.ui.openSettings", () =>
      vscode.commands.executeCommand("workbench.action.openSettings", "@ext:ragls.ragls"),
    ),
    vscode.commands.registerCommand("ragls.ui.showOutput", () => output.show()),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration("ragls.serverPath") || e.affectsConfiguration("ragls.serverArgs")) void restart();
      else if (e.affectsConfiguration("ragls")) void pushConfiguration();
    }),
    // trust granted: the server may now honour project settings; a workspace .venv may now be used
    vscode.workspace.onDidGrantWorkspaceTrust(() => void (client ? pushConfiguration() : restart())),
    { dispose: () => void stop() },
  );
  // where the cursor rests, so the server warms the model's cache for that place
  const notifier = cursorNotifier((params) => {
    if (client && client.isRunning()) void client.sendNotification(CURSOR_MOVED, params);
  });
  context.subscriptions.push(notifier);
  const selections = vscode.window.onDidChangeTextEditorSelection?.((e) => {
    const pos = e.selections[0]?.active;
    if (client && pos && e.textEditor.document.uri.scheme === "file") {
      const uri = client.code2ProtocolConverter.asUri(e.textEditor.document.uri);
      notifier.moved({ uri, line: pos.line, character: pos.character });
    }
  });
  if (selections) context.subscriptions.push(selections);
  await start();
}

export async function deactivate(): Promise<void> {
  await stop();
}
