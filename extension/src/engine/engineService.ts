// The extension's handle on the engine: an EngineSupervisor launched with the configured runtime,
// logging to the LogOutputChannel, its state mirrored in a context key and announced when it fails.
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { CancellationToken as RpcToken, NotificationType, RequestType, RequestType0 } from 'vscode-jsonrpc';
import * as P from '@common/protocol';
import { readSettings } from '../settings';
import { pythonFromPythonExtension } from './pythonInterpreter';
import { RuntimeError, resolveRuntime } from './runtime';
import { type CrashInfo, EngineSupervisor, type EngineState } from './supervisor';

/** Where "Install GPU Backend" installs the optional native packages (the engine's LDLENS_NATIVE_MODULES). */
export function nativeModulesDir(context: vscode.ExtensionContext): string {
  return path.join(context.globalStorageUri.fsPath, 'native');
}

export class EngineService implements vscode.Disposable {
  readonly supervisor: EngineSupervisor;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly crashEmitter = new vscode.EventEmitter<CrashInfo>();
  readonly onDidCrash = this.crashEmitter.event;
  private readonly stateEmitter = new vscode.EventEmitter<EngineState>();
  readonly onDidChangeState = this.stateEmitter.event;

  constructor(
    context: vscode.ExtensionContext,
    readonly log: vscode.LogOutputChannel,
  ) {
    const enginePath = context.asAbsolutePath(path.join('dist', 'engine', 'cli.js'));
    this.supervisor = new EngineSupervisor({
      launch: async () => {
        const s = readSettings();
        let runtime;
        try {
          runtime = await resolveRuntime({ configured: s.runtimePath });
        } catch (e) {
          if (e instanceof RuntimeError) throw e;
          throw new RuntimeError(String(e));
        }
        log.info(`engine runtime: ${runtime.command} (${runtime.source}${runtime.version ? `, ${runtime.version}` : ''})`);
        return {
          command: runtime.command,
          args: [enginePath, 'serve'],
          cwd: path.dirname(enginePath),
          env: {
            ...process.env,
            ...runtime.env,
            LDLENS_NATIVE_MODULES: nativeModulesDir(context),
            // the torch backend's Python: ldlens.engine.pythonPath (sent in initialize), else this
            ...(s.pythonPath ? {} : await pythonFromPythonExtension((m) => log.info(m))),
          },
        };
      },
      initializeParams: () => ({ backend: readSettings().backend, pythonPath: readSettings().pythonPath || undefined, clientName: `${vscode.env.appName} ${vscode.version}` }),
      log: (level, message) => {
        switch (level) {
          case 'trace':
            return log.trace(message);
          case 'debug':
            return log.debug(message);
          case 'info':
            return log.info(message);
          case 'warn':
            return log.warn(message);
          case 'error':
            return log.error(message);
        }
      },
    });
    this.supervisor.onDidChangeState((c) => {
      void vscode.commands.executeCommand('setContext', 'ldlens.engineState', c.state);
      this.stateEmitter.fire(c.state);
      if (c.state === 'failed' && c.reason) {
        void vscode.window.showErrorMessage(c.reason, 'Show Engine Log', 'Restart Engine').then((a) => {
          if (a === 'Show Engine Log') log.show(true);
          if (a === 'Restart Engine') void vscode.commands.executeCommand('ldlens.restartEngine');
        });
      }
    });
    this.supervisor.onDidCrash((c) => this.crashEmitter.fire(c));
    this.supervisor.onDidStart((r) => {
      log.info(`engine ${r.engineVersion} ready: backend ${r.backend}; ${r.attempts.map((a) => `${a.name} ${a.ok ? 'ok' : 'skipped'} (${a.reason})`).join('; ')}`);
    });
    this.disposables.push(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if ((e.affectsConfiguration('ldlens.engine.backend') || e.affectsConfiguration('ldlens.engine.runtimePath') || e.affectsConfiguration('ldlens.engine.pythonPath')) && this.supervisor.state === 'running') {
          void vscode.window
            .showInformationMessage('The engine runtime or backend setting changed. Restart the engine to apply it?', 'Restart Engine')
            .then((a) => a && vscode.commands.executeCommand('ldlens.restartEngine'));
        }
      }),
    );
  }

  get state(): EngineState {
    return this.supervisor.state;
  }

  get initializeResult(): P.InitializeResult | undefined {
    return this.supervisor.initializeResult;
  }

  request<R>(type: RequestType0<R, void>, token?: vscode.CancellationToken): Promise<R>;
  request<Params, R>(type: RequestType<Params, R, void>, params: Params, token?: vscode.CancellationToken): Promise<R>;
  request(type: RequestType<unknown, unknown, void> | RequestType0<unknown, void>, a?: unknown, b?: vscode.CancellationToken): Promise<unknown> {
    if (type.numberOfParams === 0) return this.supervisor.request(type as RequestType0<unknown, void>, a as RpcToken | undefined);
    return this.supervisor.request(type as RequestType<unknown, unknown, void>, a, b as RpcToken | undefined);
  }

  onNotification<Params>(type: NotificationType<Params>, handler: (p: Params) => void): vscode.Disposable {
    const d = this.supervisor.onNotification(type, handler);
    return new vscode.Disposable(() => d.dispose());
  }

  /** Graceful shutdown (deactivate): `shutdown`, stdin closed, killed after the timeout. */
  async shutdown(): Promise<void> {
    await this.supervisor.dispose();
  }

  dispose(): void {
    void this.shutdown();
    for (const d of this.disposables) d.dispose();
    this.crashEmitter.dispose();
    this.stateEmitter.dispose();
  }
}
