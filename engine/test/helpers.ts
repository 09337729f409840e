// Paths shared by the engine tests. shared/ sits beside the project (as in CI).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const repoRoot = resolve(__dirname, '../..');
export const sharedDir = resolve(repoRoot, '../shared');
export const fixturesDir = join(sharedDir, 'reference/fixtures');
export const shakespeare = join(sharedDir, 'data/tinyshakespeare.txt');
export const cliPath = join(repoRoot, 'dist/engine/cli.js');

export function tempDir(prefix = 'ldlens-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

// ----------------------------------------------------------------------------- integration helpers
// (server.test.ts, cli.test.ts, badinput.test.ts: the built CLI as a real child process)
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

/** A model and schedule small enough for a 2-core machine: 20 steps in about a second. */
export const TINY_OVERRIDES = {
  model: { blockSize: 32, nEmbd: 32, nHead: 2, nLayer: 1 },
  train: { steps: 20, batchSize: 4, evalInterval: 10, evalBatches: 2, checkpointInterval: 10, statsInterval: 5 },
};

/** TINY_OVERRIDES (less the step count) as `--set` flags. */
export const TINY_SETS: string[] = [
  ...Object.entries(TINY_OVERRIDES.model).map(([k, v]) => `model.${k}=${v}`),
  ...Object.entries(TINY_OVERRIDES.train).filter(([k]) => k !== 'steps').map(([k, v]) => `train.${k}=${v}`),
].flatMap((s) => ['--set', s]);

/** The first `bytes` of tinyshakespeare (cut at a line end) in `dir`, for a fast corpus. */
export function smallCorpus(dir: string, bytes = 50_000, name = 'corpus.txt'): string {
  const text = readFileSync(shakespeare, 'utf8').slice(0, bytes);
  const path = join(dir, name);
  writeFileSync(path, text.slice(0, text.lastIndexOf('\n') + 1));
  return path;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI (`node dist/engine/cli.js ARGS`) to completion. */
export function runCli(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
  });
}

// ----------------------------------------------------------------------------- run folder snapshots
// (badinput.test.ts, runlock.test.ts: a refused command leaves the run folder byte for byte as it was)
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { relative } from 'node:path';

/** Every file under a folder with its bytes. */
export function snapshot(root: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(relative(root, p), readFileSync(p));
    }
  };
  walk(root);
  return out;
}

export function assertSameFiles(before: Map<string, Buffer>, after: Map<string, Buffer>, what: string): void {
  assert.deepEqual([...after.keys()].sort(), [...before.keys()].sort(), `${what}: the same files`);
  for (const [p, b] of before) assert.ok(after.get(p)!.equals(b), `${what}: ${p} is byte-identical`);
}
