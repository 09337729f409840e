// Mask rounding in training (dropout.rounding): a binary forward with the soft mask's gradient
// (straight-through), deterministic or Bernoulli. The noise is a counter-based hash of (seed, site,
// element index), not tfjs's random ops, so the PyTorch parity script (engine/test/reference/)
// draws the very same numbers and every backend agrees.
import { tf } from '../backend';
import type { MaskRounding } from '../config';

/** murmur3's 32-bit finalizer of seed, site salt and index, as a uniform number in [0, 1). */
export function maskNoise(seed: number, salt: number, n: number): Float32Array {
  const out = new Float32Array(n);
  const s = (seed ^ Math.imul(salt + 1, 0x9e3779b9)) >>> 0;
  for (let i = 0; i < n; i++) {
    let z = (s + Math.imul(i, 0x85ebca6b)) >>> 0;
    z ^= z >>> 16;
    z = Math.imul(z, 0x7feb352d);
    z ^= z >>> 15;
    z = Math.imul(z, 0x846ca68b);
    z ^= z >>> 16;
    // 24 bits: exactly representable in float32, so u < m compares the same numbers in both languages
    out[i] = (z >>> 8) / 16777216;
  }
  return out;
}

/** Forward `hard`, backward the gradient straight to `soft` (hard gets none). */
const straightThrough = tf.customGrad(((_soft: tf.Tensor, hard: tf.Tensor) => ({
  value: hard.clone(),
  gradFunc: (dy: tf.Tensor) => [dy, tf.zerosLike(hard)],
})) as unknown as Parameters<typeof tf.customGrad>[0]) as (soft: tf.Tensor, hard: tf.Tensor) => tf.Tensor;

/**
 * The mask that multiplies x: m itself ('none'); [m ≥ 0.5] ('straight-through', always); in
 * training a Bernoulli(m) draw from maskNoise(seed, salt) ('stochastic'; m itself at inference, the
 * draw's expectation). Both binary forms pass m's gradient through unchanged.
 */
export function roundMask(m: tf.Tensor, rounding: MaskRounding, training: boolean, seed: number, salt: number): tf.Tensor {
  if (rounding === 'none' || (rounding === 'stochastic' && !training)) return m;
  const hard =
    rounding === 'straight-through'
      ? tf.cast(tf.greaterEqual(m, 0.5), 'float32')
      : tf.step(tf.sub(m, tf.tensor(maskNoise(seed, salt, m.size), m.shape))); // [u < m]: m − u > 0 exactly when m > u (Less has no gradient in tfjs)
  return straightThrough(m, hard);
}
