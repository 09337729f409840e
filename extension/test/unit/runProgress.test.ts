// The runs table's live progress: a listing read from disk (at checkpoints) merged with the
// steps and evaluations that streamed since.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MetricRecord, RunInfo } from '@common/protocol';
import { LiveRunProgress } from '../../src/webviews/runProgress';

const run = (id: string, step: number, bestValLoss: number | null): RunInfo => ({
  id, name: id, dir: `/runs/${id}`, status: 'running', backend: 'wasm', step, totalSteps: 500, bestValLoss, dropoutKind: 'learned', created: '2026-01-01T00:00:00Z', checkpoints: [],
});
const step = (n: number) => ({ type: 'step', step: n, time: 0, loss: 2, crossEntropy: 2, entropy: 0, l1: 0, lambdaEntropy: 0, lambdaL1: 0, lr: 1e-3, tokensPerSec: 1 }) as MetricRecord;
const evalAt = (n: number, valLoss: number) => ({ type: 'eval', step: n, time: 0, trainLoss: valLoss, valLoss }) as MetricRecord;

describe('live run progress', () => {
  it('moves a listed run to its latest streamed step and best validation loss', () => {
    const p = new LiveRunProgress();
    assert.equal(p.record('a', step(301)), true);
    assert.equal(p.record('a', evalAt(301, 1.9)), true);
    assert.equal(p.record('a', evalAt(301, 2.1)), false, 'a worse evaluation changes nothing');
    assert.equal(p.record('a', step(409)), true);
    const [a, b] = p.merge([run('a', 300, 2.0), run('b', 50, null)]);
    assert.equal(a.step, 409);
    assert.equal(a.bestValLoss, 1.9);
    assert.equal(b.step, 50, 'a run that streams nothing keeps its listing');
  });

  it('never moves a run back: a listing that is ahead wins, and an older record is ignored', () => {
    const p = new LiveRunProgress();
    p.record('a', step(120));
    assert.equal(p.record('a', step(100)), false);
    const listed = run('a', 140, 1.5);
    const [a] = p.merge([listed]);
    assert.equal(a, listed, 'unchanged runs are passed through as they are');
    p.record('a', evalAt(120, 1.7));
    assert.equal(p.merge([listed])[0].bestValLoss, 1.5);
  });
});
