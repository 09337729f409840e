// Runs and checkpoints on disk.
//
//   RUN/run.json                  what the run is (status, step, best val loss, data specs, backend)
//   RUN/metrics.jsonl             one MetricRecord per line, appended as they happen
//   RUN/train.lock                while a trainer runs: its pid, host and start (runLock.ts)
//   RUN/checkpoints/step-000100/  one folder per checkpoint, renamed into place when complete:
//       model.safetensors         float32, the reference's names and torch layouts, lm_head omitted (tied)
//       config.json               {model, tokenizer, config, step}: loadable by the reference's `loss`
//       optimizer.safetensors     AdamW moments ("m.NAME", "v.NAME")
//       state.json                step, RNG state, best validation loss: what exact resume needs
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { DEFAULTS, merge, SHAPE_LIMITS, upgradeConfig, validate, type LDConfig, type ModelShape } from './config';
import { writeFileAtomicSync } from './fsutil';
import { checkMemory, inferenceMemory, onWasm, parameterCount } from './memoryEstimate';
import { parameterShapes } from './model';
import { prototypeKeyProblem } from './prototypeKeys';
import type { OptimizerState } from './optim';
import type { CheckpointInfo, MetricRecord, RunInfo, RunStatus, TrainBackendName } from '@common/protocol';
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from './safetensors';
import { tokenizerFromJSON, type Tokenizer, type TokenizerJSON } from './tokenizer';

export class CheckpointError extends Error {
  /** notFound: nothing there to load (a missing path, a run without checkpoints), rather than a damaged file. */
  constructor(message: string, readonly path?: string, readonly notFound = false) {
    super(message);
    this.name = 'CheckpointError';
  }
}

export interface RunMeta {
  id: string;
  name: string;
  created: string;
  status: RunStatus;
  backend: TrainBackendName | null;
  step: number;
  totalSteps: number;
  bestValLoss: number | null;
  preset: string;
  /** Corpus specs and the folder they are resolved against (resume reloads the corpus). */
  data: string[];
  cwd: string;
  maxBytes?: number;
  /** Engine process that owns a `running` run; a dead pid means the run was interrupted. */
  pid?: number;
  error?: string;
}

export interface TrainingState {
  step: number;
  rng: number[];
  bestValLoss: number | null;
}

export interface LoadedCheckpoint {
  dir: string;
  runDir: string;
  step: number;
  shape: ModelShape;
  config: LDConfig;
  tokenizer: Tokenizer;
  weights: Map<string, Float32Array>;
}

const CKPT_PREFIX = 'step-';

export function checkpointsDir(runDir: string): string {
  return join(runDir, 'checkpoints');
}

export function readRunMeta(runDir: string): RunMeta {
  const p = join(runDir, 'run.json');
  if (!existsSync(p)) throw new CheckpointError(`${runDir} is not a LearnedDropout run (no run.json)`, runDir, true);
  let meta: RunMeta;
  try {
    meta = JSON.parse(readFileSync(p, 'utf8')) as RunMeta;
  } catch (e) {
    throw new CheckpointError(`${p} is not valid JSON: ${(e as Error).message}`, p);
  }
  const hostile = prototypeKeyProblem(meta, p);
  if (hostile) throw new CheckpointError(hostile, p);
  return meta;
}

export function writeRunMeta(runDir: string, meta: RunMeta): void {
  writeFileAtomicSync(join(runDir, 'run.json'), JSON.stringify(meta, null, 1) + '\n');
}

/** Checkpoints of a run, oldest first; incomplete (temporary) folders are ignored. */
export function listCheckpoints(runDir: string): CheckpointInfo[] {
  const dir = checkpointsDir(runDir);
  if (!existsSync(dir)) return [];
  const out: CheckpointInfo[] = [];
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(CKPT_PREFIX)) continue;
    const full = join(dir, name);
    try {
      const st = JSON.parse(readFileSync(join(full, 'state.json'), 'utf8')) as TrainingState & { valLoss?: number | null };
      out.push({ runDir, dir: full, step: st.step, time: statSync(full).mtime.toISOString(), valLoss: st.valLoss ?? null });
    } catch {
      // a damaged checkpoint is skipped here and named when someone loads it
    }
  }
  return out.sort((a, b) => a.step - b.step);
}

export function saveCheckpoint(
  runDir: string,
  a: {
    step: number;
    shape: ModelShape;
    config: LDConfig;
    tokenizer: TokenizerJSON;
    weights: Map<string, Float32Array>;
    optimizer: OptimizerState;
    rng: number[];
    bestValLoss: number | null;
    valLoss: number | null;
  },
): CheckpointInfo {
  const root = checkpointsDir(runDir);
  mkdirSync(root, { recursive: true });
  const name = CKPT_PREFIX + String(a.step).padStart(6, '0');
  const tmp = join(root, `.tmp-${name}-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  try {
    return writeCheckpointFiles(runDir, root, name, tmp, a);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true }); // a full disk leaves no half checkpoint behind
    throw e;
  }
}

function writeCheckpointFiles(runDir: string, root: string, name: string, tmp: string, a: Parameters<typeof saveCheckpoint>[1]): CheckpointInfo {
  const shapes = new Map(parameterShapes(a.shape, a.config.dropout.kind === 'learned'));
  const tensors = new Map<string, NamedTensor>();
  for (const [n, data] of a.weights) tensors.set(n, { shape: shapes.get(n)!, data });
  writeFileAtomicSync(join(tmp, 'model.safetensors'), encodeSafetensors(tensors, { format: 'pt', step: String(a.step) }));
  const opt = new Map<string, NamedTensor>();
  for (const [n, data] of a.optimizer.m) opt.set('m.' + n, { shape: shapes.get(n)!, data });
  for (const [n, data] of a.optimizer.v) opt.set('v.' + n, { shape: shapes.get(n)!, data });
  writeFileAtomicSync(join(tmp, 'optimizer.safetensors'), encodeSafetensors(opt, { step: String(a.optimizer.step) }));
  writeFileAtomicSync(join(tmp, 'config.json'), JSON.stringify({ model: a.shape, tokenizer: a.tokenizer, config: a.config, step: a.step }) + '\n');
  const state: TrainingState & { valLoss: number | null } = { step: a.step, rng: a.rng, bestValLoss: a.bestValLoss, valLoss: a.valLoss };
  writeFileAtomicSync(join(tmp, 'state.json'), JSON.stringify(state) + '\n');
  const final = join(root, name);
  rmSync(final, { recursive: true, force: true });
  renameSync(tmp, final); // the checkpoint appears whole or not at all
  return { runDir, dir: final, step: a.step, time: new Date().toISOString(), valLoss: a.valLoss };
}

/** A checkpoint folder, or a run folder (its latest checkpoint). */
export function resolveCheckpointDir(path: string): { dir: string; runDir: string } {
  const p = resolve(path);
  if (!existsSync(p)) throw new CheckpointError(`checkpoint not found: ${p}`, p, true);
  if (existsSync(join(p, 'model.safetensors'))) {
    const parent = resolve(p, '..');
    return { dir: p, runDir: basename(parent) === 'checkpoints' ? resolve(parent, '..') : parent };
  }
  // A checkpoint folder (it has state.json) that lost its weights is damaged, not empty.
  if (existsSync(join(p, 'state.json'))) throw new CheckpointError(`${join(p, 'model.safetensors')} is missing`, join(p, 'model.safetensors'));
  const list = listCheckpoints(p);
  if (list.length === 0) throw new CheckpointError(`${p} holds no checkpoint yet (neither model.safetensors nor checkpoints/step-*)`, p, true);
  return { dir: list[list.length - 1].dir, runDir: p };
}

const SHAPE_KEYS = ['vocabSize', 'blockSize', 'nEmbd', 'nHead', 'nLayer'] as const;
/** Room for a safetensors header (names, shapes, metadata) above the weights themselves. */
const WEIGHTS_HEADER_SLACK = 16 * 1024 * 1024;

/**
 * Loads and checks a checkpoint: every weight present with the right shape, a usable tokenizer.
 * A folder written by the reference (config.json with only `model` and `tokenizer`) loads too; its
 * dropout kind is read off the weights (A/B present: learned).
 */
export function loadCheckpoint(path: string, base?: LDConfig): LoadedCheckpoint {
  const { dir, runDir } = resolveCheckpointDir(path);
  const cfgPath = join(dir, 'config.json');
  let raw: { model?: Record<string, unknown>; tokenizer?: unknown; config?: unknown; step?: number };
  try {
    raw = JSON.parse(readFileSync(cfgPath, 'utf8'));
  } catch (e) {
    throw new CheckpointError(`${cfgPath}: ${existsSync(cfgPath) ? 'not valid JSON (' + (e as Error).message + ')' : 'missing'}`, cfgPath);
  }
  // Anyone can hand a user a checkpoint folder: nothing in it is obeyed before it is checked.
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new CheckpointError(`${cfgPath}: expected a JSON object`, cfgPath);
  const hostile = prototypeKeyProblem(raw, cfgPath);
  if (hostile) throw new CheckpointError(hostile, cfgPath);
  const m = (Object.hasOwn(raw, 'model') ? raw.model : undefined) ?? {};
  const own = (k: string) => (Object.hasOwn(m, k) ? m[k] : undefined);
  const bad = SHAPE_KEYS.filter((k) => !Number.isInteger(own(k)) || (own(k) as number) < 1);
  if (bad.length) throw new CheckpointError(`${cfgPath}: model.${bad.join(', model.')} missing or not a positive integer`, cfgPath);
  const shape = Object.fromEntries(SHAPE_KEYS.map((k) => [k, own(k) as number])) as unknown as ModelShape;
  // The validator's bounds: a file claiming blockSize 24000 would take GBs to analyze 14 characters.
  const outOfRange = SHAPE_KEYS.filter((k) => shape[k] < SHAPE_LIMITS[k][0] || shape[k] > SHAPE_LIMITS[k][1]);
  if (outOfRange.length)
    throw new CheckpointError(`${cfgPath}: ${outOfRange.map((k) => `model.${k} ${shape[k]} is outside [${SHAPE_LIMITS[k][0]}, ${SHAPE_LIMITS[k][1]}]`).join('; ')}`, cfgPath);
  if (shape.nEmbd % shape.nHead !== 0) throw new CheckpointError(`${cfgPath}: nEmbd ${shape.nEmbd} is not divisible by nHead ${shape.nHead}`, cfgPath);
  let tokenizer: Tokenizer;
  try {
    tokenizer = tokenizerFromJSON(raw.tokenizer);
  } catch (e) {
    throw new CheckpointError(`${cfgPath}: tokenizer: ${(e as Error).message}`, cfgPath);
  }
  if (tokenizer.vocabSize !== shape.vocabSize)
    throw new CheckpointError(`${cfgPath}: the tokenizer has ${tokenizer.vocabSize} tokens but model.vocabSize is ${shape.vocabSize}`, cfgPath);

  const weightsPath = join(dir, 'model.safetensors');
  if (!existsSync(weightsPath)) throw new CheckpointError(`${weightsPath} is missing`, weightsPath);
  // Before reading the weights: what they claim must fit, and the file must be about their size.
  const learnedClaim = raw.config !== undefined ? (raw.config as { dropout?: { kind?: unknown } })?.dropout?.kind === 'learned' : true;
  try {
    checkMemory(inferenceMemory(shape, learnedClaim), `loading ${dir}`, { wasm: onWasm() });
  } catch (e) {
    throw new CheckpointError((e as Error).message, cfgPath);
  }
  const size = statSync(weightsPath).size, expected = 4 * parameterCount(shape, learnedClaim);
  // (twice: a file from elsewhere may also hold a tied lm_head or buffers such as attention masks)
  if (size > 2 * expected + WEIGHTS_HEADER_SLACK)
    throw new CheckpointError(`${weightsPath} is ${size.toLocaleString('en-US')} bytes, far more than the ${expected.toLocaleString('en-US')} its config's model needs`, weightsPath);
  let tensors: Map<string, NamedTensor>;
  try {
    tensors = decodeSafetensors(readFileSync(weightsPath), weightsPath).tensors;
  } catch (e) {
    throw new CheckpointError((e as Error).message, weightsPath);
  }
  // A checkpoint without A/B is a baseline (standard/none); with them it is LearnedDropout.
  const learned = tensors.has('transformer.drop.A');
  let config: LDConfig;
  if (raw.config !== undefined) {
    const upgraded = upgradeConfig(raw.config);
    const problems = validate(upgraded);
    if (problems.length) throw new CheckpointError(`${cfgPath}: config: ${problems.join('; ')}`, cfgPath);
    config = upgraded as LDConfig;
  } else {
    config = merge(base ?? DEFAULTS, { model: { ...shape }, dropout: { kind: learned ? 'learned' : 'none' } });
  }
  if ((config.dropout.kind === 'learned') !== learned)
    throw new CheckpointError(`${weightsPath}: the config says dropout "${config.dropout.kind}" but the weights ${learned ? 'have' : 'lack'} LearnedDropout A/B`, weightsPath);
  const weights = new Map<string, Float32Array>();
  const problems: string[] = [];
  for (const [name, s] of parameterShapes(shape, learned)) {
    const t = tensors.get(name);
    if (!t) problems.push(`missing ${name}`);
    else if (t.shape.join('x') !== s.join('x')) problems.push(`${name} has shape [${t.shape}] but the config needs [${s}]`);
    else if (!t.data.every(Number.isFinite)) problems.push(`${name} holds NaN or infinite values`);
    else weights.set(name, t.data);
  }
  if (problems.length) throw new CheckpointError(`${weightsPath} does not fit its config: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? ` (and ${problems.length - 5} more)` : ''}`, weightsPath);
  return { dir, runDir, step: typeof raw.step === 'number' ? raw.step : 0, shape, config, tokenizer, weights };
}

export function loadTrainingState(ckptDir: string, names: string[]): { state: TrainingState; optimizer: OptimizerState } {
  const sp = join(ckptDir, 'state.json');
  let state: TrainingState;
  try {
    state = JSON.parse(readFileSync(sp, 'utf8'));
    const hostile = prototypeKeyProblem(state, 'state.json');
    if (hostile) throw new Error(hostile);
    if (!Number.isInteger(state.step) || !Array.isArray(state.rng) || state.rng.length !== 4) throw new Error('step or rng state missing');
  } catch (e) {
    throw new CheckpointError(`${sp}: cannot resume from it: ${(e as Error).message}`, sp);
  }
  const op = join(ckptDir, 'optimizer.safetensors');
  let dec: ReturnType<typeof decodeSafetensors>;
  try {
    dec = decodeSafetensors(readFileSync(op), op);
  } catch (e) {
    throw new CheckpointError(`cannot resume: ${(e as Error).message}`, op);
  }
  const m = new Map<string, Float32Array>(), v = new Map<string, Float32Array>();
  for (const n of names) {
    const a = dec.tensors.get('m.' + n), b = dec.tensors.get('v.' + n);
    if (!a || !b) throw new CheckpointError(`${op}: no optimizer state for ${n}`, op);
    m.set(n, a.data);
    v.set(n, b.data);
  }
  return { state, optimizer: { step: Number(dec.metadata.step ?? state.step), m, v } };
}

/** Whether the run's metrics hold the mask report record of `step` (a trainer stopped between a checkpoint and its report leaves none). */
export function hasReportRecord(runDir: string, step: number): boolean {
  return readMetrics(runDir).some((r) => r.type === 'report' && r.step === step);
}

export function readMetrics(runDir: string): MetricRecord[] {
  const p = join(runDir, 'metrics.jsonl');
  if (!existsSync(p)) return [];
  const out: MetricRecord[] = [];
  for (const line of readFileSync(p, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line));
    } catch {
      // a line cut short by a crash: everything before it is kept
    }
  }
  return out;
}

function pidAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function runInfo(runDir: string): RunInfo {
  const meta = readRunMeta(runDir);
  let status = meta.status;
  // A run marked running whose engine is gone was interrupted (crash, kill): resumable.
  if (status === 'running' && !pidAlive(meta.pid)) status = 'interrupted';
  let dropoutKind = 'learned';
  try {
    dropoutKind = JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8')).config.dropout.kind;
  } catch {
    /* older or partial run: keep the default label */
  }
  return {
    id: meta.id,
    name: meta.name,
    dir: resolve(runDir),
    status,
    backend: meta.backend,
    step: meta.step,
    totalSteps: meta.totalSteps,
    bestValLoss: meta.bestValLoss,
    dropoutKind,
    created: meta.created,
    checkpoints: listCheckpoints(runDir),
    ...(meta.error ? { error: meta.error } : {}),
  };
}

export function listRuns(runsDir: string): RunInfo[] {
  if (!existsSync(runsDir)) return [];
  const out: RunInfo[] = [];
  for (const name of readdirSync(runsDir)) {
    const dir = join(runsDir, name);
    if (!existsSync(join(dir, 'run.json'))) continue;
    try {
      out.push(runInfo(dir));
    } catch {
      // unreadable run.json: not listed (loading it directly names the problem)
    }
  }
  return out.sort((a, b) => b.created.localeCompare(a.created));
}
