// Metrics of every loaded run, as growable typed columns (100,000 steps per run stay cheap).
// Whole runs arrive as columns (metricColumns.ts) and are adopted without a per-record pass;
// live records are appended one by one. The columns hold every field (time included), so the
// records come back exactly from them (CSV export). Appends are O(1); a record whose step is not
// after the last one (a resumed run rewinding, or an overlap between a loaded file and live
// records) first cuts the table back to before that step.
import { lowerBound } from '../common/aggregate';
import { fromColumns, type ColumnSet, type MetricColumns } from '@common/metricColumns';
import { EVAL_FIELDS, SITE_FIELDS, STEP_FIELDS as RECORD_STEP_FIELDS, type EvalField, type SiteField } from '@common/metrics';
import type { EvalRecord, MetricRecord, SiteKind, StatsRecord, StepRecord } from '@common/webviewProtocol';
import { RunReports } from './reportStore';

export class Column {
  private buf: Float64Array;
  length = 0;
  constructor(capacity = 1024) {
    this.buf = new Float64Array(capacity);
  }
  push(v: number): void {
    if (this.length === this.buf.length) this.grow(this.length + 1);
    this.buf[this.length++] = v;
  }
  /**
   * Appends many values at once. An empty column adopts `values` itself (no copy): pass arrays
   * nothing else writes to (a received message's) and never the same array to two columns.
   */
  pushAll(values: Float64Array): void {
    if (this.length === 0 && values.length > this.buf.length) {
      this.buf = values;
      this.length = values.length;
      return;
    }
    if (this.length + values.length > this.buf.length) this.grow(this.length + values.length);
    this.buf.set(values, this.length);
    this.length += values.length;
  }
  private grow(min: number): void {
    const next = new Float64Array(Math.max(min, this.buf.length * 2));
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }
  /** The values, as a view (no copy). */
  values(): Float64Array {
    return this.buf.subarray(0, this.length);
  }
  /** Bumped when values are cut off (caches of derived arrays must start over). */
  cuts = 0;
  truncate(n: number): void {
    if (n < this.length) this.cuts++;
    this.length = Math.min(this.length, n);
  }
  /** The backing array; valid up to `length`. */
  get data(): Float64Array {
    return this.buf;
  }
  at(i: number): number {
    return this.buf[i]!;
  }
}

/** Columns of one record type, all of the same length, keyed by field name. */
export class Table<K extends string> {
  readonly step = new Column();
  readonly cols: Record<K, Column>;
  constructor(readonly fields: readonly K[]) {
    this.cols = Object.fromEntries(fields.map((f) => [f, new Column()])) as Record<K, Column>;
  }
  get length(): number {
    return this.step.length;
  }
  /** Prepares an append at `step`: drops rows at or after it. */
  cutFrom(step: number): void {
    if (this.step.length === 0 || this.step.at(this.step.length - 1) < step) return;
    const n = lowerBound(this.step.data, this.step.length, step);
    this.step.truncate(n);
    for (const f of this.fields) this.cols[f].truncate(n);
  }
  push(step: number, values: Record<K, number>): void {
    this.cutFrom(step);
    this.step.push(step);
    for (const f of this.fields) this.cols[f].push(values[f]);
  }
  /** Appends columns (same fields, plus `step`); cuts back first when they start at or before the last step. */
  pushColumns(cols: { step: Float64Array } & Partial<Record<K, Float64Array>>): void {
    if (cols.step.length === 0) return;
    this.cutFrom(cols.step[0]!);
    this.step.pushAll(cols.step);
    for (const f of this.fields) this.cols[f].pushAll(cols[f] ?? new Float64Array(cols.step.length).fill(NaN));
  }
  /** The columns as exact-length views. */
  view(): { step: Float64Array } & Record<K, Float64Array> {
    const out = { step: this.step.values() } as { step: Float64Array } & Record<K, Float64Array>;
    for (const f of this.fields) (out as Record<string, Float64Array>)[f] = this.cols[f].values();
    return out;
  }
}

/** The two penalty terms as they enter the loss (λ · term): plotted, not written by the engine. */
const PENALTIES = { penaltyEntropy: ['lambdaEntropy', 'entropy'], penaltyL1: ['lambdaL1', 'l1'] } as const;
type PenaltyField = keyof typeof PENALTIES;
const PENALTY_FIELDS = Object.keys(PENALTIES) as PenaltyField[];
/** The step series the charts plot: every field of the step record, then the penalties. */
export const STEP_FIELDS = [...RECORD_STEP_FIELDS, ...PENALTY_FIELDS] as const;
export type StepField = (typeof STEP_FIELDS)[number];
export type { SiteField };
const TIME = ['time'] as const;

export interface SiteInfo {
  site: string;
  layer: number;
  kind: SiteKind;
}

export class RunMetrics {
  readonly steps = new Table<StepField>(STEP_FIELDS);
  readonly evals = new Table<EvalField>(EVAL_FIELDS);
  /** One table per site (stats records), in first-seen order. */
  readonly sites = new Map<string, { info: SiteInfo; table: Table<SiteField> }>();
  /** Per stats record: its time and whether the run was stuck (1) then. */
  readonly stats = new Table<'time' | 'stuck'>(['time', 'stuck']);
  /** Times of the step and eval records (kept apart: charts never read them). */
  private readonly stepTimes = new Table<'time'>(TIME);
  private readonly evalTimes = new Table<'time'>(TIME);
  private readonly siteTimes = new Map<string, Table<'time'>>();
  /** Mask reports and stuck sites (issue 13): few, nested records kept as they are. */
  readonly reports = new RunReports();
  /** Bumped on every change; charts cache their decimation against it. */
  version = 0;

  constructor(readonly runId: string) {}

  add(r: MetricRecord): void {
    this.version++;
    if (r.type === 'step') this.addStep(r);
    else if (r.type === 'eval') {
      this.evals.push(r.step, r);
      this.evalTimes.push(r.step, { time: r.time });
    } else if (r.type === 'report') this.reports.addReport(r);
    else this.addStats(r);
  }

  /** A whole run (or a slice of one) as columns: each table takes its arrays in one go. */
  addColumns(c: MetricColumns): void {
    this.version++;
    const s = c.steps;
    const penalties = {} as Record<PenaltyField, Float64Array>;
    for (const f of PENALTY_FIELDS) penalties[f] = product(s[PENALTIES[f][0]], s[PENALTIES[f][1]]);
    this.steps.pushColumns({ ...s, ...penalties });
    // The time tables copy their step column: two columns must never share one buffer.
    this.stepTimes.pushColumns({ step: s.step.slice(), time: s.time });
    this.evals.pushColumns(c.evals);
    this.evalTimes.pushColumns({ step: c.evals.step.slice(), time: c.evals.time });
    this.stats.pushColumns({ step: c.stats.step, time: c.stats.time, stuck: Float64Array.from(c.stats.stuck) });
    for (const site of c.sites) {
      this.siteEntry(site.site, site.layer, site.kind).table.pushColumns(site.cols);
      this.siteTimes.get(site.site)!.pushColumns({ step: site.cols.step.slice(), time: site.cols.time });
    }
    this.reports.addSparse(c.sparse);
  }

  /** Every table as exact-length column views (no copy). */
  columns(): MetricColumns {
    const steps = this.steps.view();
    const stats = this.stats.view();
    return {
      steps: { ...steps, time: this.stepTimes.view().time } as ColumnSet<StepField>,
      evals: { ...this.evals.view(), time: this.evalTimes.view().time },
      stats: { step: stats.step, time: stats.time, stuck: Uint8Array.from(stats.stuck) },
      sites: [...this.sites].map(([name, { info, table }]) => ({
        site: name,
        layer: info.layer,
        kind: info.kind,
        cols: { ...table.view(), time: this.siteTimes.get(name)!.view().time },
      })),
      ...(this.reports.sparse() ? { sparse: this.reports.sparse() } : {}),
    };
  }

  /** The records in order, exactly as the engine wrote them (export), rebuilt from the columns. */
  all(): readonly MetricRecord[] {
    return fromColumns(this.columns());
  }

  private addStep(r: StepRecord): void {
    // Column by column, without an intermediate object.
    const t = this.steps;
    t.cutFrom(r.step);
    t.step.push(r.step);
    for (const f of RECORD_STEP_FIELDS) t.cols[f].push(r[f]);
    for (const f of PENALTY_FIELDS) t.cols[f].push(r[PENALTIES[f][0]] * r[PENALTIES[f][1]]);
    this.stepTimes.push(r.step, { time: r.time });
  }

  private siteEntry(site: string, layer: number, kind: SiteKind): { info: SiteInfo; table: Table<SiteField> } {
    let entry = this.sites.get(site);
    if (!entry) {
      entry = { info: { site, layer, kind }, table: new Table<SiteField>(SITE_FIELDS) };
      this.sites.set(site, entry);
      this.siteTimes.set(site, new Table<'time'>(TIME));
    }
    return entry;
  }

  private addStats(r: StatsRecord): void {
    this.stats.push(r.step, { time: r.time, stuck: r.stuck ? 1 : 0 });
    this.reports.addStats(r);
    for (const s of r.sites) {
      this.siteEntry(s.site, s.layer, s.kind).table.push(r.step, s);
      this.siteTimes.get(s.site)!.push(r.step, { time: r.time });
    }
  }
}

function product(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! * b[i]!;
  return out;
}

export class MetricsStore {
  private readonly runs = new Map<string, RunMetrics>();

  get(runId: string): RunMetrics | undefined {
    return this.runs.get(runId);
  }

  replace(runId: string, records: readonly MetricRecord[]): RunMetrics {
    const run = new RunMetrics(runId);
    for (const r of records) run.add(r);
    this.runs.set(runId, run);
    return run;
  }

  /** A run's metrics as columns: replacing what the view holds for it, or appended to it. */
  setColumns(runId: string, columns: MetricColumns, replace: boolean): RunMetrics {
    let run = this.runs.get(runId);
    if (replace || !run) {
      run = new RunMetrics(runId);
      this.runs.set(runId, run);
    }
    run.addColumns(columns);
    return run;
  }

  append(runId: string, record: MetricRecord): RunMetrics {
    let run = this.runs.get(runId);
    if (!run) {
      run = new RunMetrics(runId);
      this.runs.set(runId, run);
    }
    run.add(record);
    return run;
  }

  drop(runId: string): void {
    this.runs.delete(runId);
  }
}

export type { EvalRecord, StatsRecord, StepRecord };
