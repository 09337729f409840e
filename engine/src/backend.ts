// Compute backend selection: `auto` tries the native TensorFlow bindings on a GPU, then WebGPU
// (Dawn's Node binding, on Vulkan/Metal/D3D12), then native TensorFlow on the CPU, then
// wasm (SIMD, with the matmul fix below), then tfjs's pure-JS cpu backend, and says why each
// one that was skipped did not run.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-cpu';
import { BackendWasm, setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import threadedFactory from '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js';
// @ts-expect-error: a CommonJS module without types; it exports the pthread worker's source text
import { wasmWorkerContents } from '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { nativeInfo, nativeKernels } from './ops/native';
import type { BackendAttempt, BackendChoice, BackendName } from '@common/protocol';

export { tf };

// Production mode: no debug checks, and no "install tfjs-node" banner on stdout/stderr.
tf.env().set('PROD', true);

const ORDER: BackendName[] = ['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu'];

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

/** Threads for the wasm backend's XNNPACK pool: LDLENS_THREADS, else half the cores (at most 4). */
export function wasmThreadCount(): number {
  const env = Number(process.env.LDLENS_THREADS);
  if (Number.isInteger(env) && env >= 1) return Math.min(env, 8);
  // Half the cores, at most 4: on 2 cores the pool helps little (+10-15% for small when the machine
  // is otherwise idle) and costs much when other processes compete for the cores (its threads
  // spin-wait), as VS Code and its language servers do.
  return Math.max(1, Math.min(4, Math.floor((os.availableParallelism?.() ?? os.cpus().length) / 2)));
}

/** The wasm module the backend runs on: threaded (SharedArrayBuffer heap) or not, and its threads. */
export const wasmInfo = { threads: 1, threaded: false };

type NodeWorker = { ref(): void; unref(): void; terminate(): unknown };
type EmscriptenModule = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type BackendFactory = () => tf.KernelBackend | Promise<tf.KernelBackend>;
const WASM_PRIORITY = 2; // tfjs-backend-wasm's own

/**
 * Replaces tfjs's wasm backend factory with one that starts the threaded-SIMD build, so that
 * XNNPACK (matmuls, and the element-wise ops it implements) runs on `threads` threads. tfjs turns
 * threads off under Node because its pthread workers load from blob: URLs, which Node's Worker
 * refuses; here the worker script and the module script are written to files once (in the OS temp
 * folder, named by their content hash). The wasm module sizes its pool from the number of logical
 * cores / 2 (it assumes hyper-threading), so `os.cpus` reports 2 × threads while it starts.
 * Returns the stock factory, to fall back to.
 */
function installThreadedWasm(threads: number, wasmDir: string | null): BackendFactory | undefined {
  const stock = tf.findBackendFactory('wasm');
  const factory = threadedFactory as unknown as (cfg: Record<string, unknown>) => Promise<EmscriptenModule>;
  const files = {
    'worker.js': (wasmWorkerContents as string).replace(/\n/g, '\\n'), // as tfjs does for its blob
    'main.js': 'var WasmBackendModuleThreadedSimd = ' + factory.toString(),
  };
  const hash = createHash('sha256').update(files['worker.js']).update(files['main.js']).digest('hex').slice(0, 16);
  const dir = join(os.tmpdir(), `ldlens-wasm-threads-${hash}`);
  tf.removeBackend('wasm');
  tf.registerBackend(
    'wasm',
    async () => {
      mkdirSync(dir, { recursive: true });
      for (const [name, text] of Object.entries(files)) {
        const path = join(dir, name);
        if (existsSync(path)) continue;
        const tmp = `${path}.${process.pid}.tmp`;
        writeFileSync(tmp, text);
        renameSync(tmp, path);
      }
      const cpus = os.cpus;
      os.cpus = () => Array.from({ length: 2 * threads }, () => cpus()[0]);
      let mod: EmscriptenModule;
      try {
        mod = await factory({
          locateFile: (path: string, prefix: string) =>
            path.endsWith('.worker.js') ? join(dir, 'worker.js') : path.endsWith('.wasm') && wasmDir ? join(wasmDir, path) : prefix + path,
          mainScriptUrlOrBlob: join(dir, 'main.js'),
        });
      } finally {
        os.cpus = cpus;
      }
      const w = (name: string, ret: string | null, args: string[]) => mod.cwrap(name, ret, args);
      mod.tfjs = {
        init: w('init', null, []),
        initWithThreadsCount: w('init_with_threads_count', null, ['number']),
        getThreadsCount: w('get_threads_count', 'number', []),
        registerTensor: w('register_tensor', null, ['number', 'number', 'number']),
        disposeData: w('dispose_data', null, ['number']),
        dispose: w('dispose', null, []),
      };
      setThreadsCount(threads);
      const backend = new BackendWasm(mod as unknown as ConstructorParameters<typeof BackendWasm>[0]);
      wasmInfo.threads = mod.tfjs.getThreadsCount();
      wasmInfo.threaded = true;
      // The pool's threads must not keep the process alive (emscripten refs a worker while its
      // thread runs, and XNNPACK's threads run until exit); the spare pre-started workers go.
      const pt = mod.PThread as { runningWorkers: NodeWorker[]; unusedWorkers: NodeWorker[] };
      for (const wk of pt.runningWorkers) {
        wk.ref = () => {};
        wk.unref();
      }
      for (const wk of pt.unusedWorkers.splice(0)) void wk.terminate();
      followHeapGrowth(backend, mod);
      return backend;
    },
    WASM_PRIORITY,
  );
  return stock;
}

/**
 * With a shared (threaded) heap, Module.HEAPU8 is refreshed after growth only on the thread that
 * grew it; make the backend's heap view follow the memory before each access.
 */
function followHeapGrowth(backend: BackendWasm, mod: EmscriptenModule): void {
  const refresh = () => {
    if (mod.HEAPU8.buffer !== mod.wasmMemory.buffer) mod.HEAPU8 = new Uint8Array(mod.wasmMemory.buffer);
  };
  const b = backend as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const m of ['move', 'readSync', 'typedArrayFromHeap']) {
    const orig = b[m].bind(backend);
    b[m] = (...args: unknown[]) => {
      refresh();
      return orig(...args);
    };
  }
}

/** The GPU the webgpu backend runs on, for the report ("NVIDIA H200 (vulkan)"). */
export const webgpuInfo = { adapter: '' };

function resolveOptional(pkg: string): string | null {
  for (const req of nativeRequire()) {
    try {
      return req.resolve(pkg);
    } catch {
      /* not here */
    }
  }
  return null;
}

/**
 * WebGPU in Node: the `webgpu` package (Dawn's Node binding, prebuilt) gives `navigator.gpu`, and
 * `@tensorflow/tfjs-backend-webgpu` runs tfjs on it. Both are optional, installed like tfjs-node
 * (LDLENS_NATIVE_MODULES, or next to the engine). Software adapters (SwiftShader, llvmpipe) are
 * refused: slower than wasm.
 */
async function loadWebGpu(): Promise<string | null> {
  const dawnPkg = resolveOptional('webgpu/package.json');
  if (!dawnPkg) return 'the webgpu package (Dawn for Node) is not installed';
  const tfwgpu = resolveOptional('@tensorflow/tfjs-backend-webgpu');
  if (!tfwgpu) return '@tensorflow/tfjs-backend-webgpu is not installed';
  if (!(globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu) {
    // The package's entry is an ES module; its binding is a plain .node file beside it.
    const arch = process.platform === 'darwin' ? 'universal' : process.arch;
    const binding = join(dirname(dawnPkg), 'dist', `${process.platform}-${arch}`, 'dawn.node');
    if (!existsSync(binding)) return `the webgpu package has no binding for ${process.platform}-${arch}`;
    const { create, globals } = createRequire(dawnPkg)(binding) as { create(flags: string[]): unknown; globals: Record<string, unknown> };
    Object.assign(globalThis, globals);
    const g = globalThis as { navigator?: object };
    if (!g.navigator) g.navigator = {};
    Object.defineProperty(g.navigator, 'gpu', { value: create((process.env.LDLENS_DAWN_FLAGS ?? '').split(/\s+/).filter(Boolean)), configurable: true });
  }
  type Adapter = { info?: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean } } | null;
  const gpu = (globalThis as unknown as { navigator: { gpu: { requestAdapter(o?: object): Promise<Adapter> } } }).navigator.gpu;
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) return 'WebGPU found no GPU adapter (no Vulkan/Metal/D3D12 driver?)';
  const info = adapter.info ?? {};
  const name = [info.description || info.device, info.vendor, info.architecture].filter(Boolean).join(' / ');
  const software = info.isFallbackAdapter || /swiftshader|llvmpipe|lavapipe|software/i.test(name);
  // LDLENS_WEBGPU_SOFTWARE=1 takes a software adapter anyway (to test the webgpu path without a GPU).
  if (software && process.env.LDLENS_WEBGPU_SOFTWARE !== '1') return `WebGPU offers only a software adapter (${name})`;
  webgpuInfo.adapter = name;
  createRequire(tfwgpu)(tfwgpu); // registers the 'webgpu' backend in tfjs's global engine
  return null;
}

/** LDLENS_TFJS_FLAGS='{"WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE":64}': tfjs flags, for measurements. */
function setTfjsFlags(): void {
  const json = process.env.LDLENS_TFJS_FLAGS;
  if (!json) return;
  for (const [k, v] of Object.entries(JSON.parse(json) as Record<string, number | boolean>)) tf.env().set(k, v);
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
    case 'webgpu': {
      const err = await loadWebGpu();
      if (err) return err;
      setTfjsFlags();
      if (!(await tf.setBackend('webgpu'))) return 'the webgpu backend failed to initialize';
      return null;
    }
    case 'wasm': {
      let stock: BackendFactory | undefined;
      if (!wasmReady) {
        // When bundled, the .wasm binaries sit next to the bundle (copied by scripts/build.mjs).
        const bundled = typeof __dirname === 'string' && existsSync(join(__dirname, 'tfjs-backend-wasm-simd.wasm')) ? __dirname : null;
        if (bundled) setWasmPaths(bundled + '/');
        const threads = wasmThreadCount();
        if (threads > 1) stock = installThreadedWasm(threads, bundled);
        wasmReady = true;
      }
      // Emscripten's module adds process handlers that rethrow every uncaught error with its whole
      // minified source as context; the engine handles its own errors, so take them back out.
      const before = { ue: process.listeners('uncaughtException'), ur: process.listeners('unhandledRejection') };
      let ok = await tf.setBackend('wasm');
      if (!ok && stock) {
        // The threaded build did not start: the stock single-threaded SIMD build instead.
        tf.removeBackend('wasm');
        tf.registerBackend('wasm', stock, WASM_PRIORITY);
        wasmInfo.threaded = false;
        wasmInfo.threads = 1;
        ok = await tf.setBackend('wasm');
      }
      for (const l of process.listeners('uncaughtException')) if (!before.ue.includes(l)) process.removeListener('uncaughtException', l);
      for (const l of process.listeners('unhandledRejection')) if (!before.ur.includes(l)) process.removeListener('unhandledRejection', l);
      if (!ok) return 'the wasm backend failed to initialize';
      patchWasmMatMul();
      patchWasmIdentity();
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
    let reason = err ?? (choice === 'auto' ? 'first backend in the auto order that works' : 'requested');
    if (err === null && name === 'wasm') {
      reason += wasmInfo.threaded ? `; ${wasmInfo.threads} threads` : '; 1 thread';
      reason += nativeInfo.available ? `; native kernels: ${nativeInfo.blas.split(' ').slice(0, 2).join(' ')}, ${nativeInfo.threads} threads` : `; ${nativeInfo.reason}`;
    }
    if (err === null && name === 'webgpu') reason += `; ${webgpuInfo.adapter}`;
    attempts.push({ name, ok: err === null, reason });
    if (err === null) return { backend: name, attempts };
  }
  throw new Error(`no compute backend could start: ${attempts.map((a) => `${a.name}: ${a.reason}`).join('; ')}`);
}

type KernelArgs = { inputs: Record<string, tf.TensorInfo>; backend: WasmBackendLike; attrs: Record<string, unknown> };
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: string): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
  disposeData(id: object): void;
  incRef(id: object): void;
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
  const native = nativeKernels();
  const patched = (args: KernelArgs): tf.TensorInfo => {
    const { inputs, backend, attrs } = args;
    let a = inputs.a, b = inputs.b;
    if (native && a.dtype === 'float32' && b.dtype === 'float32') {
      const ra = a.shape.length, rb = b.shape.length;
      const ta = attrs.transposeA === true, tb = attrs.transposeB === true;
      const M = a.shape[ra - (ta ? 1 : 2)], K = a.shape[ra - (ta ? 2 : 1)], N = b.shape[rb - (tb ? 2 : 1)];
      const batchA = prod(a.shape.slice(0, -2)), batchB = prod(b.shape.slice(0, -2)), nb = Math.max(batchA, batchB);
      if ((batchA === 1 || batchA === nb) && (batchB === 1 || batchB === nb)) {
        const outer = ra >= rb ? a.shape.slice(0, -2) : b.shape.slice(0, -2);
        const out = backend.makeOutput([...outer, M, N], 'float32');
        // views after the allocation: it may have grown (moved) the heap
        native.gemm(backend.typedArrayFromHeap(a), backend.typedArrayFromHeap(b), backend.typedArrayFromHeap(out), M, N, K, ta, tb,
          Math.max(1, ta ? M : K), Math.max(1, tb ? K : N), Math.max(1, N), nb, 1, batchA === 1 ? 0 : M * K, 0, batchB === 1 ? 0 : K * N, 0, M * N, 0);
        return out;
      }
    }
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

/**
 * tfjs's engine clones every tensor it saves for the backward pass (an Identity kernel per saved
 * input or output: ~340 per `small` step). The cpu backend's Identity shares the buffer (tensors
 * are immutable); wasm's copies it. Share it here too.
 */
export function patchWasmIdentity(): void {
  const k = tf.getKernel('Identity', 'wasm') as (tf.KernelConfig & { __patched?: boolean }) | undefined;
  if (!k || k.__patched) return;
  const orig = k.kernelFunc as unknown as (a: KernelArgs) => tf.TensorInfo;
  (k as { kernelFunc: unknown }).kernelFunc = (args: KernelArgs): tf.TensorInfo => {
    const x = args.inputs.x;
    if (x.dtype === 'string') return orig(args);
    args.backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
  k.__patched = true;
}
