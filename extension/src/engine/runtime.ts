// Which JavaScript runtime runs the engine: the configured Node, else a Node 20+ found on PATH,
// else VS Code's own runtime (Electron, or code-server's Node) with ELECTRON_RUN_AS_NODE=1.
// No `vscode` import: unit-tested under plain Node.
import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export interface RuntimeChoice {
  command: string;
  /** Extra environment for the engine process. */
  env: Record<string, string>;
  source: 'configured' | 'system' | 'vscode';
  /** `node --version` of the chosen runtime when it was checked. */
  version?: string;
}

export const MIN_NODE_MAJOR = 20;

function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** First `node` (node.exe on Windows) on PATH. */
export function findOnPath(pathVar = process.env.PATH ?? '', platform = process.platform): string | undefined {
  const names = platform === 'win32' ? ['node.exe'] : ['node'];
  for (const dir of pathVar.split(delimiter)) {
    if (!dir) continue;
    for (const n of names) {
      const p = join(dir, n);
      if (existsSync(p) && isExecutable(p)) return p;
    }
  }
  return undefined;
}

export function nodeVersion(command: string, env: NodeJS.ProcessEnv = process.env, timeoutMs = 5000): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(command, ['--version'], { env, timeout: timeoutMs, windowsHide: true }, (err, stdout) => {
      resolve(err ? undefined : stdout.trim());
    });
  });
}

export function majorOf(version: string | undefined): number {
  const m = /^v?(\d+)\./.exec(version ?? '');
  return m ? Number(m[1]) : 0;
}

export class RuntimeError extends Error {}

export async function resolveRuntime(opts: { configured?: string; execPath?: string; pathVar?: string }): Promise<RuntimeChoice> {
  const configured = opts.configured?.trim();
  if (configured) {
    if (!existsSync(configured)) throw new RuntimeError(`The engine runtime set in "ldlens.engine.runtimePath" does not exist: ${configured}`);
    const version = await nodeVersion(configured);
    if (!version) throw new RuntimeError(`The engine runtime set in "ldlens.engine.runtimePath" did not run: ${configured}`);
    if (majorOf(version) < MIN_NODE_MAJOR)
      throw new RuntimeError(`The engine needs Node ${MIN_NODE_MAJOR} or newer; "ldlens.engine.runtimePath" (${configured}) is ${version}.`);
    return { command: configured, env: {}, source: 'configured', version };
  }
  const found = findOnPath(opts.pathVar);
  if (found) {
    const version = await nodeVersion(found);
    if (majorOf(version) >= MIN_NODE_MAJOR) return { command: found, env: {}, source: 'system', version };
  }
  return { command: opts.execPath ?? process.execPath, env: { ELECTRON_RUN_AS_NODE: '1' }, source: 'vscode' };
}
