// The optimizer step on the CPU backends (wasm, cpu), on the tensors' own memory: the gradients'
// global norm in one pass over their buffers, and the AdamW (or SGD) update written into each
// parameter's buffer. Once every parameter owns its buffer, a step runs no tfjs op and allocates
// nothing (it was ~150 ops and allocations for `tiny`'s 31 parameters).
import { tf } from './backend';
import { backendOps } from './ops/backendOps';
import { buf, empty } from './ops/kernels';
import { nativeKernels } from './ops/native';

/**
 * The gradients' global L2 norm: every element's square summed in float64, in one pass, parameter
 * after parameter. torch's clip_grad_norm_ takes each gradient's norm in float32 (its vectorized
 * reduction order), then the norm of those norms; this sum is exact to float64 rounding, so the
 * two differ by torch's float32 rounding (~1e-7 relative), and the clip coefficient by as little.
 */
export function globalNorm(grads: Iterable<tf.Tensor>): number {
  let sum = 0;
  for (const g of grads) {
    const a = buf(g); // read before any allocation (a wasm heap view)
    for (let i = 0; i < a.length; i++) sum += a[i] * a[i];
  }
  return Math.sqrt(sum);
}

/** torch's clip_grad_norm_ coefficient: min(1, max / (‖g‖ + 1e-6)), or 1 when clipping is off. */
export function clipCoefficient(norm: number, maxNorm: number): number {
  return maxNorm > 0 ? Math.min(1, maxNorm / (norm + 1e-6)) : 1;
}

/** Buffers this module made for a variable (tfjs dataIds are objects). */
const owned = new WeakSet<object>();

/**
 * Whether a parameter's buffer may be rewritten under the same tensor: on the cpu backend (no
 * kernel keeps anything of its inputs), and on wasm with the native kernels, which take every
 * float32 matrix product (backend.ts, patchWasmMatMul). tfjs-wasm's own BatchMatMul (XNNPACK)
 * packs a constant operand once and caches the packed copy by tensor until that tensor is
 * disposed: written in place, a weight would keep multiplying with its old values (the parity
 * test with LDLENS_NATIVE=0 fails so). There each update writes into a new buffer instead.
 */
export function buffersReusable(): boolean {
  return !backendOps().wasmHeap || nativeKernels() !== null;
}

/**
 * The parameter's float32 buffer, to be written in place. Rewriting is safe only in a buffer that
 * the variable alone holds: the backend's reference count is 1 (no reshape, clone or saved tensor
 * shares it: the tape's Identity shares buffers, ops/*), and it is one this module allocated (on
 * the cpu backend tf.tensor(array) keeps the caller's array, e.g. a checkpoint's or initWeights'
 * weights, as the tensor's buffer). Otherwise, or when `reuse` is false, the variable first gets
 * a copy of its own (one allocation; with `reuse`, from then on the same buffer every step, until
 * something else shares it again). On wasm the view is valid until the next allocation.
 */
export function ownBuffer(p: tf.Variable, reuse: boolean): Float32Array {
  if (!reuse || !owned.has(p.dataId) || tf.backend().refCount(p.dataId) !== 1) {
    const copy = empty(p.shape);
    buf(copy).set(buf(p)); // both views taken after the allocation
    p.assign(copy);
    copy.dispose();
    owned.add(p.dataId);
  }
  return buf(p);
}

export interface StepConstants {
  b1: number;
  b2: number;
  eps: number;
  /** 1 − β1^t and √(1 − β2^t), the bias corrections at step t. */
  bc1: number;
  bc2Sqrt: number;
}

/**
 * One update of `w` from gradient `g` scaled by `coef` (the clip coefficient), as the previous
 * path computed it, term for term: a clipped gradient is g·coef in float32 (what tf.mul gave),
 * then torch.optim.AdamW's decoupled decay and bias-corrected step in float64, stored as float32.
 * `m` and `v` are null for an SGD group (w ← w·decay − lr·g).
 */
export function updateInPlace(w: Float32Array, g: Float32Array, coef: number, m: Float32Array | null, v: Float32Array | null, lr: number, weightDecay: number, k: StepConstants): void {
  const decay = 1 - lr * weightDecay;
  const c = Math.fround(coef);
  const clip = coef !== 1;
  if (!m || !v) {
    for (let i = 0; i < w.length; i++) w[i] = w[i] * decay - lr * (clip ? Math.fround(g[i] * c) : g[i]);
    return;
  }
  const { b1, b2, eps, bc2Sqrt } = k;
  const stepSize = lr / k.bc1;
  for (let i = 0; i < w.length; i++) {
    const gi = clip ? Math.fround(g[i] * c) : g[i];
    const mi = (m[i] = b1 * m[i] + (1 - b1) * gi);
    const vi = (v[i] = b2 * v[i] + (1 - b2) * gi * gi);
    w[i] = w[i] * decay - (stepSize * mi) / (Math.sqrt(vi) / bc2Sqrt + eps);
  }
}
