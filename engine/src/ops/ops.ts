// The model's compute as one interface (ModelOps), with two implementations: reference.ts, plain
// tfjs ops, the readable definition (GPU backends, LDLENS_FUSED=0); and fused.ts, kernels over the
// tensors' own memory (wasm and cpu backends). backendOps.ts picks one per backend. model.ts calls
// only this interface; which sites the fused kernels may take is the model's to say (DropSite).
import type { tf } from '../backend';
import type { FusedSiteResult, SiteOptions } from './learnedDropout';

/** One dropout site of one forward pass, as the ops see it (model.ts makes them). */
export interface DropSite {
  /** The site op by op: y = x ⊙ m (LearnedDropout), the baseline's random dropout, or x. */
  reference(x: tf.Tensor): tf.Tensor;
  /**
   * LearnedDropout in its default form (detached input, no sharpening, no rounding): its
   * parameters for a fused kernel, and where the kernel's result goes (mask, penalties, and the
   * site's input when the pass asks for it). Absent otherwise, and the ops call `reference`.
   */
  fusable?: { A: tf.Tensor; B: tf.Tensor; options: SiteOptions; record(r: FusedSiteResult): void };
}

export interface ModelOps {
  /** Which implementation, and its kernels: 'reference', or e.g. 'fused (LearnedDropout native, native attention, GELU, LayerNorm)'. */
  readonly name: string;
  /** LayerNorm without bias over the last dim: (x − mean)/√(var + 1e-5)·w. */
  layerNorm(x: tf.Tensor, w: tf.Tensor): tf.Tensor;
  /** Exact GELU, x·Φ(x) (the erf form, as nn.GELU()). */
  gelu(u: tf.Tensor): tf.Tensor;
  /**
   * Causal self-attention from the c_attn projection qkv (B, T, 3C) with nh heads: scores
   * q·kᵀ/√hs → softmax over the visible keys (`causal`: (T, T), 0 where j ≤ i, −∞ above) → `site`
   * → mix with v → (B, T, C), heads concatenated.
   */
  attention(qkv: tf.Tensor, nh: number, causal: tf.Tensor2D, site: DropSite): tf.Tensor;
  /** A dropout site on x (…, n). */
  dropout(x: tf.Tensor, site: DropSite): tf.Tensor;
}
