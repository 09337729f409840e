// The torch backend's Python when `ldlens.engine.pythonPath` is empty: the Python extension's
// active environment, when that extension is installed (its API, read without a dependency on
// @vscode/python-extension: the two calls used here are its stable `environments` API).
import * as vscode from 'vscode';

interface PythonEnvironmentsApi {
  environments?: {
    getActiveEnvironmentPath(resource?: vscode.Uri): { path: string } | undefined;
    resolveEnvironment(env: { path: string } | string): Promise<{ executable?: { uri?: vscode.Uri } } | undefined>;
  };
}

/** { LDLENS_PYTHON } for the engine's environment, or {} (the engine then uses LDLENS_PYTHON from the user's environment, else python3). */
export async function pythonFromPythonExtension(log: (m: string) => void, timeoutMs = 5000): Promise<Record<string, string>> {
  const ext = vscode.extensions.getExtension<PythonEnvironmentsApi>('ms-python.python');
  if (!ext) return {};
  try {
    const work = (async (): Promise<Record<string, string>> => {
      const api = ext.isActive ? ext.exports : await ext.activate();
      const envs = api?.environments;
      if (!envs) return {};
      const active = envs.getActiveEnvironmentPath(vscode.workspace.workspaceFolders?.[0]?.uri);
      if (!active) return {};
      const resolved = await envs.resolveEnvironment(active);
      const exe = resolved?.executable?.uri?.fsPath;
      if (!exe) return {};
      log(`torch backend's Python: ${exe} (the Python extension's active environment)`);
      return { LDLENS_PYTHON: exe };
    })();
    const timeout = new Promise<Record<string, string>>((res) => setTimeout(() => res({}), timeoutMs));
    return await Promise.race([work, timeout]);
  } catch (e) {
    log(`the Python extension did not name an environment: ${e instanceof Error ? e.message : e}`);
    return {};
  }
}
