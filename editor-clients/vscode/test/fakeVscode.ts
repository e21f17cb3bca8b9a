/**
 * Just enough of the `vscode` module to run the bundled extension (and the real
 * vscode-languageclient inside it) under node: settings with user/workspace layers, workspace
 * trust, a status bar item, an output channel and the command registry are real objects the
 * test can read; anything else is an inert stub that returns disposables.
 */
/* eslint-disable @typescript-eslint/no-explicit-any */

function stub(name: string, calls: string[]): any {
  const target = function () {};
  return new Proxy(target, {
    get(t, p) {
      if (p === "then") return undefined;
      if (p === Symbol.iterator) return function* () {};
      if (p === Symbol.toPrimitive) return () => 0;
      if (p === "dispose") return () => {};
      if (p === "prototype") return (t as any).prototype;
      return stub(`${name}.${String(p)}`, calls);
    },
    apply() {
      calls.push(name);
      return stub(`${name}()`, calls);
    },
    construct() {
      return stub(`new ${name}`, calls);
    },
  });
}

function partial<T extends object>(obj: T, name: string, calls: string[]): T {
  return new Proxy(obj, {
    get: (t, p) => (p in t ? (t as any)[p] : stub(`${name}.${String(p)}`, calls)),
    has: () => true,
  });
}

export class EventEmitter<T> {
  private listeners: ((e: T) => void)[] = [];
  event = (listener: (e: T) => void) => {
    this.listeners.push(listener);
    return { dispose: () => (this.listeners = this.listeners.filter((l) => l !== listener)) };
  };
  fire(e: T): void {
    for (const l of [...this.listeners]) l(e);
  }
  dispose(): void {
    this.listeners = [];
  }
}

export interface Layers {
  globalValue?: unknown;
  workspaceValue?: unknown;
}

export interface FakeHost {
  vscode: any;
  settings: Record<string, Layers>;
  trust: { isTrusted: boolean; grant: () => void };
  status: { text: string; history: string[] };
  output: string[];
  commands: Record<string, (...args: any[]) => any>;
  calls: string[];
  changeSettings: (keys: string[]) => void;
}

export function fakeHost(folder: string, settings: Record<string, Layers>, trusted: boolean): FakeHost {
  const calls: string[] = [];
  const output: string[] = [];
  const commands: Record<string, (...args: any[]) => any> = {};
  const history: string[] = [];
  const status = {
    history,
    _text: "",
    get text() {
      return this._text;
    },
    set text(v: string) {
      this._text = v;
      history.push(v);
    },
    show() {},
    hide() {},
    dispose() {},
  };
  const trustGranted = new EventEmitter<void>();
  const configChanged = new EventEmitter<{ affectsConfiguration: (s: string) => boolean }>();
  const uri = (s: string) => ({ toString: () => s, scheme: s.split(":")[0], fsPath: s.replace(/^file:\/\//, "") });
  const line = (...a: unknown[]) => output.push(a.map(String).join(" "));
  const channel = partial(
    { name: "ragls", logLevel: 2, appendLine: line, append: line, info: line, warn: line, error: line, debug() {}, trace() {}, show() {}, dispose() {}, onDidChangeLogLevel: () => ({ dispose() {} }) },
    "channel",
    calls,
  );
  const workspace = partial(
    {
      isTrusted: trusted,
      workspaceFolders: [{ uri: uri(`file://${folder}`), name: "ws", index: 0 }],
      textDocuments: [],
      getWorkspaceFolder: () => undefined,
      getConfiguration: () => ({
        inspect: (k: string) => settings[`ragls.${k}`] ?? {},
        get: (k: string, d: unknown) => settings[`ragls.${k}`]?.workspaceValue ?? settings[`ragls.${k}`]?.globalValue ?? d,
        update: async () => {},
      }),
      onDidGrantWorkspaceTrust: trustGranted.event,
      onDidChangeConfiguration: configChanged.event,
    },
    "workspace",
    calls,
  );
  const vscode = partial(
    {
      version: "1.91.0",
      Uri: { parse: uri, file: (p: string) => uri(`file://${p}`) },
      EventEmitter,
      Disposable: class {
        constructor(private f?: () => void) {}
        static from() {
          return { dispose() {} };
        }
        dispose() {
          this.f?.();
        }
      },
      StatusBarAlignment: { Left: 1, Right: 2 },
      ThemeColor: class {
        constructor(public id: string) {}
      },
      CancellationTokenSource: class {
        token = { isCancellationRequested: false, onCancellationRequested: () => ({ dispose() {} }) };
        cancel() {}
        dispose() {}
      },
      workspace,
      window: partial(
        {
          createOutputChannel: () => channel,
          createStatusBarItem: () => status,
          showErrorMessage: async (m: string) => void output.push(`showErrorMessage: ${m}`),
          showInformationMessage: async (m: string) => void output.push(`showInformationMessage: ${m}`),
          showWarningMessage: async (m: string) => void output.push(`showWarningMessage: ${m}`),
          visibleTextEditors: [],
        },
        "window",
        calls,
      ),
      commands: partial(
        {
          registerCommand: (id: string, f: (...args: any[]) => any) => {
            commands[id] = f;
            return { dispose: () => delete commands[id] };
          },
          executeCommand: async (id: string, ...args: any[]) => commands[id]?.(...args),
        },
        "commands",
        calls,
      ),
      env: partial({ machineId: "test", appName: "fake host", language: "en", uiKind: 1 }, "env", calls),
    },
    "vscode",
    calls,
  );
  return {
    vscode,
    settings,
    status,
    output,
    commands,
    calls,
    trust: {
      get isTrusted() {
        return workspace.isTrusted;
      },
      set isTrusted(v: boolean) {
        (workspace as any).isTrusted = v;
      },
      grant() {
        (workspace as any).isTrusted = true;
        trustGranted.fire();
      },
    },
    changeSettings: (keys: string[]) => configChanged.fire({ affectsConfiguration: (s: string) => keys.some((k) => k === s || k.startsWith(`${s}.`)) }),
  };
}
