// The native CPU kernels (engine/native/ldnative.c through native.ts): built by `npm test`'s build
// step and expected here (LDLENS_NATIVE=0 is the only way to run without them). Every matrix
// product the model makes (plain, transposed either way, batched, broadcast) against tfjs's pure-JS
// cpu kernel on the same random operands, and the addon's own argument checks.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { initBackend, tf } from '../src/backend';
import { nativeInfo, nativeKernels } from '../src/native';
import { Rng } from '../src/rng';

const disabled = process.env.LDLENS_NATIVE === '0';

before(async () => {
  await initBackend('wasm');
});

function rand(shape: number[], rng: Rng): tf.Tensor {
  const n = shape.reduce((p, q) => p * q, 1);
  return tf.tensor(Float32Array.from({ length: n }, () => rng.normal()), shape);
}

test('the native kernels load and find a BLAS', { skip: disabled && 'LDLENS_NATIVE=0' }, () => {
  assert.ok(nativeKernels(), `native kernels unavailable: ${nativeInfo.reason}`);
  assert.equal(nativeInfo.available, true);
  assert.ok(nativeInfo.threads >= 1);
  assert.match(nativeInfo.blas, /\S/);
});

test('matrix products on the wasm backend equal the pure-JS cpu kernel', async () => {
  const rng = new Rng(7);
  const cases: { a: number[]; b: number[]; ta: boolean; tb: boolean }[] = [
    { a: [37, 19], b: [19, 23], ta: false, tb: false },
    { a: [37, 19], b: [23, 19], ta: false, tb: true }, // Linear: x · Wᵀ
    { a: [19, 37], b: [19, 23], ta: true, tb: false }, // weight gradient: xᵀ · dy
    { a: [19, 37], b: [23, 19], ta: true, tb: true },
    { a: [2, 3, 17, 8], b: [2, 3, 17, 8], ta: false, tb: true }, // attention: q · kᵀ per (batch, head)
    { a: [2, 3, 17, 17], b: [2, 3, 17, 8], ta: false, tb: false }, // att · v
    { a: [2, 3, 17, 17], b: [2, 3, 17, 8], ta: true, tb: false }, // its gradients
    { a: [4, 17, 8], b: [8, 5], ta: false, tb: false }, // b broadcast over a's batch
    { a: [17, 8], b: [4, 8, 5], ta: false, tb: false }, // a broadcast over b's batch
    { a: [1, 0], b: [0, 3], ta: false, tb: false }, // empty inner dimension: zeros
  ];
  for (const c of cases) {
    const a = rand(c.a, rng), b = rand(c.b, rng);
    await tf.setBackend('cpu');
    const want = await tf.matMul(a, b, c.ta, c.tb).data();
    await tf.setBackend('wasm');
    const r = tf.matMul(a, b, c.ta, c.tb);
    const got = await r.data();
    assert.equal(got.length, want.length, JSON.stringify(c));
    let worst = 0;
    for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / (1 + Math.abs(want[i])));
    assert.ok(worst < 1e-5, `${JSON.stringify(c)}: worst relative difference ${worst}`);
    tf.dispose([a, b, r]);
  }
});

test('the addon checks its operands instead of reading past them', { skip: disabled && 'LDLENS_NATIVE=0' }, () => {
  const k = nativeKernels()!;
  const a = new Float32Array(6), b = new Float32Array(6), c = new Float32Array(4);
  k.matmul(a, b, c, 1, 2, 2, 3, false, false, 0, 0); // (2×3)·(3×2): fits
  assert.throws(() => k.matmul(a, b, c, 1, 2, 2, 4, false, false, 0, 0), RangeError); // K = 4: a is too short
  assert.throws(() => k.matmul(a, b, c, 2, 2, 2, 3, false, false, 6, 0), RangeError); // two a's of 6 in 6 floats
  assert.throws(() => k.matmul(a, b, new Float32Array(3), 1, 2, 2, 3, false, false, 0, 0), RangeError);
  assert.throws(() => (k.matmul as unknown as (...x: unknown[]) => void)(a, b, [0, 0, 0, 0], 1, 2, 2, 3, false, false, 0, 0));
});
