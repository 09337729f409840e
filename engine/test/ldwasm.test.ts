// The LearnedDropout loops in wasm SIMD (ops/ldWasm.ts, engine/wasm/ld.wat) and in the native kernels
// (engine/native/ldnative.c) against the JS loops they replace: the same float64 arithmetic in the same order, so every output is bit-identical —
// forward and backward, both entropy forms, odd and even attention lengths, training and inference,
// and a site whose arguments are too large for the sin/cos reduction (the JS loop takes over).
import assert from 'node:assert/strict';
import os from 'node:os';
import { test } from 'node:test';
import { initBackend, tf } from '../src/backend';
import { attentionProbs, fusedLearnedDropout, type SiteOptions } from '../src/ops/learnedDropout';
import { jsLdKernels } from '../src/ops/ldJs';
import { nativeLdKernels, wasmLdKernels, type LdKernels } from '../src/ops/ldKernels';
import { ldWasm } from '../src/ops/ldWasm';
import { nativeInfo } from '../src/ops/native';
import { nativeOps } from '../src/ops/nativeOps';

type Out = { arrays: Float32Array[]; numbers: number[] };

/**
 * Runs f on an accelerated kernel table and on the JS loops, and compares every output bit for bit.
 * `wasm`: the SIMD module (sums too: same order). `native`: the native kernels (ldnative.c); their
 * threads add the sums (H, L1, and dA, dB: arrays at `sumArrays`) in another order, so those agree
 * to rounding, everything else bit for bit.
 */
function same(what: string, f: (k: LdKernels) => Out, path: 'wasm' | 'native' = 'wasm', sumArrays: number[] = []): void {
  let k: LdKernels;
  if (path === 'wasm') {
    const W = ldWasm();
    assert.ok(W, 'the module instantiates on tfjs-wasm');
    k = wasmLdKernels(W);
  } else {
    const K = nativeOps();
    assert.ok(K, `the native kernels load: ${nativeInfo.reason}`);
    k = nativeLdKernels(K);
  }
  const w = f(k);
  const j = f(jsLdKernels);
  for (let k = 0; k < w.arrays.length; k++) {
    assert.equal(w.arrays[k].length, j.arrays[k].length);
    const close = path === 'native' && sumArrays.includes(k);
    for (let i = 0; i < w.arrays[k].length; i++) {
      const a = w.arrays[k][i], b = j.arrays[k][i];
      if (close ? !(Math.abs(a - b) <= 2e-6 * Math.abs(b) + 1e-30) : !Object.is(a, b)) assert.fail(`${what} (${path}): output ${k}[${i}]: ${a} vs ${b}`);
    }
  }
  if (path === 'wasm') assert.deepEqual(w.numbers, j.numbers, `${what}: penalty sums`);
  else w.numbers.forEach((v, i) => assert.ok(Math.abs(v - j.numbers[i]) <= 1e-12 * Math.abs(j.numbers[i]), `${what} (native): sum ${i}: ${v} vs ${j.numbers[i]}`));
}

const opts = (form: 'shannon' | 'complement', penalties: boolean): SiteOptions => ({
  coef: { entropy: 0.3, l1: 0.2, form },
  wantMask: true,
  wantPenalties: penalties,
});

for (const path of ['wasm', 'native'] as const)
test(`LearnedDropout in ${path === 'wasm' ? 'wasm SIMD' : 'the native kernels'}: bit-identical to the JS loops`, async () => {
  await initBackend('wasm');
  // [7, 64] runs on one thread; [600, 256] (native) is split over threads (≥ 64k floats each)
  for (const [rows, scaleX] of [[7, 3], [7, 1e7], ...(path === 'native' ? [[600, 3]] : [])]) {
    const n = rows === 7 ? 64 : 256;
    const x = tf.mul(tf.randomNormal([rows, n], 0, 1, 'float32', 1), scaleX);
    const A = tf.randomNormal([n + 6], 0, 2, 'float32', 2), B = tf.randomNormal([n + 6], 0, 2, 'float32', 3);
    const dy = tf.randomNormal([rows, n], 0, 1, 'float32', 4);
    for (const form of ['shannon', 'complement'] as const) {
      same(`site [${rows}, ${n}], ${form}, |x| ~ ${scaleX}`, (k) => {
        let pen: number[] = [];
        const g = tf.grads((xx: tf.Tensor, a: tf.Tensor, b: tf.Tensor) => {
          const r = fusedLearnedDropout(k, xx, a, b, opts(form, true));
          pen = [r.entropy, r.l1];
          r.mask?.dispose();
          return r.y;
        })([x, A, B], dy);
        const inf = fusedLearnedDropout(k, x, A, B, opts(form, true));
        const plain = fusedLearnedDropout(k, x, A, B, opts(form, false));
        return {
          arrays: [...g, inf.y, inf.mask!, plain.y].map((t) => t.dataSync() as Float32Array),
          numbers: [...pen, inf.entropy, inf.l1],
        };
      }, path, [1, 2]);
      if (path === 'native' && rows === 600) assertSplit(`site [${rows}, ${n}]`);
    }
  }
  // the last case's scores are so far apart that exponents fall below the normal range (e^−720)
  for (const [nb, T, spread] of [[2, 6, 4], [2, 37, 4], ...(path === 'native' ? [[12, 64, 4]] : []), [2, 37, 2400]]) {
    const S = tf.randomNormal([nb, 3, T, T], 0, spread, 'float32', 5);
    const A = tf.randomNormal([T + 3], 0, 2, 'float32', 6), B = tf.randomNormal([T + 3], 0, 2, 'float32', 7);
    const dy = tf.randomNormal([nb, 3, T, T], 0, 1, 'float32', 8);
    for (const form of ['shannon', 'complement'] as const) {
      same(`attention [${nb}, 3, ${T}, ${T}], scores ~ N(0, ${spread}), ${form}`, (k) => {
        let pen: number[] = [];
        const g = tf.grads((s: tf.Tensor, a: tf.Tensor, b: tf.Tensor) => {
          const r = attentionProbs(k, s, a, b, 0.3, opts(form, true));
          pen = [r.entropy, r.l1];
          r.mask?.dispose();
          return r.y;
        })([S, A, B], dy);
        const inf = attentionProbs(k, S, A, B, 0.3, opts(form, true));
        const plain = attentionProbs(k, S, A, B, 0.3, opts(form, false));
        // an analysis: the probabilities asked for, no backward (p without q and r)
        const analysis = attentionProbs(k, S, A, B, 0.3, { ...opts(form, false), wantInput: true });
        return {
          arrays: [...g, inf.y, inf.mask!, plain.y, analysis.y, analysis.mask!, analysis.input!].map((t) => t.dataSync() as Float32Array),
          numbers: [...pen, inf.entropy, inf.l1],
        };
      }, path, [1, 2]);
      if (path === 'native' && nb === 12) assertSplit(`attention [${nb}, 3, ${T}, ${T}]`);
    }
  }
});

/** The native kernels' last call was split over threads (where there is more than one core). */
function assertSplit(what: string): void {
  if ((os.availableParallelism?.() ?? os.cpus().length) < 2) return;
  const n = nativeOps()!.lastThreads();
  assert.ok(n > 1, `${what}: the native loops ran on ${n} thread(s)`);
}

test('LearnedDropout with both λ = 0 while training: no penalty gradient on either path', async () => {
  await initBackend('wasm');
  const x = tf.randomNormal([5, 32], 0, 1, 'float32', 11);
  const A = tf.randomNormal([32], 0, 2, 'float32', 12), B = tf.randomNormal([32], 0, 2, 'float32', 13);
  const dy = tf.randomNormal([5, 32], 0, 1, 'float32', 14);
  const grads = (k: LdKernels, o: SiteOptions) =>
    tf.grads((xx: tf.Tensor, a: tf.Tensor, b: tf.Tensor) => {
      const r = fusedLearnedDropout(k, xx, a, b, o);
      r.mask?.dispose();
      return r.y;
    })([x, A, B], dy);
  for (const path of ['wasm', 'native'] as const) {
    same('site, λ = 0 after a penalized call', (k) => {
      tf.dispose(grads(k, opts('shannon', true))); // leaves a penalty gradient behind in the JS loop's scratch
      const g = grads(k, { coef: { entropy: 0, l1: 0, form: 'shannon' }, wantMask: true, wantPenalties: false });
      return { arrays: g.map((t) => t.dataSync() as Float32Array), numbers: [] };
    }, path);
  }
});
