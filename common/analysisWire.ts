// Analyses the engine keeps (`analysis/*` requests): the editor opens one, receives per-token
// summaries for the whole text in bounded chunks of binary columns, and fetches masks lazily by
// token range and site. Every reply is bounded in size whatever the text's size, so no reply
// nears V8's string limit. The classic `analyze` (protocol.ts) stays for small texts.
import { RequestType } from 'vscode-jsonrpc';
import type { AnalysisResult, CheckpointRef, MaskSite, PaintedDefinition } from './protocol';

// ----------------------------------------------------------------------------- columns

/**
 * One per-token column of a summary chunk: little-endian Float32 values, base64-encoded. `site`
 * is the site's index for per-site statistics (SiteMasks fields: `active`, `mean`, `keys`,
 * `fraction`, `decided`, and `chance.active`, `chance.fraction`, `chance.mean`, `chance.decided`:
 * dotted names nest), −1 for per-token fields of the analysis itself (`id`, `start`, `end`,
 * `surprisal`, `painted`). NaN stands for null. Statistics a full analysis sends with 5 decimals
 * (`mean`, `fraction`, `decided`, `chance.fraction`, `chance.mean`, `chance.decided`, `painted`)
 * are those doubles as float32: rounding to 5 decimals gives them back exactly.
 */
export interface WireColumn {
  name: string;
  site: number;
  data: string;
}

// ----------------------------------------------------------------------------- requests

export interface AnalysisOpenParams {
  /** A checkpoint folder, or a run folder (its latest checkpoint). */
  checkpoint: string;
  text: string;
  window?: number;
  stride?: number;
  /** UTF-16 range of the text to analyze first (the visible lines); its summaries come first. */
  first?: { start: number; end: number };
}

export interface AnalysisHandle {
  id: string;
  checkpoint: CheckpointRef;
  textLength: number;
  tokenCount: number;
  sites: MaskSite[];
  /** What the `painted` column holds (AnalysisResult.paintedBy); absent for a model without learned masks. */
  paintedBy?: PaintedDefinition;
  window: number;
  stride: number;
  /** Tokens of `first` (end exclusive), or null. */
  first: { from: number; to: number } | null;
  /** Most tokens one `analysis/summaries` reply carries, and one `analysis/slice` reply. */
  summaryChunk: number;
  sliceChunk: number;
  /** Masks kept in memory (true) or recomputed from their windows on demand (large texts). */
  masksStored: boolean;
  /** What the engine holds for it (bytes). */
  bytes: number;
}
export const AnalysisOpen = new RequestType<AnalysisOpenParams, AnalysisHandle, void>('analysis/open');

export interface AnalysisRangeParams {
  id: string;
  /** Tokens [from, to); a reply may stop earlier (see `to` in the reply). */
  from: number;
  to: number;
}

export interface SummaryChunk {
  from: number;
  to: number;
  columns: WireColumn[];
  /** Set once every token is analyzed: the mean next-token cross-entropy over the text. */
  complete: boolean;
  crossEntropy: number | null;
}
/** Waits until the tokens are analyzed, then sends their summaries. */
export const AnalysisSummaries = new RequestType<AnalysisRangeParams, SummaryChunk, void>('analysis/summaries');

export interface AnalysisSliceParams extends AnalysisRangeParams {
  /** Site names; default every site. */
  sites?: string[];
}
/**
 * Tokens [from, to) as an AnalysisResult: the same values a full `analyze` of the text gives for
 * those tokens (offsets into the whole text; `layers` only for the sites asked, in `sites`
 * order; `crossEntropy` of the whole text once known).
 */
export const AnalysisSlice = new RequestType<AnalysisSliceParams, AnalysisResult, void>('analysis/slice');

export const AnalysisRelease = new RequestType<{ id: string }, { released: boolean }, void>('analysis/release');
