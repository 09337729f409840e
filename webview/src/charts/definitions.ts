// Which charts the view shows and which columns feed each line.
import { shortSiteLabel } from '@common/sites';
import { type ReportField, STUCK_LABEL } from './reportStore';
import type { Column, RunMetrics, SiteField, SiteInfo, StepField } from './store';

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
  /** What the legend says when no shown run has data for it (default: "no data yet"). */
  empty?: string;
  /** Never smoothed (sparse series, e.g. one point per checkpoint). */
  raw?: boolean;
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

/** A site's legend label, with where it is stuck at the run's latest stats record (issue 13). */
function siteLegend(run: RunMetrics, info: SiteInfo): string {
  const steps = run.stats.step;
  const at = steps.length ? run.reports.stuckSite(info.site, steps.at(steps.length - 1)) : undefined;
  return at ? `${shortSiteLabel(info)} · ${STUCK_LABEL[at]}` : shortSiteLabel(info);
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
    colorLabel: siteLegend(run, info),
    dashLabel: style.multiRun ? style.name : '',
  }));
}

/**
 * A mask-report figure per site over the checkpoints: the trained value (solid) and chance, its
 * mean with a ± sd band over the draws (dashed). Several runs: dashes pair run and trained/chance.
 */
function reportSeries(run: RunMetrics, style: RunStyle, field: ReportField, chance: ReportField, sd: ReportField): SeriesData[] {
  const base = style.multiRun ? style.index * 2 : 0;
  const who = style.multiRun ? `${style.name} ` : '';
  return [...run.reports.sites.values()].flatMap(({ info, table }, i) => [
    { key: `${run.runId}/${info.site}/${field}`, runId: run.runId, label: `${shortSiteLabel(info)} trained`, xs: table.step, ys: table.cols[field], color: i, dash: base, colorLabel: siteLegend(run, info), dashLabel: `${who}trained` },
    {
      key: `${run.runId}/${info.site}/${chance}`,
      runId: run.runId,
      label: `${shortSiteLabel(info)} chance`,
      xs: table.step,
      ys: table.cols[chance],
      band: { spread: table.cols[sd] },
      color: i,
      dash: base + 1,
      colorLabel: siteLegend(run, info),
      dashLabel: `${who}chance (untrained A/B) ± sd`,
    },
  ]);
}

const NO_REPORTS = 'no mask reports in the shown runs (runs from before issue 13 have none)';

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
  {
    id: 'reportDecided',
    title: 'Decided fraction per site (values outside [0.1, 0.9]; mask report on validation text) vs chance',
    positive: false,
    empty: NO_REPORTS,
    raw: true,
    series: (run, style) => reportSeries(run, style, 'decidedFraction', 'decidedFractionChance', 'decidedFractionSd'),
  },
  {
    id: 'reportEta2',
    title: 'Token structure per site: η² of kept fraction by token identity vs chance',
    positive: false,
    empty: NO_REPORTS,
    raw: true,
    series: (run, style) => reportSeries(run, style, 'eta2Token', 'eta2TokenChance', 'eta2TokenSd'),
  },
  { id: 'fracLow', title: 'Fraction of mask values < 0.1', positive: false, series: (run, style) => siteSeries(run, style, 'fracLow') },
  { id: 'fracHigh', title: 'Fraction of mask values > 0.9', positive: false, series: (run, style) => siteSeries(run, style, 'fracHigh') },
  { id: 'a', title: 'A: mean ± std per site', positive: false, series: (run, style) => siteSeries(run, style, 'aMean', 'aStd') },
  { id: 'b', title: 'B: mean ± std per site', positive: false, series: (run, style) => siteSeries(run, style, 'bMean', 'bStd') },
];

export const DASHES = ['', '6 3', '2 2', '8 3 2 3', '1 3', '10 4', '4 4 1 4', '12 2'];
export const PALETTE_SIZE = 8;
