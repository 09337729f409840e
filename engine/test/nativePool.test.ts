// The native kernels' thread pool (engine/native/ldnative.c: workers started once, woken per call,
// scratch kept across calls): many calls in a row with changing thread counts write what one
// thread writes (sums: what the same count wrote the first time, bit for bit), and the addon used
// from two JS threads at once gives each its own results, after which the process exits by itself.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { nativeInfo, nativeKernels } from '../src/ops/native';
import { Rng } from '../src/rng';
import { difference, runWorkload, setThreads, type PoolResults } from './fixtures/nativePoolWork';

const skip = process.env.LDLENS_NATIVE === '0' && 'LDLENS_NATIVE=0';

test('calls in a row with thread counts 1 to 8 in random order: the same results as one thread', { skip }, () => {
  const K = nativeKernels();
  assert.ok(K, nativeInfo.reason);
  const first = new Map<number, PoolResults>();
  setThreads(K, 1);
  const one = runWorkload(K);
  assert.equal(K.lastThreads(), 1);
  const rng = new Rng(5);
  for (let i = 0; i < 40; i++) {
    const n = 1 + Math.floor(rng.next() * 8);
    setThreads(K, n);
    const got = runWorkload(K);
    // the last call (a batch of 128 products) splits over every thread asked for
    assert.equal(K.lastThreads(), n, `call ${i}: ${n} threads asked for`);
    const d = difference(got, one, 1e-9);
    assert.equal(d, '', `call ${i}, ${n} threads, against one thread`);
    if (!first.has(n)) first.set(n, got);
    else assert.equal(difference(got, first.get(n)!), '', `call ${i}, ${n} threads, against the first call with ${n}`);
  }
  assert.ok(first.size >= 6, `thread counts tried: ${[...first.keys()]}`);
});

test('the addon from the main thread and a worker thread at once: each gets its results, and the process exits', { skip }, () => {
  const child = spawnSync(process.execPath, ['--import', 'tsx', join(__dirname, 'fixtures/nativePoolChild.ts')], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(child.error, undefined, `the child did not end on its own: ${child.error?.message}`);
  assert.equal(child.status, 0, child.stderr);
  assert.deepEqual(JSON.parse(child.stdout.trim()), { main: 'ok', worker: 'ok' });
});
