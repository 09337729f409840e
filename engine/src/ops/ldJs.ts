// LearnedDropout's four loops in plain JS (site forward and backward, attention forward and
// backward): the kernel table every backend that keeps tensors in JS-reachable memory can run, the
// cpu backend's, and the fallback where the native or wasm-SIMD table declines a call (ldKernels.ts).
// The float64 arithmetic and its order here are what engine/native/ldnative.c and
// engine/wasm/ld.wat reproduce bit for bit.
import * as kernels from './kernels';
import type { AttentionBackward, AttentionForward, LdKernels, ParamGrads, SiteBackward, SiteForward, Sums } from './ldKernels';

// Local bindings: the loops call these per element, and an imported binding can compile to a
// property read through a getter (CommonJS interop under tsx).
const { buf, fexp, flog, sinCos, sincos } = kernels;

const EPS = 1e-9;

/**
 * One element's mask and penalty terms. Sets `el.m`, `el.q` = ∂m/∂z = −½ sin z, `el.h` (its
 * −p·ln(p + ε) term) and `el.g` = ∂P/∂m (the penalties' gradient, without the upstream one).
 */
export const el = { m: 0, q: 0, h: 0, g: 0 };
export function maskElement(z: number, gH: number, gL1: number, complement: boolean, penalties: boolean): void {
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

function siteForward(f: SiteForward): Sums {
  const xs = buf(f.x), a = buf(f.a), b = buf(f.b), ya = buf(f.y);
  const ma = f.m ? buf(f.m) : null, qa = f.q ? buf(f.q) : null, ra = f.r ? buf(f.r) : null;
  const { n, gH, gL1, complement, penalties } = f;
  const N = xs.length;
  let h = 0, l1 = 0;
  for (let e = 0, j = 0; e < N; e++) {
    const xv = xs[e];
    maskElement(a[j] * xv + b[j], gH, gL1, complement, penalties);
    const mv = el.m;
    ya[e] = xv * mv;
    if (ma) ma[e] = mv;
    if (penalties) {
      h += el.h;
      l1 += mv;
    }
    if (qa) {
      qa[e] = el.q;
      ra![e] = el.q * el.g;
    }
    if (++j === n) j = 0;
  }
  return { h, l1 };
}

function siteBackward(g: SiteBackward): ParamGrads {
  const { n } = g;
  const dy = buf(g.dy), xv = buf(g.x), mv = buf(g.m), qv = buf(g.q), rv = buf(g.r), dxa = buf(g.dx);
  const dA = new Float64Array(n), dB = new Float64Array(n);
  for (let e = 0, j = 0, N = dy.length; e < N; e++) {
    const xe = xv[e], gy = dy[e];
    const t = gy * xe * qv[e] + rv[e];
    dA[j] += t * xe;
    dB[j] += t;
    dxa[e] = gy * mv[e];
    if (++j === n) j = 0;
  }
  return { dA, dB };
}

function attentionForward(f: AttentionForward): Sums {
  const { T, scale, gH, gL1, complement, penalties, m0 } = f;
  const sa = buf(f.s), a = buf(f.a), b = buf(f.b), ya = buf(f.y);
  const ma = f.m ? buf(f.m) : null, pa = f.p ? buf(f.p) : null, qa = f.q ? buf(f.q) : null, ra = f.r ? buf(f.r) : null;
  const rows = sa.length / T;
  let h = f.h0, l1 = f.l0;
  const ex = new Float64Array(T);
  for (let row = 0, o0 = 0; row < rows; row++, o0 += T) {
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
        h += el.h;
        l1 += mv;
      }
      if (pa) pa[o0 + j] = pv;
      if (qa) {
        qa[o0 + j] = el.q;
        ra![o0 + j] = el.q * el.g;
      }
    }
    for (let j = i + 1; j < T; j++) {
      ya[o0 + j] = 0;
      if (ma) ma[o0 + j] = m0[j];
    }
  }
  return { h, l1 };
}

function attentionBackward(g: AttentionBackward): ParamGrads {
  const { T, scale } = g;
  const dy = buf(g.dy), pv = buf(g.p), mv = buf(g.m), qv = buf(g.q), rv = buf(g.r), dsa = buf(g.ds);
  const rows = dy.length / T;
  const dA = new Float64Array(T), dB = g.dB0.slice();
  const dp = new Float64Array(T);
  for (let row = 0, o0 = 0; row < rows; row++, o0 += T) {
    const i = row % T;
    let dot = 0;
    for (let j = 0; j <= i; j++) {
      const e = o0 + j, x = pv[e], gy = dy[e];
      const t = gy * x * qv[e] + rv[e];
      dA[j] += t * x;
      dB[j] += t;
      const d = gy * mv[e]; // ∂L/∂p through y = p ⊙ m
      dp[j] = d;
      dot += d * x;
    }
    // softmax: dS = scale · p ⊙ (dp − Σ dp·p); 0 above the diagonal
    for (let j = 0; j <= i; j++) dsa[o0 + j] = scale * pv[o0 + j] * (dp[j] - dot);
    for (let j = i + 1; j < T; j++) dsa[o0 + j] = 0;
  }
  return { dA, dB };
}

/** The JS loops as a kernel table: they never decline. */
export const jsLdKernels: { [K in keyof LdKernels]: K extends 'name' ? 'js' : NonNullableReturn<LdKernels[K]> } = {
  name: 'js',
  siteForward,
  siteBackward,
  attentionForward,
  attentionBackward,
};
type NonNullableReturn<F> = F extends (...a: infer A) => infer R ? (...a: A) => NonNullable<R> : never;
