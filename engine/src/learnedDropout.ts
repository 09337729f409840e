// LearnedDropout fused into one pass over the raw buffers: forward (cos, mask, product, the
// entropy and L1 sums) and backward (the sin term, dA, dB, dx and the penalties' gradient) as JS
// loops, instead of a dozen element-wise tfjs kernels (wasm's Cos runs at ~29 M elements/s, a JS
// loop with Math.cos at ~100 M/s). Same mathematics as GPT's op-by-op path, which stays the readable
// reference and is used when the input is not detached or the mask is sharpened.
//
//   z = A ⊙ x + B,  m = ½·cos z + ½,  y = x ⊙ m          (A, B over the last dim, sliced to its length)
//   P = cH·H(m) + cL1·L1(m)  with H = mean(−m·log2(m + 1e-9)) (or the complement form), L1 = mean(m)
//   ∂/∂m = dy ⊙ x + ∂P/∂m,   ∂m/∂z = −½·sin z,   dx = dy ⊙ m  (x is detached inside the mask)
import { tf } from './backend';
import type { EntropyForm } from './config';

export interface PenaltyCoefs {
  /** λ_entropy / (number of sites) and λ_L1 / (number of sites): this site's share of the loss. */
  entropy: number;
  l1: number;
  form: EntropyForm;
}

export interface FusedSiteResult {
  y: tf.Tensor;
  /** This site's H_k (bits) and L1_k, as plain numbers: their gradient is inside y's. */
  entropy: number;
  l1: number;
  /** The mask, when asked for (analysis, statistics, parity). */
  mask?: tf.Tensor;
}

const EPS = 1e-9;
const INV_LN2 = 1 / Math.log(2);

// sin and cos of one argument together: Cody–Waite reduction by π/2 in float64, then Taylor
// polynomials on [−π/4, π/4] (error < 1e-7, far below float32's resolution of m), 2-4× faster than
// Math.sin + Math.cos. Arguments too large for the two-part reduction fall back to Math.
const TWO_OVER_PI = 2 / Math.PI;
const PIO2_HI = 1.5707963267341256; // π/2 split so that k·PIO2_HI is exact for |k| < 2^20
const PIO2_LO = 6.077100506506192e-11;
const sincos = { sin: 0, cos: 0 };
function sinCos(z: number): void {
  const k = Math.round(z * TWO_OVER_PI);
  if (k > 1e6 || k < -1e6) {
    sincos.sin = Math.sin(z);
    sincos.cos = Math.cos(z);
    return;
  }
  const r = z - k * PIO2_HI - k * PIO2_LO;
  const r2 = r * r;
  const sn = r * (1 + r2 * (-1 / 6 + r2 * (1 / 120 + r2 * (-1 / 5040 + r2 * (1 / 362880 + r2 * (-1 / 39916800))))));
  const cs = 1 + r2 * (-0.5 + r2 * (1 / 24 + r2 * (-1 / 720 + r2 * (1 / 40320 + r2 * (-1 / 3628800 + r2 * (1 / 479001600))))));
  switch (k & 3) {
    case 0:
      sincos.sin = sn;
      sincos.cos = cs;
      break;
    case 1:
      sincos.sin = cs;
      sincos.cos = -sn;
      break;
    case 2:
      sincos.sin = -sn;
      sincos.cos = -cs;
      break;
    default:
      sincos.sin = -cs;
      sincos.cos = sn;
  }
}

/**
 * y = x ⊙ m with the penalty P's gradient folded into y's backward pass: P does not depend on the
 * upstream gradient, so adding ∂P/∂m there counts it exactly once. The caller adds P's value to the
 * loss as a constant.
 */
export function fusedLearnedDropout(x: tf.Tensor, A: tf.Tensor, B: tf.Tensor, coef: PenaltyCoefs, wantMask: boolean): FusedSiteResult {
  const n = x.shape[x.rank - 1];
  const out: { entropy: number; l1: number; m?: Float32Array } = { entropy: 0, l1: 0 };
  const op = tf.customGrad(((xt: tf.Tensor, at: tf.Tensor, bt: tf.Tensor) => {
    const xs = xt.dataSync() as Float32Array;
    const a = at.dataSync() as Float32Array, b = bt.dataSync() as Float32Array;
    const N = xs.length;
    const y = new Float32Array(N), m = new Float32Array(N), q = new Float32Array(N), gm = new Float32Array(N);
    const gH = (coef.entropy * INV_LN2) / N, gL1 = coef.l1 / N;
    const complement = coef.form === 'complement';
    let hsum = 0, l1sum = 0;
    for (let e = 0, j = 0; e < N; e++) {
      const xv = xs[e];
      sinCos(a[j] * xv + b[j]);
      const mv = 0.5 * sincos.cos + 0.5;
      y[e] = xv * mv;
      m[e] = mv;
      q[e] = -0.5 * sincos.sin;
      const p = complement ? 1 - mv : mv;
      const lg = Math.log(p + EPS);
      hsum -= p * lg;
      l1sum += mv;
      // ∂H/∂m: shannon −(log p + p/(p+ε)); complement: the same in p = 1 − m, with the sign flipped
      const dh = -(lg + p / (p + EPS));
      gm[e] = gH * (complement ? -dh : dh) + gL1;
      if (++j === n) j = 0;
    }
    out.entropy = (hsum / N) * INV_LN2;
    out.l1 = l1sum / N;
    out.m = m;
    return {
      value: tf.tensor(y, xt.shape),
      gradFunc: (dyt: tf.Tensor) => {
        const dy = dyt.dataSync() as Float32Array;
        const dx = new Float32Array(N);
        const dA = new Float64Array(a.length), dB = new Float64Array(b.length);
        for (let e = 0, j = 0; e < N; e++) {
          const xv = xs[e];
          const t = (dy[e] * xv + gm[e]) * q[e];
          dA[j] += t * xv;
          dB[j] += t;
          dx[e] = dy[e] * m[e];
          if (++j === n) j = 0;
        }
        return [tf.tensor(dx, xt.shape), tf.tensor(Float32Array.from(dA), at.shape), tf.tensor(Float32Array.from(dB), bt.shape)];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor, a: tf.Tensor, b: tf.Tensor) => tf.Tensor;
  const y = op(x, A, B);
  return { y, entropy: out.entropy, l1: out.l1, ...(wantMask ? { mask: tf.tensor(out.m!, x.shape) } : {}) };
}
