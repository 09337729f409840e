// What training records about the masks and the loss: the validation loss over the validation
// split's windows, per-site stuck detection (at 1, at 0, undecided at 0.5), the mask report at each
// checkpoint, the A/B group's constant learning rate, and the `decided` preset's decided masks.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { initBackend, tf } from '../src/backend';
import { readMetrics } from '../src/checkpoint';
import { checkpointCrossEntropy } from '../src/inference';
import { maskReportOnIds } from '../src/maskReport';
import { AdamW } from '../src/optim';
import { stuckAt } from '../src/train/maskStats';
import { TrainingRun } from '../src/train/trainingRun';
import { toColumns } from '@common/metricColumns';
import type { EvalRecord, ReportRecord, StatsRecord } from '@common/protocol';
import { shakespeare, tempDir } from './helpers';

const SMALL = { model: { blockSize: 32, nEmbd: 32, nHead: 2, nLayer: 1 }, train: { steps: 20, batchSize: 4, evalInterval: 10, evalBatches: 2, checkpointInterval: 10, statsInterval: 5 } };

function corpusFile(chars: number): string {
  const p = join(tempDir(), 'corpus.txt');
  writeFileSync(p, readFileSync(shakespeare, 'utf8').slice(0, chars));
  return p;
}

test('the validation loss is over the whole validation split (or train.evalValTokens of it), the same tokens each time', async () => {
  await initBackend('wasm');
  const run = await TrainingRun.create({ data: [corpusFile(30_000)], runsDir: tempDir(), overrides: SMALL }, 'wasm');
  assert.equal((await run.run()).status, 'completed');
  const evals = readMetrics(run.dir).filter((r): r is EvalRecord => r.type === 'eval');
  const val = run.tokenizer.decode([...(run as unknown as { dataset: { val: Int32Array } }).dataset.val]);
  const windows = Math.floor((val.length - 1) / 32);
  assert.deepEqual(evals.map((e) => e.valTokens), [windows * 32, windows * 32]);
  // the reference's checkpoint loss over the same text and windows gives the same number
  const ref = await checkpointCrossEntropy({ model: run.model, tokenizer: run.tokenizer, checkpoint: { runDir: run.dir, dir: run.dir, step: 20 } }, val);
  assert.equal(ref.tokens, windows * 32);
  assert.ok(Math.abs(evals[1].valLoss - ref.crossEntropy) < 1e-4, `val loss ${evals[1].valLoss} vs checkpoint loss ${ref.crossEntropy}`);
  run.dispose();

  const capped = await TrainingRun.create({ data: [corpusFile(30_000)], runsDir: tempDir(), overrides: { ...SMALL, train: { ...SMALL.train, steps: 10, evalValTokens: 320 } } }, 'wasm');
  await capped.run();
  assert.deepEqual(readMetrics(capped.dir).filter((r): r is EvalRecord => r.type === 'eval').map((e) => e.valTokens), [320]);
  capped.dispose();
});

test('stuck sites: at one, at zero and undecided, each named in the stats and a warning', async () => {
  assert.equal(stuckAt({ fracHigh: 0.995, fracLow: 0 }), 'one');
  assert.equal(stuckAt({ fracHigh: 0, fracLow: 0.995 }), 'zero');
  assert.equal(stuckAt({ fracHigh: 0.004, fracLow: 0.004 }), 'half');
  assert.equal(stuckAt({ fracHigh: 0.3, fracLow: 0.3 }), null);
  await initBackend('wasm');
  const data = corpusFile(20_000);
  const train = { ...SMALL.train, steps: 110, statsInterval: 110, evalInterval: 110, checkpointInterval: 110 };
  const runWith = async (dropout: object) => {
    const run = await TrainingRun.create({ data: [data], runsDir: tempDir(), overrides: { ...SMALL, dropout, train } }, 'wasm');
    const warnings: string[] = [];
    await run.run({ log: (level, m) => level === 'warn' && warnings.push(m) });
    const stats = readMetrics(run.dir).filter((r): r is StatsRecord => r.type === 'stats').pop()!;
    run.dispose();
    return { stats, warnings: warnings.join('\n') };
  };
  // B ≈ π/2 with a tiny A: every mask ≈ 0.5, and the penalties are off, so it stays there
  const half = await runWith({ aInit: { mean: 0, std: 0.01 }, bInit: { mean: Math.PI / 2, std: 0 }, entropy: { enabled: false }, l1: { enabled: false } });
  assert.deepEqual(half.stats.stuckSites!.map((s) => s.at), ['half', 'half', 'half', 'half']);
  assert.equal(half.stats.stuck, false);
  assert.match(half.warnings, /transformer\.h\.0\.mlp\.dropout is stuck at 0\.5 \(undecided\)/);
  // B = π: m = ½·cos(π) + ½ = 0 everywhere
  const zero = await runWith({ aInit: { mean: 0, std: 0.01 }, bInit: { mean: Math.PI, std: 0 } });
  assert.ok(zero.stats.stuckSites!.filter((s) => s.at === 'zero').length >= 3, JSON.stringify(zero.stats.stuckSites));
  assert.match(zero.warnings, /stuck at 0: it drops nearly everything/);
  // the case: B ≈ 0 with A wide enough that some sites move and the rest stay at 1; the
  // run-wide `stuck` (every site) misses it, the per-site detection names them
  const one = await runWith({ aInit: { mean: 0, std: 2 }, bInit: { mean: 0, std: 0.02 } });
  const ones = one.stats.stuckSites!.filter((s) => s.at === 'one').map((s) => s.site);
  assert.equal(one.stats.stuck, false);
  assert.ok(ones.length >= 1 && ones.length < one.stats.sites.length, JSON.stringify(one.stats.sites.map((s) => [s.site, s.fracHigh])));
  for (const site of ones) assert.match(one.warnings, new RegExp(`${site.replace(/\./g, '\\.')} is stuck at 1: it drops nothing`));
});

test('a mask report is written at each checkpoint, on the validation text, and the metric columns tolerate it', async () => {
  await initBackend('wasm');
  const run = await TrainingRun.create({ data: [corpusFile(30_000)], runsDir: tempDir(), overrides: SMALL }, 'wasm');
  await run.run();
  const records = readMetrics(run.dir);
  const reports = records.filter((r): r is ReportRecord => r.type === 'report');
  assert.deepEqual(reports.map((r) => r.step), [10, 20]);
  const r = reports[1].report;
  assert.equal(r.tokens, 32 * 32, 'the validation split’s first 32 windows');
  assert.equal(r.chanceDraws, 3);
  assert.deepEqual(r.sites.map((s) => s.site), run.model.sites.map((s) => s.name));
  for (const s of r.sites) {
    for (const f of [s.trained, s.chance]) for (const v of [f.decidedFraction, f.meanDecided, f.meanFraction, f.eta2.token, f.eta2.tokenType, f.eta2.position]) assert.ok(v >= 0 && v <= 1, `${s.site}: ${v}`);
    assert.ok(s.chanceSd.eta2.token > 0, 'three draws spread');
    assert.match(s.verdict, /chance/);
  }
  assert.match(r.summary.join('\n'), /masks are (un)?decided: \d+% of values/);
  const cols = toColumns(records);
  assert.equal(cols.evals.step.length, 2);
  assert.equal(cols.stats.step.length, 4);
  run.dispose();
});

test('dropout.abLrMode constant: the A/B group steps at its own lr whatever the schedule, on both optimizer paths', async () => {
  await initBackend('wasm');
  for (const onDevice of [false, true]) {
    const params = new Map<string, tf.Variable>([
      ['w', tf.variable(tf.tensor2d([[1, 2]]), true, `w${onDevice}`)],
      ['x.A', tf.variable(tf.tensor1d([1, 2]), true, `a${onDevice}`)],
    ]);
    const opt = new AdamW(params, (n) => (n === 'x.A' ? { lrScale: 1, fixedLr: 0.5, weightDecay: 0, kind: 'adamw' } : { lrScale: 1, weightDecay: 0, kind: 'adamw' }), { betas: [0.9, 0.95], eps: 1e-8, onDevice });
    const grads = new Map<string, tf.Tensor>([['w', tf.tensor2d([[1, -1]])], ['x.A', tf.tensor1d([1, -1])]]);
    await opt.update(grads, 1e-3, 0);
    // Adam's first step moves each weight by its lr (m̂/√v̂ = ±1)
    const a = Array.from(await params.get('x.A')!.data()), w = Array.from(await params.get('w')!.data());
    assert.ok(Math.abs(a[0] - 0.5) < 1e-5 && Math.abs(a[1] - 2.5) < 1e-5, `A/B at fixed lr 0.5 (${onDevice ? 'device' : 'host'}): ${a}`);
    assert.ok(Math.abs(w[0] - 0.999) < 1e-5 && Math.abs(w[1] - 2.001) < 1e-5, `the rest at the schedule's lr: ${w}`);
    opt.dispose();
  }
});

test('config: seed-author reads its A/B lr 1 as constant; older configs keep soft masks and the scaled A/B lr; bad values are named', async () => {
  const { DEFAULTS, resolveConfig, upgradeConfig, validate } = await import('../src/config');
  assert.equal(resolveConfig('seed-author').dropout.abLrMode, 'constant');
  assert.equal(resolveConfig('tiny').dropout.abLrMode, 'scaled');
  const { rounding: _r, abLrMode: _m, ...oldDropout } = DEFAULTS.dropout;
  const { evalValTokens: _e, ...oldTrain } = DEFAULTS.train;
  const upgraded = upgradeConfig({ ...DEFAULTS, dropout: oldDropout, train: oldTrain }) as typeof DEFAULTS;
  assert.deepEqual([upgraded.dropout.rounding, upgraded.dropout.abLrMode, upgraded.train.evalValTokens], ['none', 'scaled', DEFAULTS.train.evalValTokens]);
  assert.deepEqual(validate(upgraded), []);
  const problems = validate({ ...DEFAULTS, dropout: { ...DEFAULTS.dropout, rounding: 'round', abLrMode: 'fixed' }, train: { ...DEFAULTS.train, evalValTokens: -1 } });
  assert.ok(problems.some((p) => p.startsWith('dropout.rounding: expected "none", "straight-through" or "stochastic"')), problems.join('\n'));
  assert.ok(problems.some((p) => p.startsWith('dropout.abLrMode: expected "scaled" or "constant"')));
  assert.ok(problems.some((p) => p.startsWith('train.evalValTokens')));
});

test('the `decided` preset decides: after 150 steps its mask values sit at 0 or 1, where the default preset\'s sit near 0.5', async () => {
  await initBackend('wasm');
  const data = corpusFile(60_000);
  const decided: Record<string, number> = {};
  for (const preset of ['decided', 'tiny']) {
    const overrides = { model: SMALL.model, train: { steps: 150, batchSize: 8, evalInterval: 150, checkpointInterval: 150, statsInterval: 50 } };
    const run = await TrainingRun.create({ data: [data], runsDir: tempDir(), preset, overrides }, 'wasm');
    assert.equal((await run.run()).status, 'completed');
    // on the validation split, never trained on; each site counts once
    const r = await maskReportOnIds(run.model, run.tokenizer, run.validationIds, { chanceDraws: 2, maxTokens: 2048 });
    decided[preset] = r.sites.reduce((p, s) => p + s.trained.decidedFraction, 0) / r.sites.length;
    run.dispose();
  }
  assert.ok(decided.decided > 0.9, `decided preset: ${(100 * decided.decided).toFixed(1)}% of values outside [0.1, 0.9]`);
  assert.ok(decided.tiny < 0.3, `default preset: ${(100 * decided.tiny).toFixed(1)}% of values outside [0.1, 0.9]`);
});
