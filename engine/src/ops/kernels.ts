// What the fused kernels (learnedDropout.ts, nativeOps.ts) are made of on the backends that keep
// tensors in JS-reachable memory (wasm heap, cpu arrays): the tensors' own buffers, read and written
// in place with no copies in or out; tf.customGrad ops whose forward writes its outputs (and what
// its backward needs, when a gradient tape is recording) and whose backward is a second loop; and
// the fast math the JS loops use (and the native and wasm kernels reproduce).
import { tf } from '../backend';

// ----------------------------------------------------------------------------- buffers

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
}
interface CpuBackendLike {
  data: { get(id: object): { values: Float32Array } };
}
interface EngineLike {
  makeTensorFromTensorInfo(t: tf.TensorInfo): tf.Tensor;
  isTapeOn(): boolean;
}
const engine = () => tf.engine() as unknown as EngineLike;

/**
 * How the running backend holds tensors, decided once per backend (as backendOps does): a wasm
 * heap, or the cpu backend's arrays.
 */
type Memory = { wasm: WasmBackendLike; cpu: null } | { wasm: null; cpu: CpuBackendLike };
let memory: { for: object; m: Memory } | null = null;
function memoryOf(): Memory {
  const b = tf.backend();
  if (memory?.for !== b) memory = { for: b, m: tf.getBackend() === 'wasm' ? { wasm: b as unknown as WasmBackendLike, cpu: null } : { wasm: null, cpu: b as unknown as CpuBackendLike } };
  return memory.m;
}

/**
 * A tensor's float32 buffer, in place. On wasm it is a view of the heap, valid until the next
 * allocation (which may grow and move the heap): allocate a kernel's outputs first, then take
 * the buffers.
 */
export function buf(t: tf.TensorInfo): Float32Array {
  const m = memoryOf();
  return m.wasm ? m.wasm.typedArrayFromHeap(t) : m.cpu.data.get(t.dataId).values;
}

/** A new float32 tensor, contents undefined (every kernel writes all of its outputs). */
export function empty(shape: number[]): tf.Tensor {
  const m = memoryOf();
  if (m.wasm) return engine().makeTensorFromTensorInfo(m.wasm.makeOutput(shape, 'float32'));
  return tf.tensor(new Float32Array(shape.reduce((p, q) => p * q, 1)), shape);
}

/** A float32 tensor holding a copy of `a`. */
export function fromArray(a: ArrayLike<number>, shape: number[]): tf.Tensor {
  const t = empty(shape);
  buf(t).set(a);
  return t;
}

/** Whether the op being called now is recorded for a backward pass (call outside the op). */
export function tapeOn(): boolean {
  return engine().isTapeOn();
}

/** tf.customGrad with the types this file uses: inputs, a `save` for tensors the backward reads. */
export type Save = (tensors: tf.Tensor[]) => void;
export function op<I extends tf.Tensor[]>(
  f: (...args: [...I, Save]) => { value: tf.Tensor; gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[] },
): (...inputs: I) => tf.Tensor {
  return tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (...inputs: I) => tf.Tensor;
}

// ----------------------------------------------------------------------------- fast math
// Polynomials instead of Math.exp/log/sin/cos (V8 calls out to fdlibm for those), with just the
// terms float32 needs: exp relative error < 1e-8, log absolute error < 1e-11 on float32 inputs,
// sin/cos absolute error < 3e-8.

const LOG2E = 1.4426950408889634;
const LN2 = 0.6931471805599453;
export const POW2 = new Float64Array(2200).map((_, i) => 2 ** (i - 1100)); // 2^n by table, no bit tricks

/** e^x for x ≤ ~709 (underflows to 0 below −745). */
export function fexp(x: number): number {
  if (x < -745) return 0;
  const t = x * LOG2E;
  const n = Math.floor(t + 0.5);
  const f = (t - n) * LN2; // |f| ≤ ln2/2
  const p = 1 + f * (1 + f * (0.5 + f * (1 / 6 + f * (1 / 24 + f * (1 / 120 + f * (1 / 720 + f * (1 / 5040)))))));
  return p * POW2[n + 1100];
}

const F32 = new Float32Array(1);
const I32 = new Int32Array(F32.buffer);
// ln of 1 + i/128 and its reciprocal, for the top 7 bits of a float32's mantissa
export const LOG_C = new Float64Array(128).map((_, i) => Math.log(1 + i / 128));
export const INV_C = new Float64Array(128).map((_, i) => 1 / (1 + i / 128));
/**
 * ln v for a positive normal float32 v: v = 2^e·c·(1 + t) with c = 1 + i/128 from the mantissa's
 * top bits (tables), 0 ≤ t < 1/128, and ln(1 + t) by its series. No branch, no division.
 */
export function flog(v: number): number {
  F32[0] = v;
  const b = I32[0];
  const i = (b >> 16) & 127;
  const t = (1 + (b & 0x7fffff) * 1.1920928955078125e-7) * INV_C[i] - 1;
  return ((b >> 23) - 127) * LN2 + LOG_C[i] + t * (1 - t * (0.5 - t * (1 / 3 - t * 0.25)));
}

// sin and cos of one argument together: Cody–Waite reduction by π/2 in float64, then polynomials
// on [−π/4, π/4] (Estrin's scheme: shorter dependency chains), and the quadrant applied without a
// branch (it is random from one element to the next). Arguments too large for the two-part
// reduction fall back to Math. Math.floor(x + 0.5) is Math.round, several times faster in V8.
const TWO_OVER_PI = 2 / Math.PI;
const PIO2_HI = 1.5707963267341256; // π/2 split so that k·PIO2_HI is exact for |k| < 2^20
const PIO2_LO = 6.077100506506192e-11;
const Q_SIN = new Float64Array([1, 1, -1, -1]), Q_COS = new Float64Array([1, -1, -1, 1]);
export const sincos = { sin: 0, cos: 0 };
export function sinCos(z: number): void {
  const k = Math.floor(z * TWO_OVER_PI + 0.5);
  if (k > 1e6 || k < -1e6) {
    sincos.sin = Math.sin(z);
    sincos.cos = Math.cos(z);
    return;
  }
  const r = z - k * PIO2_HI - k * PIO2_LO;
  const r2 = r * r, r4 = r2 * r2;
  const sn = r * (1 - r2 / 6 + r4 * (1 / 120 - r2 / 5040 + r4 / 362880));
  const cs = 1 - 0.5 * r2 + r4 * (1 / 24 - r2 / 720 + r4 / 40320);
  const q = k & 3, odd = k & 1; // odd quadrants swap sin and cos
  sincos.sin = Q_SIN[q] * (odd * cs + (1 - odd) * sn);
  sincos.cos = Q_COS[q] * (odd * sn + (1 - odd) * cs);
}
