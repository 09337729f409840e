// The training loss's cross-entropy on the backends whose tensors JS reads in place (wasm, cpu):
// the value and gradient of model.ts's crossEntropyMean, −mean(sum(oneHot(y) ⊙ logSoftmax(z), −1)),
// bit for bit, with 24 fewer tfjs kernels per training step (engine/bench/step-parts.ts: 266 →
// 242): no one-hot, cast, product or row sum forward, one Exp and a JS pass backward. Each row sum of the
// one-hot product is the row's target log-probability (the other terms are zeros), and tfjs's
// gradient chain (neg, mean, sum, mul, logSoftmax's dy − sum(dy)·exp(logp)) reduces per element
// to d = g·[j = y] − g·exp(logp) with g = −dy / N in float32, each step rounded to float32 as
// tfjs rounds it, exp(logp) from the same Exp kernel.
import { tf } from '../backend';
import { buf, empty, op } from './kernels';

/** Mean next-token cross-entropy (nats) of (B, T, V) logits against (B, T) target ids. */
export function crossEntropyInPlace(logits: tf.Tensor3D, targets: tf.Tensor2D): tf.Scalar {
  const V = logits.shape[2], N = logits.size / V;
  const y = targets.dataSync() as Int32Array; // N ids (a copy on wasm)
  for (let i = 0; i < N; i++) if (!(y[i] >= 0 && y[i] < V)) throw new Error(`target id ${y[i]} at ${i} is outside the vocabulary of ${V}`);
  const f = op<[tf.Tensor]>((z, save) => {
    const logp = tf.logSoftmax(tf.reshape(z, [N, V])); // the same kernels as crossEntropyMean
    const picked = empty([N]);
    const lp = buf(logp), pv = buf(picked); // views after the allocation (wasm heap)
    for (let i = 0; i < N; i++) pv[i] = lp[i * V + y[i]];
    save([logp]);
    return {
      value: tf.neg(tf.mean(picked)),
      gradFunc: (dy, [saved]) => {
        const e = tf.exp(saved);
        const dz = empty([N, V]);
        const ev = buf(e), dv = buf(dz), dyv = buf(dy)[0];
        // mean's gradient: (−dy · 1) / N; sum's: that per row; the product's: g at the target, g·0 elsewhere
        const g = Math.fround(Math.fround(-dyv) / N), zero = g * 0;
        for (let i = 0; i < N; i++) {
          const row = i * V, t = row + y[i];
          // logSoftmax's: dy − sum(dy)·exp(logp); the row's sum of dy is g (g plus zeros)
          for (let j = row; j < row + V; j++) dv[j] = Math.fround((j === t ? g : zero) - Math.fround(g * ev[j]));
        }
        e.dispose();
        return [tf.reshape(dz, z.shape)];
      },
    };
  });
  return f(logits) as tf.Scalar;
}
