// A run's metrics in columnar form for the Run charts view: one Float64Array per field instead of
// one object per record. The host converts what it read from metrics.jsonl (toColumns) and posts
// it; typed arrays are cloned as bytes (100,000 steps in a few milliseconds, where arrays of
// records took ~0.5 s per 10,000) and keep NaN and ±Infinity, which JSON would not. fromColumns
// gives the records back exactly (the CSV export). The fields come from the schema (metrics.ts).
// No DOM: the extension host imports this too.
import { EVAL_FIELDS, SITE_FIELDS, STEP_FIELDS, type EvalField, type EvalRecord, type SiteField, type SiteStats, type StepField, type StepRecord } from './metrics';
import type { MetricRecord, ReportRecord, SiteKind, StatsRecord } from './protocol';

/** Columns of one record type: `step` and `time` plus one array per field, all the same length. */
export type ColumnSet<K extends string> = { step: Float64Array; time: Float64Array } & Record<K, Float64Array>;

export interface SiteColumns {
  site: string;
  layer: number;
  kind: SiteKind;
  /** One row per stats record that has this site. */
  cols: ColumnSet<SiteField>;
}

export interface MetricColumns {
  steps: ColumnSet<StepField>;
  evals: ColumnSet<EvalField>;
  /** One row per stats record (its site values are in `sites`). */
  stats: { step: Float64Array; time: Float64Array; stuck: Uint8Array };
  /** Per site, in first-seen order. */
  sites: SiteColumns[];
  /**
   * Records too few and too nested for columns (issue 13), as they are: `report` records (one per
   * checkpoint) and the `stuckSites` of stats records that have them. Absent: none.
   */
  sparse?: SparseRecords;
}

export interface SparseRecords {
  reports: ReportRecord[];
  /** Per stats record with `stuckSites`: its step and the list (the stats row at that step gets it back). */
  stuckSites: { step: number; sites: NonNullable<StatsRecord['stuckSites']> }[];
}

function columnSet<K extends string>(keys: readonly K[], n: number): ColumnSet<K> {
  const out = { step: new Float64Array(n), time: new Float64Array(n) } as ColumnSet<K>;
  for (const k of keys) (out as Record<string, Float64Array>)[k] = new Float64Array(n);
  return out;
}

/** Records (in the order the engine wrote them) → columns. */
export function toColumns(records: readonly MetricRecord[]): MetricColumns {
  let nSteps = 0;
  let nEvals = 0;
  let nStats = 0;
  const siteRows = new Map<string, { layer: number; kind: SiteKind; n: number }>();
  const sparse: SparseRecords = { reports: [], stuckSites: [] };
  for (const r of records) {
    if (r.type === 'step') nSteps++;
    else if (r.type === 'eval') nEvals++;
    else if (r.type === 'report') sparse.reports.push(r);
    else {
      if (r.stuckSites) sparse.stuckSites.push({ step: r.step, sites: r.stuckSites });
      nStats++;
      for (const s of r.sites) {
        const e = siteRows.get(s.site);
        if (e) e.n++;
        else siteRows.set(s.site, { layer: s.layer, kind: s.kind, n: 1 });
      }
    }
  }
  const steps = columnSet(STEP_FIELDS, nSteps);
  const evals = columnSet(EVAL_FIELDS, nEvals);
  const stats = { step: new Float64Array(nStats), time: new Float64Array(nStats), stuck: new Uint8Array(nStats) };
  const sites = [...siteRows].map(([site, e]) => ({ site, layer: e.layer, kind: e.kind, cols: columnSet(SITE_FIELDS, e.n) }));
  const siteIndex = new Map(sites.map((s, i) => [s.site, i]));
  const siteFill = new Int32Array(sites.length);
  let i = 0;
  let j = 0;
  let k = 0;
  for (const r of records) {
    if (r.type === 'step') {
      steps.step[i] = r.step;
      steps.time[i] = r.time;
      for (const key of STEP_FIELDS) steps[key][i] = r[key];
      i++;
    } else if (r.type === 'eval') {
      evals.step[j] = r.step;
      evals.time[j] = r.time;
      for (const key of EVAL_FIELDS) evals[key][j] = r[key];
      j++;
    } else if (r.type === 'stats') {
      stats.step[k] = r.step;
      stats.time[k] = r.time;
      stats.stuck[k] = r.stuck ? 1 : 0;
      k++;
      for (const s of r.sites) {
        const si = siteIndex.get(s.site)!;
        const row = siteFill[si]!++;
        const cols = sites[si]!.cols;
        cols.step[row] = r.step;
        cols.time[row] = r.time;
        for (const key of SITE_FIELDS) cols[key][row] = s[key];
      }
    }
  }
  return { steps, evals, stats, sites, ...(sparse.reports.length || sparse.stuckSites.length ? { sparse } : {}) };
}

/** Rows of each table (for checks and status lines). */
export function columnsLength(c: MetricColumns): { steps: number; evals: number; stats: number } {
  return { steps: c.steps.step.length, evals: c.evals.step.length, stats: c.stats.step.length };
}

/** Order of records at the same step, as the engine writes them: step, then stats, then eval (then a checkpoint's report). */
const RANK = { step: 0, stats: 1, eval: 2 } as const;

/**
 * Columns → records, merged by step (ties in the engine's order). Exact: every number is the
 * same double. `lengths` limits each table (growable columns hold more than their rows).
 */
export function fromColumns(c: MetricColumns, lengths = columnsLength(c)): MetricRecord[] {
  const out: MetricRecord[] = [];
  const stuckAt = c.sparse?.stuckSites.length ? new Map(c.sparse.stuckSites.map((x) => [x.step, x.sites])) : undefined;
  // Per site, the next row to read (its rows follow the stats rows in step order).
  const siteAt = new Int32Array(c.sites.length);
  const siteLen = c.sites.map((s) => s.cols.step.length);
  const stepAt = (type: keyof typeof RANK, idx: number): number =>
    type === 'step' ? (idx < lengths.steps ? c.steps.step[idx]! : Infinity) : type === 'eval' ? (idx < lengths.evals ? c.evals.step[idx]! : Infinity) : idx < lengths.stats ? c.stats.step[idx]! : Infinity;
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < lengths.steps || j < lengths.evals || k < lengths.stats) {
    const cand: [keyof typeof RANK, number][] = [
      ['step', stepAt('step', i)],
      ['stats', stepAt('stats', k)],
      ['eval', stepAt('eval', j)],
    ];
    let best = cand[0]!;
    for (const x of cand) if (x[1] < best[1] || (x[1] === best[1] && RANK[x[0]] < RANK[best[0]])) best = x;
    if (best[0] === 'step') {
      // Keys in the schema's order, as the engine writes them.
      const record = { type: 'step', step: c.steps.step[i]!, time: c.steps.time[i]! } as StepRecord;
      for (const key of STEP_FIELDS) record[key] = c.steps[key][i]!;
      out.push(record);
      i++;
    } else if (best[0] === 'eval') {
      const record = { type: 'eval', step: c.evals.step[j]!, time: c.evals.time[j]! } as EvalRecord;
      for (const key of EVAL_FIELDS) record[key] = c.evals[key][j]!;
      out.push(record);
      j++;
    } else {
      const step = c.stats.step[k]!;
      const sites: SiteStats[] = [];
      c.sites.forEach((site, si) => {
        // Skip rows of this site before this record (a cut-back left none; defensive).
        while (siteAt[si]! < siteLen[si]! && site.cols.step[siteAt[si]!]! < step) siteAt[si]!++;
        const row = siteAt[si]!;
        if (row >= siteLen[si]! || site.cols.step[row] !== step) return;
        siteAt[si]!++;
        const s = { site: site.site, layer: site.layer, kind: site.kind } as SiteStats;
        for (const key of SITE_FIELDS) s[key] = site.cols[key][row]!;
        sites.push(s);
      });
      const record: StatsRecord = { type: 'stats', step, time: c.stats.time[k]!, sites, stuck: c.stats.stuck[k] === 1 };
      const stuck = stuckAt?.get(step);
      if (stuck) record.stuckSites = stuck;
      out.push(record);
      k++;
    }
  }
  return mergeReports(out, c.sparse?.reports ?? []);
}

/** Puts report records back among the others: after every record at or before their step. */
function mergeReports(records: MetricRecord[], reports: readonly ReportRecord[]): MetricRecord[] {
  if (!reports.length) return records;
  const out: MetricRecord[] = [];
  let r = 0;
  for (const rec of records) {
    while (r < reports.length && reports[r]!.step < rec.step) out.push(reports[r++]!);
    out.push(rec);
  }
  while (r < reports.length) out.push(reports[r++]!);
  return out;
}
