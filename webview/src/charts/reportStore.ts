// A run's mask reports (`report` records, one per checkpoint, on the validation text) and stuck
// sites (`stuckSites` of stats records), kept apart from the step columns: they are few and
// nested. Per site, report figures become columns (trained, chance mean, chance sd) for the charts.
import type { SparseRecords } from '@common/metricColumns';
import type { ReportRecord, SiteKind, SiteReportFigures, StatsRecord } from '@common/webviewProtocol';
import { Table } from './store';

/** Report figures charted over steps, each with its chance mean and sd. */
export const REPORT_FIELDS = ['decidedFraction', 'decidedFractionChance', 'decidedFractionSd', 'eta2Token', 'eta2TokenChance', 'eta2TokenSd'] as const;
export type ReportField = (typeof REPORT_FIELDS)[number];

export type StuckAt = NonNullable<StatsRecord['stuckSites']>[number]['at'];

export const STUCK_LABEL: Record<StuckAt, string> = {
  one: 'stuck at 1 (drops nothing)',
  zero: 'stuck at 0 (drops everything)',
  half: 'stuck at 0.5 (undecided)',
};

function row(t: SiteReportFigures, c: SiteReportFigures, sd: SiteReportFigures): Record<ReportField, number> {
  return {
    decidedFraction: t.decidedFraction,
    decidedFractionChance: c.decidedFraction,
    decidedFractionSd: sd.decidedFraction,
    eta2Token: t.eta2.token,
    eta2TokenChance: c.eta2.token,
    eta2TokenSd: sd.eta2.token,
  };
}

export class RunReports {
  /** Records in step order (a resumed run rewinding cuts the later ones). */
  readonly records: ReportRecord[] = [];
  /** Per site, in first-seen order. */
  readonly sites = new Map<string, { info: { site: string; layer: number; kind: SiteKind }; table: Table<ReportField> }>();
  /** `stuckSites` of the stats records that have the field (empty lists too: "none stuck now"), in step order. */
  readonly stuck: SparseRecords['stuckSites'] = [];

  addReport(r: ReportRecord): void {
    while (this.records.length && this.records[this.records.length - 1]!.step >= r.step) this.records.pop();
    this.records.push(r);
    for (const s of r.report.sites) {
      let entry = this.sites.get(s.site);
      if (!entry) this.sites.set(s.site, (entry = { info: { site: s.site, layer: s.layer, kind: s.kind }, table: new Table<ReportField>(REPORT_FIELDS) }));
      entry.table.push(r.step, row(s.trained, s.chance, s.chanceSd));
    }
  }

  /** A stats record: remembers its stuck sites (and forgets later ones when a run rewinds). */
  addStats(r: Pick<StatsRecord, 'step' | 'stuckSites'>): void {
    while (this.stuck.length && this.stuck[this.stuck.length - 1]!.step >= r.step) this.stuck.pop();
    if (r.stuckSites) this.stuck.push({ step: r.step, sites: r.stuckSites });
  }

  addSparse(s: SparseRecords | undefined): void {
    if (!s) return;
    for (const r of s.reports) this.addReport(r);
    for (const x of s.stuckSites) this.addStats({ step: x.step, stuckSites: x.sites });
  }

  sparse(): SparseRecords | undefined {
    return this.records.length || this.stuck.length ? { reports: [...this.records], stuckSites: [...this.stuck] } : undefined;
  }

  /**
   * Where a site is stuck at the run's latest stats record (`latestStatsStep`), if that record
   * named it; an older record's stuck sites say nothing about now.
   */
  stuckSite(site: string, latestStatsStep: number): StuckAt | undefined {
    const last = this.stuck[this.stuck.length - 1];
    if (!last || last.step !== latestStatsStep) return undefined;
    return last.sites.find((s) => s.site === site)?.at;
  }
}
