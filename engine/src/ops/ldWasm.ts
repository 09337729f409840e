// LearnedDropout's element loops as a small hand-written WebAssembly SIMD module (engine/wasm/ld.wat,
// assembled into ldWasmBinary.ts) that imports tfjs-wasm's own memory, so that it reads and writes
// the tensors in place on the heap. The same float64 arithmetic and polynomials as the JS loops in
// learnedDropout.ts, two elements per f64x2 step. null when the backend is not wasm, when the module
// cannot be instantiated (no SIMD, no reachable memory), or with LDLENS_LD_WASM=0: the JS loops run.
import { tf } from '../backend';
import { LD_WASM, LD_WASM_SHARED } from './ldWasmBinary';

// The engine's tsconfig has no DOM/WebAssembly typings: just what this file uses.
interface WasmMemory { buffer: ArrayBuffer }
interface WasmGlobal { value: number }
interface WasmApi {
  Memory: new (d: { initial: number }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (m: object, imports: object) => { exports: object };
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface Exports {
  fwd(x: number, a: number, b: number, y: number, m: number, q: number, r: number, N: number, n: number,
      gH: number, gL1: number, complement: number, penalties: number, tab: number): void;
  attnFwd(s: number, a: number, b: number, y: number, m: number, p: number, q: number, r: number, rows: number, T: number,
      scale: number, gH: number, gL1: number, complement: number, penalties: number, tab: number, ex: number, m0: number,
      h0: number, l0: number): void;
  attnBwd(dy: number, p: number, m: number, q: number, r: number, ds: number, dA: number, dB: number, dp: number,
      rows: number, T: number, scale: number): void;
  bwd(dy: number, x: number, m: number, q: number, r: number, dx: number, dA: number, dB: number, N: number, n: number): void;
  hsum: WasmGlobal;
  l1sum: WasmGlobal;
  kmax: WasmGlobal;
}
interface EmModule {
  wasmMemory?: WasmMemory;
  asm?: { memory?: WasmMemory };
  _malloc(n: number): number;
  _free(p: number): void;
  HEAPU8: Uint8Array;
}
export interface LdWasm {
  ex: Exports;
  mod: EmModule;
  mem: WasmMemory;
  /** LOG_C[128] then INV_C[128] (float64) on the heap, for the log's table step. */
  tab: number;
}

let cachedFor: unknown = null;
let cached: LdWasm | null = null;

export function ldWasm(): LdWasm | null {
  if (tf.getBackend() !== 'wasm' || process.env.LDLENS_LD_WASM === '0') return null;
  const backend = tf.backend() as unknown as { wasm: EmModule };
  if (cachedFor === backend) return cached;
  cachedFor = backend;
  cached = null;
  try {
    const mod = backend.wasm;
    const mem = mod.wasmMemory ?? mod.asm?.memory;
    if (!WA || !mem || !(mem instanceof WA.Memory)) return null;
    const shared = typeof SharedArrayBuffer !== 'undefined' && mem.buffer instanceof SharedArrayBuffer;
    const bytes = Buffer.from(shared ? LD_WASM_SHARED : LD_WASM, 'base64');
    const inst = new WA.Instance(new WA.Module(bytes), { env: { mem } });
    const tab = mod._malloc(2048);
    const t = new Float64Array(mem.buffer, tab, 256);
    for (let i = 0; i < 128; i++) {
      t[i] = Math.log(1 + i / 128);
      t[128 + i] = 1 / (1 + i / 128);
    }
    cached = { ex: inst.exports as unknown as Exports, mod, mem, tab };
  } catch {
    cached = null;
  }
  return cached;
}
