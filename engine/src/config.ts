// The one validated configuration of a run: validation, resolution (DEFAULTS ← preset ←
// overrides), upgrades of older saved configs, and the λ and lr schedules. The types, DEFAULTS and
// PRESETS are data shared with the extension (common/config.ts), re-exported here for the engine.
import { DEFAULTS, PRESETS, type LDConfig, type LambdaSchedule, type ModelShape } from '@common/config';

export * from '@common/config';

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
