// The model cache's leases, with stand-in models that count their disposals (no checkpoints needed).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { InferenceModel } from '../src/inference';
import { ModelCache } from '../src/service/modelCache';

function counting() {
  const disposed: string[] = [];
  const loads: string[] = [];
  const load = (path: string) => {
    loads.push(path);
    return { model: { dispose: () => disposed.push(path) }, checkpoint: { dir: path } } as unknown as InferenceModel;
  };
  return { cache: new ModelCache(2, load, (p) => p), disposed, loads };
}

test('ModelCache: a model evicted while leased is disposed when its last lease is released', () => {
  const { cache, disposed } = counting();
  const a1 = cache.acquire('a');
  const a2 = cache.acquire('a');
  cache.acquire('b').release();
  cache.acquire('c').release(); // evicts a, still leased twice
  assert.equal(cache.size, 2);
  assert.deepEqual(disposed, []);
  a1.release();
  a1.release(); // a second release of the same lease counts once
  assert.deepEqual(disposed, []);
  a2.release();
  assert.deepEqual(disposed, ['a']);
});

test('ModelCache: an unleased model is disposed at eviction, least recently used first; a hit does not reload', () => {
  const { cache, disposed, loads } = counting();
  cache.acquire('a').release();
  cache.acquire('b').release();
  cache.acquire('a').release(); // a is now the most recently used
  cache.acquire('c').release();
  assert.deepEqual(disposed, ['b']);
  assert.deepEqual(loads, ['a', 'b', 'c']);
});

test('ModelCache.use releases the lease when f throws', async () => {
  const { cache, disposed } = counting();
  await assert.rejects(cache.use('a', async () => { throw new Error('boom'); }), /boom/);
  cache.acquire('b').release();
  cache.acquire('c').release();
  assert.deepEqual(disposed, ['a']);
});
