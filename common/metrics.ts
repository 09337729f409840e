// The metric schema: the numeric fields of the step, eval and per-site stats records, declared once.
// The record types, the column store (metricColumns.ts), the charts' store and the CSV export all
// derive from these lists. A new metric: the trainer writes it, it is added here, and (to plot it)
// one chart entry in webview/src/charts/definitions.ts. The order is the order of JSON keys and CSV columns.
import type { SiteKind } from './protocol';

/** Every `logInterval` steps: the loss and its parts, the penalty weights, the learning rate, speed. */
export const STEP_FIELDS = ['loss', 'crossEntropy', 'entropy', 'l1', 'lambdaEntropy', 'lambdaL1', 'lr', 'tokensPerSec'] as const;
export type StepField = (typeof STEP_FIELDS)[number];

/** Every `evalInterval` steps and at the end. */
export const EVAL_FIELDS = ['trainLoss', 'valLoss'] as const;
export type EvalField = (typeof EVAL_FIELDS)[number];

/**
 * Per-site statistics of the mask and of A/B: mean m; fraction of values < 0.1 (fracLow) and > 0.9
 * (fracHigh); meanActive, the mean number of units with m ≥ 0.5 per token (attention: per query row);
 * units; mean and standard deviation of A and of B.
 */
export const SITE_FIELDS = ['meanMask', 'fracLow', 'fracHigh', 'meanActive', 'units', 'aMean', 'aStd', 'bMean', 'bStd'] as const;
export type SiteField = (typeof SITE_FIELDS)[number];

export type StepRecord = { type: 'step'; step: number; time: number } & Record<StepField, number>;
export type EvalRecord = { type: 'eval'; step: number; time: number } & Record<EvalField, number>;
export type SiteStats = { site: string; layer: number; kind: SiteKind } & Record<SiteField, number>;
