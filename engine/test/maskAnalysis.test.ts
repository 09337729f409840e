// Per-token mask analysis on a trained tiny checkpoint (engine only, no PyTorch): the fraction
// kept, decidedness, the chance baseline from untrained A/B on the same hidden states, and the
// painted value, which must not paint window position.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { initBackend, tf } from '../src/backend';
import { analyzeText, planWindows, type InferenceModel } from '../src/inference';
import { chanceParams, eta2, tokenClass } from '../src/maskMetrics';
import { TrainingRun } from '../src/train/trainingRun';
import { shakespeare, tempDir } from './helpers';

const TEXT = readFileSync(shakespeare, 'utf8');
/** Trained on the first 60k characters; analyzed on a passage far from them. */
const HELD_OUT = TEXT.slice(200_000, 203_000);

async function trainedTiny(steps = 100): Promise<{ run: TrainingRun; im: InferenceModel }> {
  await initBackend('wasm');
  const dir = tempDir();
  const data = join(dir, 'corpus.txt');
  writeFileSync(data, TEXT.slice(0, 60_000));
  const run = await TrainingRun.create(
    { data: [data], runsDir: dir, overrides: { model: { blockSize: 32, nEmbd: 32, nHead: 2, nLayer: 1 }, train: { steps, batchSize: 8, evalInterval: steps, checkpointInterval: steps, statsInterval: 50 } } },
    'wasm',
  );
  assert.equal((await run.run()).status, 'completed');
  return { run, im: { model: run.model, tokenizer: run.tokenizer, checkpoint: { runDir: run.dir, dir: run.dir, step: run.step } } };
}

test('analysis of a trained checkpoint: fraction, decidedness, chance and a painted value that does not paint position', async () => {
  const { run, im } = await trainedTiny();
  const a = await analyzeText(im, HELD_OUT);
  const n = a.tokens.length;
  const { starts, owner } = planWindows(n, a.window, a.stride);
  const position = a.tokens.map((_, i) => i - starts[owner[i]]);

  for (const [k, site] of a.sites.entries()) {
    const l = a.layers[k];
    assert.equal(l.fraction!.length, n);
    for (let i = 0; i < n; i++) {
      const of = site.kind === 'attention' ? l.keys![i] : site.units;
      assert.ok(Math.abs(l.fraction![i] - l.active[i] / of) < 1e-5, `${site.name} token ${i}: fraction ${l.fraction![i]} vs ${l.active[i]}/${of}`);
      assert.ok(l.decided![i] >= 0 && l.decided![i] <= 1, `${site.name} token ${i}: decided ${l.decided![i]}`);
      assert.ok(l.chance!.decided[i] >= 0 && l.chance!.decided[i] <= 1);
      assert.ok(Math.abs(l.chance!.fraction[i] - l.chance!.active[i] / of) < 1e-5);
    }
    // trained A/B are not the untrained draw: the per-token kept fractions differ somewhere
    const differs = l.fraction!.filter((f, i) => f !== l.chance!.fraction[i]).length;
    assert.ok(differs > n / 10, `${site.name}: trained and chance fractions agree on ${n - differs} of ${n} tokens`);
    if (site.kind === 'attention') assert.equal(l.keys![n - 1], (position[n - 1] + 1) * im.model.shape.nHead, 'attention counts the causal keys of every head');
  }

  // painted: the mean fraction over the non-attention sites, aligned with the tokens
  assert.equal(a.painted!.length, n);
  assert.deepEqual(a.paintedBy!.sites, a.sites.filter((s) => s.kind !== 'attention').map((s) => s.name));
  const ks = a.sites.flatMap((s, k) => (s.kind === 'attention' ? [] : [k]));
  a.painted!.forEach((p, i) => assert.ok(Math.abs(p - ks.reduce((s, k) => s + a.layers[k].fraction![i], 0) / ks.length) < 1e-4));
  // what users see by default is not window position (the summed active counts were: η² 0.98)
  const byPosition = eta2(a.painted!, position);
  assert.ok(byPosition < 0.1, `painted value: η² by window position ${byPosition.toFixed(3)}`);
  // while the attention site's raw active count is (the artifact the painted value avoids)
  const att = a.sites.findIndex((s) => s.kind === 'attention');
  assert.ok(eta2(a.layers[att].active, position) > 0.5, 'the attention active count grows with position');

  // the chance baseline is deterministic
  const again = await analyzeText(im, HELD_OUT);
  assert.deepEqual(again.layers.map((l) => l.chance), a.layers.map((l) => l.chance));
  run.dispose();
});

test('chance statistics are the masks of the drawn A/B on the same hidden states: a model holding those A/B agrees with them', async () => {
  const { run, im } = await trainedTiny(30);
  const { model } = im;
  // give the trained model the chance draw's A and B; its own masks must then be the chance masks
  const draw = chanceParams(model.sites, model.shape.blockSize, model.dropout, 0);
  model.sites.forEach((s, k) => {
    model.params.get(s.name + '.A')!.assign(tf.tensor1d(draw[k].A));
    model.params.get(s.name + '.B')!.assign(tf.tensor1d(draw[k].B));
  });
  const a = await analyzeText(im, HELD_OUT.slice(0, 800));
  for (const l of a.layers) {
    // float32 (tfjs) against float64 (chanceMask): a value on the 0.5 threshold may fall either side
    const same = l.active.filter((v, i) => Math.abs(v - l.chance!.active[i]) <= 1).length;
    assert.ok(same >= 0.99 * l.active.length, `${l.site}: ${same} of ${l.active.length} tokens agree`);
    l.mean.forEach((m, i) => assert.ok(Math.abs(m - l.chance!.mean[i]) < 1e-3, `${l.site} token ${i}: mean ${m} vs chance ${l.chance!.mean[i]}`));
  }
  run.dispose();
});

test('token classes and η²', () => {
  assert.deepEqual(['A', 'a', '7', ' ', '\n', ',', ' the', ' The', 'é'].map(tokenClass), ['upper', 'lower', 'digit', 'space', 'newline', 'punctuation', 'space+lower', 'space+upper', 'lower']);
  assert.equal(eta2([1, 1, 5, 5], ['a', 'a', 'b', 'b']), 1);
  assert.equal(eta2([1, 5, 1, 5], ['a', 'a', 'b', 'b']), 0);
  assert.equal(eta2([2, 2, 2], [0, 1, 2]), 0, 'no variance: nothing to explain');
  // between SS = 2·(1.5 − 2.5)² + 2·(3.5 − 2.5)² = 4; total = 1.5² + .5² + .5² + 1.5² = 5
  assert.ok(Math.abs(eta2([1, 2, 3, 4], [0, 0, 1, 1]) - 0.8) < 1e-12);
});
