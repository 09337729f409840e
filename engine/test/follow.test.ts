// followRun (engine/src/torch/follow.ts) on a run folder written by hand, as another machine's
// trainer would write it over a shared filesystem: records appended between polls, a line still
// being written, a checkpoint appearing, a stopped run waited for until it runs, then its end.
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { CheckpointInfo, MetricRecord } from '@common/protocol';
import { followRun } from '../src/torch/follow';
import { tempDir } from './helpers';

const dir = tempDir('ldlens-follow-');
after(() => rmSync(dir, { recursive: true, force: true }));

const meta = (status: string, step: number) =>
  writeFileSync(join(dir, 'run.json'), JSON.stringify({ id: 'r1', name: 'r1', created: '', status, backend: 'torch', step, totalSteps: 4, bestValLoss: null, preset: 'tiny', data: [], cwd: dir }));
const step = (s: number) => JSON.stringify({ type: 'step', step: s, time: 1000 * s, loss: 4 - s / 10, crossEntropy: 4, entropy: 0, l1: 0, lambdaEntropy: 0, lambdaL1: 0, lr: 1e-3, tokensPerSec: 100 });
const tick = () => new Promise((r) => setTimeout(r, 120));

test('follows appended records, half-written lines and new checkpoints until the run ends', async () => {
  meta('stopped', 0);
  writeFileSync(join(dir, 'metrics.jsonl'), '');
  const records: MetricRecord[] = [], checkpoints: CheckpointInfo[] = [], logs: string[] = [];
  let lastTotal = 0;
  const done = followRun(dir, { metric: (r) => records.push(r), checkpoint: (c) => checkpoints.push(c), log: (_l, m) => logs.push(m), progress: (p) => (lastTotal = p.totalSteps) }, { intervalMs: 20 });
  await tick();
  assert.match(logs[0], /is stopped at step 0; waiting for it to start/);
  meta('running', 0);
  appendFileSync(join(dir, 'metrics.jsonl'), step(1) + '\n' + step(2).slice(0, 30)); // the second line cut mid-write
  await tick();
  assert.deepEqual(records.map((r) => r.step), [1], 'a line without its newline waits for the next poll');
  appendFileSync(join(dir, 'metrics.jsonl'), step(2).slice(30) + '\n' + step(3) + '\n');
  mkdirSync(join(dir, 'checkpoints', 'step-000003'), { recursive: true });
  writeFileSync(join(dir, 'checkpoints', 'step-000003', 'state.json'), JSON.stringify({ step: 3, rng: [1, 2, 3, 4], bestValLoss: null, valLoss: null }));
  mkdirSync(join(dir, 'checkpoints', '.tmp-step-000004-1'), { recursive: true }); // being written: not a checkpoint yet
  await tick();
  assert.deepEqual(records.map((r) => r.step), [1, 2, 3]);
  assert.deepEqual(checkpoints.map((c) => c.step), [3]);
  assert.equal(lastTotal, 4);
  appendFileSync(join(dir, 'metrics.jsonl'), step(4) + '\n');
  meta('completed', 4);
  const outcome = await done;
  assert.deepEqual(outcome, { status: 'completed', step: 4 });
  assert.deepEqual(records.map((r) => r.step), [1, 2, 3, 4]);
});

test('a run resumed elsewhere rewrites metrics.jsonl shorter: read again from the start; abort stops following', async () => {
  meta('running', 4);
  writeFileSync(join(dir, 'metrics.jsonl'), [1, 2, 3, 4].map(step).join('\n') + '\n');
  const seen: number[] = [];
  const ac = new AbortController();
  const done = followRun(dir, { metric: (r) => seen.push(r.step) }, { intervalMs: 20, signal: ac.signal, fromEnd: true });
  await tick();
  assert.deepEqual(seen, [], 'from the end: the records already there are not repeated');
  writeFileSync(join(dir, 'metrics.jsonl'), [1, 2].map(step).join('\n') + '\n'); // resumed from step 2
  await tick();
  assert.deepEqual(seen, [1, 2]);
  ac.abort();
  assert.equal((await done).status, 'following-stopped');
});
