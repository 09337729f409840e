// The same scenarios as the code-server e2e suite, inside a desktop VS Code downloaded by
// @vscode/test-electron (machines with internet access; not part of scripts/test.sh here, where
// update.code.visualstudio.com cannot be reached). Usage: npx tsx extension/test/electron/runTest.ts
import { runTests } from '@vscode/test-electron';
import * as esbuild from 'esbuild';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

async function main(): Promise<void> {
  const root = join(__dirname, '../../..');
  execFileSync(process.execPath, [join(root, 'scripts/build.mjs')], { cwd: root, stdio: 'inherit' });
  // The suite runs inside the extension host: bundle it to CommonJS with `vscode` external.
  const suite = join(root, 'out/electron-suite/index.js');
  await esbuild.build({ entryPoints: [join(__dirname, 'suite.ts')], outfile: suite, bundle: true, platform: 'node', format: 'cjs', target: 'node20', external: ['vscode'] });
  const ws = mkdtempSync(join(tmpdir(), 'ldlens-electron-'));
  mkdirSync(join(ws, '.vscode'));
  const shakespeare = join(root, '../shared/data/tinyshakespeare.txt');
  writeFileSync(join(ws, 'corpus.txt'), readFileSync(shakespeare, 'utf8').slice(0, 12_000));
  writeFileSync(join(ws, 'sample.txt'), 'First Citizen:\r\n\tBefore we proceed any further, hear me speak.\r\n');
  writeFileSync(
    join(ws, '.vscode/settings.json'),
    JSON.stringify({
      'ldlens.engine.backend': 'wasm',
      'ldlens.training.overrides': { model: { nEmbd: 32, nHead: 2, blockSize: 32, nLayer: 2 }, train: { steps: 100, batchSize: 8, checkpointInterval: 20, evalInterval: 20, evalBatches: 2, statsInterval: 10 } },
    }),
  );
  await runTests({
    version: process.env.VSCODE_TEST_VERSION ?? 'stable',
    extensionDevelopmentPath: root,
    extensionTestsPath: suite,
    launchArgs: [ws, '--disable-extensions', '--disable-workspace-trust', '--skip-welcome', '--skip-release-notes'],
  });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
