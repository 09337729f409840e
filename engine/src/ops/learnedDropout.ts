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
// The loops themselves are a kernel table (ldKernels.ts: native, wasm SIMD or JS, chosen once per
// backend) that the caller passes in; where a table declines a call, the JS loops (ldJs.ts) run.
//
// attentionProbs() fuses the attention site with what precedes it: scale, causal mask, softmax,
// then LearnedDropout. Above the diagonal the probabilities are exactly 0, so there the mask is
// ½·cos(B_j) + ½ for key position j whatever the row: those entries are counted in closed form.
import { tf } from '../backend';
import type { EntropyForm } from '../config';
import { buf, empty, fromArray, op, tapeOn } from './kernels';
import { el, jsLdKernels as js, maskElement } from './ldJs';
import type { LdKernels } from './ldKernels';

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
  /** The mask's input (x; the attention site's probabilities p), when asked for (the chance baseline). */
  input?: tf.Tensor;
}

export interface SiteOptions {
  coef: PenaltyCoefs;
  /** Return the mask as a tensor. */
  wantMask: boolean;
  /** Compute H_k and L1_k (the loss needs them; plain inference does not). */
  wantPenalties: boolean;
  /** Return the mask's input as a tensor (analysis' chance baseline applies untrained A/B to it). */
  wantInput?: boolean;
}

const INV_LN2 = 1 / Math.log(2);

/**
 * y = x ⊙ m with the penalty P's gradient folded into y's backward pass: P does not depend on the
 * upstream gradient, so adding ∂P/∂m there counts it exactly once. The caller adds P's value to the
 * loss as a constant. `k` runs the loops (ldKernels.ts).
 */
export function fusedLearnedDropout(k: LdKernels, x: tf.Tensor, A: tf.Tensor, B: tf.Tensor, o: SiteOptions): FusedSiteResult {
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
    const f = { x: xt, a: at, b: bt, y, m: mask, q, r, n, gH: (coef.entropy * INV_LN2) / N, gL1: coef.l1 / N, complement: coef.form === 'complement', penalties };
    const sums = k.siteForward(f) ?? js.siteForward(f);
    if (penalties) {
      res.entropy = (sums.h / N) * INV_LN2;
      res.l1 = sums.l1 / N;
    }
    if (grad) save([xt, mask!, q!, r!]);
    return {
      value: y,
      gradFunc: (dyt, [xs2, m2, q2, r2]) => {
        const dx = empty(xt.shape);
        const g = { dy: dyt, x: xs2, m: m2, q: q2, r: r2, dx, n };
        const { dA, dB } = k.siteBackward(g) ?? js.siteBackward(g);
        return [dx, padTo(dA, at), padTo(dB, bt)];
      },
    };
  })(x, A.shape[0] === n ? A : tf.slice(A, 0, n), B.shape[0] === n ? B : tf.slice(B, 0, n));
  res.y = y;
  if (mask && o.wantMask) res.mask = mask;
  else mask?.dispose();
  if (o.wantInput) res.input = x;
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
export function attentionProbs(k: LdKernels, scores: tf.Tensor, A: tf.Tensor, B: tf.Tensor, scale: number, o: SiteOptions): FusedSiteResult {
  const T = scores.shape[scores.rank - 1];
  const { coef } = o;
  const grad = tapeOn();
  const penalties = o.wantPenalties || (grad && (coef.entropy !== 0 || coef.l1 !== 0));
  const res: FusedSiteResult = { y: undefined as unknown as tf.Tensor, entropy: NaN, l1: NaN };
  const mask = o.wantMask || grad ? empty(scores.shape) : null;
  // p, when asked for, is made out here too (the caller owns it); q and r only for a backward
  const pOut = o.wantInput ? empty(scores.shape) : null;
  const At = A.shape[0] === T ? A : tf.slice(A, 0, T), Bt = B.shape[0] === T ? B : tf.slice(B, 0, T);
  const y = op<[tf.Tensor, tf.Tensor, tf.Tensor]>((st, at, bt, save) => {
    const N = st.size, heads = N / T / T;
    const y = empty(st.shape), p = pOut ?? (grad ? empty(st.shape) : null);
    const q = grad ? empty(st.shape) : null, r = grad ? empty(st.shape) : null;
    const b = buf(bt); // read before the kernel runs (a wasm kernel's allocation may move the heap)
    const gH = (coef.entropy * INV_LN2) / N, gL1 = coef.l1 / N;
    const complement = coef.form === 'complement';
    // Above the diagonal p = 0: per key position j, the mask there and its terms (z = B_j).
    const m0 = new Float64Array(T), r0 = new Float64Array(T);
    let h0 = 0, l0 = 0;
    for (let j = 0; j < T; j++) {
      maskElement(b[j], gH, gL1, complement, penalties);
      m0[j] = el.m;
      r0[j] = el.q * el.g;
      // column j lies above the diagonal in rows 0..j−1 of each of the `heads` (b, h) blocks
      if (penalties) {
        h0 += heads * j * el.h;
        l0 += heads * j * el.m;
      }
    }
    const f = { s: st, a: at, b: bt, y, m: mask, p, q, r, T, scale, gH, gL1, complement, penalties, m0, h0, l0 };
    const sums = k.attentionForward(f) ?? js.attentionForward(f);
    if (penalties) {
      res.entropy = (sums.h / N) * INV_LN2;
      res.l1 = sums.l1 / N;
    }
    if (grad) save([p!, mask!, q!, r!]);
    return {
      value: y,
      gradFunc: (dyt, [p2, m2, q2, r2]) => {
        const ds = empty(st.shape);
        // masked entries: t = ∂P/∂m·∂m/∂z there, in rows above the diagonal
        const dB0 = new Float64Array(T);
        for (let j = 0; j < T; j++) dB0[j] += heads * j * r0[j];
        const g = { dy: dyt, p: p2, m: m2, q: q2, r: r2, ds, T, scale, dB0 };
        const { dA, dB } = k.attentionBackward(g) ?? js.attentionBackward(g);
        return [ds, padTo(dA, at), padTo(dB, bt)];
      },
    };
  })(scores, At, Bt);
  res.y = y;
  if (mask && o.wantMask) res.mask = mask;
  else mask?.dispose();
  if (pOut) {
    // the kernels leave p above the diagonal unwritten; the reference's softmax has exact zeros there
    const pa = buf(pOut);
    for (let row = 0, o0 = 0; o0 < pa.length; row++, o0 += T) pa.fill(0, o0 + (row % T) + 1, o0 + T);
    res.input = pOut;
  }
  return res;
}
