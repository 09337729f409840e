// A run's configuration as data (JSON), shared by the engine (which validates and resolves it:
// engine/src/config.ts) and the extension (the preset picker before the engine answers): model
// shape, dropout kind and its penalties, optimizer, schedule and data. Presets are partial
// overrides of DEFAULTS.

export type DropoutKind = 'learned' | 'standard' | 'none';
export type EntropyForm = 'shannon' | 'complement';
export type TokenizerKind = 'char' | 'gpt2';
/**
 * How the mask m enters y = x ⊙ m. 'none': m itself (the reference). 'straight-through': the
 * binary mask [m ≥ 0.5] forward (training and inference), m's gradient backward. 'stochastic':
 * Bernoulli(m) forward in training (seeded), the same straight-through gradient; m itself (the
 * Bernoulli's expectation) at inference. Statistics, penalties and analysis always read the soft m.
 */
export type MaskRounding = 'none' | 'straight-through' | 'stochastic';
/** abLr 'scaled': abLr at the schedule's peak, following it (abLr/lr × lr(step)); 'constant': abLr at every step. */
export type AbLrMode = 'scaled' | 'constant';

export interface ModelShape {
  vocabSize: number;
  blockSize: number;
  nEmbd: number;
  nHead: number;
  nLayer: number;
}

/** λ(step) = min(exp(rate·step) + min − 1, max); rate 0 keeps λ at min. */
export interface LambdaSchedule {
  max: number;
  min: number;
  rate: number;
}

export interface PenaltyConfig {
  enabled: boolean;
  schedule: LambdaSchedule;
}

export interface DropoutConfig {
  kind: DropoutKind;
  /** Drop probability of the `standard` baseline (inverted dropout, training only). */
  rate: number;
  aInit: { mean: number; std: number };
  bInit: { mean: number; std: number };
  /** m depends on stop_grad(x), as in the reference; false lets gradients flow into x. */
  detachInput: boolean;
  entropy: PenaltyConfig & { form: EntropyForm };
  l1: PenaltyConfig;
  /** m ← 1/(1+exp(−(60m−30))): pushes the mask to 0/1 while staying differentiable. */
  sharpen: boolean;
  rounding: MaskRounding;
  /** Learning rate of the A/B group; null: the main schedule's. */
  abLr: number | null;
  abLrMode: AbLrMode;
  /** AdamW (default) or plain SGD for the A/B group. */
  abOptimizer: 'adamw' | 'sgd';
}

export interface TrainConfig {
  steps: number;
  batchSize: number;
  gradAccum: number;
  /**
   * Sequences per forward/backward pass: a batch runs as batchSize / microBatch equal chunks whose
   * gradients are averaged (the same step, less memory). 0: automatic, sized to the wasm heap's
   * 4 GB on the CPU backends, whole batches on GPU backends.
   */
  microBatch: number;
  lr: number;
  minLr: number;
  warmupSteps: number;
  /** End of the cosine decay; null: the run's total steps. */
  decaySteps: number | null;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  gradClip: number;
  evalInterval: number;
  /** Batches of the train split in each evaluation's train-loss estimate (random windows). */
  evalBatches: number;
  /**
   * The validation loss is over the validation split's consecutive blockSize windows, at most this
   * many tokens of it from its start (0: the whole split), not random batches: the same tokens at
   * every evaluation, so "best validation loss" compares like with like.
   */
  evalValTokens: number;
  checkpointInterval: number;
  /** Per-site mask statistics every N steps (they cost a pass over every mask). */
  statsInterval: number;
  valFraction: number;
  seed: number;
  /**
   * The torch backend's arithmetic: fp32 (parity with the TypeScript engine), tf32 (CUDA matmuls
   * in TensorFloat-32) or bf16 (autocast). The TypeScript engine always computes in fp32.
   */
  precision: Precision;
  /** torch.compile the model (torch backend, torch ≥ 2; ignored with a warning elsewhere). */
  compile: boolean;
}

export type Precision = 'fp32' | 'tf32' | 'bf16';

export interface LDConfig {
  model: Omit<ModelShape, 'vocabSize'> & { vocabSize?: number };
  dropout: DropoutConfig;
  train: TrainConfig;
  tokenizer: TokenizerKind;
}

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? (T[K] extends unknown[] ? T[K] : DeepPartial<T[K]>) : T[K] };

export const DEFAULTS: LDConfig = {
  model: { blockSize: 64, nEmbd: 64, nHead: 4, nLayer: 2 },
  dropout: {
    kind: 'learned',
    rate: 0.1,
    // B ~ N(π/2, 0.1) puts every unit where ∂m/∂B = −½·sin(B + A·x) is largest, so the mask can move
    // from step one; B ≈ 0 with a small A is a stationary point where the mask stays at 1 forever.
    aInit: { mean: 0, std: 1 },
    bInit: { mean: Math.PI / 2, std: 0.1 },
    detachInput: true,
    // Penalties ramp in (rate > 0) so that the model first learns something to keep.
    entropy: { enabled: true, form: 'shannon', schedule: { max: 0.05, min: 0, rate: 0.002 } },
    l1: { enabled: true, schedule: { max: 0.05, min: 0, rate: 0.002 } },
    sharpen: false,
    rounding: 'none',
    abLr: null,
    abLrMode: 'scaled',
    abOptimizer: 'adamw',
  },
  train: {
    steps: 500,
    batchSize: 16,
    gradAccum: 1,
    microBatch: 0,
    lr: 3e-3,
    minLr: 3e-4,
    warmupSteps: 20,
    decaySteps: null,
    betas: [0.9, 0.95],
    eps: 1e-8,
    weightDecay: 0.1,
    gradClip: 1.0,
    evalInterval: 50,
    evalBatches: 8,
    evalValTokens: 131_072,
    checkpointInterval: 100,
    statsInterval: 10,
    valFraction: 0.1,
    seed: 1337,
    precision: 'fp32',
    compile: false,
  },
  tokenizer: 'char',
};

export const PRESETS: Record<string, { description: string; config: DeepPartial<LDConfig> }> = {
  tiny: {
    description: 'block 64, 64-wide, 4 heads, 2 layers, batch 16: trains in minutes on a laptop CPU',
    config: {},
  },
  small: {
    description: 'block 128, 128-wide, 4 heads, 4 layers, batch 32 (the benchmark shape)',
    config: { model: { blockSize: 128, nEmbd: 128, nHead: 4, nLayer: 4 }, train: { batchSize: 32, steps: 2000, lr: 1e-3, minLr: 1e-4 } },
  },
  medium: {
    description: 'block 256, 256-wide, 8 heads, 6 layers, batch 32: wants a GPU (~1.5k tokens/s on 2 CPU cores)',
    config: { model: { blockSize: 256, nEmbd: 256, nHead: 8, nLayer: 6 }, train: { batchSize: 32, steps: 5000, lr: 6e-4, minLr: 6e-5, gradAccum: 2 } },
  },
  large: {
    description: 'block 256, 384-wide, 6 heads, 6 layers, batch 64 (nanoGPT shakespeare-char): wants a GPU',
    config: { model: { blockSize: 256, nEmbd: 384, nHead: 6, nLayer: 6 }, train: { batchSize: 64, steps: 5000, lr: 1e-3, minLr: 1e-4 } },
  },
  'seed-author': {
    description: "the LearnedDropout author's original settings: A ~ N(1e5, 10) with its own constant lr 1, B ~ N(0, 0.02), λ = 1 for both penalties",
    config: {
      dropout: {
        aInit: { mean: 1e5, std: 10 },
        bInit: { mean: 0, std: 0.02 },
        // "lr 1" for a parameter group of its own reads as a constant 1 (the main schedule does not
        // rescale another group's lr); dropout.abLrMode 'scaled' gives the 1/lr × schedule reading.
        abLr: 1,
        abLrMode: 'constant',
        entropy: { enabled: true, form: 'shannon', schedule: { max: 1, min: 1, rate: 0 } },
        l1: { enabled: true, schedule: { max: 1, min: 1, rate: 0 } },
      },
    },
  },
  decided: {
    description:
      'the tiny shape with masks that decide: A/B at a constant lr 0.05 and the entropy penalty ramping to λ = 1. In the study its mask values sit at 0 or 1, mostly as always-on and always-off units (a pruning), not per-token experts (README "What the masks learn")',
    config: { dropout: { abLr: 0.05, abLrMode: 'constant', entropy: { schedule: { max: 1, min: 0, rate: 0.01 } } } },
  },
  baseline: {
    description: 'the tiny shape with standard dropout (rate 0.1), for comparison runs',
    config: { dropout: { kind: 'standard', rate: 0.1 } },
  },
  'no-dropout': {
    description: 'the tiny shape without any dropout',
    config: { dropout: { kind: 'none' } },
  },
};
