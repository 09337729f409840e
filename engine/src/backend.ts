// Compute backend selection: `auto` tries the native TensorFlow bindings (GPU, then CPU), then
// wasm (SIMD, with the matmul fix below), then tfjs's pure-JS cpu backend, and says why each
// one that was skipped did not run.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { BackendAttempt, BackendChoice, BackendName } from './protocol';

export { tf };

// Production mode: no debug checks, and no "install tfjs-node" banner on stdout/stderr.
tf.env().set('PROD', true);

const ORDER: BackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

/** Where the extension installs the optional native packages (`Install GPU Backend`). */
function nativeRequire(): NodeRequire[] {
  const out: NodeRequire[] = [];
  const dir = process.env.LDLENS_NATIVE_MODULES;
  if (dir) out.push(createRequire(join(dir, 'package.json')));
  out.push(createRequire(join(process.cwd(), 'package.json')));
  if (typeof __filename === 'string') out.push(createRequire(__filename));
  return out;
}

function loadNative(pkg: string): string | null {
  let lastError = `${pkg} is not installed`;
  for (const req of nativeRequire()) {
    try {
      req(pkg); // registers the 'tensorflow' backend in the global tfjs engine that every tfjs-core copy shares
      return null;
    } catch (e) {
      const msg = (e as Error).message;
      if (!/Cannot find module/.test(msg)) lastError = `${pkg} failed to load: ${msg.split('\n')[0]}`;
    }
  }
  return lastError;
}

let wasmReady = false;
async function tryBackend(name: BackendName): Promise<string | null> {
  switch (name) {
    case 'tensorflow-gpu':
    case 'tensorflow': {
      const err = loadNative(name === 'tensorflow-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node');
      if (err) return err;
      if (!(await tf.setBackend('tensorflow'))) return 'the tensorflow backend failed to initialize';
      if (name === 'tensorflow-gpu') {
        // tfjs-node-gpu falls back to the CPU silently when CUDA is missing; check it found a GPU.
        const devices = (tf.backend() as unknown as { isUsingGpuDevice?: boolean }).isUsingGpuDevice;
        if (devices === false) return 'tfjs-node-gpu loaded but found no usable CUDA GPU';
      }
      return null;
    }
    case 'wasm': {
      if (!wasmReady) {
        // When bundled, the .wasm binaries sit next to the bundle (copied by scripts/build.mjs).
        if (typeof __dirname === 'string' && existsSync(join(__dirname, 'tfjs-backend-wasm-simd.wasm'))) setWasmPaths(__dirname + '/');
        wasmReady = true;
      }
      // Emscripten's module adds process handlers that rethrow every uncaught error with its whole
      // minified source as context; the engine handles its own errors, so take them back out.
      const before = { ue: process.listeners('uncaughtException'), ur: process.listeners('unhandledRejection') };
      const ok = await tf.setBackend('wasm');
      for (const l of process.listeners('uncaughtException')) if (!before.ue.includes(l)) process.removeListener('uncaughtException', l);
      for (const l of process.listeners('unhandledRejection')) if (!before.ur.includes(l)) process.removeListener('unhandledRejection', l);
      if (!ok) return 'the wasm backend failed to initialize';
      patchWasmMatMul();
      return null;
    }
    case 'cpu':
      return (await tf.setBackend('cpu')) ? null : 'the cpu backend failed to initialize';
  }
}

export interface BackendReport {
  backend: BackendName;
  attempts: BackendAttempt[];
}

export async function initBackend(choice: BackendChoice = 'auto'): Promise<BackendReport> {
  const attempts: BackendAttempt[] = [];
  const candidates = choice === 'auto' ? ORDER : [choice];
  for (const name of candidates) {
    let err: string | null;
    try {
      err = await tryBackend(name);
    } catch (e) {
      err = (e as Error).message;
    }
    attempts.push({ name, ok: err === null, reason: err ?? (choice === 'auto' ? 'first backend in the auto order that works' : 'requested') });
    if (err === null) return { backend: name, attempts };
  }
  throw new Error(`no compute backend could start: ${attempts.map((a) => `${a.name}: ${a.reason}`).join('; ')}`);
}

type KernelArgs = { inputs: Record<string, tf.TensorInfo>; backend: WasmBackendLike; attrs: Record<string, unknown> };
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: string): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
  disposeData(id: object): void;
}

/**
 * tfjs-backend-wasm 4.22 reaches XNNPACK only for 2-D, non-transposed BatchMatMul; transposed
 * operands (every gradient) and batched ones (attention) fall to a naive loop at ~1-2 GFLOP/s.
 * Transpose explicitly and run each batch slice as a 2-D product (measured 10.4 s → 1.4 s of
 * matmul per `small` step). Same numbers: only the loop order changes.
 */
export function patchWasmMatMul(): void {
  const k = tf.getKernel('BatchMatMul', 'wasm') as (tf.KernelConfig & { __patched?: boolean }) | undefined;
  if (!k || k.__patched) return;
  const orig = k.kernelFunc as unknown as (a: KernelArgs) => tf.TensorInfo;
  const transpose = tf.getKernel('Transpose', 'wasm')!.kernelFunc as unknown as (a: KernelArgs) => tf.TensorInfo;
  const prod = (s: number[]) => s.reduce((p, q) => p * q, 1);
  const patched = (args: KernelArgs): tf.TensorInfo => {
    const { inputs, backend, attrs } = args;
    let a = inputs.a, b = inputs.b;
    const tmp: tf.TensorInfo[] = [];
    const swap = (x: tf.TensorInfo) => {
      const r = x.shape.length, perm = [...Array(r).keys()];
      [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
      const y = transpose({ inputs: { x }, backend, attrs: { perm } });
      tmp.push(y);
      return y;
    };
    if (attrs.transposeA) a = swap(a);
    if (attrs.transposeB) b = swap(b);
    const plain = { ...attrs, transposeA: false, transposeB: false };
    const batchA = prod(a.shape.slice(0, -2)), batchB = prod(b.shape.slice(0, -2));
    let out: tf.TensorInfo;
    if (batchA === 1 && batchB === 1) {
      out = orig({ inputs: { a, b }, backend, attrs: plain });
    } else {
      const M = a.shape[a.shape.length - 2], K = a.shape[a.shape.length - 1], N = b.shape[b.shape.length - 1];
      const outer = a.shape.length >= b.shape.length ? a.shape.slice(0, -2) : b.shape.slice(0, -2);
      const nb = Math.max(batchA, batchB);
      if ((batchA !== 1 && batchA !== nb) || (batchB !== 1 && batchB !== nb)) {
        out = orig({ inputs: { a, b }, backend, attrs: plain }); // a broadcast we do not split: the stock kernel
      } else {
        out = backend.makeOutput([...outer, M, N], 'float32');
        for (let i = 0; i < nb; i++) {
          const ai = backend.makeOutput([M, K], 'float32');
          const bi = backend.makeOutput([K, N], 'float32');
          // Heap views are re-fetched after every allocation: the wasm heap may have grown.
          const ao = batchA === 1 ? 0 : i * M * K, bo = batchB === 1 ? 0 : i * K * N;
          backend.typedArrayFromHeap(ai).set(backend.typedArrayFromHeap(a).subarray(ao, ao + M * K));
          backend.typedArrayFromHeap(bi).set(backend.typedArrayFromHeap(b).subarray(bo, bo + K * N));
          const oi = orig({ inputs: { a: ai, b: bi }, backend, attrs: plain });
          backend.typedArrayFromHeap(out).set(backend.typedArrayFromHeap(oi), i * M * N);
          backend.disposeData(ai.dataId);
          backend.disposeData(bi.dataId);
          backend.disposeData(oi.dataId);
        }
      }
    }
    for (const t of tmp) backend.disposeData(t.dataId);
    return out;
  };
  (k as { kernelFunc: unknown }).kernelFunc = patched;
  k.__patched = true;
}
