// The native CPU kernels (engine/native/ldnative.c through ops/native.ts): built by `npm test`'s build
// step and expected here (LDLENS_NATIVE=0 is the only way to run without them). Every matrix
// product the model makes (plain, transposed either way, batched, broadcast) against tfjs's pure-JS
// cpu kernel on the same random operands, and the addon's own argument checks.
import assert from 'node:assert/strict';
import os from 'node:os';
import { before, test } from 'node:test';
import { initBackend, tf } from '../src/backend';
import { nativeInfo, nativeKernels } from '../src/ops/native';
import { attentionMix as mix, attentionScores as scores, gelu as nativeGelu, layerNorm as nativeLayerNorm, nativeOps } from '../src/ops/nativeOps';
import { referenceOps } from '../src/ops/reference';
import { logSumExp, rowStats } from '../src/inference';
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
    { a: [4, 3, 64, 32], b: [4, 3, 64, 32], ta: false, tb: true }, // products big enough to be split over threads
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
    if (c.a[2] === 64 && !disabled && (os.availableParallelism?.() ?? os.cpus().length) > 1)
      assert.ok(nativeKernels()!.lastThreads() > 1, 'the batch of products was split over threads');
    tf.dispose([a, b, r]);
  }
});

test('the addon checks its operands instead of reading past them', { skip: disabled && 'LDLENS_NATIVE=0' }, () => {
  const k = nativeKernels()!;
  const a = new Float32Array(6), b = new Float32Array(6), c = new Float32Array(4);
  const gemm = (K: number, n1: number, sa1: number, cc = c) => k.gemm(a, b, cc, 2, 2, K, false, false, K, 2, 2, n1, 1, sa1, 0, 0, 0, 0, 0);
  gemm(3, 1, 0); // (2×3)·(3×2): fits
  assert.throws(() => gemm(4, 1, 0), RangeError); // K = 4: a is too short
  assert.throws(() => gemm(3, 2, 6), RangeError); // two a's of 6 in 6 floats
  assert.throws(() => gemm(3, 1, 0, new Float32Array(3)), RangeError);
  assert.throws(() => k.gemm(a, b, c, 2, 2, 3, false, false, 2, 2, 2, 1, 1, 0, 0, 0, 0, 0, 0), RangeError); // lda < K
  assert.throws(() => (k.gemm as unknown as (...x: unknown[]) => void)(a, b, [0, 0, 0, 0], 2, 2, 3, false, false, 3, 2, 2, 1, 1, 0, 0, 0, 0, 0, 0));
  assert.throws(() => k.gelu(a, new Float32Array(5)), RangeError);
});

/** Largest |a − b| / (1 + |b|). */
async function worstDiff(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  assert.deepEqual(a.shape, b.shape);
  const x = await a.data(), y = await b.data();
  let w = 0;
  for (let i = 0; i < x.length; i++) w = Math.max(w, Math.abs(x[i] - y[i]) / (1 + Math.abs(y[i])));
  return w;
}

test('attention read in place from qkv equals split + transposes + matMul, values and gradients', { skip: disabled && 'LDLENS_NATIVE=0' }, async () => {
  const K = nativeOps()!;
  const attentionScores = (x: tf.Tensor, nh: number) => scores(K, x, nh), attentionMix = (p: tf.Tensor, x: tf.Tensor, nh: number) => mix(K, p, x, nh);
  const rng = new Rng(3);
  const [B, T, nh, hs] = [2, 5, 3, 4], C = nh * hs;
  const qkv = rand([B, T, 3 * C], rng), att = rand([B, nh, T, T], rng);
  const dS = rand([B, nh, T, T], rng), dY = rand([B, T, C], rng);
  const heads = (t: tf.Tensor) => tf.transpose(tf.reshape(t, [B, T, nh, hs]), [0, 2, 1, 3]);
  const refScores = (x: tf.Tensor) => {
    const [q, k] = tf.split(x, 3, 2).map(heads);
    return tf.matMul(q, k, false, true);
  };
  const refMix = (p: tf.Tensor, x: tf.Tensor) => tf.reshape(tf.transpose(tf.matMul(p, heads(tf.split(x, 3, 2)[2])), [0, 2, 1, 3]), [B, T, C]);
  const checks: [string, tf.Tensor, tf.Tensor][] = [
    ['scores', attentionScores(qkv, nh), refScores(qkv)],
    ['d qkv of scores', tf.grad((x: tf.Tensor) => tf.sum(tf.mul(attentionScores(x, nh), dS)))(qkv), tf.grad((x: tf.Tensor) => tf.sum(tf.mul(refScores(x), dS)))(qkv)],
    ['mix', attentionMix(att, qkv, nh), refMix(att, qkv)],
  ];
  const [gp, gx] = tf.grads((p: tf.Tensor, x: tf.Tensor) => tf.sum(tf.mul(attentionMix(p, x, nh), dY)))([att, qkv]);
  const [rp, rx] = tf.grads((p: tf.Tensor, x: tf.Tensor) => tf.sum(tf.mul(refMix(p, x), dY)))([att, qkv]);
  checks.push(['d att of mix', gp, rp], ['d qkv of mix', gx, rx]);
  for (const [what, got, want] of checks) {
    const w = await worstDiff(got, want);
    assert.ok(w < 1e-5, `${what}: worst relative difference ${w}`);
  }
});

test('GELU in one pass equals x·½(1 + erf(x/√2)) in tfjs ops, values and gradients', { skip: disabled && 'LDLENS_NATIVE=0' }, async () => {
  const gelu = (x: tf.Tensor) => nativeGelu(nativeOps()!, x);
  const rng = new Rng(5);
  // normal draws, scaled to reach the tails (erf saturates, the density underflows), and exact 0
  const u = tf.concat([tf.mul(rand([3000], rng), 4), tf.tensor1d([0, -30, 30, -9.5, 9.5])]);
  const ref = referenceOps.gelu;
  assert.ok((await worstDiff(gelu(u), ref(u))) < 2e-6, 'values');
  const dy = rand([3005], rng);
  const w = await worstDiff(tf.grad((x: tf.Tensor) => tf.sum(tf.mul(gelu(x), dy)))(u), tf.grad((x: tf.Tensor) => tf.sum(tf.mul(ref(x), dy)))(u));
  assert.ok(w < 2e-6, `gradients: worst relative difference ${w}`);
});

test('LayerNorm in one pass equals the tfjs-op LayerNorm, values and gradients', { skip: disabled && 'LDLENS_NATIVE=0' }, async () => {
  const layerNorm = (x: tf.Tensor, w: tf.Tensor) => nativeLayerNorm(nativeOps()!, x, w);
  const rng = new Rng(9);
  // [1400, 96]: enough rows to be split over threads; an offset mean, as activations have
  const x = tf.add(rand([1400, 96], rng), 3), w = rand([96], rng), dy = rand([1400, 96], rng);
  const ref = referenceOps.layerNorm;
  // values against float64 arithmetic (tfjs's float32 ops are themselves ~3e-6 off with this mean)
  const xs = await x.data(), ws = await w.data(), exact = new Float32Array(xs.length);
  for (let o = 0; o < xs.length; o += 96) {
    let mu = 0, v = 0;
    for (let j = 0; j < 96; j++) mu += xs[o + j] / 96;
    for (let j = 0; j < 96; j++) v += (xs[o + j] - mu) ** 2 / 96;
    for (let j = 0; j < 96; j++) exact[o + j] = ((xs[o + j] - mu) / Math.sqrt(v + 1e-5)) * ws[j];
  }
  const vw = await worstDiff(layerNorm(x, w), tf.tensor(exact, [1400, 96]));
  assert.ok(vw < 5e-7, `values: worst relative difference ${vw}`);
  const got = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(layerNorm(a, b), dy)))([x, w]);
  if ((os.availableParallelism?.() ?? os.cpus().length) > 1) assert.ok(nativeKernels()!.lastThreads() > 1, 'the backward was split over threads');
  const want = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(ref(a, b), dy)))([x, w]);
  for (const i of [0, 1]) {
    const d = await worstDiff(got[i], want[i]);
    assert.ok(d < 5e-5, `gradient ${i}: worst relative difference ${d}`);
  }
});

test("analysis' per-token statistics (rowStats) equal their JS twin's: masks with quantized rows, and chance masks from inputs", { skip: disabled && 'LDLENS_NATIVE=0' }, () => {
  const k = nativeOps()!;
  assert.ok(k, nativeInfo.reason);
  const rng = new Rng(11);
  const W = 24, T = 32, nh = 3, units = 20, rows = 5;
  // owned tokens: every row's second half (and all of row 0), tokens numbered along the rows
  const owned: number[] = [];
  for (let r = 0; r < rows; r++) for (let t = r === 0 ? 0 : W / 2; t < W; t++) owned.push(r, t, r * W + t);
  const own = Int32Array.from(owned), m = own.length / 3, n = rows * W;
  for (const attention of [false, true]) {
    const len = attention ? W : units, heads = attention ? nh : 1, qUnits = attention ? nh * T : units;
    const masks = Float32Array.from({ length: rows * heads * W * len }, () => rng.next());
    // values on the thresholds: 0.5 counts as kept, 0.5/255 rounds up
    masks[0] = 0.5;
    masks[1] = 0.5 / 255;
    const inputs = Float32Array.from({ length: masks.length }, () => rng.normal());
    const A = Float32Array.from({ length: len }, () => rng.normal()), B = Float32Array.from({ length: len }, () => Math.PI / 2 + 0.1 * rng.normal());
    const [from, to] = [W / 2 + 3, n - 5]; // the quantized rows kept: a sub-range
    const jsQ = new Uint8Array((to - from) * qUnits), cQ = new Uint8Array((to - from) * qUnits);
    const js = new Float64Array(4 * m), c = new Float64Array(4 * m);
    rowStats(masks, null, null, own, js, jsQ, [attention ? 1 : 0, W, heads, len, T, qUnits, from, to]);
    k.rowStats(masks, null, null, own, c, cQ, [attention ? 1 : 0, W, heads, len, T, qUnits, from, to]);
    assert.deepEqual(cQ, jsQ, 'quantized rows');
    assert.deepEqual(c.subarray(0, m), js.subarray(0, m), 'kept counts');
    assert.deepEqual(c.subarray(3 * m), js.subarray(3 * m), 'counted');
    for (let e = m; e < 3 * m; e++) assert.ok(Math.abs(c[e] - js[e]) <= 1e-9 * Math.max(1, Math.abs(js[e])), `sums: ${c[e]} vs ${js[e]}`);
    // chance: a polynomial cos against Math.cos; a value within 3e-8 of 0.5 may count on either side
    js.fill(0), c.fill(0);
    rowStats(inputs, A, B, own, js, null, [attention ? 1 : 0, W, heads, len, T, qUnits, 0, 0]);
    k.rowStats(inputs, A, B, own, c, null, [attention ? 1 : 0, W, heads, len, T, qUnits, 0, 0]);
    for (let e = 0; e < m; e++) assert.ok(Math.abs(c[e] - js[e]) <= 1, `chance kept count ${c[e]} vs ${js[e]}`);
    for (let e = m; e < 3 * m; e++) assert.ok(Math.abs(c[e] - js[e]) <= 1e-6 * Math.max(1, Math.abs(js[e])), `chance sums: ${c[e]} vs ${js[e]}`);
    assert.deepEqual(c.subarray(3 * m), js.subarray(3 * m));
  }
  // out of bounds: a token row past the masks, a quantized row past q
  const bad = Int32Array.from([rows, 0, 0]);
  assert.throws(() => k.rowStats(new Float32Array(rows * W * units), null, null, bad, new Float64Array(4), null, [0, W, 1, units, T, units, 0, 0]), RangeError);
  assert.throws(() => k.rowStats(new Float32Array(rows * W * units), null, null, Int32Array.from([0, 0, 9]), new Float64Array(4), new Uint8Array(units), [0, W, 1, units, T, units, 0, 20]), RangeError);
});

test("analysis' log-sum-exp of the rows it reads (rowLogSumExp) equals its JS twin's", { skip: disabled && 'LDLENS_NATIVE=0' }, () => {
  const k = nativeOps()!;
  assert.ok(k, nativeInfo.reason);
  const rng = new Rng(12);
  const V = 65, R = 300;
  // logits of every scale, a row of −∞ but one, a row with a huge spread (exp underflows to 0)
  const z = Float32Array.from({ length: V * R }, (_, e) => rng.normal() * (1 + (e % 7) * 5));
  z.fill(-Infinity, 3 * V, 4 * V - 1);
  z[5 * V] = 1e4;
  const rows = Int32Array.from({ length: 400 }, (_, j) => (j * 37) % R);
  const got = new Float64Array(rows.length);
  k.rowLogSumExp(z, V, rows, got);
  rows.forEach((row, j) => {
    const want = logSumExp(z, row * V, V);
    // exp's polynomial: each term within 1e-8 relative, so the log of their sum within 1e-8
    assert.ok(Math.abs(got[j] - want) <= 1e-8, `row ${row}: ${got[j]} vs ${want}`);
  });
  assert.throws(() => k.rowLogSumExp(z, V, Int32Array.from([R]), new Float64Array(1)), RangeError);
  assert.throws(() => k.rowLogSumExp(z, V, Int32Array.from([0, 1]), new Float64Array(1)), RangeError);
});
