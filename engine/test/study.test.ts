// The study end to end on a small model: every setting and seed trains, is evaluated on the
// validation split and reported next to chance, and the table says so.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { initBackend } from '../src/backend';
import { runStudy, STUDY_SETTINGS } from '../src/study';
import { shakespeare, tempDir } from './helpers';

test('study: a grid of settings × seeds → val loss over the validation split and mask figures vs chance, as JSON and markdown', { timeout: 120_000 }, async () => {
  const { backend } = await initBackend('wasm');
  const dir = tempDir();
  const data = join(dir, 'corpus.txt');
  writeFileSync(data, readFileSync(shakespeare, 'utf8').slice(0, 30_000));
  const settings = STUDY_SETTINGS.filter((s) => ['no-dropout', 'learned', 'learned-stochastic'].includes(s.name));
  const { runs, markdown } = await runStudy({
    data: [data], out: join(dir, 'out'), preset: 'tiny', steps: 12, seeds: [1, 2], settings, backend, reportTokens: 512, chanceDraws: 2, command: 'test',
    base: { model: { blockSize: 32, nEmbd: 32, nHead: 2, nLayer: 1 }, train: { batchSize: 4 } },
  });
  assert.deepEqual(runs.map((r) => `${r.setting}/${r.seed}`), ['no-dropout/1', 'learned/1', 'learned-stochastic/1', 'no-dropout/2', 'learned/2', 'learned-stochastic/2']);
  const valTokens = Math.floor((3000 - 1) / 32) * 32; // 10% of the 30,000 one-byte characters
  for (const r of runs) {
    assert.ok(r.valLoss > 1 && r.valLoss < 5, `${r.setting}: ${r.valLoss}`);
    assert.equal(r.valTokens, valTokens);
    assert.equal(r.report === null, r.setting === 'no-dropout');
    if (r.report) assert.equal(r.report.tokens, 512);
  }
  // seeds differ, so the spread is real
  assert.notEqual(runs[0].valLoss, runs[3].valLoss);
  const saved = JSON.parse(readFileSync(join(dir, 'out', 'study.json'), 'utf8'));
  assert.equal(saved.runs.length, 6);
  assert.equal(readFileSync(join(dir, 'out', 'study.md'), 'utf8'), markdown);
  assert.match(markdown, /\| learned \| \d\.\d{3} ± \d\.\d{3} \(n=2\) \| [+-]\d\.\d{3} \| \d+\.\d% \(\d+\.\d%\) \|/);
  assert.match(markdown, /\| no-dropout \| .* \| \+0\.000 \| - \| - \| - \| - \|/);
});
