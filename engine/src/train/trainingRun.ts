// A training run: set-up (config, corpus, tokenizer, model), the step loop with metrics appended
// to metrics.jsonl as they happen, periodic evaluation, mask statistics and checkpoints, exact
// resume, and a cooperative stop.
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tf } from '../backend';
import {
  CheckpointError,
  listCheckpoints,
  loadCheckpoint,
  loadTrainingState,
  readMetrics,
  readRunMeta,
  saveCheckpoint,
  writeRunMeta,
  type RunMeta,
  type TrainingState,
} from '../checkpoint';
import { ConfigError, lambdaAt, lrAt, merge, resolveConfig, upgradeConfig, validate, type LDConfig, type ModelShape } from '../config';
import { CorpusError, loadCorpus } from '../corpus';
import { Dataset } from '../dataset';
import { writeFileAtomicSync } from '../fsutil';
import { checkFullReply, TooLargeError } from '../analysisStore';
import { analyzeText } from '../inference';
import { maskReportOnIds } from '../maskReport';
import { GPT, initWeights, parameterShapes } from '../model';
import { inPlaceBackend } from '../kernels';
import { checkMemory, onWasm, trainingMemory } from '../memoryEstimate';
import { AdamW, type OptimizerState } from '../optim';
import type { AnalysisResult, BackendName, CheckpointInfo, EvalRecord, LogLevel, MetricRecord, ReportRecord, SiteStats, StatsRecord, StepRecord } from '@common/protocol';
import { prototypeKeyProblem } from '../prototypeKeys';
import { yieldToRequests } from '../requestPriority';
import { Rng } from '../rng';
import { acquireRunLock, type RunLock } from '../runLock';
import { cleanTempFiles } from '../runTemp';
import { buildTokenizer, tokenizerFromJSON, type Tokenizer } from '../tokenizer';

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

export interface TrainEvents {
  metric?(record: MetricRecord): void;
  progress?(p: { step: number; totalSteps: number; loss: number; tokensPerSec: number; etaSeconds: number }): void;
  checkpoint?(c: CheckpointInfo): void;
  watch?(analysis: AnalysisResult): void;
  log?(level: LogLevel, message: string): void;
}

export interface RunOutcome {
  status: 'completed' | 'stopped' | 'failed';
  step: number;
  error?: string;
}

/**
 * Mask statistics flag a site as stuck (after STUCK_AFTER_STEPS) at one when > 99% of its values are
 * above 0.9, at zero when > 99% are below 0.1, and at half (undecided) when < 1% are outside
 * [0.1, 0.9]; the run is `stuck` when every site is stuck at one (it drops nothing).
 */
const STUCK_FRACTION = 0.99;
const STUCK_AFTER_STEPS = 100;
/** The mask report written at each checkpoint: over the validation split's first windows, chance from a few draws. */
export const REPORT_WINDOWS = 32;
export const REPORT_CHANCE_DRAWS = 3;

/** Where a site's masks are stuck, or null. */
export function stuckAt(s: Pick<SiteStats, 'fracLow' | 'fracHigh'>): 'one' | 'zero' | 'half' | null {
  if (s.fracHigh > STUCK_FRACTION) return 'one';
  if (s.fracLow > STUCK_FRACTION) return 'zero';
  if (s.fracLow + s.fracHigh < 1 - STUCK_FRACTION) return 'half';
  return null;
}

const STUCK_ADVICE = {
  one: 'it drops nothing (B near 0 with a small A is a stationary point, ∂m/∂B = −½·sin(B + A·x) ≈ 0: initialize B near π/2 with dropout.bInit, or raise the penalties)',
  zero: 'it drops nearly everything (lower the L1 penalty, dropout.l1.schedule)',
  half: 'its values sit between 0.1 and 0.9: "active" (m ≥ 0.5) thresholds undecided values (raise the entropy penalty, or try dropout.rounding)',
};

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
 * Bytes a training step holds per sequence, roughly: the tensors the tape saves and their
 * gradients, where attention's (nh, T, T) arrays dominate. Measured as the wasm heap's growth over
 * one step (engine with native kernels): small 23 MB, medium 183 MB, large 200 MB per sequence;
 * this gives 23, 214 and 207.
 */
export function stepBytesPerSequence(s: ModelShape): number {
  return 4 * (s.nLayer * (12 * s.nHead * s.blockSize ** 2 + 40 * s.blockSize * s.nEmbd) + 4 * s.blockSize * s.vocabSize);
}

/** What a step may hold on the wasm heap (4 GB in all for wasm32; its allocator fragments). */
export const WASM_STEP_BUDGET = 1.5e9;

/** The largest divisor of the batch size B whose chunk of sequences fits `budget` bytes (≥ 1). */
export function autoMicroBatch(B: number, s: ModelShape, budget = WASM_STEP_BUDGET): number {
  const per = stepBytesPerSequence(s);
  for (let m = B; m > 1; m--) if (B % m === 0 && m * per <= budget) return m;
  return 1;
}

/** Sequences [c·rows, (c+1)·rows) of a (B, T) batch as a (rows, T) int32 tensor: micro-batch c. */
export function microBatchSlice(a: Int32Array, c: number, rows: number, T: number): tf.Tensor2D {
  return tf.tensor2d(a.subarray(c * rows * T, (c + 1) * rows * T), [rows, T], 'int32');
}

/** Adds `grads` into `acc` (disposing both operands), or starts `acc` with them. */
export function accumulateGrads(acc: Map<string, tf.Tensor> | null, grads: Map<string, tf.Tensor>): Map<string, tf.Tensor> {
  if (!acc) return grads;
  for (const [n, g] of grads) {
    const sum = tf.add(acc.get(n)!, g);
    acc.get(n)!.dispose();
    g.dispose();
    acc.set(n, sum);
  }
  return acc;
}

export class TrainingRun {
  stopRequested = false;
  watchText: string | null = null;
  private readonly metricsPath: string;
  private bestValLoss: number | null;
  private lastValLoss: number | null = null;
  private warnedStuck = false;
  private readonly warnedSites = new Set<string>();

  private constructor(
    readonly dir: string,
    readonly meta: RunMeta,
    readonly config: LDConfig,
    readonly shape: ModelShape,
    readonly tokenizer: Tokenizer,
    private readonly dataset: Dataset,
    readonly model: GPT,
    private readonly opt: AdamW,
    private rng: Rng,
    public step: number,
    private readonly lock: RunLock,
  ) {
    this.metricsPath = join(dir, 'metrics.jsonl');
    this.bestValLoss = meta.bestValLoss;
  }

  get id(): string {
    return this.meta.id;
  }
  /**
   * Sequences per forward/backward pass: train.microBatch, or (0) on the CPU backends the most
   * that fit the wasm heap, on GPU backends the whole batch.
   */
  get microBatch(): number {
    const t = this.config.train;
    if (t.microBatch > 0) return t.microBatch;
    return inPlaceBackend() ? autoMicroBatch(t.batchSize, this.shape) : t.batchSize;
  }
  get totalSteps(): number {
    return this.config.train.steps;
  }
  /** The validation split's token ids (never trained on). */
  get validationIds(): Int32Array {
    return this.dataset.val;
  }

  static async create(setup: TrainSetup, backend: BackendName): Promise<TrainingRun> {
    const config = buildConfig(setup.preset, setup.configFile, setup.overrides);
    // Before reading the corpus, with the smallest vocabulary it could give (checked again below).
    checkTrainingMemory(config, { ...config.model, vocabSize: 2 });
    const cwd = resolve(setup.cwd ?? process.cwd());
    const corpus = await loadCorpus(setup.data, { cwd, maxBytes: setup.maxBytes });
    const tokenizer = buildTokenizer(config.tokenizer, corpus.text);
    const shape: ModelShape = { ...config.model, vocabSize: tokenizer.vocabSize };
    config.model.vocabSize = tokenizer.vocabSize;
    const dataset = new Dataset(Int32Array.from(tokenizer.encode(corpus.text, 'error').ids), config.train.valFraction);
    dataset.checkWindow(shape.blockSize);
    checkTrainingMemory(config, shape);

    const name = setup.name?.trim() || `${setup.preset ?? 'tiny'} ${config.dropout.kind}`;
    let id = runId(name);
    // Two runs of the same name within a second (train, stop, train) get distinct folders.
    for (let k = 2; !setup.runDir && existsSync(resolve(setup.runsDir, id)); k++) id = `${runId(name)}-${k}`;
    const dir = setup.runDir ? resolve(setup.runDir) : resolve(setup.runsDir, id);
    mkdirSync(dir, { recursive: true });
    // The lock first: a folder that another process is training is refused naming that trainer.
    const lock = acquireRunLock(dir);
    try {
      if (existsSync(join(dir, 'run.json'))) throw new CorpusError(`${dir} already holds a run: resume it, or choose another folder`, dir);
      cleanTempFiles(dir);
      return TrainingRun.createLocked(setup, config, cwd, corpus, tokenizer, shape, dataset, name, id, dir, backend, lock);
    } catch (e) {
      lock.release();
      throw e;
    }
  }

  private static createLocked(
    setup: TrainSetup,
    config: LDConfig,
    cwd: string,
    corpus: Awaited<ReturnType<typeof loadCorpus>>,
    tokenizer: Tokenizer,
    shape: ModelShape,
    dataset: Dataset,
    name: string,
    id: string,
    dir: string,
    backend: BackendName,
    lock: RunLock,
  ): TrainingRun {
    const rng = new Rng(config.train.seed);
    const model = GPT.fromWeights(shape, config.dropout, initWeights(shape, config.dropout, rng));
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
      cwd,
      maxBytes: setup.maxBytes,
      pid: process.pid,
    };
    writeRunMeta(dir, meta);
    writeFileAtomicSync(
      join(dir, 'config.json'),
      JSON.stringify({ model: shape, tokenizer: tokenizer.toJSON(), config, corpus: { files: corpus.files, skipped: corpus.skipped } }) + '\n',
    );
    writeFileSync(join(dir, 'metrics.jsonl'), '');
    const run = new TrainingRun(dir, meta, config, shape, tokenizer, dataset, model, makeOptimizer(model, config), rng, 0, lock);
    run.watchText = setup.watchText ?? null;
    return run;
  }

  /**
   * Continues from the run's latest checkpoint (or from the start if it has none). Every check that
   * can refuse (the run lock, the config, the corpus, the checkpoint's files, shape and vocabulary,
   * memory) runs before anything in the run folder changes.
   */
  static async resume(runDir: string, backend: BackendName, steps?: number): Promise<TrainingRun> {
    const dir = resolve(runDir);
    const meta = readRunMeta(dir);
    const lock = acquireRunLock(dir);
    try {
      return await TrainingRun.resumeLocked(dir, meta, backend, steps, lock);
    } catch (e) {
      lock.release();
      throw e;
    }
  }

  private static async resumeLocked(dir: string, meta: RunMeta, backend: BackendName, steps: number | undefined, lock: RunLock): Promise<TrainingRun> {
    const cfgPath = join(dir, 'config.json');
    let saved: { model: ModelShape; tokenizer: unknown; config: LDConfig };
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
    const tokenizer = tokenizerFromJSON(saved.tokenizer);
    const shape: ModelShape = { ...config.model, vocabSize: tokenizer.vocabSize };
    const shapeProblem = shapeMismatch(saved.model, shape);
    if (shapeProblem) throw new CheckpointError(`${cfgPath}: model ${shapeProblem}; the run cannot be resumed`, cfgPath);
    const corpus = await loadCorpus(meta.data, { cwd: meta.cwd, maxBytes: meta.maxBytes });
    // The vocabulary is the run's own: a corpus that changed since is read with it, or refused.
    const dataset = new Dataset(Int32Array.from(tokenizer.encode(corpus.text, 'error').ids), config.train.valFraction);
    dataset.checkWindow(shape.blockSize);

    const ckpts = listCheckpoints(dir);
    const last = ckpts.at(-1);
    let restored: { weights: Map<string, Float32Array>; state: TrainingState; optimizer: OptimizerState } | null = null;
    if (last) {
      const ck = loadCheckpoint(last.dir);
      // A checkpoint of another shape or vocabulary (a folder copied in, a run retrained in place)
      // would train on ids its embedding does not have.
      const ckProblem = shapeMismatch(ck.shape, shape) ??
        (JSON.stringify(ck.tokenizer.toJSON()) !== JSON.stringify(tokenizer.toJSON()) ? 'has another vocabulary than the run' : null) ??
        (ck.config.dropout.kind !== config.dropout.kind ? `has dropout "${ck.config.dropout.kind}", the run "${config.dropout.kind}"` : null);
      if (ckProblem) throw new CheckpointError(`${last.dir}: the checkpoint ${ckProblem}; the run cannot be resumed from it (move that checkpoint out of ${checkpointsDirOf(dir)} to resume from the one before)`, last.dir);
      const names = parameterShapes(shape, config.dropout.kind === 'learned').map(([n]) => n);
      const { state, optimizer } = loadTrainingState(last.dir, names);
      restored = { weights: ck.weights, state, optimizer };
    }
    checkTrainingMemory(config, shape);

    // Every check passed: from here on the run folder changes.
    cleanTempFiles(dir);
    let model: GPT, opt: AdamW, rng: Rng, step = 0;
    if (restored) {
      model = GPT.fromWeights(shape, config.dropout, restored.weights);
      opt = makeOptimizer(model, config);
      opt.load(restored.optimizer);
      rng = Rng.fromState(restored.state.rng);
      step = restored.state.step;
      meta.bestValLoss = restored.state.bestValLoss;
    } else {
      rng = new Rng(config.train.seed);
      model = GPT.fromWeights(shape, config.dropout, initWeights(shape, config.dropout, rng));
      opt = makeOptimizer(model, config);
      meta.bestValLoss = null;
    }
    // Steps after the checkpoint are recomputed exactly (same RNG state), so their records are
    // set aside rather than duplicated; they stay readable in metrics.orphaned.jsonl.
    const records = readMetrics(dir);
    const keep = records.filter((r) => r.step <= step);
    const orphaned = records.filter((r) => r.step > step);
    if (orphaned.length) appendFileSync(join(dir, 'metrics.orphaned.jsonl'), orphaned.map((r) => JSON.stringify(r)).join('\n') + '\n');
    writeFileAtomicSync(join(dir, 'metrics.jsonl'), keep.map((r) => JSON.stringify(r) + '\n').join(''));
    Object.assign(meta, { status: 'running', backend, step, totalSteps: config.train.steps, pid: process.pid, error: undefined });
    writeRunMeta(dir, meta);
    if (steps !== undefined) {
      writeFileAtomicSync(join(dir, 'config.json'), JSON.stringify({ ...saved, config }) + '\n');
    }
    return new TrainingRun(dir, meta, config, shape, tokenizer, dataset, model, opt, rng, step, lock);
  }

  stop(): void {
    this.stopRequested = true;
  }

  dispose(): void {
    this.model.dispose();
    this.opt.dispose();
    this.lock.release();
  }

  private emit(events: TrainEvents, rec: MetricRecord): void {
    appendFileSync(this.metricsPath, JSON.stringify(rec) + '\n');
    events.metric?.(rec);
  }

  async run(events: TrainEvents = {}): Promise<RunOutcome> {
    const c = this.config, t = c.train, d = c.dropout;
    const B = t.batchSize, T = this.shape.blockSize;
    const decaySteps = t.decaySteps ?? t.steps;
    let outcome: RunOutcome;
    const started = performance.now(), startStep = this.step;
    if (this.microBatch < B)
      events.log?.('info', `run ${this.id}: each batch of ${B} sequences runs as ${B / this.microBatch} micro-batches of ${this.microBatch}` +
        (t.microBatch > 0 ? ' (train.microBatch)' : ' to fit the wasm heap (set train.microBatch to choose)'));
    try {
      while (this.step < t.steps && !this.stopRequested) {
        const s = this.step; // 0-based index of the step being taken
        const t0 = performance.now();
        const lr = lrAt(s, { lr: t.lr, minLr: t.minLr, warmupSteps: t.warmupSteps, decaySteps });
        const learned = d.kind === 'learned';
        const lamH = learned && d.entropy.enabled ? lambdaAt(d.entropy.schedule, s) : 0;
        const lamL1 = learned && d.l1.enabled ? lambdaAt(d.l1.schedule, s) : 0;
        const wantStats = learned && (s + 1) % t.statsInterval === 0;

        let acc: Map<string, tf.Tensor> | null = null;
        let loss = 0, ce = 0, h = 0, l1 = 0;
        let kept: tf.Tensor[] = [];
        // gradAccum batches, each run as `chunks` equal slices (micro-batches): every slice's loss
        // is a mean over as many tokens, so the mean of the slices' gradients is the batch's
        const chunks = B / this.microBatch, passes = t.gradAccum * chunks, rows = this.microBatch;
        for (let a = 0; a < t.gradAccum; a++) {
          const { x, y } = this.dataset.batch('train', B, T, this.rng);
          const seed = this.rng.int(2 ** 31);
          for (let c = 0; c < chunks; c++) {
            const first = a === 0 && c === 0;
            const xs = microBatchSlice(x, c, rows, T), ys = microBatchSlice(y, c, rows, T);
            let parts: tf.Tensor[] = [];
            const { value, grads } = this.model.gradients(() => {
              const r = this.model.loss(xs, ys, lamH, lamL1, { training: true, seed: seed + c, wantMasks: wantStats && first });
              parts = [r.crossEntropy, r.entropy, r.l1].map((p) => tf.keep(p));
              if (wantStats && first) kept = r.masks.map((m) => tf.keep(m));
              return r.loss;
            });
            const [vl, vce, vh, vl1] = (await Promise.all([value, ...parts].map((p) => p.data()))).map((d) => d[0]);
            loss += vl / passes;
            ce += vce / passes;
            h += vh / passes;
            l1 += vl1 / passes;
            tf.dispose([value, xs, ys, ...parts]);
            acc = accumulateGrads(acc, grads);
          }
        }
        if (!Number.isFinite(loss)) throw new Error(`the loss became ${loss} at step ${s + 1}: try a lower learning rate (train.lr) or gradient clipping (train.gradClip)`);
        if (passes > 1) for (const [n, g] of acc!) acc!.set(n, tf.tidy(() => tf.div(g, passes)) as tf.Tensor), g.dispose();
        await this.opt.update(acc!, lr, t.gradClip);
        tf.dispose([...acc!.values()]);
        this.step = s + 1;

        const dt = (performance.now() - t0) / 1000;
        const tokensPerSec = (B * T * t.gradAccum) / dt;
        const rec: StepRecord = { type: 'step', step: this.step, time: Date.now(), loss, crossEntropy: ce, entropy: h, l1, lambdaEntropy: lamH, lambdaL1: lamL1, lr, tokensPerSec };
        this.emit(events, rec);
        if (kept.length) {
          this.emit(events, await this.maskStats(kept, events));
          tf.dispose(kept);
          kept = [];
        }
        const evalNow = this.step % t.evalInterval === 0 || this.step === t.steps;
        if (evalNow) this.emit(events, await this.evaluate());
        const elapsed = (performance.now() - started) / 1000;
        const rate = (this.step - startStep) / Math.max(elapsed, 1e-9);
        events.progress?.({ step: this.step, totalSteps: t.steps, loss, tokensPerSec, etaSeconds: (t.steps - this.step) / Math.max(rate, 1e-9) });
        if (this.step % t.checkpointInterval === 0 || this.step === t.steps) await this.checkpoint(events);
        else if (evalNow) this.saveMeta();
        await yieldToRequests(); // requests (stop, analyze) in between steps; the ones a user waits for first
      }
      if (this.stopRequested && listCheckpoints(this.dir).at(-1)?.step !== this.step) await this.checkpoint(events);
      outcome = { status: this.stopRequested && this.step < t.steps ? 'stopped' : 'completed', step: this.step };
    } catch (e) {
      outcome = { status: 'failed', step: this.step, error: (e as Error).message };
      events.log?.('error', `run ${this.id} failed at step ${this.step}: ${(e as Error).message}`);
    }
    this.meta.status = outcome.status;
    this.meta.error = outcome.error;
    this.saveMeta();
    return outcome;
  }

  private saveMeta(): void {
    this.meta.step = this.step;
    this.meta.bestValLoss = this.bestValLoss;
    this.meta.totalSteps = this.config.train.steps;
    writeRunMeta(this.dir, this.meta);
  }

  private async checkpoint(events: TrainEvents): Promise<void> {
    const info = saveCheckpoint(this.dir, {
      step: this.step,
      shape: this.shape,
      config: this.config,
      tokenizer: this.tokenizer.toJSON(),
      weights: await this.model.weights(),
      optimizer: await this.opt.state(),
      rng: this.rng.state(),
      bestValLoss: this.bestValLoss,
      valLoss: this.lastValLoss,
    });
    this.saveMeta();
    if (this.model.sites.length) this.emit(events, await this.reportRecord());
    events.checkpoint?.(info);
    if (this.watchText && events.watch) {
      const im = { model: this.model, tokenizer: this.tokenizer, checkpoint: { runDir: this.dir, dir: info.dir, step: this.step } };
      try {
        checkFullReply(im, this.watchText.length, 'the watched text is not re-analyzed at checkpoints');
        events.watch(await analyzeText(im, this.watchText));
      } catch (e) {
        if (!(e instanceof TooLargeError)) throw e;
        events.log?.('warn', e.message);
      }
    }
  }

  /**
   * Train loss: mean cross-entropy on evalBatches random batches of the train split, from an RNG of
   * its own (training's is untouched). Validation loss: over the validation split's consecutive
   * blockSize windows (at most train.evalValTokens tokens of it), the same tokens every time.
   */
  private async evaluate(): Promise<EvalRecord> {
    const t = this.config.train, T = this.shape.blockSize;
    const rng = new Rng((t.seed ^ 0x9e3779b9 ^ this.step) >>> 0);
    const rows = this.microBatch;
    const meanCE = async (x: Int32Array, y: Int32Array, n: number) => {
      const v = tf.tidy(() => this.model.loss(tf.tensor2d(x, [n, T], 'int32'), tf.tensor2d(y, [n, T], 'int32'), 0, 0, { training: false, wantMasks: false }).crossEntropy);
      const ce = (await v.data())[0];
      v.dispose();
      return ce;
    };
    let trainLoss = 0;
    for (let i = 0; i < t.evalBatches; i++) {
      const { x, y } = this.dataset.batch('train', t.batchSize, T, rng);
      for (let c = 0; c < t.batchSize / rows; c++) trainLoss += (await meanCE(x.subarray(c * rows * T, (c + 1) * rows * T), y.subarray(c * rows * T, (c + 1) * rows * T), rows)) * rows;
    }
    trainLoss /= t.evalBatches * t.batchSize;
    const { valLoss, valTokens } = await this.validationLoss(meanCE);
    this.lastValLoss = valLoss;
    if (this.bestValLoss === null || valLoss < this.bestValLoss) this.bestValLoss = valLoss;
    return { type: 'eval', step: this.step, time: Date.now(), trainLoss, valLoss, valTokens };
  }

  /** Mean next-token cross-entropy over the validation split's windows ids[iT:(i+1)T] → ids[iT+1:(i+1)T+1]. */
  private async validationLoss(meanCE: (x: Int32Array, y: Int32Array, n: number) => Promise<number>): Promise<{ valLoss: number; valTokens: number }> {
    const T = this.shape.blockSize, val = this.dataset.val, cap = this.config.train.evalValTokens;
    let windows = Math.floor((val.length - 1) / T);
    if (cap > 0) windows = Math.max(1, Math.min(windows, Math.floor(cap / T)));
    let sum = 0;
    for (let i = 0; i < windows; i += this.microBatch) {
      const n = Math.min(this.microBatch, windows - i);
      sum += (await meanCE(val.slice(i * T, (i + n) * T), val.slice(i * T + 1, (i + n) * T + 1), n)) * n;
    }
    return { valLoss: sum / windows, valTokens: windows * T };
  }

  /** The mask report on the validation split's first REPORT_WINDOWS windows. */
  private async reportRecord(): Promise<ReportRecord> {
    const report = await maskReportOnIds(this.model, this.tokenizer, this.dataset.val, { chanceDraws: REPORT_CHANCE_DRAWS, maxTokens: REPORT_WINDOWS * this.shape.blockSize });
    return { type: 'report', step: this.step, time: Date.now(), report };
  }

  /** Per-site mask statistics from the masks the step already computed (no extra forward pass). */
  private async maskStats(masks: tf.Tensor[], events: TrainEvents): Promise<StatsRecord> {
    const data = await Promise.all(masks.map((m) => m.data() as Promise<Float32Array>));
    const abData = new Map(await Promise.all(this.model.sites.flatMap((site) => ['A', 'B'].map(async (n) => [`${site.name}.${n}`, await this.model.params.get(`${site.name}.${n}`)!.data()] as const))));
    const sites: SiteStats[] = this.model.sites.map((site, k) => {
      const m = data[k];
      const shape = masks[k].shape;
      let sum = 0, low = 0, high = 0, active = 0, count = 0, rows = 0;
      if (site.kind === 'attention') {
        // (B, nh, T, T): causal entries only (the rest multiply probabilities that are zero).
        const [b, nh, T] = shape as [number, number, number, number];
        const nRows = b * nh * T;
        for (let r = 0; r < nRows; r++) {
          const i = r % T;
          for (let j = 0; j <= i; j++) {
            const v = m[r * T + j];
            sum += v;
            if (v < 0.1) low++;
            if (v > 0.9) high++;
            if (v >= 0.5) active++;
            count++;
          }
        }
        rows = nRows;
      } else {
        for (let i = 0; i < m.length; i++) {
          const v = m[i];
          sum += v;
          if (v < 0.1) low++;
          if (v > 0.9) high++;
          if (v >= 0.5) active++;
        }
        count = m.length;
        rows = m.length / site.units;
      }
      const ab = (n: string) => {
        const a = abData.get(`${site.name}.${n}`)!;
        let mu = 0;
        for (const v of a) mu += v;
        mu /= a.length;
        let vr = 0;
        for (const v of a) vr += (v - mu) ** 2;
        return [mu, Math.sqrt(vr / a.length)];
      };
      const [aMean, aStd] = ab('A');
      const [bMean, bStd] = ab('B');
      return { site: site.name, layer: site.layer, kind: site.kind, units: site.units, meanMask: sum / count, fracLow: low / count, fracHigh: high / count, meanActive: active / rows, aMean, aStd, bMean, bStd };
    });
    const stuck = this.step >= STUCK_AFTER_STEPS && sites.every((s) => s.fracHigh > STUCK_FRACTION);
    if (stuck && !this.warnedStuck) {
      this.warnedStuck = true;
      events.log?.(
        'warn',
        `run ${this.id}: after ${this.step} steps every LearnedDropout mask is still above 0.9 almost everywhere: nothing is being dropped. ` +
          'B near 0 with a small A is a stationary point (∂m/∂B = −½·sin(B + A·x) ≈ 0); initialize B near π/2 (dropout.bInit) or raise the penalties.',
      );
    }
    const stuckSites: NonNullable<StatsRecord['stuckSites']> = [];
    for (const s of this.step >= STUCK_AFTER_STEPS ? sites : []) {
      const at = stuckAt(s);
      if (at) stuckSites.push({ site: s.site, at });
    }
    for (const { site, at } of stuckSites) {
      if (stuck || this.warnedSites.has(site + at)) continue;
      this.warnedSites.add(site + at);
      events.log?.('warn', `run ${this.id}: after ${this.step} steps the mask at ${site} is stuck at ${at === 'half' ? '0.5 (undecided)' : at === 'one' ? '1' : '0'}: ${STUCK_ADVICE[at]}.`);
    }
    return { type: 'stats', step: this.step, time: Date.now(), sites, stuck, stuckSites };
  }
}

/** AdamW with decay on ≥ 2-D weights only (the reference's adamw_groups); A/B may get their own rate and optimizer. */
function makeOptimizer(model: GPT, c: LDConfig): AdamW {
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

const SHAPE_KEYS = ['vocabSize', 'blockSize', 'nEmbd', 'nHead', 'nLayer'] as const;

/** How `got` differs from `want` ("blockSize 64, not 32"), or null when they match. */
function shapeMismatch(got: Partial<ModelShape> | undefined, want: ModelShape): string | null {
  const diff = SHAPE_KEYS.filter((k) => got?.[k] !== want[k]);
  return diff.length ? `is ${diff.map((k) => `${k} ${got?.[k]}, not ${want[k]}`).join(', ')}` : null;
}

function checkpointsDirOf(runDir: string): string {
  return join(runDir, 'checkpoints');
}

/** Refuses a model whose training would not fit the wasm heap or the machine (see memoryEstimate.ts). */
function checkTrainingMemory(config: LDConfig, shape: ModelShape): void {
  const t = config.train;
  const micro = t.microBatch > 0 ? t.microBatch : inPlaceBackend() ? autoMicroBatch(t.batchSize, shape) : t.batchSize;
  checkMemory(trainingMemory(shape, config.dropout.kind === 'learned', micro), 'training this model', {
    wasm: onWasm(),
    hint: 'make it smaller (model.nEmbd, model.nLayer, model.blockSize) or the micro-batch (train.microBatch)',
  });
}
