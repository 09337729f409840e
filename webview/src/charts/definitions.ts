// Which charts the view shows and which columns feed each line.
import { shortSiteLabel } from '@common/sites';
import type { Column, RunMetrics, SiteField, StepField } from './store';

export interface SeriesData {
  /** Stable key for d3 joins: run + series. */
  key: string;
  runId: string;
  label: string;
  xs: Column;
  ys: Column;
  /** Optional band (mean ± std): lower and upper bounds. */
  band?: { spread: Column };
  /** Index into the line palette (c0..c7) and the dash patterns, and what each stands for. */
  color: number;
  dash: number;
  colorLabel: string;
  dashLabel: string;
}

/** How a run is drawn: its position among the shown runs, its name, whether others are shown. */
export interface RunStyle {
  index: number;
  name: string;
  multiRun: boolean;
}

export interface ChartDef {
  id: string;
  title: string;
  /** Values are positive (log scale makes sense). */
  positive: boolean;
  series(run: RunMetrics, style: RunStyle): SeriesData[];
}

/**
 * Colour and dash of a run's i-th line. One run: colour tells the lines apart. Several runs:
 * colour is the run, dash the line (per-site charts, below, do the opposite).
 */
function runLine(style: RunStyle, i: number, label: string): Pick<SeriesData, 'color' | 'dash' | 'colorLabel' | 'dashLabel'> {
  return style.multiRun
    ? { color: style.index, dash: i, colorLabel: style.name, dashLabel: label }
    : { color: i, dash: 0, colorLabel: label, dashLabel: '' };
}

function columnSeries(run: RunMetrics, style: RunStyle, lines: [string, string, Column, Column][]): SeriesData[] {
  return lines.map(([id, label, xs, ys], i) => ({ key: `${run.runId}/${id}`, runId: run.runId, label, xs, ys, ...runLine(style, i, label) }));
}

function stepSeries(run: RunMetrics, style: RunStyle, fields: [StepField, string][]): SeriesData[] {
  return columnSeries(
    run,
    style,
    fields.map(([f, label]) => [f, label, run.steps.step, run.steps.cols[f]]),
  );
}

/** Per-site charts colour by site and dash by run, so that layers stay distinguishable. */
function siteSeries(run: RunMetrics, style: RunStyle, field: SiteField, spread?: SiteField): SeriesData[] {
  return [...run.sites.values()].map(({ info, table }, i) => ({
    key: `${run.runId}/${info.site}/${field}`,
    runId: run.runId,
    label: shortSiteLabel(info),
    xs: table.step,
    ys: table.cols[field],
    band: spread ? { spread: table.cols[spread] } : undefined,
    color: i,
    dash: style.multiRun ? style.index : 0,
    colorLabel: shortSiteLabel(info),
    dashLabel: style.multiRun ? style.name : '',
  }));
}

export const CHARTS: ChartDef[] = [
  {
    id: 'loss',
    title: 'Loss (train per step, train/val at eval)',
    positive: true,
    series: (run, style) =>
      columnSeries(run, style, [
        ['loss', 'train loss', run.steps.step, run.steps.cols.loss],
        ['evalTrain', 'eval train', run.evals.step, run.evals.cols.trainLoss],
        ['evalVal', 'validation', run.evals.step, run.evals.cols.valLoss],
      ]),
  },
  {
    id: 'terms',
    title: 'Cross-entropy vs penalty terms',
    positive: true,
    series: (run, style) =>
      stepSeries(run, style, [
        ['crossEntropy', 'cross-entropy'],
        ['penaltyEntropy', 'λ_H · entropy'],
        ['penaltyL1', 'λ_L1 · L1'],
      ]),
  },
  { id: 'entropy', title: 'Mask entropy', positive: true, series: (run, style) => stepSeries(run, style, [['entropy', 'entropy']]) },
  { id: 'l1', title: 'Mask L1', positive: true, series: (run, style) => stepSeries(run, style, [['l1', 'L1']]) },
  {
    id: 'lambda',
    title: 'λ schedules',
    positive: true,
    series: (run, style) =>
      stepSeries(run, style, [
        ['lambdaEntropy', 'λ entropy'],
        ['lambdaL1', 'λ L1'],
      ]),
  },
  { id: 'lr', title: 'Learning rate', positive: true, series: (run, style) => stepSeries(run, style, [['lr', 'lr']]) },
  { id: 'tps', title: 'Tokens / s', positive: true, series: (run, style) => stepSeries(run, style, [['tokensPerSec', 'tokens/s']]) },
  { id: 'active', title: 'Mean active units per token, per site', positive: true, series: (run, style) => siteSeries(run, style, 'meanActive') },
  { id: 'fracLow', title: 'Fraction of mask values < 0.1', positive: false, series: (run, style) => siteSeries(run, style, 'fracLow') },
  { id: 'fracHigh', title: 'Fraction of mask values > 0.9', positive: false, series: (run, style) => siteSeries(run, style, 'fracHigh') },
  { id: 'a', title: 'A: mean ± std per site', positive: false, series: (run, style) => siteSeries(run, style, 'aMean', 'aStd') },
  { id: 'b', title: 'B: mean ± std per site', positive: false, series: (run, style) => siteSeries(run, style, 'bMean', 'bStd') },
];

export const DASHES = ['', '6 3', '2 2', '8 3 2 3', '1 3', '10 4', '4 4 1 4', '12 2'];
export const PALETTE_SIZE = 8;
