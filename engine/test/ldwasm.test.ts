// The LearnedDropout loops in wasm SIMD (ldWasm.ts, engine/wasm/ld.wat) against the JS loops they
// replace: the same float64 arithmetic in the same order, so every output is bit-identical —
// forward and backward, both entropy forms, odd and even attention lengths, training and inference,
// and a site whose arguments are too large for the sin/cos reduction (the JS loop takes over).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initBackend, tf } from '../src/backend';
import { attentionProbs, fusedLearnedDropout, type SiteOptions } from '../src/learnedDropout';
import { ldWasm } from '../src/ldWasm';

type Out = { arrays: Float32Array[]; numbers: number[] };

/** Runs f with the module (LDLENS_LD_WASM unset) and without it, and compares every output bit for bit. */
function same(what: string, f: () => Out): void {
  const prev = process.env.LDLENS_LD_WASM;
  try {
    delete process.env.LDLENS_LD_WASM;
    assert.ok(ldWasm(), 'the module instantiates on tfjs-wasm');
    const w = f();
    process.env.LDLENS_LD_WASM = '0';
    assert.equal(ldWasm(), null);
    const j = f();
    for (let k = 0; k < w.arrays.length; k++) {
      assert.equal(w.arrays[k].length, j.arrays[k].length);
      for (let i = 0; i < w.arrays[k].length; i++) {
        if (!Object.is(w.arrays[k][i], j.arrays[k][i])) assert.fail(`${what}: output ${k}[${i}]: ${w.arrays[k][i]} vs ${j.arrays[k][i]}`);
      }
    }
    assert.deepEqual(w.numbers, j.numbers, `${what}: penalty sums`);
  } finally {
    if (prev === undefined) delete process.env.LDLENS_LD_WASM;
    else process.env.LDLENS_LD_WASM = prev;
  }
}

const opts = (form: 'shannon' | 'complement', penalties: boolean): SiteOptions => ({
  coef: { entropy: 0.3, l1: 0.2, form },
  wantMask: true,
  wantPenalties: penalties,
});

test('LearnedDropout in wasm SIMD: bit-identical to the JS loops', async () => {
  await initBackend('wasm');
  for (const scaleX of [3, 1e7]) {
    const x = tf.mul(tf.randomNormal([7, 64], 0, 1, 'float32', 1), scaleX);
    const A = tf.randomNormal([70], 0, 2, 'float32', 2), B = tf.randomNormal([70], 0, 2, 'float32', 3);
    const dy = tf.randomNormal([7, 64], 0, 1, 'float32', 4);
    for (const form of ['shannon', 'complement'] as const) {
      same(`site, ${form}, |x| ~ ${scaleX}`, () => {
        let pen: number[] = [];
        const g = tf.grads((xx: tf.Tensor, a: tf.Tensor, b: tf.Tensor) => {
          const r = fusedLearnedDropout(xx, a, b, opts(form, true));
          pen = [r.entropy, r.l1];
          r.mask?.dispose();
          return r.y;
        })([x, A, B], dy);
        const inf = fusedLearnedDropout(x, A, B, opts(form, true));
        const plain = fusedLearnedDropout(x, A, B, opts(form, false));
        return {
          arrays: [...g, inf.y, inf.mask!, plain.y].map((t) => t.dataSync() as Float32Array),
          numbers: [...pen, inf.entropy, inf.l1],
        };
      });
    }
  }
  for (const T of [6, 37]) {
    const S = tf.randomNormal([2, 3, T, T], 0, 4, 'float32', 5);
    const A = tf.randomNormal([T + 3], 0, 2, 'float32', 6), B = tf.randomNormal([T + 3], 0, 2, 'float32', 7);
    const dy = tf.randomNormal([2, 3, T, T], 0, 1, 'float32', 8);
    for (const form of ['shannon', 'complement'] as const) {
      same(`attention, T = ${T}, ${form}`, () => {
        let pen: number[] = [];
        const g = tf.grads((s: tf.Tensor, a: tf.Tensor, b: tf.Tensor) => {
          const r = attentionProbs(s, a, b, 0.3, opts(form, true));
          pen = [r.entropy, r.l1];
          r.mask?.dispose();
          return r.y;
        })([S, A, B], dy);
        const inf = attentionProbs(S, A, B, 0.3, opts(form, true));
        const plain = attentionProbs(S, A, B, 0.3, opts(form, false));
        return {
          arrays: [...g, inf.y, inf.mask!, plain.y].map((t) => t.dataSync() as Float32Array),
          numbers: [...pen, inf.entropy, inf.l1],
        };
      });
    }
  }
});

test('LearnedDropout with both λ = 0 while training: no penalty gradient on either path', async () => {
  await initBackend('wasm');
  const x = tf.randomNormal([5, 32], 0, 1, 'float32', 11);
  const A = tf.randomNormal([32], 0, 2, 'float32', 12), B = tf.randomNormal([32], 0, 2, 'float32', 13);
  const dy = tf.randomNormal([5, 32], 0, 1, 'float32', 14);
  const grads = (o: SiteOptions) =>
    tf.grads((xx: tf.Tensor, a: tf.Tensor, b: tf.Tensor) => {
      const r = fusedLearnedDropout(xx, a, b, o);
      r.mask?.dispose();
      return r.y;
    })([x, A, B], dy);
  same('site, λ = 0 after a penalized call', () => {
    tf.dispose(grads(opts('shannon', true))); // leaves a penalty gradient behind in the JS loop's scratch
    const g = grads({ coef: { entropy: 0, l1: 0, form: 'shannon' }, wantMask: true, wantPenalties: false });
    return { arrays: g.map((t) => t.dataSync() as Float32Array), numbers: [] };
  });
});
