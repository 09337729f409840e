// The LearnedDropout GPT: nanoGPT's decoder with every dropout replaced by a learned,
// input-dependent mask. Numerical spec: shared/reference/ld_gpt.py (names, torch layouts, mask,
// penalties, loss). Parameters use the reference's names and layouts (Linear weight = [out, in]).
// The compute goes through ModelOps (ops/ops.ts): plain tfjs ops or fused kernels, as the backend's.
import { tf } from './backend';
import type { DropoutConfig, ModelShape } from './config';
import { backendOps } from './ops/backendOps';
import { crossEntropyInPlace } from './ops/crossEntropy';
import type { FusedSiteResult, SiteOptions } from './ops/learnedDropout';
import { roundMask } from './ops/maskRounding';
import type { DropSite, ModelOps } from './ops/ops';
import { referenceOps } from './ops/reference';
import type { MaskSite } from '@common/protocol';
import type { Rng } from './rng';

const LN2 = Math.log(2);

/** The LearnedDropout (or baseline dropout) sites in forward order, with their nanoGPT names. */
export function maskSites(s: ModelShape): MaskSite[] {
  const out: MaskSite[] = [{ name: 'transformer.drop', layer: -1, kind: 'embedding', units: s.nEmbd }];
  for (let i = 0; i < s.nLayer; i++) {
    const p = `transformer.h.${i}.`;
    out.push(
      { name: p + 'attn.attn_dropout', layer: i, kind: 'attention', units: s.nHead * s.blockSize, heads: s.nHead },
      { name: p + 'attn.resid_dropout', layer: i, kind: 'attentionOutput', units: s.nEmbd },
      { name: p + 'mlp.dropout', layer: i, kind: 'mlp', units: s.nEmbd },
    );
  }
  return out;
}

/** Parameter names and torch shapes, in the reference's `named_parameters()` order. */
export function parameterShapes(s: ModelShape, learned: boolean): [string, number[]][] {
  const C = s.nEmbd;
  const ld = (name: string, n: number): [string, number[]][] => (learned ? [[name + '.A', [n]], [name + '.B', [n]]] : []);
  const out: [string, number[]][] = [
    ['transformer.wte.weight', [s.vocabSize, C]],
    ['transformer.wpe.weight', [s.blockSize, C]],
    ...ld('transformer.drop', C),
  ];
  for (let i = 0; i < s.nLayer; i++) {
    const p = `transformer.h.${i}.`;
    out.push(
      [p + 'ln_1.weight', [C]],
      [p + 'attn.c_attn.weight', [3 * C, C]],
      [p + 'attn.c_proj.weight', [C, C]],
      ...ld(p + 'attn.attn_dropout', s.blockSize),
      ...ld(p + 'attn.resid_dropout', C),
      [p + 'ln_2.weight', [C]],
      [p + 'mlp.c_fc.weight', [4 * C, C]],
      [p + 'mlp.c_proj.weight', [C, 4 * C]],
      ...ld(p + 'mlp.dropout', C),
    );
  }
  out.push(['transformer.ln_f.weight', [C]]);
  return out;
}

/** nanoGPT's init: N(0, 0.02) weights, residual projections scaled by 1/√(2·nLayer), LN = 1. */
export function initWeights(s: ModelShape, d: DropoutConfig, rng: Rng): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [name, shape] of parameterShapes(s, d.kind === 'learned')) {
    const a = new Float32Array(shape.reduce((p, q) => p * q, 1));
    if (name.endsWith('.A')) rng.fillNormal(a, d.aInit.mean, d.aInit.std);
    else if (name.endsWith('.B')) rng.fillNormal(a, d.bInit.mean, d.bInit.std);
    else if (name.includes('ln_')) a.fill(1);
    else if (name.endsWith('c_proj.weight')) rng.fillNormal(a, 0, 0.02 / Math.sqrt(2 * s.nLayer));
    else rng.fillNormal(a, 0, 0.02);
    out.set(name, a);
  }
  return out;
}

/** Identity forward, zero gradient: tfjs has no stop_gradient. */
const stopGradient = tf.customGrad(((x: tf.Tensor) => ({
  value: x.clone(),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as unknown as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor) => tf.Tensor;

export interface ForwardOptions {
  /** Baseline (`standard`) dropout is on in training only; LearnedDropout is always on. */
  training: boolean;
  /** Seed for the baseline dropout's random mask. */
  seed?: number;
  /** Return the masks as tensors (the fused kernels only make them when asked). Default true. */
  wantMasks?: boolean;
  /** Penalty weights, for the fused path, which folds the penalties' gradient into its own. */
  lambdaEntropy?: number;
  lambdaL1?: number;
  /** Fused path: compute each site's H_k and L1_k (the loss does; plain inference need not). */
  penalties?: boolean;
  /**
   * Also return each site's mask input x (attention: the softmaxed probabilities), for masks
   * from other A and B on the same hidden states (the chance baseline). Runs the op-by-op path.
   */
  wantInputs?: boolean;
}

export interface ForwardResult {
  logits: tf.Tensor3D; // (B, T, V)
  /** One mask per site, forward order: (B, T, C), attention (B, nh, T, T). Empty unless learned (or not wanted). */
  masks: tf.Tensor[];
  /** Fused path: each site's H_k and L1_k, computed in the same pass (NaN unless `penalties`). */
  siteEntropy?: number[];
  siteL1?: number[];
  /** With `wantInputs`: each site's mask input, forward order, the masks' shapes. */
  inputs?: tf.Tensor[];
}

export interface LossResult extends ForwardResult {
  loss: tf.Scalar;
  crossEntropy: tf.Scalar;
  entropy: tf.Scalar;
  l1: tf.Scalar;
}

/** A forward pass's dropout site by name and salt (the baseline's random seed per site). */
type SiteMaker = (name: string, salt: number) => DropSite;

export class GPT {
  readonly sites: MaskSite[];
  /**
   * The compute: the backend's ops (ops/backendOps.ts), fused kernels on wasm and cpu, plain tfjs
   * ops elsewhere. The fused kernels take LearnedDropout only in its default form (DropSite).
   */
  readonly ops: ModelOps;
  /** Causal mask as an additive bias: 0 where j ≤ i, −∞ above the diagonal. (T, T) */
  private readonly causal: tf.Tensor2D;

  constructor(
    readonly shape: ModelShape,
    readonly dropout: DropoutConfig,
    readonly params: Map<string, tf.Variable>,
    ops?: ModelOps,
  ) {
    this.sites = dropout.kind === 'learned' ? maskSites(shape) : [];
    this.ops = ops ?? backendOps().model;
    const T = shape.blockSize;
    const bias = new Float32Array(T * T);
    for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) bias[i * T + j] = -Infinity;
    this.causal = tf.tensor2d(bias, [T, T]);
  }

  private static instances = 0;

  /** `ops`: other ops than the backend's (the parity test runs the reference ops on wasm and cpu). */
  static fromWeights(shape: ModelShape, dropout: DropoutConfig, weights: Map<string, Float32Array>, ops?: ModelOps): GPT {
    const params = new Map<string, tf.Variable>();
    // tfjs variable names are global to the process: prefix them per model instance.
    const prefix = `gpt${GPT.instances++}/`;
    for (const [name, s] of parameterShapes(shape, dropout.kind === 'learned')) {
      const w = weights.get(name);
      if (!w) throw new Error(`missing weight ${name}`);
      // the variable shares the tensor's buffer; the tensor itself is let go (else it held the
      // buffer after the model's dispose: a loaded model's weights leaked on the wasm heap)
      const initial = tf.tensor(w, s);
      params.set(name, tf.variable(initial, true, prefix + name));
      initial.dispose();
    }
    return new GPT(shape, dropout, params, ops);
  }

  /**
   * Weights as flat float32 arrays in torch layouts (what checkpoints store): copies, which later
   * steps leave as they are (the cpu backend's data() is the tensor's own array, which the
   * optimizer writes in place; wasm's is a copy already).
   */
  async weights(): Promise<Map<string, Float32Array>> {
    const ops = backendOps(), copy = ops.inPlace && !ops.wasmHeap; // the cpu backend
    const out = new Map<string, Float32Array>();
    for (const [n, v] of this.params) {
      const a = (await v.data()) as Float32Array;
      out.set(n, copy ? a.slice() : a);
    }
    return out;
  }

  /** The value of f and its gradient for every parameter, keyed by parameter name. */
  gradients(f: () => tf.Scalar): { value: tf.Scalar; grads: Map<string, tf.Tensor> } {
    const vars = [...this.params.values()];
    const { value, grads } = tf.variableGrads(f, vars);
    const out = new Map<string, tf.Tensor>();
    for (const [name, v] of this.params) if (grads[v.name]) out.set(name, grads[v.name]);
    return { value, grads: out };
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    this.causal.dispose();
  }

  forward(idx: tf.Tensor2D, opts: ForwardOptions): ForwardResult {
    const [B, T] = idx.shape;
    const { vocabSize: V, nEmbd: C } = this.shape;
    if (T > this.shape.blockSize) throw new Error(`sequence of ${T} tokens exceeds blockSize ${this.shape.blockSize}`);
    const out: ForwardResult = { logits: undefined as unknown as tf.Tensor3D, masks: [], ...(opts.wantInputs ? { inputs: [] } : {}) };
    const site = this.siteMaker(opts, out);
    // token and position embeddings. One-hot @ wte instead of gather: same values, and its gradient
    // is a matmul (wasm has no UnsortedSegmentSum, gather's gradient).
    const wte = this.p('transformer.wte.weight');
    const tok = tf.reshape(tf.matMul(tf.oneHot(tf.reshape(idx, [-1]), V), wte), [B, T, C]); // (B, T, C)
    const pos = tf.slice(this.p('transformer.wpe.weight'), [0, 0], [T, C]); // (T, C)
    let x = this.ops.dropout(tf.add(tok, pos), site('transformer.drop', 0)); // (B, T, C)
    const causal = T === this.shape.blockSize ? this.causal : tf.slice(this.causal, [0, 0], [T, T]);
    // the blocks: x = x + attn(ln_1(x)), x = x + mlp(ln_2(x))
    for (let i = 0; i < this.shape.nLayer; i++) {
      const p = `transformer.h.${i}.`;
      x = tf.add(x, this.attention(this.layerNorm(x, p + 'ln_1'), i, causal, site)); // (B, T, C)
      x = tf.add(x, this.mlp(this.layerNorm(x, p + 'ln_2'), i, site)); // (B, T, C)
    }
    x = this.layerNorm(x, 'transformer.ln_f');
    out.logits = tf.reshape(tf.matMul(tf.reshape(x, [-1, C]), wte, false, true), [B, T, V]) as tf.Tensor3D; // tied lm_head: (B, T, V)
    return out;
  }

  /** Block i's CausalSelfAttention: (B, T, C) → (B, T, C). */
  private attention(x: tf.Tensor, i: number, causal: tf.Tensor2D, site: SiteMaker): tf.Tensor {
    const p = `transformer.h.${i}.attn.`;
    const qkv = this.linear(x, p + 'c_attn.weight'); // (B, T, 3C)
    // softmax(q·kᵀ/√hs + causal) per head → attn_dropout → ·v, heads concatenated: (B, T, C)
    const y = this.ops.attention(qkv, this.shape.nHead, causal, site(p + 'attn_dropout', 4 * i + 1));
    return this.ops.dropout(this.linear(y, p + 'c_proj.weight'), site(p + 'resid_dropout', 4 * i + 2));
  }

  /** Block i's MLP with exact-erf GELU: (B, T, C) → (B, T, 4C) → (B, T, C). */
  private mlp(x: tf.Tensor, i: number, site: SiteMaker): tf.Tensor {
    const p = `transformer.h.${i}.mlp.`;
    const h = this.ops.gelu(this.linear(x, p + 'c_fc.weight')); // (B, T, 4C)
    return this.ops.dropout(this.linear(h, p + 'c_proj.weight'), site(p + 'dropout', 4 * i + 3)); // (B, T, C)
  }

  private layerNorm(x: tf.Tensor, name: string): tf.Tensor {
    return this.ops.layerNorm(x, this.p(name + '.weight'));
  }

  /** x @ Wᵀ for a torch-layout Linear weight W (out, in); x is (..., in). */
  private linear(x: tf.Tensor, name: string): tf.Tensor {
    const w = this.p(name);
    const lead = x.shape.slice(0, -1);
    const y = tf.matMul(tf.reshape(x, [-1, x.shape[x.rank - 1]]), w, false, true);
    return tf.reshape(y, [...lead, w.shape[0]]);
  }

  private p(name: string): tf.Variable {
    return this.params.get(name)!;
  }

  /**
   * The dropout sites of one forward pass. LearnedDropout in its default form may go to fused kernels, which also give each site's H_k and
   * L1_k (`siteEntropy`, `siteL1`) and, asked, each site's input; every other form is computed op
   * by op (`learnedDropout`).
   */
  private siteMaker(opts: ForwardOptions, out: ForwardResult): SiteMaker {
    const d = this.dropout;
    const fusable = d.kind === 'learned' && d.detachInput && !d.sharpen && (d.rounding ?? 'none') === 'none';
    const n = this.sites.length; // each site carries 1/n of the penalties
    const options: SiteOptions = {
      coef: { entropy: d.entropy.enabled ? (opts.lambdaEntropy ?? 0) / n : 0, l1: d.l1.enabled ? (opts.lambdaL1 ?? 0) / n : 0, form: d.entropy.form },
      wantMask: opts.wantMasks ?? true,
      wantPenalties: opts.penalties ?? false,
      wantInput: opts.wantInputs ?? false,
    };
    const record = (r: FusedSiteResult) => {
      if (r.mask) out.masks.push(r.mask);
      if (r.input) out.inputs!.push(r.input);
      (out.siteEntropy ??= []).push(r.entropy);
      (out.siteL1 ??= []).push(r.l1);
    };
    return (name, salt) => {
      const reference = (x: tf.Tensor): tf.Tensor => {
        if (d.kind === 'none') return x;
        if (d.kind === 'standard') return opts.training && d.rate > 0 ? tf.dropout(x, d.rate, undefined, (opts.seed ?? 0) * 131 + salt) : x;
        return this.learnedDropout(x, name, salt, opts, out);
      };
      return fusable ? { reference, fusable: { A: this.p(name + '.A'), B: this.p(name + '.B'), options, record } } : { reference };
    };
  }

  /** y = x ⊙ m,  m = 0.5·cos(A ⊙ stop_grad(x) + B) + 0.5 over the last dim (A, B sliced to its length). */
  private learnedDropout(x: tf.Tensor, site: string, salt: number, opts: ForwardOptions, out: ForwardResult): tf.Tensor {
    const d = this.dropout;
    const n = x.shape[x.rank - 1];
    let A: tf.Tensor = this.p(site + '.A'), B: tf.Tensor = this.p(site + '.B');
    if (A.shape[0] !== n) {
      A = tf.slice(A, 0, n);
      B = tf.slice(B, 0, n);
    }
    const input = d.detachInput ? stopGradient(x) : x;
    let m = tf.add(tf.mul(tf.cos(tf.add(tf.mul(A, input), B)), 0.5), 0.5);
    if (d.sharpen) m = tf.sigmoid(tf.sub(tf.mul(m, 60), 30));
    out.masks.push(m); // the soft mask: statistics, penalties and analysis read it
    if (opts.wantInputs) out.inputs!.push(x);
    return tf.mul(x, roundMask(m, d.rounding ?? 'none', opts.training, opts.seed ?? 0, salt));
  }

  /** Mean entropy (bits) and mean L1 over the sites: H_k = mean(−m·log2(m + 1e-9)), L1_k = mean(|m|). */
  penalties(masks: tf.Tensor[], form: 'shannon' | 'complement'): { entropy: tf.Scalar; l1: tf.Scalar } {
    if (masks.length === 0) return { entropy: tf.scalar(0), l1: tf.scalar(0) };
    const hs = masks.map((m) => {
      const p = form === 'shannon' ? m : tf.sub(1, m);
      return meanAll(tf.mul(tf.neg(p), tf.log(tf.add(p, 1e-9))));
    });
    // m = 0.5·cos(·) + 0.5 ≥ 0, so |m| = m (and the gradient of |m| at m = 0 is moot).
    const l1s = masks.map((m) => meanAll(m));
    return { entropy: tf.div(tf.mean(tf.stack(hs)), LN2) as tf.Scalar, l1: tf.mean(tf.stack(l1s)) as tf.Scalar };
  }

  /** Cross-entropy + λ_H·H + λ_L1·L1, as the reference's `loss`. */
  loss(idx: tf.Tensor2D, targets: tf.Tensor2D, lambdaEntropy: number, lambdaL1: number, opts: ForwardOptions): LossResult {
    const { logits, masks, siteEntropy, siteL1 } = this.forward(idx, { ...opts, lambdaEntropy, lambdaL1, penalties: true });
    // the same numbers in fewer kernels where JS reads the tensors (ops/crossEntropy.ts)
    const crossEntropy = this.ops !== referenceOps && backendOps().inPlace ? crossEntropyInPlace(logits, targets) : crossEntropyMean(logits, targets);
    if (siteEntropy && siteL1) {
      // Fused: the penalties' values are constants here; their gradient is inside the sites' own.
      const mean = (xs: number[]) => xs.reduce((p, q) => p + q, 0) / xs.length;
      const entropy = tf.scalar(mean(siteEntropy)), l1 = tf.scalar(mean(siteL1));
      const loss = tf.add(crossEntropy, lambdaEntropy * mean(siteEntropy) + lambdaL1 * mean(siteL1)) as tf.Scalar;
      return { logits, masks, loss, crossEntropy, entropy, l1 };
    }
    const { entropy, l1 } = this.penalties(masks, this.dropout.entropy.form);
    const loss = tf.add(crossEntropy, tf.add(tf.mul(entropy, lambdaEntropy), tf.mul(l1, lambdaL1))) as tf.Scalar;
    return { logits, masks, loss, crossEntropy, entropy, l1 };
  }
}

/**
 * Mean of every element, as a mean of row means: tfjs's webgpu backend reduces to one value in a
 * single workgroup (358 ms a step for the attention masks of `medium` on an H200); rows of equal
 * length give the same mean, and each row reduces in parallel.
 */
function meanAll(x: tf.Tensor): tf.Scalar {
  return (x.rank < 2 ? tf.mean(x) : tf.mean(tf.mean(x, -1))) as tf.Scalar;
}

/** Mean next-token cross-entropy (nats); one-hot · log-softmax, so its gradient needs no gather. */
export function crossEntropyMean(logits: tf.Tensor3D, targets: tf.Tensor2D): tf.Scalar {
  const V = logits.shape[2];
  const logp = tf.logSoftmax(tf.reshape(logits, [-1, V])); // (B·T, V)
  return tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(tf.reshape(targets, [-1]), V), logp), -1))) as tf.Scalar;
}
