// Everything the torch worker needs before it trains, done here in TypeScript so that there is one
// tokenizer, one config validator and one initializer: the run folder (run.json, config.json,
// metrics.jsonl, by train/runSetup.ts as for TrainingRun), the token ids of each split as nanoGPT's
// train.bin/val.bin (little-endian uint16, or uint32 for vocabularies over 65,535), the initial
// weights and the RNG state after them, and RUN/torch/job.json naming all of it.
//
// Because the worker draws batches from the same sfc32 stream (ldtorch/rng.py), a run trains on
// the same windows on either engine, and a checkpoint of either resumes on the other.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { listCheckpoints, loadCheckpoint, loadTrainingState, readRunMeta, type RunMeta } from '../checkpoint';
import { ConfigError, type LDConfig, type ModelShape } from '../config';
import { loadCorpus } from '../corpus';
import { Dataset } from '../dataset';
import { writeFileAtomicSync } from '../fsutil';
import { initWeights, parameterShapes } from '../model';
import { Rng } from '../rng';
import { encodeSafetensors, type NamedTensor } from '../safetensors';
import { tokenizerFromJSON, type Tokenizer } from '../tokenizer';
import { buildConfig, checkNoRunIn, loadNewRunData, newRunFolder, readRunConfig, reopenRun, writeNewRun, type TrainSetup } from '../train/runSetup';
import { pythonCommand, pythonEnv, torchPackageDir } from './python';

export interface TorchJob {
  /** Paths relative to the run folder (the job travels with it, e.g. to a cluster's filesystem). */
  trainBin: string;
  valBin: string;
  tokenDtype: 'uint16' | 'uint32';
  /** Fresh start: the initial weights and the RNG state after drawing them. */
  init?: string;
  rng?: number[];
  /** Resume: the checkpoint folder. */
  resumeFrom?: string;
  /** auto (CUDA, else MPS, else CPU), cuda, mps or cpu. */
  device: string;
  /** torch.set_num_threads; null: torch's default. */
  threads: number | null;
  /** The engine supervises (stdinStop: stop on {"type":"stop"} or at the end of stdin, i.e. when the engine is gone). */
  supervised: boolean;
  stdinStop: boolean;
  /**
   * The engine writes the mask report record of each checkpoint (worker.ts): the worker waits for
   * RUN/torch/reported to name the step before it appends anything more to metrics.jsonl.
   */
  reports?: boolean;
  /**
   * The config as the engine validated it, upgraded (config.ts upgradeConfig: keys added since an
   * older run was written, at their defaults); the worker trains by it rather than config.json's.
   */
  config?: LDConfig;
}

export interface PreparedRun {
  dir: string;
  meta: RunMeta;
  config: LDConfig;
  shape: ModelShape;
  step: number;
  jobPath: string;
  job: TorchJob;
}

export interface LaunchOptions {
  device?: string;
  threads?: number | null;
  /** Processes (torchrun); 1: one plain process. */
  nproc?: number;
  /** false: a run launched by hand or by a cluster script (no engine owns it). */
  supervised?: boolean;
  /** The interpreter that will train: asked which config keys its ldtorch implements. */
  python?: string | null;
}

/** The torch-only config keys are checked here too (config.ts validates their types and values). */
function checkTorchConfig(c: LDConfig, nproc: number, python?: string | null): void {
  const problems: string[] = [...unimplementedKeys(c, python)];
  if (c.train.batchSize % nproc !== 0) problems.push(`train.batchSize (${c.train.batchSize}) must be divisible by --nproc (${nproc}): each process trains on an equal share`);
  const rows = c.train.batchSize / nproc;
  if (c.train.microBatch > 0 && rows % c.train.microBatch !== 0) problems.push(`train.microBatch (${c.train.microBatch}) must divide each process's ${rows} sequences`);
  if (problems.length) throw new ConfigError(problems);
}

/**
 * The config's keys (and modes) that the worker's ldtorch does not implement (ldtorch/config_keys.py,
 * which the worker checks again itself): refused here, before any run folder exists. Empty when
 * the interpreter cannot be run (the worker's start then says why).
 */
function unimplementedKeys(c: LDConfig, python?: string | null): string[] {
  let r;
  try {
    r = spawnSync(pythonCommand(python), ['-m', 'ldtorch.config_keys'], { cwd: torchPackageDir(), env: pythonEnv(), input: JSON.stringify(c), encoding: 'utf8', timeout: 60_000 });
  } catch {
    return [];
  }
  if (r.error || r.status !== 0) return [];
  try {
    const out = JSON.parse(r.stdout) as { problems?: unknown };
    return Array.isArray(out.problems) ? out.problems.map(String) : [];
  } catch {
    return [];
  }
}

function writeTokens(dir: string, tokenizer: Tokenizer, ids: Int32Array, valFraction: number, blockSize: number): Pick<TorchJob, 'trainBin' | 'valBin' | 'tokenDtype'> {
  const ds = new Dataset(ids, valFraction); // the same split as the TypeScript trainer's
  ds.checkWindow(blockSize);
  const wide = tokenizer.vocabSize > 65535;
  const bytes = (a: Int32Array) => {
    const out = wide ? Uint32Array.from(a) : Uint16Array.from(a);
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength); // little-endian on every platform Node runs on
  };
  const tdir = join(dir, 'torch');
  mkdirSync(tdir, { recursive: true });
  writeFileAtomicSync(join(tdir, 'train.bin'), bytes(ds.train));
  writeFileAtomicSync(join(tdir, 'val.bin'), bytes(ds.val));
  return { trainBin: 'torch/train.bin', valBin: 'torch/val.bin', tokenDtype: wide ? 'uint32' : 'uint16' };
}

function writeInit(dir: string, shape: ModelShape, config: LDConfig, rng: Rng): Pick<TorchJob, 'init' | 'rng'> {
  const weights = initWeights(shape, config.dropout, rng);
  const shapes = new Map(parameterShapes(shape, config.dropout.kind === 'learned'));
  const tensors = new Map<string, NamedTensor>();
  for (const [n, data] of weights) tensors.set(n, { shape: shapes.get(n)!, data });
  writeFileAtomicSync(join(dir, 'torch', 'init.safetensors'), encodeSafetensors(tensors, { format: 'pt', step: '0' }));
  return { init: 'torch/init.safetensors', rng: rng.state() };
}

function writeJob(dir: string, job: TorchJob): string {
  const p = join(dir, 'torch', 'job.json');
  rmSync(join(dir, 'torch', 'stop'), { force: true }); // a stop left from the last launch must not end this one
  rmSync(join(dir, 'torch', 'reported'), { force: true }); // nor a report answer from it go for this one's
  writeFileAtomicSync(p, JSON.stringify(job, null, 1) + '\n');
  return p;
}

function jobBase(o: LaunchOptions): Pick<TorchJob, 'device' | 'threads' | 'supervised' | 'stdinStop' | 'reports'> {
  const supervised = o.supervised ?? true;
  return { device: o.device ?? 'auto', threads: o.threads ?? null, supervised, stdinStop: supervised && (o.nproc ?? 1) === 1, reports: supervised };
}

/** A new run folder for the torch worker (TrainingRun.create's set-up, without a tfjs model). */
export async function prepareTorchRun(setup: TrainSetup, o: LaunchOptions = {}): Promise<PreparedRun> {
  const config = buildConfig(setup.preset, setup.configFile, setup.overrides);
  checkTorchConfig(config, o.nproc ?? 1, o.python);
  const data = await loadNewRunData(setup, config);
  const { tokenizer, shape, ids } = data;

  const folder = newRunFolder(setup, config), dir = folder.dir;
  checkNoRunIn(dir);
  mkdirSync(dir, { recursive: true });
  const meta = writeNewRun(folder, setup, data, config, 'torch');
  const job: TorchJob = { ...writeTokens(dir, tokenizer, ids, config.train.valFraction, shape.blockSize), ...writeInit(dir, shape, config, new Rng(config.train.seed)), ...jobBase(o), config };
  return { dir, meta, config, shape, step: 0, job, jobPath: writeJob(dir, job) };
}

/**
 * Continue a run (written by either engine) from its latest checkpoint on the torch worker: the
 * checkpoint is checked here (weights, optimizer state), records after it are set aside into
 * metrics.orphaned.jsonl as TrainingRun.resume does, and the tokens are written afresh from the
 * run's corpus with the run's own vocabulary.
 */
export async function prepareTorchResume(runDir: string, steps: number | undefined, o: LaunchOptions = {}): Promise<PreparedRun> {
  const dir = resolve(runDir);
  const meta = readRunMeta(dir);
  const { saved, config } = readRunConfig(dir, steps);
  checkTorchConfig(config, o.nproc ?? 1, o.python);
  const tokenizer = tokenizerFromJSON(saved.tokenizer);
  const corpus = await loadCorpus(meta.data, { cwd: meta.cwd, maxBytes: meta.maxBytes });
  const ids = tokenizer.encodeTyped(corpus.text, 'error').ids;

  const ckpts = listCheckpoints(dir);
  let step = 0;
  let start: Pick<TorchJob, 'init' | 'rng' | 'resumeFrom'>;
  if (ckpts.length) {
    const last = ckpts[ckpts.length - 1];
    // read it whole here: a damaged checkpoint is named now, before a worker starts
    const ck = loadCheckpoint(last.dir);
    const names = parameterShapes(ck.shape, ck.config.dropout.kind === 'learned').map(([n]) => n);
    const { state } = loadTrainingState(last.dir, names);
    step = state.step;
    meta.bestValLoss = state.bestValLoss;
    start = { resumeFrom: relative(dir, last.dir) };
  } else {
    mkdirSync(join(dir, 'torch'), { recursive: true });
    start = writeInit(dir, saved.model, config, new Rng(config.train.seed));
    meta.bestValLoss = null;
  }
  const tokens = writeTokens(dir, tokenizer, ids, config.train.valFraction, saved.model.blockSize);
  reopenRun(dir, meta, { backend: 'torch', step, saved, stepsChanged: steps !== undefined });
  const job: TorchJob = { ...tokens, ...start, ...jobBase(o), config };
  return { dir, meta, config, shape: saved.model, step, job, jobPath: writeJob(dir, job) };
}
