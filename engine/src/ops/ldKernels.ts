// LearnedDropout's loops as one kernel table, with three implementations chosen once per backend
// (ldKernelsForBackend): the native kernels (nativeOps.ts, engine/native/ldnative.c), the wasm SIMD
// module (ldWasm.ts, engine/wasm/ld.wat) and the JS loops (ldJs.ts). The same float64 arithmetic in
// the same order, bit-identical outputs (the native threads add H, L1, dA and dB in another order:
// equal to rounding). A native or wasm entry returns null where it declines (an argument too large
// for its sin/cos reduction, an odd row length for the SIMD site loops): learnedDropout.ts then runs
// the JS loop.
import type { tf } from '../backend';
import { buf } from './kernels';
import { jsLdKernels } from './ldJs';
import { ldWasm, type LdWasm } from './ldWasm';
import type { NativeKernels } from './native';
import { nativeLD } from './nativeOps';

type T = tf.TensorInfo;

/** A site's forward: y = x ⊙ m, and for the backward q = ∂m/∂z, r = q·∂P/∂m (null: not wanted). */
export interface SiteForward {
  x: T; a: T; b: T; y: T; m: T | null; q: T | null; r: T | null;
  /** Row length (A and B's length as used). */
  n: number;
  /** ∂P/∂H and ∂P/∂L1 per element. */
  gH: number; gL1: number;
  complement: boolean;
  penalties: boolean;
}
export interface SiteBackward { dy: T; x: T; m: T; q: T; r: T; dx: T; n: number }
/** The attention site's forward over (…, T, T) raw scores s: causal softmax of scale·s into p, then the site. */
export interface AttentionForward {
  /** p (the probabilities: an analysis asks for them) may come without q and r (only a backward needs those). */
  s: T; a: T; b: T; y: T; m: T | null; p: T | null; q: T | null; r: T | null;
  T: number; scale: number; gH: number; gL1: number; complement: boolean; penalties: boolean;
  /** The mask above the diagonal, per key position. */
  m0: Float64Array;
  /** The H and L1 sums above the diagonal, which the visible entries' are added to. */
  h0: number; l0: number;
}
export interface AttentionBackward {
  dy: T; p: T; m: T; q: T; r: T; ds: T; T: number; scale: number;
  /** dB's terms from the entries above the diagonal, which the visible entries' are added to. */
  dB0: Float64Array;
}
export interface Sums { h: number; l1: number }
export interface ParamGrads { dA: Float64Array; dB: Float64Array }

export interface LdKernels {
  readonly name: 'native' | 'wasm-simd' | 'js';
  siteForward(f: SiteForward): Sums | null;
  siteBackward(g: SiteBackward): ParamGrads | null;
  attentionForward(f: AttentionForward): Sums | null;
  attentionBackward(g: AttentionBackward): ParamGrads | null;
}

const nul = (t: T | null) => (t ? buf(t) : null);

/** The native kernels' loops (over their threads). */
export function nativeLdKernels(K: NativeKernels): LdKernels {
  return {
    name: 'native',
    siteForward(f) {
      const out = new Float64Array(3);
      K.ldFwd(buf(f.x), buf(f.a), buf(f.b), buf(f.y), nul(f.m), nul(f.q), nul(f.r), f.n, f.gH, f.gL1, f.complement ? 1 : 0, f.penalties ? 1 : 0, out);
      return out[2] <= 1e6 ? { h: out[0], l1: out[1] } : null;
    },
    siteBackward(g) {
      const dA = new Float64Array(g.n), dB = new Float64Array(g.n);
      K.ldBwd(buf(g.dy), buf(g.x), buf(g.m), buf(g.q), buf(g.r), buf(g.dx), dA, dB, g.n);
      return { dA, dB };
    },
    attentionForward(f) {
      const out = new Float64Array(3);
      K.attnFwd(buf(f.s), buf(f.a), buf(f.b), buf(f.y), nul(f.m), nul(f.p), nul(f.q), nul(f.r), f.T, f.scale, f.gH, f.gL1,
        f.complement ? 1 : 0, f.penalties ? 1 : 0, f.m0, out);
      return out[2] <= 1e6 ? { h: f.h0 + out[0], l1: f.l0 + out[1] } : null;
    },
    attentionBackward(g) {
      const dA = new Float64Array(g.T), dB = g.dB0.slice();
      K.attnBwd(buf(g.dy), buf(g.p), buf(g.m), buf(g.q), buf(g.r), buf(g.ds), dA, dB, g.T, g.scale);
      return { dA, dB };
    },
  };
}

/**
 * The wasm SIMD module's loops. Its scratch is allocated on the heap before the tensors' buffers
 * are taken: an allocation may grow (move) the heap.
 */
export function wasmLdKernels(W: LdWasm): LdKernels {
  const at = (t: T | null) => (t ? buf(t).byteOffset : 0);
  return {
    name: 'wasm-simd',
    siteForward(f) {
      if (f.n % 2 !== 0) return null; // two elements per step, rows never straddled
      const x = buf(f.x);
      W.ex.fwd(x.byteOffset, at(f.a), at(f.b), at(f.y), at(f.m), at(f.q), at(f.r), x.length, f.n, f.gH, f.gL1, f.complement ? 1 : 0,
        f.penalties ? 1 : 0, W.tab);
      return W.ex.kmax.value <= 1e6 ? { h: W.ex.hsum.value, l1: W.ex.l1sum.value } : null;
    },
    siteBackward(g) {
      const n = g.n;
      if (n % 2 !== 0) return null;
      const sums = W.mod._malloc(16 * n); // dA then dB, float64
      const dy = buf(g.dy);
      new Float64Array(W.mem.buffer, sums, 2 * n).fill(0);
      W.ex.bwd(dy.byteOffset, at(g.x), at(g.m), at(g.q), at(g.r), at(g.dx), sums, sums + 8 * n, dy.length, n);
      const dA = new Float64Array(W.mem.buffer, sums, n).slice();
      const dB = new Float64Array(W.mem.buffer, sums + 8 * n, n).slice();
      W.mod._free(sums);
      return { dA, dB };
    },
    attentionForward(f) {
      const T = f.T;
      // The module writes q and r wherever it writes p: scratch for them when only p is asked.
      const size = f.s.shape.reduce((x, y) => x * y, 1);
      const qr = f.p && !f.q ? W.mod._malloc(8 * size) : 0;
      const scratch = W.mod._malloc(12 * T + 8); // ex: T + 1 float64 (pairs), then m0 as float32
      const s = buf(f.s);
      new Float32Array(W.mem.buffer, scratch + 8 * T + 8, T).set(f.m0);
      const [q, r] = qr ? [qr, qr + 4 * size] : [at(f.q), at(f.r)];
      W.ex.attnFwd(s.byteOffset, at(f.a), at(f.b), at(f.y), at(f.m), at(f.p), q, r, s.length / T, T, f.scale, f.gH, f.gL1,
        f.complement ? 1 : 0, f.penalties ? 1 : 0, W.tab, scratch, scratch + 8 * T + 8, f.h0, f.l0);
      W.mod._free(scratch);
      if (qr) W.mod._free(qr);
      return W.ex.kmax.value <= 1e6 ? { h: W.ex.hsum.value, l1: W.ex.l1sum.value } : null;
    },
    attentionBackward(g) {
      const T = g.T;
      const sums = W.mod._malloc(24 * (T + 1)); // dA, dB, dp: T + 1 float64 each
      const dy = buf(g.dy);
      const h = new Float64Array(W.mem.buffer, sums, 3 * (T + 1)).fill(0);
      h.set(g.dB0, T + 1);
      W.ex.attnBwd(dy.byteOffset, at(g.p), at(g.m), at(g.q), at(g.r), at(g.ds), sums, sums + 8 * (T + 1), sums + 16 * (T + 1), dy.length / T, T, g.scale);
      const dA = new Float64Array(W.mem.buffer, sums, T).slice();
      const dB = new Float64Array(W.mem.buffer, sums + 8 * (T + 1), T).slice();
      W.mod._free(sums);
      return { dA, dB };
    },
  };
}

/**
 * The fastest table the running backend can use: the native kernels (wasm backend, addon loaded,
 * not LDLENS_LD_NATIVE=0), else the SIMD module (wasm backend, not LDLENS_LD_WASM=0), else JS.
 */
export function ldKernelsForBackend(): LdKernels {
  const K = nativeLD();
  if (K) return nativeLdKernels(K);
  const W = ldWasm();
  if (W) return wasmLdKernels(W);
  return jsLdKernels;
}
