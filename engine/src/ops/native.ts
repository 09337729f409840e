// The optional native CPU kernels (engine/native/ldnative.c, built by scripts/build-native.mjs into
// dist/engine/ldnative-<platform>-<arch>.node): the wasm backend's matrix products through the
// system's BLAS (OpenBLAS: FMA, wide SIMD and every core, where wasm has 128-bit SIMD on one
// thread), and LearnedDropout, attention, GELU and LayerNorm loops in C over its threads. They work
// in place on tfjs-wasm's heap. Absent addon (another platform), absent BLAS or LDLENS_NATIVE=0: the
// wasm kernels run, and `nativeInfo` says why.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

export interface NativeKernels {
  open(path?: string): { ok: boolean; name: string; threads: number; config: string; error: string };
  /**
   * For i < n1, j < n2: C_ij (M×N, rows ldc apart) = op(A_ij)·op(B_ij), X_ij starting i·sx1 + j·sx2
   * floats into its array (0: one matrix for all). Row-major; op transposes when asked.
   */
  gemm(a: Float32Array, b: Float32Array, c: Float32Array, M: number, N: number, K: number, transA: boolean, transB: boolean,
       lda: number, ldb: number, ldc: number, n1: number, n2: number, sa1: number, sa2: number, sb1: number, sb2: number,
       sc1: number, sc2: number): void;
  /** y = GELU(u) (exact, erf form); with dy: y = dy · GELU'(u). */
  gelu(u: Float32Array, y: Float32Array, dy?: Float32Array): void;
  // LearnedDropout's loops (learnedDropout.ts has the JS they match): first the tables and threads
  ldTables(logC_invC_pow2: Float64Array, threads: number): void; // first: every kernel but gemm and gelu needs it
  /** out = [H sum, L1 sum, largest |k| of the sin/cos reduction (> 1e6: redo in JS)]. */
  ldFwd(x: Float32Array, a: Float32Array, b: Float32Array, y: Float32Array, m: Float32Array | null, q: Float32Array | null,
        r: Float32Array | null, n: number, gH: number, gL1: number, complement: number, penalties: number, out: Float64Array): void;
  /** dA, dB (length n) are added to. */
  ldBwd(dy: Float32Array, x: Float32Array, m: Float32Array, q: Float32Array, r: Float32Array, dx: Float32Array,
        dA: Float64Array, dB: Float64Array, n: number): void;
  attnFwd(s: Float32Array, a: Float32Array, b: Float32Array, y: Float32Array, m: Float32Array | null, p: Float32Array | null,
          q: Float32Array | null, r: Float32Array | null, T: number, scale: number, gH: number, gL1: number, complement: number,
          penalties: number, m0: Float64Array, out: Float64Array): void;
  /** LayerNorm without bias over rows of w.length; mean and rstd (one per row) are for the backward. */
  layerNorm(x: Float32Array, w: Float32Array, y: Float32Array, mean: Float32Array, rstd: Float32Array, eps: number): void;
  /** dw (float64) is added to. */
  layerNormBwd(x: Float32Array, w: Float32Array, mean: Float32Array, rstd: Float32Array, dy: Float32Array, dx: Float32Array, dw: Float64Array): void;
  /** Threads the last call split over rows used (for the tests). */
  lastThreads(): number;
  /**
   * inference.ts's per-token statistics of one site (siteStats; with a and b, chanceStats: the masks
   * of those A/B on the inputs v) into out = act ‖ sum ‖ dec ‖ cnt (one per owned token), and the
   * quantized rows into q; ints = [attention, W, heads, len, T, qUnits, maskFrom, maskTo].
   */
  rowStats(v: Float32Array, a: Float32Array | null, b: Float32Array | null, own: Int32Array, out: Float64Array, q: Uint8Array | null, ints: number[]): void;
  /** out[k] = log Σ exp of logits row rows[k] of z (V per row): inference.ts's logSumExp. */
  rowLogSumExp(z: Float32Array, V: number, rows: Int32Array, out: Float64Array): void;
  attnBwd(dy: Float32Array, p: Float32Array, m: Float32Array, q: Float32Array, r: Float32Array, ds: Float32Array,
          dA: Float64Array, dB: Float64Array, T: number, scale: number): void;
}

export const nativeInfo = { available: false, blas: '', threads: 0, reason: 'not loaded yet' };

let loaded: NativeKernels | null | undefined;

/** The addon's file name: one per platform, so that a VSIX can carry several. */
export const ADDON = `ldnative-${process.platform}-${process.arch}.node`;

/** Where the addon may be: next to the bundle, or in dist/engine when run from the sources (tsx). */
function candidates(): string[] {
  const out: string[] = [];
  if (process.env.LDLENS_NATIVE_ADDON) out.push(process.env.LDLENS_NATIVE_ADDON);
  if (typeof __dirname === 'string') {
    out.push(join(__dirname, ADDON));
    out.push(join(__dirname, '../../../dist/engine', ADDON)); // from engine/src/ops
  }
  return out;
}

export function nativeKernels(): NativeKernels | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  if (process.env.LDLENS_NATIVE === '0') {
    nativeInfo.reason = 'disabled by LDLENS_NATIVE=0';
    return null;
  }
  const path = candidates().find((p) => existsSync(p));
  if (!path) {
    nativeInfo.reason = `no native kernels for ${process.platform}-${process.arch} (scripts/build-native.mjs builds them with a C compiler)`;
    return null;
  }
  try {
    const k = createRequire(__filename)(path) as NativeKernels;
    const r = k.open(process.env.LDLENS_BLAS || undefined);
    if (!r.ok) {
      nativeInfo.reason = `no BLAS library found (${r.error}); install OpenBLAS (Debian: libopenblas0)`;
      return null;
    }
    Object.assign(nativeInfo, { available: true, blas: r.config || r.name, threads: r.threads, reason: '' });
    loaded = k;
  } catch (e) {
    nativeInfo.reason = `native kernels failed to load: ${(e as Error).message.split('\n')[0]}`;
  }
  return loaded;
}
