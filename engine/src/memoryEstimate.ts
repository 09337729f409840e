// What a model will need before anything is allocated: a shape the validator accepts may still
// need hundreds of GB (nEmbd 8192 × nLayer 96), and finding out by allocating kills Node with a
// fatal error instead of a message. Estimates are rough (±50%) but err high; the refusal names them.
import { totalmem } from 'node:os';
import { tf } from './backend';
import type { ModelShape } from './config';
import { parameterShapes } from './model';
import { stepBytesPerSequence } from './train/microBatch';

/** The wasm32 heap: every tensor of the wasm backend lives in it. */
export const WASM_HEAP_BYTES = 4 * 1024 ** 3;
/** Share of the machine's memory a model may claim (the OS, the editor and Node need the rest). */
const MACHINE_SHARE = 0.8;
/** Windows the analysis runs through the model at once (inference.ts). */
const ANALYSIS_WINDOWS = 8;

export class MemoryError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = 'MemoryError';
  }
}

export interface MemoryEstimate {
  params: number;
  /** Bytes by what holds them, and their sum. */
  parts: Record<string, number>;
  total: number;
}

export function parameterCount(shape: ModelShape, learned: boolean): number {
  let n = 0;
  for (const [, s] of parameterShapes(shape, learned)) n += s.reduce((a, b) => a * b, 1);
  return n;
}

function estimate(params: number, parts: Record<string, number>): MemoryEstimate {
  return { params, parts, total: Object.values(parts).reduce((a, b) => a + b, 0) };
}

/** A training step: weights, gradients (and their accumulator), AdamW's two moments, one micro-batch's activations. */
export function trainingMemory(shape: ModelShape, learned: boolean, microBatch: number): MemoryEstimate {
  const p = parameterCount(shape, learned);
  return estimate(p, { weights: 4 * p, gradients: 2 * 4 * p, 'optimizer state': 2 * 4 * p, [`activations (micro-batch of ${microBatch})`]: microBatch * stepBytesPerSequence(shape) });
}

/** Analysis or sampling: weights, a batch of full windows forward (no tape: about a third of a step's), and the per-token mask buffers. */
export function inferenceMemory(shape: ModelShape, learned: boolean, tokens = shape.blockSize): MemoryEstimate {
  const p = parameterCount(shape, learned);
  // Per token: one byte per unit of every site (MLP 4C, residual/embedding C, attention nh × T).
  const unitsPerToken = shape.nLayer * (4 * shape.nEmbd + 2 * shape.nEmbd + shape.nHead * shape.blockSize) + shape.nEmbd;
  return estimate(p, { weights: 4 * p, [`activations (${ANALYSIS_WINDOWS} windows)`]: Math.ceil((ANALYSIS_WINDOWS * stepBytesPerSequence(shape)) / 3), 'analysis buffers': tokens * unitsPerToken * 3 });
}

/** Whether the wasm backend is the one running (without making tfjs pick one when none is yet). */
export function onWasm(): boolean {
  // (a plain field: tf.getBackend() and tf.findBackend() would start initializing one)
  return (tf.engine() as unknown as { backendName: string | null }).backendName === 'wasm';
}

export function formatBytes(n: number): string {
  if (n < 1024 ** 2) return `${Math.ceil(n / 1024)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(0)} MB`;
  return `${(n / 1024 ** 3).toFixed(1)} GB`;
}

export function describeEstimate(e: MemoryEstimate): string {
  return `about ${formatBytes(e.total)} (${e.params.toLocaleString('en-US')} parameters; ${Object.entries(e.parts)
    .map(([k, v]) => `${k} ${formatBytes(v)}`)
    .join(', ')})`;
}

/**
 * Throws MemoryError when `e` will not fit: the wasm heap (on the wasm backend) or the machine's
 * memory. `what` starts the message ("training this model", "loading /path").
 */
export function checkMemory(e: MemoryEstimate, what: string, o: { wasm: boolean; machineBytes?: number; hint?: string }): void {
  const machine = (o.machineBytes ?? totalmem()) * MACHINE_SHARE;
  const limits: [number, string][] = [[machine, `${Math.round(MACHINE_SHARE * 100)}% of this machine's ${formatBytes(o.machineBytes ?? totalmem())} of memory`]];
  if (o.wasm) limits.push([WASM_HEAP_BYTES, `the wasm backend's ${formatBytes(WASM_HEAP_BYTES)} heap`]);
  for (const [limit, name] of limits)
    if (e.total > limit) throw new MemoryError(`${what} needs ${describeEstimate(e)}, more than ${name}${o.hint ? '; ' + o.hint : ''}`);
}
