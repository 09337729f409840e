// Metrics of every loaded run, as growable typed columns (100,000 steps per run stay cheap),
// plus the raw records for a lossless CSV export. Appends are O(1); a record whose step is not
// after the last one (a resumed run rewinding, or an overlap between a loaded file and live
// records) first cuts the table back to before that step.
import { lowerBound } from '../common/aggregate';
import type { EvalRecord, MetricRecord, SiteKind, StatsRecord, StepRecord } from '../protocol';

export class Column {
  private buf: Float64Array;
  length = 0;
  constructor(capacity = 1024) {
    this.buf = new Float64Array(capacity);
  }
  push(v: number): void {
    if (this.length === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.length++] = v;
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
}

export const STEP_FIELDS = ['loss', 'crossEntropy', 'entropy', 'l1', 'lambdaEntropy', 'lambdaL1', 'lr', 'tokensPerSec', 'penaltyEntropy', 'penaltyL1'] as const;
export type StepField = (typeof STEP_FIELDS)[number];
export const EVAL_FIELDS = ['trainLoss', 'valLoss'] as const;
export type EvalField = (typeof EVAL_FIELDS)[number];
export const SITE_FIELDS = ['meanMask', 'fracLow', 'fracHigh', 'meanActive', 'units', 'aMean', 'aStd', 'bMean', 'bStd'] as const;
export type SiteField = (typeof SITE_FIELDS)[number];

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
  readonly stuck = new Column();
  private records: MetricRecord[] = [];
  /** Bumped on every change; charts cache their decimation against it. */
  version = 0;

  constructor(readonly runId: string) {}

  add(r: MetricRecord): void {
    this.version++;
    this.cutRecords(r);
    this.records.push(r);
    if (r.type === 'step') this.addStep(r);
    else if (r.type === 'eval') this.evals.push(r.step, { trainLoss: r.trainLoss, valLoss: r.valLoss });
    else this.addStats(r);
  }

  /** The records in order, as the engine wrote them (export). */
  all(): readonly MetricRecord[] {
    return this.records;
  }

  private addStep(r: StepRecord): void {
    // Column by column, without an intermediate object: 100,000-record loads are GC-bound.
    const t = this.steps;
    t.cutFrom(r.step);
    t.step.push(r.step);
    const c = t.cols;
    c.loss.push(r.loss);
    c.crossEntropy.push(r.crossEntropy);
    c.entropy.push(r.entropy);
    c.l1.push(r.l1);
    c.lambdaEntropy.push(r.lambdaEntropy);
    c.lambdaL1.push(r.lambdaL1);
    c.lr.push(r.lr);
    c.tokensPerSec.push(r.tokensPerSec);
    // The two penalty terms as they enter the loss.
    c.penaltyEntropy.push(r.lambdaEntropy * r.entropy);
    c.penaltyL1.push(r.lambdaL1 * r.l1);
  }

  private addStats(r: StatsRecord): void {
    for (const s of r.sites) {
      let entry = this.sites.get(s.site);
      if (!entry) {
        entry = { info: { site: s.site, layer: s.layer, kind: s.kind }, table: new Table<SiteField>(SITE_FIELDS) };
        this.sites.set(s.site, entry);
      }
      entry.table.push(r.step, s);
    }
  }

  /** Keeps `records` consistent with the tables' cut-back rule (per record type). */
  private cutRecords(r: MetricRecord): void {
    const last = lastOfType(this.records, r.type);
    if (last === undefined || last.step < r.step) return;
    this.records = this.records.filter((x) => x.type !== r.type || x.step < r.step);
  }
}

function lastOfType(records: MetricRecord[], type: MetricRecord['type']): MetricRecord | undefined {
  for (let i = records.length - 1; i >= 0; i--) if (records[i]!.type === type) return records[i];
  return undefined;
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
