// What the engine needs to know of the running tfjs backend, decided once per backend: whether its
// tensors live in memory JS reads and writes in place, whether that memory is the wasm heap, and
// which model ops (ops.ts) run on it. The one place besides backend.ts that names backends.
import { tf } from '../backend';
import { fusedOps } from './fused';
import { ldKernelsForBackend } from './ldKernels';
import { nativeOps } from './nativeOps';
import type { ModelOps } from './ops';
import { referenceOps } from './reference';

export interface BackendOps {
  readonly backend: string;
  /**
   * Tensors in JS-reachable memory (wasm, cpu): the fused kernels can run, micro-batches are sized
   * for the wasm heap (autoMicroBatch), the optimizer keeps its moments in JS arrays.
   */
  readonly inPlace: boolean;
  /** Tensors live on the wasm backend's heap, whose 4 GiB a run must fit (checkMemory's `wasm`). */
  readonly wasmHeap: boolean;
  /**
   * The model's ops: fused on the in-place backends (the native kernels' where they load), unless
   * LDLENS_FUSED=0; the reference tfjs ops elsewhere (the native TensorFlow and WebGPU backends'
   * own element-wise kernels are fast).
   */
  readonly model: ModelOps;
}

let chosen: { for: object; ops: BackendOps } | null = null;

/** The running backend's ops, chosen on the first call after it starts (as tf.getBackend, this starts one if none is). */
export function backendOps(): BackendOps {
  const backend = tf.backend();
  if (chosen?.for !== backend) chosen = { for: backend, ops: choose(tf.getBackend()) };
  return chosen.ops;
}

function choose(name: string): BackendOps {
  const inPlace = name === 'wasm' || name === 'cpu';
  const model = inPlace && process.env.LDLENS_FUSED !== '0' ? fusedOps(nativeOps(), ldKernelsForBackend()) : referenceOps;
  return { backend: name, inPlace, wasmHeap: name === 'wasm', model };
}
