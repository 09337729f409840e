// The analysis store's buffer pool: buffers given back are taken again, zeroed, by a request of
// about their size; a much smaller request gets a new one; what it keeps stays within its bound.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BufferPool } from '../src/bufferPool';

const MB = 1 << 20;

test('a buffer given back is taken again, zeroed, by a request of about its size', () => {
  const pool = new BufferPool(64 * MB);
  const a = pool.take(10 * MB);
  new Uint8Array(a).fill(7);
  pool.give(a);
  assert.equal(pool.heldBytes, 10 * MB);
  const b = pool.take(9 * MB); // within a quarter plus 1 MB
  assert.equal(b, a);
  assert.equal(pool.heldBytes, 0);
  assert.ok(new Uint8Array(b).every((v) => v === 0));
  pool.give(b);
  assert.notEqual(pool.take(4 * MB), b, 'too large a buffer for the request: a new one');
  assert.notEqual(pool.take(11 * MB), b, 'too small: a new one');
  assert.equal(pool.take(10 * MB), b);
});

test('the smallest fitting buffer is taken; the pool keeps at most its bound, dropping the oldest', () => {
  const pool = new BufferPool(20 * MB);
  const big = pool.take(9 * MB), small = pool.take(8 * MB), third = pool.take(8 * MB);
  pool.give(big);
  pool.give(small);
  assert.equal(pool.take(8 * MB), small);
  pool.give(small);
  pool.give(third); // 25 MB > 20: the oldest (big) goes
  assert.equal(pool.heldBytes, 16 * MB);
  assert.notEqual(pool.take(9 * MB), big); // the 8 MB ones are too small
  pool.give(new ArrayBuffer(21 * MB)); // larger than the bound: not kept
  assert.equal(pool.heldBytes, 16 * MB);
});
