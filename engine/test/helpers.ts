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
