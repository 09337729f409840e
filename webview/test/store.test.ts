import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCsv } from '../src/common/export';
import { METRICS_CSV_HEADER, metricsCsv } from '../src/charts/exporter';
import { smoothedColumn } from '../src/charts/smoothCache';
import { Column, MetricsStore } from '../src/charts/store';
import { emaSmooth } from '../src/common/smoothing';
import type { MetricRecord } from '@common/webviewProtocol';
import { makeMetrics } from './fixtures';

describe('MetricsStore', () => {
  it('keeps every record as columns', () => {
    const store = new MetricsStore();
    const records = makeMetrics(1000);
    const run = store.replace('r', records);
    assert.equal(run.steps.length, 1000);
    assert.equal(run.evals.length, 21);
    assert.equal(run.sites.size, 7);
    assert.equal(run.sites.get('transformer.h.1.mlp.dropout')!.table.length, 100);
    const step = records.find((r) => r.type === 'step' && r.step === 500) as Extract<MetricRecord, { type: 'step' }>;
    assert.equal(run.steps.cols.loss.at(500), step.loss);
    assert.equal(run.steps.cols.penaltyL1.at(500), step.lambdaL1 * step.l1);
    assert.equal(run.all().length, records.length);
  });

  it('cuts back when steps rewind (resume) and when live records overlap', () => {
    const store = new MetricsStore();
    const first = makeMetrics(300);
    store.replace('r', first);
    // A resumed run restarts from its step-200 checkpoint.
    for (const r of makeMetrics(150, { from: 200, seed: 9 })) store.append('r', r);
    const run = store.get('r')!;
    assert.equal(run.steps.length, 350);
    const steps = Array.from(run.steps.step.data.subarray(0, run.steps.length));
    assert.deepEqual(steps, Array.from({ length: 350 }, (_, i) => i));
    const stepRecords = run.all().filter((r) => r.type === 'step').map((r) => r.step);
    assert.deepEqual(stepRecords, steps);
  });

  it('grows columns past their capacity', () => {
    const c = new Column(2);
    for (let i = 0; i < 100; i++) c.push(i);
    assert.equal(c.length, 100);
    assert.equal(c.at(99), 99);
  });

  it('extends smoothing incrementally and starts over after a cut', () => {
    const c = new Column(4);
    const values = [5, 3, 8, 1, 9, 2];
    for (const v of values.slice(0, 3)) c.push(v);
    smoothedColumn(c, 0.7);
    for (const v of values.slice(3)) c.push(v);
    const expected = emaSmooth(values, 0.7);
    const got = smoothedColumn(c, 0.7);
    values.forEach((_, i) => assert.ok(Math.abs(got[i]! - expected[i]!) < 1e-12));
    c.truncate(2);
    c.push(100);
    const again = smoothedColumn(c, 0.7);
    const fresh = emaSmooth([5, 3, 100], 0.7);
    fresh.forEach((v, i) => assert.ok(Math.abs(again[i]! - v) < 1e-12));
  });
});

describe('metricsCsv', () => {
  it('writes every record losslessly', () => {
    const records = makeMetrics(120);
    const csv = metricsCsv([{ name: 'run, "one"', records }]);
    const rows = parseCsv(csv);
    assert.deepEqual(rows[0], METRICS_CSV_HEADER);
    const statsRows = records.filter((r) => r.type === 'stats').reduce((n, r) => n + (r.type === 'stats' ? r.sites.length : 0), 0);
    const expected = records.filter((r) => r.type !== 'stats').length + statsRows;
    assert.equal(rows.length - 1, expected);
    const col = (name: string): number => METRICS_CSV_HEADER.indexOf(name);
    const firstStep = records.find((r) => r.type === 'step') as Extract<MetricRecord, { type: 'step' }>;
    const row = rows[1]!;
    assert.equal(row[col('run')], 'run, "one"');
    assert.equal(Number(row[col('loss')]), firstStep.loss);
    assert.equal(Number(row[col('lr')]), firstStep.lr);
    const statsRow = rows.find((r) => r[col('type')] === 'stats')!;
    assert.equal(statsRow[col('site')], 'transformer.drop');
    assert.equal(statsRow[col('loss')], '');
  });
});
