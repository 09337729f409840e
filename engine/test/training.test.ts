// Training end to end, in process: exact resume, flat tensor memory, stuck-run detection, and a
// real learning curve on tinyshakespeare.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { initBackend, tf } from '../src/backend';
import { listCheckpoints, loadCheckpoint, readMetrics } from '../src/checkpoint';
import type { StatsRecord } from '@common/protocol';
import { autoMicroBatch, stepBytesPerSequence } from '../src/train/microBatch';
import { TrainingRun } from '../src/train/trainingRun';
import { shakespeare, tempDir } from './helpers';

const SMALL = { model: { blockSize: 32, nEmbd: 32, nHead: 2, nLayer: 1 }, train: { steps: 20, batchSize: 4, evalInterval: 10, evalBatches: 2, checkpointInterval: 10, statsInterval: 5 } };

function corpusFile(chars: number): string {
  const dir = tempDir();
  const p = join(dir, 'corpus.txt');
  writeFileSync(p, readFileSync(shakespeare, 'utf8').slice(0, chars));
  return p;
}

test('resume is exact: 20 steps straight = 10 + resume + 10', async () => {
  const { backend } = await initBackend('wasm');
  const data = corpusFile(30_000);
  const straight = await TrainingRun.create({ data: [data], runsDir: tempDir(), overrides: SMALL }, backend);
  assert.equal((await straight.run()).status, 'completed');
  const want = await straight.model.weights();
  straight.dispose();

  const first = await TrainingRun.create({ data: [data], runsDir: tempDir(), overrides: SMALL }, backend);
  const outcome = await first.run({ progress: (p) => p.step === 10 && first.stop() });
  assert.deepEqual([outcome.status, outcome.step], ['stopped', 10]);
  first.dispose();
  const second = await TrainingRun.resume(first.dir, backend);
  assert.equal(second.step, 10);
  assert.equal((await second.run()).status, 'completed');
  for (const [name, w] of want) assert.deepEqual((await second.model.weights()).get(name), w, `${name} differs after resume`);
  second.dispose();

  // metrics.jsonl holds every step once, in order
  const steps = readMetrics(first.dir).filter((r) => r.type === 'step').map((r) => r.step);
  assert.deepEqual(steps, Array.from({ length: 20 }, (_, i) => i + 1));
  assert.deepEqual(listCheckpoints(first.dir).map((c) => c.step), [10, 20]);
});

test("a checkpoint whose report record was never written (its trainer killed first) gets it on resume, the same as the run's own", async () => {
  const { backend } = await initBackend('wasm');
  const data = corpusFile(30_000);
  const first = await TrainingRun.create({ data: [data], runsDir: tempDir(), overrides: SMALL }, backend);
  const outcome = await first.run({ progress: (p) => p.step === 10 && first.stop() });
  assert.deepEqual([outcome.status, outcome.step], ['stopped', 10]);
  first.dispose();
  const metricsPath = join(first.dir, 'metrics.jsonl');
  const records = readMetrics(first.dir);
  const written = records.find((r) => r.type === 'report' && r.step === 10);
  assert.ok(written, 'the stopped run wrote the report of its step-10 checkpoint');
  // as a killed torch worker leaves it: the checkpoint on disk, its report not yet appended
  writeFileSync(metricsPath, records.filter((r) => r !== written).map((r) => JSON.stringify(r) + '\n').join(''));
  const second = await TrainingRun.resume(first.dir, backend, 12);
  assert.equal((await second.run()).status, 'completed');
  second.dispose();
  const after = readMetrics(first.dir);
  const order = after.map((r) => `${r.type}@${r.step}`);
  assert.deepEqual(order.filter((k) => k === 'report@10'), ['report@10'], 'once');
  assert.ok(order.indexOf('report@10') < order.indexOf('step@11'), 'before the resumed steps');
  const again = after.find((r) => r.type === 'report' && r.step === 10)!;
  assert.deepEqual({ ...again, time: 0 }, { ...written, time: 0 }, 'the same figures as the run made at its checkpoint');
});

test('micro-batches: a batch run as 4 slices takes the same steps as the whole batch', async () => {
  const { backend } = await initBackend('wasm');
  const data = corpusFile(30_000);
  const five = { ...SMALL, train: { ...SMALL.train, steps: 5, batchSize: 8, evalInterval: 5, checkpointInterval: 5 } };
  const whole = await TrainingRun.create({ data: [data], runsDir: tempDir(), overrides: five }, backend);
  assert.equal(whole.microBatch, 8, 'small models run whole batches');
  assert.equal((await whole.run()).status, 'completed');
  const split = await TrainingRun.create({ data: [data], runsDir: tempDir(), overrides: { ...five, train: { ...five.train, microBatch: 2 } } }, backend);
  const logs: string[] = [];
  assert.equal((await split.run({ log: (_, m) => logs.push(m) })).status, 'completed');
  assert.match(logs.join('\n'), /each batch of 8 sequences runs as 4 micro-batches of 2 \(train\.microBatch\)/);
  const losses = (dir: string) => readMetrics(dir).flatMap((r) => (r.type === 'step' ? [r.loss] : r.type === 'eval' ? [r.trainLoss, r.valLoss] : []));
  const [a, b] = [losses(whole.dir), losses(split.dir)];
  assert.equal(a.length, b.length);
  a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < 1e-4 * Math.abs(v), `loss ${i}: ${v} whole vs ${b[i]} in micro-batches`));
  const [wa, wb] = [await whole.model.weights(), await split.model.weights()];
  for (const [name, w] of wa) {
    const v = wb.get(name)!;
    let worst = 0;
    for (let i = 0; i < w.length; i++) worst = Math.max(worst, Math.abs(w[i] - v[i]));
    assert.ok(worst < 1e-4, `${name}: weights differ by ${worst}`);
  }
  whole.dispose();
  split.dispose();
});

test('a run and checkpoint written before train.microBatch existed still resume and load', async () => {
  const { backend } = await initBackend('wasm');
  const two = { ...SMALL, train: { ...SMALL.train, steps: 2, checkpointInterval: 2, evalInterval: 2 } };
  const run = await TrainingRun.create({ data: [corpusFile(20_000)], runsDir: tempDir(), overrides: two }, backend);
  assert.equal((await run.run()).status, 'completed');
  run.dispose();
  const ckpt = listCheckpoints(run.dir)[0].dir;
  for (const f of [join(run.dir, 'config.json'), join(ckpt, 'config.json')]) {
    const j = JSON.parse(readFileSync(f, 'utf8'));
    delete j.config.train.microBatch;
    writeFileSync(f, JSON.stringify(j));
  }
  const loaded = loadCheckpoint(ckpt);
  assert.equal(loaded.config.train.microBatch, 0);
  const resumed = await TrainingRun.resume(run.dir, backend, 3);
  assert.equal((await resumed.run()).status, 'completed');
  resumed.dispose();
});

test('micro-batch sizes for the wasm heap: whole batches for small models, slices for big ones', () => {
  const shape = (blockSize: number, nEmbd: number, nHead: number, nLayer: number) => ({ vocabSize: 65, blockSize, nEmbd, nHead, nLayer });
  assert.equal(autoMicroBatch(32, shape(128, 128, 4, 4)), 32); // small: ~23 MB a sequence
  assert.equal(autoMicroBatch(32, shape(256, 256, 8, 6)), 4); // medium: ~214 MB a sequence
  assert.equal(autoMicroBatch(64, shape(256, 384, 6, 6)), 4);
  assert.equal(autoMicroBatch(14, shape(256, 256, 8, 6)), 7); // 7 × 214 MB just fits 1.5 GB
  assert.equal(autoMicroBatch(13, shape(256, 256, 8, 6)), 1); // a prime batch too big whole: one at a time
  assert.ok(stepBytesPerSequence(shape(128, 128, 4, 4)) < 25e6);
  assert.equal(autoMicroBatch(1, shape(1024, 1024, 16, 24)), 1); // never below one sequence
});

test('tensor memory stays flat across training steps', async () => {
  const { backend } = await initBackend('wasm');
  const run = await TrainingRun.create({ data: [corpusFile(20_000)], runsDir: tempDir(), overrides: { ...SMALL, train: { ...SMALL.train, steps: 25, checkpointInterval: 100 } } }, backend);
  const counts = new Map<number, number>();
  await run.run({ progress: (p) => counts.set(p.step, tf.memory().numTensors) });
  // after the first eval/stats steps every step ends with the same live tensors
  assert.equal(counts.get(12), counts.get(24), `tensors leaked: ${JSON.stringify([...counts])}`);
  assert.equal(counts.get(11), counts.get(21));
  run.dispose();
});

test("the seed author's settings keep every mask at 1, and the stats say so", async () => {
  const { backend } = await initBackend('wasm');
  // B = 0 is a stationary point: with A·x small the mask stays at 1 (A scaled down here to show it).
  const stuck = { ...SMALL, dropout: { aInit: { mean: 0, std: 0.01 }, bInit: { mean: 0, std: 0.0 } }, train: { ...SMALL.train, steps: 110, statsInterval: 110, evalInterval: 110, checkpointInterval: 110 } };
  const run = await TrainingRun.create({ data: [corpusFile(20_000)], runsDir: tempDir(), overrides: stuck }, backend);
  const warnings: string[] = [];
  await run.run({ log: (level, m) => level === 'warn' && warnings.push(m) });
  const stats = readMetrics(run.dir).filter((r): r is StatsRecord => r.type === 'stats').pop()!;
  assert.equal(stats.stuck, true);
  assert.ok(stats.sites.every((s) => s.fracHigh > 0.99));
  assert.match(warnings.join('\n'), /nothing is being dropped/);
  run.dispose();
});

test('learns: validation loss falls well below the unigram entropy (tiny preset, tinyshakespeare)', async () => {
  const { backend } = await initBackend('wasm');
  const text = readFileSync(shakespeare, 'utf8');
  const counts = new Map<string, number>();
  for (const ch of text) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let unigram = 0;
  for (const n of counts.values()) unigram -= (n / text.length) * Math.log(n / text.length);

  const run = await TrainingRun.create({ data: [shakespeare], runsDir: tempDir(), preset: 'tiny', overrides: { train: { steps: 250, evalInterval: 125, checkpointInterval: 250 } } }, backend);
  const outcome = await run.run();
  assert.equal(outcome.status, 'completed');
  const evals = readMetrics(run.dir).filter((r) => r.type === 'eval');
  const last = evals[evals.length - 1];
  assert.equal(last.type, 'eval');
  if (last.type !== 'eval') return;
  assert.ok(last.valLoss < unigram - 0.6, `val loss ${last.valLoss.toFixed(3)} vs unigram entropy ${unigram.toFixed(3)} nats`);
  // and the saved checkpoint is the trained model
  const ck = loadCheckpoint(run.dir);
  assert.equal(ck.step, 250);
  run.dispose();
});
