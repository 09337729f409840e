import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, DEFAULTS, lambdaAt, lrAt, PRESETS, resolveConfig, upgradeConfig, validate } from '../src/config';
import { fixturesDir } from './helpers';

test('every preset resolves to a valid config', () => {
  for (const name of Object.keys(PRESETS)) assert.deepEqual(validate(resolveConfig(name)), [], name);
});

test('an invalid config is rejected with every problem named', () => {
  try {
    resolveConfig('tiny', { model: { nEmbd: 30, nHead: 4, depth: 3 }, train: { lr: -1, betas: [0.9], steps: 1.5 }, dropout: { kind: 'gaussian', entropy: { form: 'renyi' } } });
    assert.fail('should throw');
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    const all = e.problems.join('\n');
    for (const want of ['model.depth: unknown key', 'train.betas: expected 2 numbers']) assert.ok(all.includes(want), `missing "${want}" in:\n${all}`);
  }
  // type problems are reported before range checks; range problems all at once
  const problems = validate({ ...DEFAULTS, model: { ...DEFAULTS.model, nEmbd: 30, nHead: 4 }, train: { ...DEFAULTS.train, lr: -1, steps: 1.5 }, dropout: { ...DEFAULTS.dropout, kind: 'gaussian' } });
  assert.ok(problems.some((p) => p.includes('divisible')));
  assert.ok(problems.some((p) => p.startsWith('train.lr')));
  assert.ok(problems.some((p) => p.startsWith('train.steps')));
  assert.ok(problems.some((p) => p.startsWith('dropout.kind')));
  assert.throws(() => resolveConfig('huge'), /unknown preset "huge"/);
});

test('train.microBatch: 0 (automatic) or a divisor of the batch; older configs get 0', () => {
  const with_ = (microBatch: number) => validate({ ...DEFAULTS, train: { ...DEFAULTS.train, batchSize: 12, microBatch } });
  assert.deepEqual(with_(0), []);
  assert.deepEqual(with_(4), []);
  assert.match(with_(5).join('\n'), /train\.microBatch \(5\) must divide train\.batchSize \(12\)/);
  assert.ok(with_(-1).some((p) => p.startsWith('train.microBatch')));
  // a run or checkpoint written before the key existed
  const { microBatch: _, ...oldTrain } = DEFAULTS.train;
  const old = { ...DEFAULTS, train: oldTrain };
  assert.ok(validate(old).some((p) => p.startsWith('train.microBatch')));
  assert.deepEqual(validate(upgradeConfig(old)), []);
  assert.equal((upgradeConfig(old) as typeof DEFAULTS).train.microBatch, 0);
  assert.equal(upgradeConfig(DEFAULTS), DEFAULTS, 'a current config is returned as it is');
});

test('λ schedule: min(exp(rate·step) + min − 1, max)', () => {
  const s = { max: 0.5, min: 0.1, rate: 0.01 };
  assert.ok(Math.abs(lambdaAt(s, 0) - 0.1) < 1e-15);
  assert.ok(Math.abs(lambdaAt(s, 10) - (Math.exp(0.1) + 0.1 - 1)) < 1e-15);
  assert.equal(lambdaAt(s, 1000), 0.5);
  assert.equal(lambdaAt({ max: 1, min: 1, rate: 0 }, 123), 1);
});

test('learning rate: linear warmup then cosine to minLr (the reference lr_at)', () => {
  const o = { lr: 3e-3, minLr: 3e-4, warmupSteps: 2, decaySteps: 5 };
  const spec = JSON.parse(readFileSync(join(fixturesDir, 'tiny/case.json'), 'utf8'));
  [0, 1, 2, 3, 4].forEach((s) => assert.ok(Math.abs(lrAt(s, o) - spec.trainLrs[s]) < 1e-15, `step ${s}`));
  assert.equal(lrAt(9, o), 3e-4);
});

test('defaults avoid the stationary point B = 0 (the mask could never leave 1)', () => {
  const d = resolveConfig('tiny').dropout;
  assert.ok(Math.abs(Math.sin(d.bInit.mean)) > 0.9, 'B starts where ∂m/∂B is large');
  const seed = resolveConfig('seed-author').dropout;
  assert.deepEqual([seed.aInit, seed.bInit, seed.abLr], [{ mean: 1e5, std: 10 }, { mean: 0, std: 0.02 }, 1]);
  assert.deepEqual([seed.entropy.schedule.max, seed.l1.schedule.max], [1, 1]);
});
