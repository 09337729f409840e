// A training run: the step loop with metrics appended to metrics.jsonl as they happen, periodic
// evaluation, mask statistics and checkpoints, exact resume, and a cooperative stop. Its set-up is
// in runSetup.ts, the micro-batches in microBatch.ts, the mask records in maskStats.ts and
// maskReportRecord.ts.
import { appendFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tf } from '../backend';
import { CheckpointError, hasReportRecord, listCheckpoints, loadCheckpoint, loadTrainingState, readRunMeta, saveCheckpoint, writeRunMeta, type RunMeta, type TrainingState } from '../checkpoint';
import { lambdaAt, lrAt, type LDConfig, type ModelShape } from '../config';
import { loadCorpus } from '../corpus';
import { Dataset } from '../dataset';
import { checkFullReply, TooLargeError } from '../analysisStore';
import { analyzeText } from '../inference';
import { GPT, parameterShapes } from '../model';
import type { AdamW, OptimizerState } from '../optim';
import type { AnalysisResult, BackendName, CheckpointInfo, EvalRecord, LogLevel, MetricRecord, StepRecord } from '@common/protocol';
import { yieldToRequests } from '../requestPriority';
import { Rng } from '../rng';
import { acquireRunLock, type RunLock } from '../runLock';
import { cleanTempFiles } from '../runTemp';
import { tokenizerFromJSON, type Tokenizer } from '../tokenizer';
import { maskReportRecord } from './maskReportRecord';
import { MaskStatistics } from './maskStats';
import { accumulateGrads, checkTrainingMemory, microBatchSize, microBatchSlice } from './microBatch';
import {
  buildConfig,
  checkCheckpointFitsRun,
  checkNoRunIn,
  initialModel,
  loadNewRunData,
  makeOptimizer,
  newRunFolder,
  readRunConfig,
  reopenRun,
  shapeMismatch,
  writeNewRun,
  type NewRunData,
  type TrainSetup,
} from './runSetup';

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

export class TrainingRun {
  stopRequested = false;
  watchText: string | null = null;
  private readonly metricsPath: string;
  private bestValLoss: number | null;
  private lastValLoss: number | null = null;
  private readonly maskStatistics: MaskStatistics;

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
    this.maskStatistics = new MaskStatistics(meta.id);
  }

  get id(): string {
    return this.meta.id;
  }
  /**
   * Sequences per forward/backward pass: train.microBatch, or (0) on the CPU backends the most
   * that fit the wasm heap, on GPU backends the whole batch.
   */
  get microBatch(): number {
    return microBatchSize(this.config, this.shape);
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
    const data = await loadNewRunData(setup, config);
    checkTrainingMemory(config, data.shape);

    const folder = newRunFolder(setup, config);
    mkdirSync(folder.dir, { recursive: true });
    // The lock first: a folder that another process is training is refused naming that trainer.
    const lock = acquireRunLock(folder.dir);
    try {
      checkNoRunIn(folder.dir);
      cleanTempFiles(folder.dir);
      return TrainingRun.createLocked(setup, config, data, folder, backend, lock);
    } catch (e) {
      lock.release();
      throw e;
    }
  }

  private static createLocked(setup: TrainSetup, config: LDConfig, data: NewRunData, folder: { name: string; id: string; dir: string }, backend: BackendName, lock: RunLock): TrainingRun {
    const { model, rng } = initialModel(data.shape, config);
    const meta = writeNewRun(folder, setup, data, config, backend);
    const run = new TrainingRun(folder.dir, meta, config, data.shape, data.tokenizer, data.dataset, model, makeOptimizer(model, config), rng, 0, lock);
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
    const { cfgPath, saved, config } = readRunConfig(dir, steps);
    const tokenizer = tokenizerFromJSON(saved.tokenizer);
    const shape: ModelShape = { ...config.model, vocabSize: tokenizer.vocabSize };
    const shapeProblem = shapeMismatch(saved.model, shape);
    if (shapeProblem) throw new CheckpointError(`${cfgPath}: model ${shapeProblem}; the run cannot be resumed`, cfgPath);
    const corpus = await loadCorpus(meta.data, { cwd: meta.cwd, maxBytes: meta.maxBytes });
    // The vocabulary is the run's own: a corpus that changed since is read with it, or refused.
    const dataset = new Dataset(tokenizer.encodeTyped(corpus.text, 'error').ids, config.train.valFraction);
    dataset.checkWindow(shape.blockSize);

    const ckpts = listCheckpoints(dir);
    const last = ckpts.at(-1);
    let restored: { weights: Map<string, Float32Array>; state: TrainingState; optimizer: OptimizerState } | null = null;
    if (last) {
      const ck = loadCheckpoint(last.dir);
      checkCheckpointFitsRun(ck, dir, shape, tokenizer, config);
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
      ({ model, rng } = initialModel(shape, config));
      opt = makeOptimizer(model, config);
      meta.bestValLoss = null;
    }
    reopenRun(dir, meta, { backend, step, saved, stepsChanged: steps !== undefined });
    const run = new TrainingRun(dir, meta, config, shape, tokenizer, dataset, model, opt, rng, step, lock);
    // A trainer stopped between writing a checkpoint and its report record (a killed torch worker
    // whose engine had not finished the report): the report is made from the checkpoint on resume.
    run.reportMissing = restored !== null && model.sites.length > 0 && !hasReportRecord(dir, step);
    return run;
  }

  stop(): void {
    this.stopRequested = true;
  }

  dispose(): void {
    this.model.dispose();
    this.opt.dispose();
    this.lock.release();
  }

  /** The checkpoint resumed from has no report record yet: run() writes it first. */
  private reportMissing = false;

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
      if (this.reportMissing) {
        this.emit(events, await maskReportRecord(this.model, this.tokenizer, this.dataset.val, this.step));
        this.reportMissing = false;
      }
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
          this.emit(events, await this.maskStatistics.record(this.model, kept, this.step, events));
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
    if (this.model.sites.length) this.emit(events, await maskReportRecord(this.model, this.tokenizer, this.dataset.val, this.step));
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
      // requests in between batches: a whole-split evaluation takes ~1 s on `tiny`, the CPU
      await yieldToRequests();
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
}
