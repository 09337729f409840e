// The model's ops on kernels that work in place on the tensors' memory (wasm heap, cpu arrays):
// LearnedDropout in one pass each way through a kernel table (ldKernels.ts), the attention site
// fused with its scale, causal mask and softmax, and with the native kernels (wasm backend)
// attention's products read straight from qkv, GELU and LayerNorm in one pass. Sites the kernels
// cannot take (DropSite without `fusable`) run the reference's ops.
import { tf } from '../backend';
import { attentionProbs, fusedLearnedDropout } from './learnedDropout';
import type { LdKernels } from './ldKernels';
import type { NativeKernels } from './native';
import { attentionMix, attentionScores, gelu, layerNorm } from './nativeOps';
import type { ModelOps } from './ops';
import { mergeHeads, referenceOps, splitHeads } from './reference';

export function fusedOps(native: NativeKernels | null, ld: LdKernels): ModelOps {
  return {
    name: `fused (LearnedDropout ${ld.name}${native ? ', native attention, GELU, LayerNorm' : ''})`,

    layerNorm: native ? (x, w) => layerNorm(native, x, w) : referenceOps.layerNorm,

    gelu: native ? (u) => gelu(native, u) : referenceOps.gelu,

    attention(qkv, nh, causal, site) {
      const f = site.fusable;
      if (!f) return referenceOps.attention(qkv, nh, causal, site);
      const hs = qkv.shape[2]! / 3 / nh;
      // scale, causal mask, softmax and LearnedDropout in one kernel: (B, nh, T, T) → (B, nh, T, T)
      const probs = (scores: tf.Tensor) => {
        const r = attentionProbs(ld, scores, f.A, f.B, 1 / Math.sqrt(hs), f.options);
        f.record(r);
        return r.y;
      };
      // the same products with the heads read in place from qkv: no split, no transposes
      if (native) return attentionMix(native, probs(attentionScores(native, qkv, nh)), qkv, nh);
      const [q, k, v] = tf.split(qkv, 3, 2).map((t) => splitHeads(t, nh)); // 3 × (B, nh, T, hs)
      return mergeHeads(tf.matMul(probs(tf.matMul(q, k, false, true)), v)); // (B, T, C)
    },

    dropout(x, site) {
      const f = site.fusable;
      if (!f) return site.reference(x);
      const r = fusedLearnedDropout(ld, x, f.A, f.B, f.options);
      f.record(r);
      return r.y;
    },
  };
}
