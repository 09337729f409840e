// LearnedDropout fused into one pass over the raw buffers (kernels.ts): forward (cos, mask,
// product, the entropy and L1 sums) and backward (the sin term, dA, dB, dx and the penalties'
// gradient), instead of a dozen element-wise tfjs kernels. Same mathematics as GPT's op-by-op path,
// which stays the readable reference and is used when the input is not detached or the mask is
// sharpened.
//
//   z = A ⊙ x + B,  m = ½·cos z + ½,  y = x ⊙ m          (A, B over the last dim, sliced to its length)
//   P = cH·H(m) + cL1·L1(m)  with H = mean(−m·log2(m + 1e-9)) (or the complement form), L1 = mean(m)
//   ∂/∂m = dy ⊙ x + ∂P/∂m,   ∂m/∂z = −½·sin z,   dx = dy ⊙ m  (x is detached inside the mask)
//
// On the wasm backend the loops run in the native kernels (nativeOps.ts, engine/native/ldnative.c)
// when they load, else in ldWasm.ts's SIMD module (engine/wasm/ld.wat): the same float64 arithmetic
// in the same order, bit-identical outputs. The JS loops below stay for the cpu backend and as the
// fallback of both.
//
// attentionProbs() fuses the attention site with what precedes it: scale, causal mask, softmax,
// then LearnedDropout. Above the diagonal the probabilities are exactly 0, so there the mask is
// ½·cos(B_j) + ½ for key position j whatever the row: those entries are counted in closed form.
import { tf } from '../backend';
import type { EntropyForm } from '../config';
import * as kernels from './kernels';
import { ldWasm } from './ldWasm';
import { nativeLD } from './nativeOps';

// Local bindings: the loops below call these per element, and an imported binding can compile
// to a property read through a getter (CommonJS interop under tsx).
const { buf, empty, fexp, flog, fromArray, op, sinCos, sincos, tapeOn } = kernels;

export interface PenaltyCoefs {
  /** λ_entropy / (number of sites) and λ_L1 / (number of sites): this site's share of the loss. */
  entropy: number;
  l1: number;
  form: EntropyForm;
}

export interface FusedSiteResult {
  y: tf.Tensor;
  /** This site's H_k (bits) and L1_k, as plain numbers: their gradient is inside y's. NaN if not asked. */
  entropy: number;
  l1: number;
  /** The mask, when asked for (analysis, statistics, parity). */
  mask?: tf.Tensor;
}

export interface SiteOptions {
  coef: PenaltyCoefs;
  /** Return the mask as a tensor. */
  wantMask: boolean;
  /** Compute H_k and L1_k (the loss needs them; plain inference does not). */
  wantPenalties: boolean;
}

const EPS = 1e-9;
const INV_LN2 = 1 / Math.log(2);

/**
 * One element's mask and penalty terms. Sets `el.m`, `el.q` = ∂m/∂z = −½ sin z, `el.h` (its
 * −p·ln(p + ε) term) and `el.g` = ∂P/∂m (the penalties' gradient, without the upstream one).
 */
const el = { m: 0, q: 0, h: 0, g: 0 };
function maskElement(z: number, gH: number, gL1: number, complement: boolean, penalties: boolean): void {
  sinCos(z);
  const m = 0.5 * sincos.cos + 0.5;
  el.m = m;
  el.q = -0.5 * sincos.sin;
  if (!penalties) {
    el.g = 0; // no penalty gradient (both λ are 0): not the last element's
    return;
  }
  const p = complement ? 1 - m : m;
  const v = p + EPS;
  const lg = flog(v);
  el.h = -p * lg;
  // ∂H/∂m: shannon −(ln p' + p/p'), p' = p + ε; complement: the same in p = 1 − m, sign flipped
  const dh = -(lg + p / v);
  el.g = gH * (complement ? -dh : dh) + gL1;
}

/**
 * y = x ⊙ m with the penalty P's gradient folded into y's backward pass: P does not depend on the
 * upstream gradient, so adding ∂P/∂m there counts it exactly once. The caller adds P's value to the
 * loss as a constant.
 */
export function fusedLearnedDropout(x: tf.Tensor, A: tf.Tensor, B: tf.Tensor, o: SiteOptions): FusedSiteResult {
  const n = x.shape[x.rank - 1];
  const { coef } = o;
  const grad = tapeOn();
  const penalties = o.wantPenalties || (grad && (coef.entropy !== 0 || coef.l1 !== 0));
  const res: FusedSiteResult = { y: undefined as unknown as tf.Tensor, entropy: NaN, l1: NaN };
  // The mask is made out here so that the caller owns it; the op writes it.
  const mask = o.wantMask || grad ? empty(x.shape) : null;
  const y = op<[tf.Tensor, tf.Tensor, tf.Tensor]>((xt, at, bt, save) => {
    const N = xt.size;
    const y = empty(xt.shape);
    // ∂m/∂z and ∂m/∂z·∂P/∂m, for the backward
    const q = grad ? empty(xt.shape) : null, r = grad ? empty(xt.shape) : null;
    const xs = buf(xt), a = buf(at), b = buf(bt), ya = buf(y);
    const ma = mask ? buf(mask) : null, qa = q ? buf(q) : null, ra = r ? buf(r) : null;
    const gH = (coef.entropy * INV_LN2) / N, gL1 = coef.l1 / N;
    const complement = coef.form === 'complement';
    let hsum = 0, l1sum = 0;
    // the native kernels, else the wasm SIMD module (ldWasm.ts); the JS loop below without either,
    // or when an argument was too large for their sin/cos reduction (sinCos falls back to Math there)
    const NK = nativeLD();
    const W = !NK && n % 2 === 0 ? ldWasm() : null;
    let inJs = true;
    if (NK) {
      const out = new Float64Array(3);
      NK.ldFwd(xs, a, b, ya, ma, qa, ra, n, gH, gL1, complement ? 1 : 0, penalties ? 1 : 0, out);
      if (out[2] <= 1e6) {
        hsum = out[0];
        l1sum = out[1];
        inJs = false;
      }
    } else if (W) {
      W.ex.fwd(xs.byteOffset, a.byteOffset, b.byteOffset, ya.byteOffset, ma ? ma.byteOffset : 0, qa ? qa.byteOffset : 0,
        ra ? ra.byteOffset : 0, N, n, gH, gL1, complement ? 1 : 0, penalties ? 1 : 0, W.tab);
      if (W.ex.kmax.value <= 1e6) {
        hsum = W.ex.hsum.value;
        l1sum = W.ex.l1sum.value;
        inJs = false;
      }
    }
    if (inJs) for (let e = 0, j = 0; e < N; e++) {
      const xv = xs[e];
      maskElement(a[j] * xv + b[j], gH, gL1, complement, penalties);
      const mv = el.m;
      ya[e] = xv * mv;
      if (ma) ma[e] = mv;
      if (penalties) {
        hsum += el.h;
        l1sum += mv;
      }
      if (qa) {
        qa[e] = el.q;
        ra![e] = el.q * el.g;
      }
      if (++j === n) j = 0;
    }
    if (penalties) {
      res.entropy = (hsum / N) * INV_LN2;
      res.l1 = l1sum / N;
    }
    if (grad) save([xt, mask!, q!, r!]);
    return {
      value: y,
      gradFunc: (dyt, [xs2, m2, q2, r2]) => {
        const dx = empty(xt.shape);
        const NK = nativeLD();
        if (NK) {
          const dA = new Float64Array(n), dB = new Float64Array(n);
          NK.ldBwd(buf(dyt), buf(xs2), buf(m2), buf(q2), buf(r2), buf(dx), dA, dB, n);
          return [dx, padTo(dA, at), padTo(dB, bt)];
        }
        const W = n % 2 === 0 ? ldWasm() : null;
        const sums = W ? W.mod._malloc(16 * n) : 0; // dA then dB, float64, on the heap
        const dy = buf(dyt), xv = buf(xs2), mv = buf(m2), qv = buf(q2), rv = buf(r2), dxa = buf(dx);
        let dA: Float64Array, dB: Float64Array;
        if (W) {
          new Float64Array(W.mem.buffer, sums, 2 * n).fill(0);
          W.ex.bwd(dy.byteOffset, xv.byteOffset, mv.byteOffset, qv.byteOffset, rv.byteOffset, dxa.byteOffset, sums, sums + 8 * n, N, n);
          dA = new Float64Array(W.mem.buffer, sums, n).slice();
          dB = new Float64Array(W.mem.buffer, sums + 8 * n, n).slice();
          W.mod._free(sums);
          return [dx, padTo(dA, at), padTo(dB, bt)];
        }
        dA = new Float64Array(n);
        dB = new Float64Array(n);
        for (let e = 0, j = 0; e < N; e++) {
          const xe = xv[e], g = dy[e];
          const t = g * xe * qv[e] + rv[e];
          dA[j] += t * xe;
          dB[j] += t;
          dxa[e] = g * mv[e];
          if (++j === n) j = 0;
        }
        return [dx, padTo(dA, at), padTo(dB, bt)];
      },
    };
  })(x, A.shape[0] === n ? A : tf.slice(A, 0, n), B.shape[0] === n ? B : tf.slice(B, 0, n));
  res.y = y;
  if (mask && o.wantMask) res.mask = mask;
  else mask?.dispose();
  return res;
}

/** A gradient for a parameter of `like`'s shape, from sums over a prefix of it. */
function padTo(sums: Float64Array, like: tf.Tensor): tf.Tensor {
  const out = new Float64Array(like.size);
  out.set(sums.subarray(0, Math.min(sums.length, like.size)));
  return fromArray(out, like.shape);
}

/**
 * The attention site fused with what precedes it:
 *   p = softmax(scale · S + causal) over the last dim,   y = p ⊙ m,   m = ½·cos(A ⊙ p + B) + ½
 * for raw scores S = q·kᵀ of shape (B, nh, T, T); A, B are sliced to T. Returns y (and the mask);
 * the backward returns dS (the gradient through LearnedDropout and the softmax) and dA, dB.
 */
export function attentionProbs(scores: tf.Tensor, A: tf.Tensor, B: tf.Tensor, scale: number, o: SiteOptions): FusedSiteResult {
  const T = scores.shape[scores.rank - 1];
  const { coef } = o;
  const grad = tapeOn();
  const penalties = o.wantPenalties || (grad && (coef.entropy !== 0 || coef.l1 !== 0));
  const res: FusedSiteResult = { y: undefined as unknown as tf.Tensor, entropy: NaN, l1: NaN };
  const mask = o.wantMask || grad ? empty(scores.shape) : null;
  const At = A.shape[0] === T ? A : tf.slice(A, 0, T), Bt = B.shape[0] === T ? B : tf.slice(B, 0, T);
  const y = op<[tf.Tensor, tf.Tensor, tf.Tensor]>((st, at, bt, save) => {
    const N = st.size, rows = N / T, heads = rows / T;
    const y = empty(st.shape), p = grad ? empty(st.shape) : null;
    const q = grad ? empty(st.shape) : null, r = grad ? empty(st.shape) : null;
    // the wasm module's scratch, allocated before taking the buffers (an allocation may move the heap)
    const NK = nativeLD();
    const W = NK ? null : ldWasm();
    const scratch = W ? W.mod._malloc(12 * T + 8) : 0; // ex: T + 1 float64 (pairs), then m0 as float32
    const sa = buf(st), a = buf(at), b = buf(bt), ya = buf(y);
    const ma = mask ? buf(mask) : null, pa = p ? buf(p) : null, qa = q ? buf(q) : null, ra = r ? buf(r) : null;
    const gH = (coef.entropy * INV_LN2) / N, gL1 = coef.l1 / N;
    const complement = coef.form === 'complement';
    // Above the diagonal p = 0: per key position j, the mask there and its terms (z = B_j).
    const m0 = new Float64Array(T), r0 = new Float64Array(T);
    let hsum = 0, l1sum = 0;
    for (let j = 0; j < T; j++) {
      maskElement(b[j], gH, gL1, complement, penalties);
      m0[j] = el.m;
      r0[j] = el.q * el.g;
      // column j lies above the diagonal in rows 0..j−1 of each of the `heads` (b, h) blocks
      if (penalties) {
        hsum += heads * j * el.h;
        l1sum += heads * j * el.m;
      }
    }
    let jsRows = rows;
    if (NK) {
      const out = new Float64Array(3);
      NK.attnFwd(sa, a, b, ya, ma, pa, qa, ra, T, scale, gH, gL1, complement ? 1 : 0, penalties ? 1 : 0, m0, out);
      if (out[2] <= 1e6) {
        hsum += out[0];
        l1sum += out[1];
        jsRows = 0; // done
      }
    } else if (W) {
      new Float32Array(W.mem.buffer, scratch + 8 * T + 8, T).set(m0);
      W.ex.attnFwd(sa.byteOffset, a.byteOffset, b.byteOffset, ya.byteOffset, ma ? ma.byteOffset : 0, pa ? pa.byteOffset : 0,
        qa ? qa.byteOffset : 0, ra ? ra.byteOffset : 0, rows, T, scale, gH, gL1, complement ? 1 : 0, penalties ? 1 : 0, W.tab,
        scratch, scratch + 8 * T + 8, hsum, l1sum);
      W.mod._free(scratch);
      if (W.ex.kmax.value <= 1e6) {
        hsum = W.ex.hsum.value;
        l1sum = W.ex.l1sum.value;
        jsRows = 0; // done
      }
    }
    const ex = new Float64Array(T);
    for (let row = 0, o0 = 0; row < jsRows; row++, o0 += T) {
      const i = row % T; // query position: keys 0..i are visible
      let mx = -Infinity;
      for (let j = 0; j <= i; j++) if (sa[o0 + j] > mx) mx = sa[o0 + j];
      let s = 0;
      for (let j = 0; j <= i; j++) {
        const e = fexp((sa[o0 + j] - mx) * scale);
        ex[j] = e;
        s += e;
      }
      const inv = 1 / s;
      for (let j = 0; j <= i; j++) {
        const pv = ex[j] * inv;
        maskElement(a[j] * pv + b[j], gH, gL1, complement, penalties);
        const mv = el.m;
        ya[o0 + j] = pv * mv;
        if (ma) ma[o0 + j] = mv;
        if (penalties) {
          hsum += el.h;
          l1sum += mv;
        }
        if (pa) {
          pa[o0 + j] = pv;
          qa![o0 + j] = el.q;
          ra![o0 + j] = el.q * el.g;
        }
      }
      for (let j = i + 1; j < T; j++) {
        ya[o0 + j] = 0;
        if (ma) ma[o0 + j] = m0[j];
      }
    }
    if (penalties) {
      res.entropy = (hsum / N) * INV_LN2;
      res.l1 = l1sum / N;
    }
    if (grad) save([p!, mask!, q!, r!]);
    return {
      value: y,
      gradFunc: (dyt, [p2, m2, q2, r2]) => {
        const ds = empty(st.shape);
        const NK = nativeLD();
        if (NK) {
          const dA = new Float64Array(T), dB = new Float64Array(T);
          for (let j = 0; j < T; j++) dB[j] += heads * j * r0[j];
          NK.attnBwd(buf(dyt), buf(p2), buf(m2), buf(q2), buf(r2), buf(ds), dA, dB, T, scale);
          return [ds, padTo(dA, at), padTo(dB, bt)];
        }
        const W = ldWasm();
        const sums = W ? W.mod._malloc(24 * (T + 1)) : 0; // dA, dB, dp: T + 1 float64 each
        const dy = buf(dyt), pv = buf(p2), mv = buf(m2), qv = buf(q2), rv = buf(r2), dsa = buf(ds);
        if (W) {
          const h = new Float64Array(W.mem.buffer, sums, 3 * (T + 1)).fill(0);
          for (let j = 0; j < T; j++) h[T + 1 + j] += heads * j * r0[j];
          W.ex.attnBwd(dy.byteOffset, pv.byteOffset, mv.byteOffset, qv.byteOffset, rv.byteOffset, dsa.byteOffset, sums,
            sums + 8 * (T + 1), sums + 16 * (T + 1), rows, T, scale);
          const dA = new Float64Array(W.mem.buffer, sums, T).slice();
          const dB = new Float64Array(W.mem.buffer, sums + 8 * (T + 1), T).slice();
          W.mod._free(sums);
          return [ds, padTo(dA, at), padTo(dB, bt)];
        }
        const dA = new Float64Array(T), dB = new Float64Array(T);
        // masked entries: t = ∂P/∂m·∂m/∂z there, in rows above the diagonal
        for (let j = 0; j < T; j++) dB[j] += heads * j * r0[j];
        const dp = new Float64Array(T);
        for (let row = 0, o0 = 0; row < rows; row++, o0 += T) {
          const i = row % T;
          let dot = 0;
          for (let j = 0; j <= i; j++) {
            const e = o0 + j, x = pv[e], g = dy[e];
            const t = g * x * qv[e] + rv[e];
            dA[j] += t * x;
            dB[j] += t;
            const d = g * mv[e]; // ∂L/∂p through y = p ⊙ m
            dp[j] = d;
            dot += d * x;
          }
          // softmax: dS = scale · p ⊙ (dp − Σ dp·p); 0 above the diagonal
          for (let j = 0; j <= i; j++) dsa[o0 + j] = scale * pv[o0 + j] * (dp[j] - dot);
          for (let j = i + 1; j < T; j++) dsa[o0 + j] = 0;
        }
        return [ds, padTo(dA, at), padTo(dB, bt)];
      },
    };
  })(scores, At, Bt);
  res.y = y;
  if (mask && o.wantMask) res.mask = mask;
  else mask?.dispose();
  return res;
}
