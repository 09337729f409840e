import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunInfo } from '@common/protocol';
import { chooseCheckpoint, runLabel } from '../../src/checkpoints/checkpointChoice';

function run(id: string, created: string, steps: number[]): RunInfo {
  const dir = `/ws/.ldlens/runs/${id}`;
  return {
    id, name: id.replace(/^\d{8}-\d{6}-/, ''), dir, status: 'completed', backend: 'wasm', step: Math.max(0, ...steps), totalSteps: 100, bestValLoss: null, dropoutKind: 'learned', created,
    checkpoints: steps.map((step) => ({ runDir: dir, dir: `${dir}/checkpoints/step-${step}`, step, time: created, valLoss: null })),
  };
}

describe('the checkpoint an analysis uses without a selection', () => {
  const old = run('20261201-100000-old', '2026-12-01T10:00:00Z', [20, 60, 40]);
  const fresh = run('20261205-100000-fresh', '2026-12-05T10:00:00Z', []);
  const resumed = run('20261130-100000-resumed', '2026-11-30T10:00:00Z', [100, 200]);

  it('is the newest run\'s latest when nothing trains', () => {
    const c = chooseCheckpoint([fresh, old, resumed], undefined)!;
    assert.equal(c.run, old);
    assert.equal(c.checkpoint.step, 60);
    assert.equal(c.insteadOfTraining, false);
  });

  it('says when a run trains towards its first checkpoint and an older run\'s is used', () => {
    const c = chooseCheckpoint([fresh, old, resumed], fresh.dir)!;
    assert.equal(c.run, old);
    assert.equal(c.insteadOfTraining, true);
  });

  it('prefers the run being trained once it has a checkpoint, even an older (resumed) one', () => {
    const landed = { ...fresh, checkpoints: [{ runDir: fresh.dir, dir: `${fresh.dir}/checkpoints/step-20`, step: 20, time: fresh.created, valLoss: null }] };
    assert.equal(chooseCheckpoint([landed, old, resumed], `${fresh.dir}/`)!.run, landed);
    const c = chooseCheckpoint([fresh, old, resumed], resumed.dir)!;
    assert.deepEqual([c.run.id, c.checkpoint.step, c.insteadOfTraining], [resumed.id, 200, false]);
  });

  it('is none when no run has a checkpoint', () => {
    assert.equal(chooseCheckpoint([fresh], fresh.dir), undefined);
    assert.equal(chooseCheckpoint([], undefined), undefined);
  });

  it('names a run by its folder without the time stamp', () => {
    assert.equal(runLabel('/ws/.ldlens/runs/20261205-045700-demo-tiny-045658'), 'demo-tiny-045658');
    assert.equal(runLabel('/ws/runs/my-run'), 'my-run');
  });
});
