// The engine's operations, whoever asks: `ldlens serve` binds them to the protocol, the CLI's
// commands call them. The service owns the compute backend, the cache of loaded checkpoints and
// the one run that trains at a time, and chooses the trainer kind that runs it.
import { maskReport } from '../maskReport';
import type { AnalysisResult, BackendChoice, MaskReport, MetricRecord, RunInfo } from '@common/protocol';
import { initBackend, type BackendReport } from '../backend';
import { listRuns, readMetrics } from '../checkpoint';
import { loadCorpus } from '../corpus';
import type { AnalysisHandle } from '@common/analysisWire';
import { AnalysisStore, checkFullReply } from '../analysisStore';
import { analyzeText, checkpointCrossEntropy, sampleText, type InferenceModel } from '../inference';
import { holdTraining } from '../requestPriority';
import type { TrainSetup } from '../train/runSetup';
import type { RunOutcome, TrainEvents } from '../train/trainingRun';
import { ModelCache } from './modelCache';
import { TRAINERS, type Trainer, type TrainerFactory, type TrainerKind } from './trainers';

/** A second run asked for while one trains or is being set up. */
export class BusyError extends Error {}

/** No compute backend could be started; the message and stack are the backend's own. */
export class BackendError extends Error {
  constructor(cause: Error) {
    super(cause.message);
    this.stack = cause.stack;
  }
}

/** A run's events, and its end (after the run is disposed). */
export interface RunEvents extends TrainEvents {
  ended?(outcome: RunOutcome): void;
}

/** A run that has started training; `done` settles when it has ended and been disposed. */
export interface StartedRun {
  run: Trainer;
  done: Promise<RunOutcome>;
}

export interface EngineServiceOptions {
  /** Backend started on first need (unless initBackend names another first). */
  backend?: BackendChoice;
  trainer?: TrainerKind;
  /** Checkpoints kept loaded for analyze, sample and eval. */
  cacheSize?: number;
}

/** Called between window batches of an analysis or sample; throws to cancel it. */
type CancelHook = () => Promise<void>;

type SampleRequest = { checkpoint: string; prompt: string; maxTokens: number; temperature?: number; topK?: number; seed?: number };

export class EngineService {
  readonly models: ModelCache;
  /** Analyses kept for `analysis/*` requests; each leases its model from `models`. */
  readonly analyses: AnalysisStore;
  private readonly trainers: TrainerFactory;
  private readonly defaultBackend: BackendChoice;
  private backend: Promise<BackendReport> | null = null;
  private active: StartedRun | null = null;
  // Set-up (corpus, model) takes a while: a second train or resume arriving meanwhile is Busy too.
  private settingUp = false;

  constructor(o: EngineServiceOptions = {}) {
    this.models = new ModelCache(o.cacheSize ?? 3);
    this.analyses = new AnalysisStore();
    this.trainers = TRAINERS[o.trainer ?? 'tfjs'];
    this.defaultBackend = o.backend ?? 'auto';
  }

  /** Starts the compute backend once; later calls get the same report whatever they ask for. */
  initBackend(choice: BackendChoice = this.defaultBackend): Promise<BackendReport> {
    return (this.backend ??= initBackend(choice).catch((e) => {
      this.backend = null; // a later call may try again
      throw new BackendError(e as Error);
    }));
  }

  /** Runs f on a checkpoint's model, which stays loaded at least until f is done. */
  async withModel<R>(checkpoint: string, f: (im: InferenceModel) => Promise<R>): Promise<R> {
    await this.initBackend();
    return this.models.use(checkpoint, f);
  }

  /**
   * A whole text's analysis in one reply; refused up front (TooLargeError, `tooLargeHint` says what
   * to do instead) when its JSON would not fit one. Training waits between steps meanwhile.
   */
  analyze(p: { checkpoint: string; text: string; window?: number; stride?: number }, checkpointHook?: CancelHook, tooLargeHint = 'analysis/open sends it in bounded chunks'): Promise<AnalysisResult> {
    return this.withModel(p.checkpoint, (im) => {
      checkFullReply(im, p.text.length, tooLargeHint);
      return holdTraining(analyzeText(im, p.text, { window: p.window, stride: p.stride, checkpointHook }));
    });
  }

  /** Opens an analysis the engine keeps (summaries and masks fetched by range); it holds a lease on its model. */
  async openAnalysis(p: { checkpoint: string; text: string; window?: number; stride?: number; first?: { start: number; end: number } }): Promise<AnalysisHandle> {
    await this.initBackend();
    return this.analyses.open(this.models.acquire(p.checkpoint), p.text, { window: p.window, stride: p.stride, first: p.first });
  }

  /** The mask report of a text: per site, how decided the masks are and their token structure, next to chance. */
  report(p: { checkpoint: string; text: string; chanceDraws?: number }, checkpointHook?: CancelHook): Promise<MaskReport> {
    return this.withModel(p.checkpoint, (im) => maskReport(im, p.text, { chanceDraws: p.chanceDraws, checkpointHook }));
  }

  /** Text sampled after the prompt. */
  sampleText(p: SampleRequest, checkpointHook?: CancelHook): Promise<string> {
    return this.withModel(p.checkpoint, (im) => sampleText(im, p.prompt, { maxTokens: p.maxTokens, temperature: p.temperature, topK: p.topK, seed: p.seed, checkpointHook }));
  }

  /** Text sampled after the prompt, and the analysis of prompt and text (by the same model). */
  sample(p: SampleRequest, checkpointHook?: CancelHook): Promise<{ text: string; analysis: AnalysisResult }> {
    return this.withModel(p.checkpoint, async (im) => {
      const text = await sampleText(im, p.prompt, { maxTokens: p.maxTokens, temperature: p.temperature, topK: p.topK, seed: p.seed, checkpointHook });
      return { text, analysis: await analyzeText(im, p.prompt + text, { checkpointHook }) };
    });
  }

  /** The checkpoint's mean next-token cross-entropy over a corpus. */
  async eval(p: { checkpoint: string; data: string[] }): Promise<{ crossEntropy: number; tokens: number }> {
    await this.initBackend();
    const corpus = await loadCorpus(p.data, { minChars: 2 });
    return this.models.use(p.checkpoint, (im) => checkpointCrossEntropy(im, corpus.text));
  }

  listRuns(runsDir: string): RunInfo[] {
    return listRuns(runsDir);
  }

  metrics(runDir: string): MetricRecord[] {
    return readMetrics(runDir);
  }

  /** The run training now, if any. */
  get activeRun(): Trainer | null {
    return this.active?.run ?? null;
  }

  /** Sets up a new run and starts training it; eventsFor gets the run before its first step. `trainers`: another kind for this run (torch). */
  async train(setup: TrainSetup, eventsFor: (run: Trainer) => RunEvents, trainers: TrainerFactory = this.trainers): Promise<StartedRun> {
    const { backend } = await this.initBackend();
    return this.claim(() => trainers.create(setup, backend), eventsFor);
  }

  /** Continues a run from its latest checkpoint (to `steps` in all, if given). */
  async resume(p: { runDir: string; steps?: number; watchText?: string }, eventsFor: (run: Trainer) => RunEvents, trainers: TrainerFactory = this.trainers): Promise<StartedRun> {
    const { backend } = await this.initBackend();
    return this.claim(async () => {
      const run = await trainers.resume(p.runDir, backend, p.steps);
      run.watchText = p.watchText ?? null;
      return run;
    }, eventsFor);
  }

  /** Stops the run if it is the one training, waiting for its final checkpoint; false if it was not. */
  async stop(runId: string): Promise<boolean> {
    const a = this.active;
    if (!a || a.run.id !== runId) return false;
    a.run.stop();
    await a.done;
    return true;
  }

  /** Stops whatever trains, waiting for its final checkpoint. */
  async stopAll(): Promise<void> {
    if (this.active) await this.stop(this.active.run.id);
  }

  /** Sets (or clears, with null) the text the training run analyzes at each checkpoint. */
  watch(runId: string, text: string | null): void {
    if (this.active?.run.id === runId) this.active.run.watchText = text;
  }

  /** Drives any Trainer as the one active run (train and resume use it; so does following a run folder). */
  async claim(setUp: () => Promise<Trainer>, eventsFor: (run: Trainer) => RunEvents): Promise<StartedRun> {
    if (this.active) throw new BusyError(`a run is already training (${this.active.run.id}); stop it first`);
    if (this.settingUp) throw new BusyError('a run is being set up; wait for it or stop it first');
    this.settingUp = true;
    try {
      const run = await setUp();
      const events = eventsFor(run);
      const done = (async () => {
        const outcome = await run.run(events);
        run.dispose();
        this.active = null;
        events.ended?.(outcome);
        return outcome;
      })();
      this.active = { run, done };
      return this.active;
    } finally {
      this.settingUp = false;
    }
  }
}
