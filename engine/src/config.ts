// The one validated configuration of a run: model shape, dropout kind and its penalties, optimizer,
// schedule and data. Config is data (JSON); presets are partial overrides of DEFAULTS.

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
  baseline: {
    description: 'the tiny shape with standard dropout (rate 0.1), for comparison runs',
    config: { dropout: { kind: 'standard', rate: 0.1 } },
  },
  'no-dropout': {
    description: 'the tiny shape without any dropout',
    config: { dropout: { kind: 'none' } },
  },
};

/** Bounds of a model's shape: the validator's, and the checkpoint loader's (a file can claim anything). */
export const SHAPE_LIMITS: Record<keyof ModelShape, [number, number]> = {
  blockSize: [2, 4096],
  nEmbd: [1, 8192],
  nHead: [1, 256],
  nLayer: [1, 96],
  vocabSize: [1, 1 << 20],
};

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid config:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Deep merge of plain objects; arrays and scalars replace. Keys are own properties only and are
 * defined, not assigned: `__proto__` from a file stays a key (that validate names) rather than
 * becoming the result's prototype.
 */
export function merge<T>(base: T, over: unknown): T {
  if (!isObject(over)) return base;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    const b = Object.hasOwn(out, k) ? out[k] : undefined;
    Object.defineProperty(out, k, { value: isObject(b) && isObject(v) ? merge(b, v) : v, enumerable: true, writable: true, configurable: true });
  }
  return out as T;
}

/**
 * A saved config (a run's or a checkpoint's config.json) with the keys added since it was written
 * set to their defaults, so that older runs still resume and older checkpoints still load.
 */
export function upgradeConfig(cfg: unknown): unknown {
  if (!isObject(cfg)) return cfg;
  let out = cfg;
  if (isObject(out.train)) {
    const added: Record<string, unknown> = {};
    for (const k of ['microBatch', 'precision', 'compile'] as const) if (!Object.hasOwn(out.train, k)) added[k] = DEFAULTS.train[k];
    if (Object.keys(added).length) out = { ...out, train: { ...out.train, ...added } };
  }
  // keys of issue 13: older runs keep what they did (soft masks, scaled A/B lr); their evaluation
  // moves to the validation split's windows
  if (isObject(out.train) && !Object.hasOwn(out.train, 'evalValTokens')) out = { ...out, train: { ...out.train, evalValTokens: DEFAULTS.train.evalValTokens } };
  if (isObject(out.dropout) && !Object.hasOwn(out.dropout, 'rounding')) out = { ...out, dropout: { ...out.dropout, rounding: 'none' } };
  if (isObject(out.dropout) && !Object.hasOwn(out.dropout, 'abLrMode')) out = { ...out, dropout: { ...out.dropout, abLrMode: 'scaled' } };
  return out;
}

/** Every unknown key, wrong type and out-of-range value, each named by its path. */
export function validate(cfg: unknown): string[] {
  const problems: string[] = [];
  const check = (shape: unknown, value: unknown, path: string) => {
    if (isObject(shape)) {
      if (!isObject(value)) { problems.push(`${path || 'config'}: expected an object`); return; }
      // Own keys only: `k in shape` would take toString, constructor or __proto__ for config keys.
      for (const k of Object.keys(value)) if (!Object.hasOwn(shape, k) && !(path === 'model' && k === 'vocabSize')) problems.push(`${path ? path + '.' : ''}${k}: unknown key`);
      for (const [k, s] of Object.entries(shape)) check(s, Object.hasOwn(value, k) ? value[k] : undefined, path ? `${path}.${k}` : k);
      return;
    }
    if (Array.isArray(shape)) {
      if (!Array.isArray(value) || value.length !== shape.length || value.some((x) => typeof x !== 'number' || !Number.isFinite(x)))
        problems.push(`${path}: expected ${shape.length} numbers`);
      return;
    }
    if (shape === null) {
      if (value !== null && (typeof value !== 'number' || !Number.isFinite(value))) problems.push(`${path}: expected a number or null`);
      return;
    }
    if (typeof shape === 'number' && (typeof value !== 'number' || !Number.isFinite(value))) problems.push(`${path}: expected a finite number, got ${JSON.stringify(value)}`);
    if (typeof shape === 'boolean' && typeof value !== 'boolean') problems.push(`${path}: expected true or false, got ${JSON.stringify(value)}`);
    if (typeof shape === 'string' && typeof value !== 'string') problems.push(`${path}: expected a string, got ${JSON.stringify(value)}`);
  };
  // abLr may be a number or null: validate against null (accepts both).
  const shape = merge(DEFAULTS, { dropout: { abLr: null }, train: { decaySteps: null } });
  check(shape, cfg, '');
  // Unknown keys do not stop the range checks below (every problem is named at once); a wrong
  // type does, since those checks read the values as the types the shape says.
  if (!isObject(cfg) || problems.some((p) => !p.endsWith(': unknown key'))) return problems;

  const c = cfg as unknown as LDConfig;
  const int = (v: number, path: string, min: number, max = Number.MAX_SAFE_INTEGER) => {
    if (!Number.isInteger(v) || v < min || v > max) problems.push(`${path}: expected an integer in [${min}, ${max}], got ${v}`);
  };
  const range = (v: number, path: string, lo: number, hi: number, loOpen = false) => {
    if (v < lo || v > hi || (loOpen && v === lo)) problems.push(`${path}: expected a value in ${loOpen ? '(' : '['}${lo}, ${hi}], got ${v}`);
  };
  for (const [k, [lo, hi]] of Object.entries(SHAPE_LIMITS)) if (k !== 'vocabSize' || c.model.vocabSize !== undefined) int(c.model[k as keyof ModelShape]!, `model.${k}`, lo, hi);
  if (Number.isInteger(c.model.nEmbd) && Number.isInteger(c.model.nHead) && c.model.nHead > 0 && c.model.nEmbd % c.model.nHead !== 0)
    problems.push(`model.nEmbd (${c.model.nEmbd}) must be divisible by model.nHead (${c.model.nHead})`);
  if (!['learned', 'standard', 'none'].includes(c.dropout.kind)) problems.push(`dropout.kind: expected "learned", "standard" or "none", got ${JSON.stringify(c.dropout.kind)}`);
  range(c.dropout.rate, 'dropout.rate', 0, 1);
  if (c.dropout.rate === 1) problems.push('dropout.rate: 1 would drop everything');
  if (c.dropout.aInit.std < 0) problems.push('dropout.aInit.std: must be ≥ 0');
  if (c.dropout.bInit.std < 0) problems.push('dropout.bInit.std: must be ≥ 0');
  if (!['shannon', 'complement'].includes(c.dropout.entropy.form)) problems.push(`dropout.entropy.form: expected "shannon" or "complement", got ${JSON.stringify(c.dropout.entropy.form)}`);
  if (!['adamw', 'sgd'].includes(c.dropout.abOptimizer)) problems.push(`dropout.abOptimizer: expected "adamw" or "sgd", got ${JSON.stringify(c.dropout.abOptimizer)}`);
  for (const p of ['entropy', 'l1'] as const) {
    const s = c.dropout[p].schedule;
    if (s.min < 0) problems.push(`dropout.${p}.schedule.min: must be ≥ 0`);
    if (s.max < s.min) problems.push(`dropout.${p}.schedule.max (${s.max}) must be ≥ min (${s.min})`);
    if (s.rate < 0) problems.push(`dropout.${p}.schedule.rate: must be ≥ 0`);
  }
  if (c.dropout.abLr !== null && !(c.dropout.abLr > 0)) problems.push('dropout.abLr: must be > 0 or null');
  if (!['none', 'straight-through', 'stochastic'].includes(c.dropout.rounding))
    problems.push(`dropout.rounding: expected "none", "straight-through" or "stochastic", got ${JSON.stringify(c.dropout.rounding)}`);
  if (!['scaled', 'constant'].includes(c.dropout.abLrMode)) problems.push(`dropout.abLrMode: expected "scaled" or "constant", got ${JSON.stringify(c.dropout.abLrMode)}`);
  const t = c.train;
  int(t.steps, 'train.steps', 1);
  int(t.batchSize, 'train.batchSize', 1, 4096);
  int(t.gradAccum, 'train.gradAccum', 1, 1024);
  int(t.microBatch, 'train.microBatch', 0, 4096);
  if (t.microBatch > 0 && t.batchSize % t.microBatch !== 0) problems.push(`train.microBatch (${t.microBatch}) must divide train.batchSize (${t.batchSize}), or be 0 (automatic)`);
  range(t.lr, 'train.lr', 0, 10, true);
  range(t.minLr, 'train.minLr', 0, 10);
  if (t.minLr > t.lr) problems.push(`train.minLr (${t.minLr}) must be ≤ train.lr (${t.lr})`);
  int(t.warmupSteps, 'train.warmupSteps', 0);
  if (t.decaySteps !== null) int(t.decaySteps, 'train.decaySteps', 1);
  range(t.betas[0], 'train.betas[0]', 0, 1);
  range(t.betas[1], 'train.betas[1]', 0, 1);
  if (t.betas[0] >= 1 || t.betas[1] >= 1) problems.push('train.betas: each must be < 1');
  range(t.eps, 'train.eps', 0, 1, true);
  range(t.weightDecay, 'train.weightDecay', 0, 10);
  if (t.gradClip < 0) problems.push('train.gradClip: must be ≥ 0 (0 turns clipping off)');
  int(t.evalInterval, 'train.evalInterval', 1);
  int(t.evalBatches, 'train.evalBatches', 1);
  int(t.evalValTokens, 'train.evalValTokens', 0);
  int(t.checkpointInterval, 'train.checkpointInterval', 1);
  int(t.statsInterval, 'train.statsInterval', 1);
  range(t.valFraction, 'train.valFraction', 0, 0.5, true);
  int(t.seed, 'train.seed', 0, 2 ** 32 - 1);
  if (!['fp32', 'tf32', 'bf16'].includes(t.precision)) problems.push(`train.precision: expected "fp32", "tf32" or "bf16", got ${JSON.stringify(t.precision)}`);
  if (!['char', 'gpt2'].includes(c.tokenizer)) problems.push(`tokenizer: expected "char" or "gpt2", got ${JSON.stringify(c.tokenizer)}`);
  return problems;
}

/** DEFAULTS ← preset ← overrides, validated; throws ConfigError naming every problem. */
export function resolveConfig(preset = 'tiny', overrides: unknown = {}): LDConfig {
  const p = PRESETS[preset];
  if (!p) throw new ConfigError([`preset: unknown preset ${JSON.stringify(preset)} (known: ${Object.keys(PRESETS).join(', ')})`]);
  const cfg = merge(merge(DEFAULTS, p.config), overrides);
  const problems = validate(cfg);
  if (problems.length) throw new ConfigError(problems);
  return cfg;
}

export function lambdaAt(s: LambdaSchedule, step: number): number {
  return Math.min(Math.exp(s.rate * step) + s.min - 1, s.max);
}

/** Linear warmup, then cosine from lr to minLr until decaySteps (the reference's lr_at). */
export function lrAt(step: number, o: { lr: number; minLr: number; warmupSteps: number; decaySteps: number }): number {
  if (step < o.warmupSteps) return (o.lr * (step + 1)) / o.warmupSteps;
  if (step >= o.decaySteps) return o.minLr;
  const r = (step - o.warmupSteps) / Math.max(1, o.decaySteps - o.warmupSteps);
  return o.minLr + 0.5 * (1 + Math.cos(Math.PI * r)) * (o.lr - o.minLr);
}
