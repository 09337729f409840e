// Report records and stuck sites (issue 13) through the metric columns, the charts' store, the
// chart definitions and the CSV export.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromColumns, toColumns } from '@common/metricColumns';
import type { MetricRecord, ReportRecord, StatsRecord } from '@common/webviewProtocol';
import { CHARTS } from '../src/charts/definitions';
import { METRICS_CSV_HEADER, metricsCsv } from '../src/charts/exporter';
import { MetricsStore } from '../src/charts/store';
import { parseCsv } from '../src/common/export';
import { makeMetrics } from './fixtures';

const style = { index: 0, name: 'run', multiRun: false };

describe('report records and stuck sites', () => {
  const records = makeMetrics(450, { reports: true });
  const reports = records.filter((r): r is ReportRecord => r.type === 'report');

  it('round-trip exactly through the columns (and a structured clone of them), in the engine\'s order', () => {
    assert.equal(reports.length, 4);
    const cols = toColumns(records);
    assert.equal(cols.sparse?.reports.length, 4);
    assert.ok(cols.sparse!.stuckSites.length > 0);
    assert.deepEqual(fromColumns(cols), records);
    assert.deepEqual(fromColumns(structuredClone(cols)), records);
    // Runs without them carry nothing extra.
    assert.equal(toColumns(makeMetrics(120)).sparse, undefined);
  });

  it('keeps per-site report columns in the store, from columns and from live records alike', () => {
    const store = new MetricsStore();
    const loaded = store.setColumns('a', toColumns(records), true);
    const live = store.replace('b', records);
    for (const run of [loaded, live]) {
      assert.equal(run.reports.sites.size, 7);
      const mlp = run.reports.sites.get('transformer.h.1.mlp.dropout')!.table;
      assert.deepEqual(Array.from(mlp.step.values()), [100, 200, 300, 400]);
      assert.deepEqual(Array.from(mlp.cols.eta2Token.values()), reports.map((r) => r.report.sites.find((s) => s.site === 'transformer.h.1.mlp.dropout')!.trained.eta2.token));
      assert.deepEqual(Array.from(mlp.cols.eta2TokenChance.values()), reports.map((r) => r.report.sites[6]!.chance.eta2.token));
      assert.deepEqual(run.all(), records);
    }
  });

  it('a resumed run that rewinds drops the later reports', () => {
    const store = new MetricsStore();
    const run = store.replace('a', records);
    run.add({ ...reports[1]!, step: 250 });
    assert.deepEqual(run.reports.records.map((r) => r.step), [100, 200, 250]);
    assert.deepEqual(Array.from(run.reports.sites.get('transformer.drop')!.table.step.values()), [100, 200, 250]);
  });

  it('charts each site trained vs chance (with its ± sd band), unsmoothed, and names stuck sites in the legends', () => {
    const run = new MetricsStore().replace('a', records);
    const eta = CHARTS.find((c) => c.id === 'reportEta2')!;
    assert.equal(eta.raw, true);
    const series = eta.series(run, style);
    assert.equal(series.length, 14);
    const chance = series.filter((s) => s.label.endsWith('chance'));
    assert.equal(chance.length, 7);
    for (const s of chance) assert.ok(s.band && s.band.spread.length === 4);
    assert.ok(series.every((s) => s.xs.length === 4));
    // The fixture's last MLP is stuck at 1 at the latest stats record.
    const active = CHARTS.find((c) => c.id === 'active')!.series(run, style);
    assert.deepEqual(active.filter((s) => / · /.test(s.colorLabel)).map((s) => s.colorLabel), ['L1 mlp · stuck at 1 (drops nothing)']);
    // A later stats record without it: no longer stuck now.
    const last = records.filter((r): r is StatsRecord => r.type === 'stats').pop()!;
    run.add({ ...last, step: 460, stuckSites: [] });
    assert.ok(CHARTS.find((c) => c.id === 'active')!.series(run, style).every((s) => !/stuck/.test(s.colorLabel)));
    // Runs without reports: the charts say so instead of drawing nothing silently.
    assert.deepEqual(eta.series(new MetricsStore().replace('old', makeMetrics(200)), style), []);
    assert.match(eta.empty!, /no mask reports/);
  });

  it('exports report rows (trained, chance, chance sd, verdict per site) and where stats rows are stuck', () => {
    const rows = parseCsv(metricsCsv([{ name: 'r', records }]));
    assert.deepEqual(rows[0], METRICS_CSV_HEADER);
    const col = (name: string): number => METRICS_CSV_HEADER.indexOf(name);
    const reportRows = rows.filter((r) => r[col('type')] === 'report');
    assert.equal(reportRows.length, 4 * 7);
    const first = reportRows[0]!;
    const site = reports[0]!.report.sites[0]!;
    assert.equal(first[col('site')], site.site);
    assert.equal(Number(first[col('eta2Token')]), site.trained.eta2.token);
    assert.equal(Number(first[col('chance_eta2Token')]), site.chance.eta2.token);
    assert.equal(Number(first[col('chanceSd_eta2Token')]), site.chanceSd.eta2.token);
    assert.equal(first[col('verdict')], site.verdict);
    const stuck = rows.filter((r) => r[col('type')] === 'stats' && r[col('stuckAt')] === 'one');
    assert.ok(stuck.length > 0 && stuck.every((r) => r[col('site')] === 'transformer.h.1.mlp.dropout'));
    for (const r of rows) assert.equal(r.length, METRICS_CSV_HEADER.length);
    const _typed: MetricRecord[] = records;
    void _typed;
  });
});
