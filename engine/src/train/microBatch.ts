// Micro-batch sizing: how many sequences one forward/backward pass takes (train.microBatch, or what
// fits the wasm heap), a batch's slices and the gradients summed over them, and the memory check
// that refuses a model too large to train.
import { tf } from '../backend';
import type { LDConfig, ModelShape } from '../config';
import { backendOps } from '../ops/backendOps';
import { checkMemory, trainingMemory } from '../memoryEstimate';

/**
 * Bytes a training step holds per sequence, roughly: the tensors the tape saves and their
 * gradients, where attention's (nh, T, T) arrays dominate. Measured as the wasm heap's growth over
 * one step (engine with native kernels): small 23 MB, medium 183 MB, large 200 MB per sequence;
 * this gives 23, 214 and 207.
 */
export function stepBytesPerSequence(s: ModelShape): number {
  return 4 * (s.nLayer * (12 * s.nHead * s.blockSize ** 2 + 40 * s.blockSize * s.nEmbd) + 4 * s.blockSize * s.vocabSize);
}

/** What a step may hold on the wasm heap (4 GB in all for wasm32; its allocator fragments). */
export const WASM_STEP_BUDGET = 1.5e9;

/** The largest divisor of the batch size B whose chunk of sequences fits `budget` bytes (≥ 1). */
export function autoMicroBatch(B: number, s: ModelShape, budget = WASM_STEP_BUDGET): number {
  const per = stepBytesPerSequence(s);
  for (let m = B; m > 1; m--) if (B % m === 0 && m * per <= budget) return m;
  return 1;
}

/**
 * Sequences per forward/backward pass: train.microBatch, or (0) on the CPU backends the most
 * that fit the wasm heap, on GPU backends the whole batch.
 */
export function microBatchSize(config: LDConfig, shape: ModelShape): number {
  const t = config.train;
  if (t.microBatch > 0) return t.microBatch;
  return backendOps().inPlace ? autoMicroBatch(t.batchSize, shape) : t.batchSize;
}

/** Sequences [c·rows, (c+1)·rows) of a (B, T) batch as a (rows, T) int32 tensor: micro-batch c. */
export function microBatchSlice(a: Int32Array, c: number, rows: number, T: number): tf.Tensor2D {
  return tf.tensor2d(a.subarray(c * rows * T, (c + 1) * rows * T), [rows, T], 'int32');
}

/** Adds `grads` into `acc` (disposing both operands), or starts `acc` with them. */
export function accumulateGrads(acc: Map<string, tf.Tensor> | null, grads: Map<string, tf.Tensor>): Map<string, tf.Tensor> {
  if (!acc) return grads;
  for (const [n, g] of grads) {
    const sum = tf.add(acc.get(n)!, g);
    acc.get(n)!.dispose();
    g.dispose();
    acc.set(n, sum);
  }
  return acc;
}

/** Refuses a model whose training would not fit the wasm heap or the machine (see memoryEstimate.ts). */
export function checkTrainingMemory(config: LDConfig, shape: ModelShape): void {
  checkMemory(trainingMemory(shape, config.dropout.kind === 'learned', microBatchSize(config, shape)), 'training this model', {
    wasm: backendOps().wasmHeap,
    hint: 'make it smaller (model.nEmbd, model.nLayer, model.blockSize) or the micro-batch (train.microBatch)',
  });
}
