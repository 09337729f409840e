// Model ops on the native kernels (native.ts), for the wasm backend: attention's two products read
// the heads straight out of the (B, T, 3C) qkv projection and write (B, T, C), so the split into
// q, k, v and the four head transposes (and their gradients) disappear; GELU is one pass each way
// instead of six element-wise kernels. Each is a tf.customGrad op over the tensors' heap buffers,
// run by the kernels `K` it is given (fused.ts passes them); reference.ts's tfjs ops stay the
// readable definition (engine/test/native.test.ts compares them).
import os from 'node:os';
import { tf } from '../backend';
import { buf, empty, fromArray, INV_C, LOG_C, op, POW2 } from './kernels';
import { nativeKernels, type NativeKernels } from './native';

let ready: NativeKernels | null = null;
/**
 * The native kernels when the backend can use them in place (wasm), else null. The first call
 * hands them kernels.ts's tables (so that the LearnedDropout loops come out bit-identical to the JS
 * ones) and their thread count (LDLENS_NATIVE_THREADS, else the cores, at most 8).
 */
export function nativeOps(): NativeKernels | null {
  const k = tf.getBackend() === 'wasm' ? nativeKernels() : null;
  if (k && ready !== k) {
    const tab = new Float64Array(2456);
    tab.set(LOG_C, 0);
    tab.set(INV_C, 128);
    tab.set(POW2, 256);
    const env = Number(process.env.LDLENS_NATIVE_THREADS); // (LDLENS_THREADS is the wasm backend's)
    k.ldTables(tab, Number.isInteger(env) && env >= 1 ? env : Math.min(8, os.availableParallelism?.() ?? os.cpus().length));
    ready = k;
  }
  return k;
}

/** The native LearnedDropout loops; null without the native kernels or with LDLENS_LD_NATIVE=0. */
export function nativeLD(): NativeKernels | null {
  return process.env.LDLENS_LD_NATIVE === '0' ? null : nativeOps();
}

/** Zeroes columns [from, to) of every row of a (rows × width) buffer. */
function zeroColumns(a: Float32Array, width: number, from: number, to: number): void {
  for (let o = 0; o < a.length; o += width) a.fill(0, o + from, o + to);
}

/**
 * Raw attention scores S = q·kᵀ per (batch, head), unscaled: qkv (B, T, 3C) → (B, nh, T, T).
 * q of head h is columns [h·hs, (h+1)·hs) of qkv's rows, k the same C further on.
 */
export function attentionScores(K: NativeKernels, qkv: tf.Tensor, nh: number): tf.Tensor {
  return op<[tf.Tensor]>((x, save) => {
    const [B, T, C3] = x.shape, C = C3 / 3, hs = C / nh;
    const s = empty([B, nh, T, T]);
    const xa = buf(x);
    K.gemm(xa, xa.subarray(C), buf(s), T, T, hs, false, true, C3, C3, T, B, nh, T * C3, hs, T * C3, hs, nh * T * T, T * T);
    save([x]);
    return {
      value: s,
      gradFunc: (ds: tf.Tensor, [x]: tf.Tensor[]) => {
        const d = empty(x.shape); // (B, T, 3C): dq, dk; dv = 0 (attentionMix's gradient has it)
        const xa = buf(x), da = buf(d), dsa = buf(ds);
        K.gemm(dsa, xa.subarray(C), da, T, hs, T, false, false, T, C3, C3, B, nh, nh * T * T, T * T, T * C3, hs, T * C3, hs); // dq = dS·k
        K.gemm(dsa, xa, da.subarray(C), T, hs, T, true, false, T, C3, C3, B, nh, nh * T * T, T * T, T * C3, hs, T * C3, hs); // dk = dSᵀ·q
        zeroColumns(da, C3, 2 * C, C3);
        return [d];
      },
    };
  })(qkv);
}

/** y = att·v per (batch, head), heads concatenated: att (B, nh, T, T), qkv (B, T, 3C) → (B, T, C). */
export function attentionMix(K: NativeKernels, att: tf.Tensor, qkv: tf.Tensor, nh: number): tf.Tensor {
  return op<[tf.Tensor, tf.Tensor]>((p, x, save) => {
    const [B, T, C3] = x.shape, C = C3 / 3, hs = C / nh;
    const y = empty([B, T, C]);
    K.gemm(buf(p), buf(x).subarray(2 * C), buf(y), T, hs, T, false, false, T, C3, C, B, nh, nh * T * T, T * T, T * C3, hs, T * C, hs);
    save([p, x]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, [p, x]: tf.Tensor[]) => {
        const dp = empty(p.shape), dx = empty(x.shape);
        const pa = buf(p), xa = buf(x), dya = buf(dy), dpa = buf(dp), dxa = buf(dx);
        K.gemm(dya, xa.subarray(2 * C), dpa, T, T, hs, false, true, C, C3, T, B, nh, T * C, hs, T * C3, hs, nh * T * T, T * T); // dP = dy·vᵀ
        K.gemm(pa, dya, dxa.subarray(2 * C), T, hs, T, true, false, T, C, C3, B, nh, nh * T * T, T * T, T * C, hs, T * C3, hs); // dv = Pᵀ·dy
        zeroColumns(dxa, C3, 0, 2 * C);
        return [dp, dx];
      },
    };
  })(att, qkv);
}

/** Exact GELU, x·Φ(x) with Φ the normal CDF (erf form, as the reference's nn.GELU()). */
export function gelu(K: NativeKernels, u: tf.Tensor): tf.Tensor {
  return op<[tf.Tensor]>((x, save) => {
    const y = empty(x.shape);
    K.gelu(buf(x), buf(y));
    save([x]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, [x]: tf.Tensor[]) => {
        const dx = empty(x.shape);
        K.gelu(buf(x), buf(dx), buf(dy));
        return [dx];
      },
    };
  })(u);
}

/** LayerNorm without bias, (x − mean)/√(var + eps)·w over the last dim, in one pass each way. */
export function layerNorm(K: NativeKernels, x: tf.Tensor, w: tf.Tensor, eps = 1e-5): tf.Tensor {
  return op<[tf.Tensor, tf.Tensor]>((xt, wt, save) => {
    const rows = xt.size / wt.size;
    const y = empty(xt.shape), mean = empty([rows]), rstd = empty([rows]);
    K.layerNorm(buf(xt), buf(wt), buf(y), buf(mean), buf(rstd), eps);
    save([xt, wt, mean, rstd]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, [x2, w2, m2, r2]: tf.Tensor[]) => {
        const dx = empty(x2.shape);
        const dw = new Float64Array(w2.size);
        K.layerNormBwd(buf(x2), buf(w2), buf(m2), buf(r2), buf(dy), buf(dx), dw);
        return [dx, fromArray(dw, w2.shape)];
      },
    };
  })(x, w);
}
