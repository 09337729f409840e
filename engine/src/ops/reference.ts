// The model's ops in plain tfjs ops, one per step as nanoGPT writes them: the readable definition,
// what the GPU backends run, and what the fused kernels (fused.ts) are tested against.
import { tf } from '../backend';
import type { ModelOps } from './ops';

/** (B, T, C) → (B, nh, T, hs) */
export function splitHeads(t: tf.Tensor, nh: number): tf.Tensor {
  const [B, T, C] = t.shape;
  return tf.transpose(tf.reshape(t, [B, T, nh, C / nh]), [0, 2, 1, 3]);
}

/** (B, nh, T, hs) → (B, T, C) */
export function mergeHeads(y: tf.Tensor): tf.Tensor {
  const [B, nh, T, hs] = y.shape;
  return tf.reshape(tf.transpose(y, [0, 2, 1, 3]), [B, T, nh * hs]);
}

export const referenceOps: ModelOps = {
  name: 'reference',

  layerNorm(x, w) {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5))), w);
  },

  gelu: (u) => tf.mul(tf.mul(u, 0.5), tf.add(tf.erf(tf.mul(u, Math.SQRT1_2)), 1)),

  attention(qkv, nh, causal, site) {
    const [q, k, v] = tf.split(qkv, 3, 2).map((t) => splitHeads(t, nh)); // 3 × (B, nh, T, hs)
    let att = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(q.shape[3]!)); // (B, nh, T, T)
    att = tf.softmax(tf.add(att, causal));
    att = site.reference(att);
    return mergeHeads(tf.matMul(att, v)); // (B, nh, T, hs) → (B, T, C)
  },

  dropout: (x, site) => site.reference(x),
};
