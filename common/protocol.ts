// The extension ↔ engine boundary: JSON-RPC 2.0 over the engine's stdio (`ldlens serve`).
// Declared once here and imported by both sides; nothing else crosses the boundary.
import { NotificationType, RequestType, RequestType0 } from 'vscode-jsonrpc';
import type { DeepPartial, LDConfig, ModelShape } from './config';
import type { EvalRecord, SiteStats, StepRecord } from './metrics';

export const PROTOCOL_VERSION = 1;

// ----------------------------------------------------------------------------- shared data

export type BackendName = 'tensorflow-gpu' | 'webgpu' | 'tensorflow' | 'wasm' | 'cpu';
export type BackendChoice = BackendName | 'auto';
/** What trained a run: a tfjs backend of the TypeScript engine, or the PyTorch worker (engine/torch). */
export type TrainBackendName = BackendName | 'torch';

export interface BackendAttempt {
  name: BackendName;
  ok: boolean;
  /** Why it was not used (missing package, failed init), or why it was. */
  reason: string;
}

/** Where a LearnedDropout sits; `layer` is −1 for the embedding dropout. */
export type SiteKind = 'embedding' | 'attention' | 'attentionOutput' | 'mlp';

export interface MaskSite {
  /** nanoGPT module name, e.g. `transformer.h.0.attn.attn_dropout`. */
  name: string;
  layer: number;
  kind: SiteKind;
  /**
   * Mask values per token at this site. n_embd for embedding/attentionOutput/mlp; for attention,
   * nHead × blockSize: the token's row of each head's mask over the (window-relative) key positions.
   */
  units: number;
  /** Attention sites: the number of heads (nHead); each head's row is `units / heads` keys (blockSize) long. */
  heads?: number;
}

export interface Token {
  id: number;
  /** The token's text as it appears in the source. */
  text: string;
  /** UTF-16 offsets into the analyzed text, end exclusive (what the editor paints). */
  start: number;
  end: number;
}

export interface SiteMasks {
  site: string;
  /** tokens × units mask values quantized to bytes, round(m·255), base64-encoded, row-major. */
  masks: string;
  /** Per token: number of units with m ≥ 0.5 (attention: over causal keys only). */
  active: number[];
  /** Per token: mean of m over its units (attention: over causal keys only). */
  mean: number[];
  /**
   * Attention sites only: per token, how many mask entries `active` and `mean` are over (heads ×
   * the causal keys of its window, nh·(t+1)), the denominator of `active`. Absent elsewhere
   * (there it is the site's `units`).
   */
  keys?: number[];
  /**
   * Per token: the fraction of its units kept, `active / units` (attention: `active / keys`, the
   * fraction of its causal keys kept), in [0, 1]. Unlike `active`, it does not grow with the
   * token's position in its window at attention sites.
   */
  fraction?: number[];
  /** Per token: how decided its mask is, mean of |2m − 1| over its units (0: all at 0.5; 1: all at 0 or 1). */
  decided?: number[];
  /**
   * The same per-token statistics from untrained A and B drawn from the run's init (seeded) on the
   * same hidden states: what chance gives. Absent for dropout kinds without a learned mask.
   */
  chance?: { active: number[]; fraction: number[]; mean: number[]; decided: number[] };
}

/** What the editor paints by default, per token (see `AnalysisResult.painted`). */
export interface PaintedDefinition {
  /** Machine name of the metric, e.g. `fraction`. */
  metric: string;
  /** One sentence for legends and tooltips: what the number measures and over which sites. */
  description: string;
  /** Names of the sites it averages over (attention sites are left out: position would dominate). */
  sites: string[];
}

export interface AnalysisResult {
  /** Checkpoint the masks come from. */
  checkpoint: CheckpointRef;
  textLength: number;
  tokens: Token[];
  sites: MaskSite[];
  /** One entry per site, same order as `sites`. */
  layers: SiteMasks[];
  /** Window and stride used to cover texts longer than blockSize. */
  window: number;
  stride: number;
  /** Mean next-token cross-entropy over the text (nats); null when there is nothing to predict. */
  crossEntropy: number | null;
  /** Per token: −ln p(token | preceding tokens in its window), null for a window's first token. */
  surprisal: (number | null)[];
  /** Per token, aligned with `tokens`: the value the editor paints by default (see `paintedBy`). */
  painted?: number[];
  paintedBy?: PaintedDefinition;
}

// ----------------------------------------------------------------------------- mask report

/** A variance-explained figure (η², in [0, 1]) of a per-token statistic by one grouping. */
export interface VarianceExplained {
  /** By token identity (each distinct token id a group). */
  token: number;
  /** By token type (letter, digit, space, punctuation, …: the engine's token classes). */
  tokenType: number;
  /** By position in the analysis window. */
  position: number;
}

/** One site's figures in a mask report; each is next to the same figure under chance A/B. */
export interface SiteReportFigures {
  /** Fraction of mask values outside [0.1, 0.9]. */
  decidedFraction: number;
  /** Mean |2m − 1| over all values. */
  meanDecided: number;
  /** Mean fraction of units kept per token (m ≥ 0.5). */
  meanFraction: number;
  /** Units with m ≥ 0.5 for ≥ 99% of tokens / with m < 0.5 for ≥ 99% of tokens (0 at attention sites, whose units are key positions). */
  alwaysOn: number;
  alwaysOff: number;
  /** η² of the per-token kept fraction, by token, token type and window position. */
  eta2: VarianceExplained;
}

export interface SiteReport {
  site: string;
  layer: number;
  kind: SiteKind;
  units: number;
  trained: SiteReportFigures;
  /** Untrained A/B from the run's init on the same hidden states; several draws averaged. */
  chance: SiteReportFigures;
  /** Spread of the chance figures over the draws (standard deviation), for "outside chance". */
  chanceSd: SiteReportFigures;
  /** One sentence: whether the trained figures differ from chance, and how. */
  verdict: string;
}

export interface MaskReport {
  checkpoint: CheckpointRef;
  /** Tokens the report is over, and how many chance draws. */
  tokens: number;
  chanceDraws: number;
  sites: SiteReport[];
  /** Plain-language summary lines: decided or not, token structure above chance or not. */
  summary: string[];
}

export interface ReportParams {
  /** A checkpoint folder, or a run folder (its latest checkpoint). */
  checkpoint: string;
  text: string;
  chanceDraws?: number;
}
export const Report = new RequestType<ReportParams, MaskReport, void>('report');

export interface CheckpointRef {
  runDir: string;
  /** Folder of the checkpoint itself (holds model.safetensors and config.json). */
  dir: string;
  step: number;
}

export interface CheckpointInfo extends CheckpointRef {
  time: string;
  valLoss: number | null;
}

export type RunStatus = 'running' | 'completed' | 'stopped' | 'failed' | 'interrupted';

export interface RunInfo {
  id: string;
  name: string;
  dir: string;
  status: RunStatus;
  backend: TrainBackendName | null;
  step: number;
  totalSteps: number;
  bestValLoss: number | null;
  dropoutKind: string;
  created: string;
  checkpoints: CheckpointInfo[];
  error?: string;
}

// One line of a run's metrics.jsonl is a MetricRecord. The step, eval and site-stats records are
// declared by their fields in metrics.ts.
export type { EvalRecord, SiteStats, StepRecord } from './metrics';

/** Every `statsInterval` steps. */
export interface StatsRecord {
  type: 'stats';
  step: number;
  time: number;
  sites: SiteStats[];
  /** True when every mask has stayed near 1: the LearnedDropout is dropping nothing. */
  stuck: boolean;
  /**
   * Sites whose masks are stuck (from step 100 on), and where: 'one', > 99% of values above 0.9
   * (drops nothing); 'zero', > 99% below 0.1; 'half', < 1% outside [0.1, 0.9] (undecided).
   */
  stuckSites?: { site: string; at: 'one' | 'zero' | 'half' }[];
}

/** A mask report on the validation text at a checkpoint, written while training. */
export interface ReportRecord {
  type: 'report';
  step: number;
  time: number;
  report: Omit<MaskReport, 'checkpoint'>;
}

/** One line of metrics.jsonl; `report` lines come at checkpoints (older runs have none). */
export type MetricRecord = StepRecord | StatsRecord | EvalRecord | ReportRecord;

// ----------------------------------------------------------------------------- errors

/** `error.code` of a failed request; `error.data` is `EngineErrorData`. */
export const EngineErrorCode = {
  InvalidConfig: -32001,
  BadInput: -32002,
  CorruptCheckpoint: -32003,
  NotFound: -32004,
  Busy: -32005,
  Backend: -32006,
  /** vscode-jsonrpc's RequestCancelled. */
  Cancelled: -32800,
} as const;
export type EngineErrorCode = (typeof EngineErrorCode)[keyof typeof EngineErrorCode];

export interface EngineErrorData {
  /** Every problem found, each one sentence (e.g. all invalid config keys). */
  problems?: string[];
  path?: string;
}

// ----------------------------------------------------------------------------- requests

export interface InitializeParams {
  /** `torch`: training in PyTorch (the engine's own backend, `auto`, does the rest). */
  backend?: BackendChoice | 'torch';
  clientName?: string;
  /** The Python of the torch backend (ldlens.engine.pythonPath); default: LDLENS_PYTHON, else python3. */
  pythonPath?: string;
}
export interface InitializeResult {
  engineVersion: string;
  protocolVersion: number;
  backend: BackendName;
  attempts: BackendAttempt[];
  presets: { name: string; description: string }[];
}
export const Initialize = new RequestType<InitializeParams, InitializeResult, void>('initialize');

export interface TrainStartParams {
  /** Files, folders or glob patterns (UTF-8 text). */
  data: string[];
  /** Folder holding runs; the run gets a subfolder. */
  runsDir: string;
  name?: string;
  preset?: string;
  /** A JSON config file, merged over the preset. */
  configFile?: string;
  overrides?: DeepPartial<LDConfig>;
  /** Text re-analyzed at every checkpoint (`train/watch` notifications). */
  watchText?: string;
}
export interface TrainStartResult {
  runId: string;
  runDir: string;
  config: LDConfig;
  model: ModelShape;
}
export const TrainStart = new RequestType<TrainStartParams, TrainStartResult, void>('train/start');

export interface TrainResumeParams {
  runDir: string;
  /** New total step count; default: the run's own. */
  steps?: number;
  watchText?: string;
}
export const TrainResume = new RequestType<TrainResumeParams, TrainStartResult, void>('train/resume');

export interface RunIdParams {
  runId: string;
}
/** Stops after the current step and writes a checkpoint. */
export const TrainStop = new RequestType<RunIdParams, { stopped: boolean }, void>('train/stop');

/** Replace the text a running training re-analyzes at every checkpoint (null: none). */
export const TrainWatch = new RequestType<{ runId: string; text: string | null }, void, void>('train/watch');

export interface AnalyzeParams {
  /** A checkpoint folder, or a run folder (its latest checkpoint). */
  checkpoint: string;
  text: string;
  /** Window length in tokens (≤ blockSize) and stride between windows. */
  window?: number;
  stride?: number;
}
export const Analyze = new RequestType<AnalyzeParams, AnalysisResult, void>('analyze');

export interface SampleParams {
  checkpoint: string;
  prompt: string;
  maxTokens: number;
  temperature?: number;
  topK?: number;
  seed?: number;
}
export interface SampleResult {
  text: string;
  /** Prompt + generated text, analyzed. */
  analysis: AnalysisResult;
  /** E.g. the prompt's characters outside the vocabulary, named (they were left out). */
  warnings?: string[];
}
export const Sample = new RequestType<SampleParams, SampleResult, void>('sample');

export interface EvalParams {
  checkpoint: string;
  data: string[];
}
export interface EvalResult {
  crossEntropy: number;
  tokens: number;
}
export const Eval = new RequestType<EvalParams, EvalResult, void>('eval');

export const ListRuns = new RequestType<{ runsDir: string }, RunInfo[], void>('runs/list');
/**
 * Follow a run written by another process or machine (a cluster job, a shared or Remote-SSH folder)
 * by polling its folder: its records arrive as train/metric, train/progress and train/checkpoint,
 * its end as train/ended; train/stop stops following (the run goes on). Busy while a run trains.
 */
export const RunFollow = new RequestType<{ runDir: string; intervalMs?: number }, TrainStartResult, void>('runs/follow');

export interface ClusterScriptParams extends Omit<TrainStartParams, 'watchText'> {
  nodes: number;
  gpusPerNode: number;
  /** The Python (with torch) on the cluster; default python3. */
  python?: string;
  partition?: string;
  /** Slurm's --time, e.g. 04:00:00. */
  time?: string;
  /** The job's device: cuda (default), auto, mps or cpu. */
  device?: 'cuda' | 'auto' | 'mps' | 'cpu';
}
/** A new run folder for a cluster, with RUN/torch/launch-torchrun.sh and RUN/torch/launch-slurm.sbatch (engine/src/torch/cluster.ts). */
export const ClusterScript = new RequestType<ClusterScriptParams, { runId: string; runDir: string; files: string[] }, void>('torch/clusterScript');
export const RunMetrics = new RequestType<{ runDir: string }, MetricRecord[], void>('runs/metrics');
export const Shutdown = new RequestType0<void, void>('shutdown');
/** Liveness: answered at once whatever the engine is doing (the supervisor restarts an engine that stops answering). */
export interface PingResult {
  pid: number;
}
export const Ping = new RequestType0<PingResult, void>('ping');

// ----------------------------------------------------------------------------- notifications

export interface RunMetricNotification {
  runId: string;
  record: MetricRecord;
}
export const TrainMetric = new NotificationType<RunMetricNotification>('train/metric');

export interface TrainProgressParams {
  runId: string;
  step: number;
  totalSteps: number;
  loss: number;
  tokensPerSec: number;
  etaSeconds: number;
}
export const TrainProgress = new NotificationType<TrainProgressParams>('train/progress');

export const TrainCheckpoint = new NotificationType<{ runId: string; checkpoint: CheckpointInfo }>('train/checkpoint');

export interface TrainEndedParams {
  runId: string;
  runDir: string;
  status: Exclude<RunStatus, 'running'>;
  step: number;
  error?: string;
}
export const TrainEnded = new NotificationType<TrainEndedParams>('train/ended');

/** The watched text re-analyzed with a fresh checkpoint. */
export const TrainWatchAnalysis = new NotificationType<{ runId: string; analysis: AnalysisResult }>('train/watchAnalysis');

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';
export const Log = new NotificationType<{ level: LogLevel; message: string }>('log');
