// The extension ↔ webview boundary for both views (Mask Explorer panel, Run charts view).
// Declared once here and imported by both sides: the webview bundles (webview/src/*) and the
// hosts in extension/src/webviews. Only type imports from the engine, so nothing from
// vscode-jsonrpc ends up in the browser bundle.
import type { AnalysisResult, CheckpointInfo, MaskReport, MetricRecord, RunInfo } from './protocol';
import type { MetricColumns } from './metricColumns';

export type { MetricColumns, SiteColumns } from './metricColumns';

export type {
  AnalysisResult,
  CheckpointInfo,
  EvalRecord,
  MaskReport,
  MaskSite,
  MetricRecord,
  ReportRecord,
  SiteReport,
  SiteReportFigures,
  RunInfo,
  RunStatus,
  SiteKind,
  SiteMasks,
  SiteStats,
  StatsRecord,
  StepRecord,
  Token,
} from './protocol';

// ----------------------------------------------------------------------------- shared

export type ExportKind = 'svg' | 'png' | 'csv' | 'json';

/** A file the webview built; the host asks where to save it and writes it. */
export interface ExportRequest {
  type: 'export';
  requestId: number;
  kind: ExportKind;
  /** Suggested file name (no folder). */
  filename: string;
  /** base64 for binary kinds (png), text otherwise. */
  encoding: 'base64' | 'text';
  data: string;
}

export interface ExportResult {
  type: 'exportResult';
  requestId: number;
  /** Where it was written; absent when the user cancelled or writing failed. */
  path?: string;
  cancelled?: boolean;
  error?: string;
}

/** Something went wrong inside the webview; the host logs it. */
export interface ViewError {
  type: 'error';
  message: string;
  stack?: string;
}

export interface ReadyMessage {
  type: 'ready';
}

// ----------------------------------------------------------------------------- Mask Explorer

export interface ExplorerSource {
  /** Document the analyzed text comes from (revealToken goes there). */
  uri: string;
  runDir: string;
  /** The analyzed text; re-analysis at other checkpoints uses it. Optional: rebuilt from tokens. */
  text?: string;
}

/**
 * Kept in the explorer's view state (getState/setState) so that a panel restored after a reload
 * can redo its analysis: MaskExplorerPanel.revive reads it. `text` is left out for huge texts.
 */
export interface ExplorerRestore {
  source: ExplorerSource;
  checkpointDir: string;
}

/** Everything the host knows, replayed after `ready` (a hidden panel loses its DOM). */
export interface ExplorerSnapshot {
  analysis: AnalysisResult | null;
  source: ExplorerSource | null;
  checkpoints: CheckpointInfo[];
  /** A token the host asked to select ("Open in Mask Explorer" from a hover). */
  selectedToken: number | null;
  /** True while a training run re-analyzes the text at each checkpoint. */
  live: boolean;
}

export type ExplorerHostMessage =
  | { type: 'state'; state: ExplorerSnapshot }
  | { type: 'analysis'; analysis: AnalysisResult; source: ExplorerSource }
  | { type: 'liveAnalysis'; analysis: AnalysisResult }
  | { type: 'checkpoints'; checkpoints: CheckpointInfo[] }
  | { type: 'selectToken'; index: number }
  /** Answer to `requestAnalysis`: the same text at another checkpoint, or why not. */
  | { type: 'scrubAnalysis'; requestId: number; checkpointDir: string; analysis?: AnalysisResult; error?: string }
  /** Answer to `requestReport`: the engine's mask report of the analyzed text at a checkpoint, or why not. */
  | { type: 'report'; requestId: number; checkpointDir: string; report?: MaskReport; error?: string }
  | ExportResult;

export type ExplorerViewMessage =
  | ReadyMessage
  | { type: 'revealToken'; index: number; start: number; end: number }
  | { type: 'requestAnalysis'; requestId: number; checkpointDir: string }
  /** The engine's mask report (trained vs chance per site) of the analyzed text at a checkpoint the host told of. */
  | { type: 'requestReport'; requestId: number; checkpointDir: string }
  /** The pinned pair changed (null: unpinned); the host keeps it for the replay. */
  | { type: 'pinToken'; pinned: number[] }
  | ExportRequest
  | ViewError;

// ----------------------------------------------------------------------------- Run charts

export interface ChartsSnapshot {
  runs: RunInfo[];
  /** Run ids overlaid in the charts. */
  selected: string[];
  /** Chart ids drawn with a log y scale (the view's choice, kept by the host for the replay). */
  logScale?: string[];
}

export type ChartsHostMessage =
  | { type: 'state'; state: ChartsSnapshot }
  | { type: 'runs'; runs: RunInfo[] }
  /**
   * A run's metrics as columns (metricColumns.ts toColumns; replace: drop what the view holds for
   * it first, else append). Typed arrays: a structured clone of bytes, not of 100,000 objects.
   */
  | { type: 'metrics'; runId: string; columns: MetricColumns; replace: boolean }
  /** Live records while a run trains, in order (the host sends what arrived in the last ~100 ms). */
  | { type: 'metric'; runId: string; records: MetricRecord[] }
  | { type: 'selection'; selected: string[] }
  | ExportResult;

export type ChartsViewMessage =
  | ReadyMessage
  | { type: 'selectRuns'; runIds: string[] }
  /** The charts with a log y scale changed (the host replays them in `state`). */
  | { type: 'logScale'; charts: string[] }
  | ExportRequest
  | ViewError;

// ----------------------------------------------------------------------------- dispatch

export type Message = { type: string };

/** One handler per message type; the compiler checks that every type is handled. */
export type Handlers<M extends Message> = { [K in M['type']]: (message: Extract<M, { type: K }>) => void | Promise<void> };

/**
 * Routes an untyped message (from postMessage) to its handler. Returns false for anything that is
 * not a message of this union (wrong shape or unknown type), so callers can log it.
 */
export function dispatch<M extends Message>(
  handlers: Handlers<M>,
  data: unknown,
  onError: (error: unknown) => void = () => {},
): boolean {
  if (!isMessageOf(handlers, data)) return false;
  const handler = handlers[data.type as M['type']] as (message: M) => void | Promise<void>;
  try {
    const result = handler(data);
    if (result instanceof Promise) result.catch(onError);
  } catch (error) {
    onError(error);
  }
  return true;
}

/** True when `data` has a string `type` that the handler map knows. */
export function isMessageOf<M extends Message>(handlers: Handlers<M>, data: unknown): data is M {
  if (typeof data !== 'object' || data === null) return false;
  const type = (data as { type?: unknown }).type;
  return typeof type === 'string' && Object.prototype.hasOwnProperty.call(handlers, type);
}
