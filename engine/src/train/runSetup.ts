// A run's set-up, for either trainer (TrainingRun here, the torch worker through torch/prepare.ts):
// the config (preset ← file ← overrides), the corpus and its tokenizer, the run folder (its name,
// run.json, config.json, metrics.jsonl), the initial model and optimizer, and on resume the saved
// config's and the checkpoint's checks and the folder reopened at the checkpoint's step.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { TrainBackendName } from '@common/protocol';
import { CheckpointError, checkpointsDir, readMetrics, writeRunMeta, type LoadedCheckpoint, type RunMeta } from '../checkpoint';
import { ConfigError, merge, resolveConfig, upgradeConfig, validate, type LDConfig, type ModelShape } from '../config';
import { CorpusError, loadCorpus } from '../corpus';
import { Dataset } from '../dataset';
import { writeFileAtomicSync } from '../fsutil';
import { GPT, initWeights } from '../model';
import { AdamW } from '../optim';
import { prototypeKeyProblem } from '../prototypeKeys';
import { Rng } from '../rng';
import { buildTokenizer, type Tokenizer } from '../tokenizer';

export interface TrainSetup {
  data: string[];
  /** The run gets a new subfolder here, unless runDir names its folder exactly. */
  runsDir: string;
  runDir?: string;
  name?: string;
  preset?: string;
  configFile?: string;
  overrides?: unknown;
  /** Folder that relative data paths and globs are resolved against. */
  cwd?: string;
  maxBytes?: number;
  watchText?: string;
}

function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'run';
}

export function runId(name: string): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}-${slug(name)}`;
}

/** Preset ← config file ← overrides, validated as a whole. */
export function buildConfig(preset = 'tiny', configFile?: string, overrides?: unknown): LDConfig {
  let fileCfg: unknown = {};
  if (configFile) {
    try {
      fileCfg = JSON.parse(readFileSync(configFile, 'utf8'));
    } catch (e) {
      throw new ConfigError([`${configFile}: ${existsSync(configFile) ? 'not valid JSON: ' + (e as Error).message : 'file not found'}`]);
    }
  }
  return resolveConfig(preset, merge(fileCfg as object, overrides ?? {}));
}

/**
 * A new run's corpus, read and tokenized with a tokenizer built on it (its vocabulary size goes
 * into config.model), split as the trainers split it, and checked to hold a window in each split;
 * all before any folder exists.
 */
export async function loadNewRunData(setup: TrainSetup, config: LDConfig) {
  const cwd = resolve(setup.cwd ?? process.cwd());
  const corpus = await loadCorpus(setup.data, { cwd, maxBytes: setup.maxBytes });
  const tokenizer = buildTokenizer(config.tokenizer, corpus.text);
  const shape: ModelShape = { ...config.model, vocabSize: tokenizer.vocabSize };
  config.model.vocabSize = tokenizer.vocabSize;
  const ids = tokenizer.encodeTyped(corpus.text, 'error').ids;
  const dataset = new Dataset(ids, config.train.valFraction);
  dataset.checkWindow(shape.blockSize);
  return { cwd, corpus, tokenizer, shape, ids, dataset };
}

export type NewRunData = Awaited<ReturnType<typeof loadNewRunData>>;

/** A new run's name, id and folder (not created yet): a fresh subfolder of runsDir, or runDir exactly. */
export function newRunFolder(setup: TrainSetup, config: LDConfig): { name: string; id: string; dir: string } {
  const name = setup.name?.trim() || `${setup.preset ?? 'tiny'} ${config.dropout.kind}`;
  let id = runId(name);
  // Two runs of the same name within a second (train, stop, train) get distinct folders.
  for (let k = 2; !setup.runDir && existsSync(resolve(setup.runsDir, id)); k++) id = `${runId(name)}-${k}`;
  const dir = setup.runDir ? resolve(setup.runDir) : resolve(setup.runsDir, id);
  return { name, id, dir };
}

/** Refuses a folder that already holds a run (a new run never writes over one). */
export function checkNoRunIn(dir: string): void {
  if (existsSync(join(dir, 'run.json'))) throw new CorpusError(`${dir} already holds a run: resume it, or choose another folder`, dir);
}

/** Writes a new run's run.json (returned), config.json and empty metrics.jsonl into its folder. */
export function writeNewRun(
  folder: { name: string; id: string; dir: string },
  setup: TrainSetup,
  data: NewRunData,
  config: LDConfig,
  backend: TrainBackendName,
): RunMeta {
  const { name, id, dir } = folder;
  const meta: RunMeta = {
    id,
    name,
    created: new Date().toISOString(),
    status: 'running',
    backend,
    step: 0,
    totalSteps: config.train.steps,
    bestValLoss: null,
    preset: setup.preset ?? 'tiny',
    data: setup.data,
    cwd: data.cwd,
    maxBytes: setup.maxBytes,
    pid: process.pid,
  };
  writeRunMeta(dir, meta);
  writeFileAtomicSync(
    join(dir, 'config.json'),
    JSON.stringify({ model: data.shape, tokenizer: data.tokenizer.toJSON(), config, corpus: { files: data.corpus.files, skipped: data.corpus.skipped } }) + '\n',
  );
  writeFileSync(join(dir, 'metrics.jsonl'), '');
  return meta;
}

/** A fresh model from the config's seed, and the RNG after drawing its weights (training draws on from there). */
export function initialModel(shape: ModelShape, config: LDConfig): { model: GPT; rng: Rng } {
  const rng = new Rng(config.train.seed);
  const model = GPT.fromWeights(shape, config.dropout, initWeights(shape, config.dropout, rng));
  return { model, rng };
}

/** AdamW with decay on ≥ 2-D weights only (the reference's adamw_groups); A/B may get their own rate and optimizer. */
export function makeOptimizer(model: GPT, c: LDConfig): AdamW {
  const t = c.train, d = c.dropout;
  return new AdamW(
    model.params,
    (name) => {
      const isAB = name.endsWith('.A') || name.endsWith('.B');
      if (isAB)
        return d.abLr !== null && d.abLrMode === 'constant'
          ? { lrScale: 1, fixedLr: d.abLr, weightDecay: 0, kind: d.abOptimizer }
          : { lrScale: d.abLr === null ? 1 : d.abLr / t.lr, weightDecay: 0, kind: d.abOptimizer };
      return { lrScale: 1, weightDecay: model.params.get(name)!.rank >= 2 ? t.weightDecay : 0, kind: 'adamw' };
    },
    { betas: t.betas, eps: t.eps },
  );
}

/** A run's config.json as written at its start. */
export interface SavedRunConfig {
  model: ModelShape;
  tokenizer: unknown;
  config: LDConfig;
}

/**
 * A run's config.json read to resume it: refused when it is missing, not JSON, has no config or
 * holds prototype keys; the config upgraded (keys added since, at their defaults) and validated,
 * with `steps` (when given) as its train.steps.
 */
export function readRunConfig(dir: string, steps?: number): { cfgPath: string; saved: SavedRunConfig; config: LDConfig } {
  const cfgPath = join(dir, 'config.json');
  let saved: SavedRunConfig;
  try {
    saved = JSON.parse(readFileSync(cfgPath, 'utf8'));
  } catch (e) {
    throw new CheckpointError(`${cfgPath}: ${existsSync(cfgPath) ? 'not valid JSON (' + (e as Error).message + ')' : 'missing'}; the run cannot be resumed`, cfgPath);
  }
  if (typeof saved !== 'object' || saved === null || !Object.hasOwn(saved, 'config')) throw new CheckpointError(`${cfgPath}: no config; the run cannot be resumed`, cfgPath);
  const hostile = prototypeKeyProblem(saved, cfgPath);
  if (hostile) throw new CheckpointError(hostile, cfgPath);
  saved.config = upgradeConfig(saved.config) as LDConfig;
  const problems = validate(saved.config);
  if (problems.length) throw new ConfigError(problems);
  const config = saved.config;
  if (steps !== undefined) config.train.steps = steps;
  return { cfgPath, saved, config };
}

const SHAPE_KEYS = ['vocabSize', 'blockSize', 'nEmbd', 'nHead', 'nLayer'] as const;

/** How `got` differs from `want` ("blockSize 64, not 32"), or null when they match. */
export function shapeMismatch(got: Partial<ModelShape> | undefined, want: ModelShape): string | null {
  const diff = SHAPE_KEYS.filter((k) => got?.[k] !== want[k]);
  return diff.length ? `is ${diff.map((k) => `${k} ${got?.[k]}, not ${want[k]}`).join(', ')}` : null;
}

/**
 * Refuses a checkpoint of another shape, vocabulary or dropout kind than its run (a folder copied
 * in, a run retrained in place): it would train on ids its embedding does not have.
 */
export function checkCheckpointFitsRun(ck: LoadedCheckpoint, runDir: string, shape: ModelShape, tokenizer: Tokenizer, config: LDConfig): void {
  const problem = shapeMismatch(ck.shape, shape) ??
    (JSON.stringify(ck.tokenizer.toJSON()) !== JSON.stringify(tokenizer.toJSON()) ? 'has another vocabulary than the run' : null) ??
    (ck.config.dropout.kind !== config.dropout.kind ? `has dropout "${ck.config.dropout.kind}", the run "${config.dropout.kind}"` : null);
  if (problem) throw new CheckpointError(`${ck.dir}: the checkpoint ${problem}; the run cannot be resumed from it (move that checkpoint out of ${checkpointsDir(runDir)} to resume from the one before)`, ck.dir);
}

/**
 * Reopens a run folder to train on from `step` (its checkpoint's): the records after it are set
 * aside in metrics.orphaned.jsonl (those steps are recomputed exactly, same RNG state, so they
 * would be duplicated), run.json says it runs on `backend`, and a changed train.steps is written
 * into config.json.
 */
export function reopenRun(dir: string, meta: RunMeta, o: { backend: TrainBackendName; step: number; saved: SavedRunConfig; stepsChanged: boolean }): void {
  const records = readMetrics(dir);
  const keep = records.filter((r) => r.step <= o.step);
  const orphaned = records.filter((r) => r.step > o.step);
  if (orphaned.length) appendFileSync(join(dir, 'metrics.orphaned.jsonl'), orphaned.map((r) => JSON.stringify(r)).join('\n') + '\n');
  writeFileAtomicSync(join(dir, 'metrics.jsonl'), keep.map((r) => JSON.stringify(r) + '\n').join(''));
  Object.assign(meta, { status: 'running', backend: o.backend, step: o.step, totalSteps: o.saved.config.train.steps, pid: process.pid, error: undefined });
  writeRunMeta(dir, meta);
  if (o.stepsChanged) writeFileAtomicSync(join(dir, 'config.json'), JSON.stringify(o.saved) + '\n');
}
