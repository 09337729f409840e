import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MinMaxPyramid, minMaxIndices, minMaxIndicesFast } from '../src/common/aggregate';
import { columnPyramid, smoothedColumn, smoothedPyramid } from '../src/charts/smoothCache';
import { Column, MetricsStore } from '../src/charts/store';
import { fromColumns, toColumns } from '@common/metricColumns';
import type { MetricRecord } from '@common/webviewProtocol';
import { makeMetrics } from './fixtures';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('metric columns', () => {
  it('round-trips records exactly, NaN and Infinity included', () => {
    const records = makeMetrics(1234);
    const step = records.find((r) => r.type === 'step' && r.step === 7) as Extract<MetricRecord, { type: 'step' }>;
    step.loss = NaN;
    step.tokensPerSec = Infinity;
    const cols = toColumns(records);
    assert.equal(cols.steps.step.length, 1234);
    assert.equal(cols.stats.step.length, 124);
    assert.equal(cols.sites.length, 7);
    assert.ok(cols.steps.loss instanceof Float64Array);
    assert.deepEqual(fromColumns(cols), records);
  });

  it('a structured clone of the columns carries the same values', () => {
    const records = makeMetrics(300);
    const clone = structuredClone(toColumns(records));
    assert.deepEqual(fromColumns(clone), records);
  });

  it('loads columns into the store and appends live records after them', () => {
    const records = makeMetrics(500);
    const store = new MetricsStore();
    const run = store.setColumns('r', toColumns(records.filter((r) => r.step < 400)), true);
    assert.equal(run.steps.length, 400);
    const s = records.find((r) => r.type === 'step' && r.step === 123) as Extract<MetricRecord, { type: 'step' }>;
    assert.equal(run.steps.cols.loss.at(123), s.loss);
    assert.equal(run.steps.cols.penaltyEntropy.at(123), s.lambdaEntropy * s.entropy);
    for (const r of records.filter((r) => r.step >= 400)) store.append('r', r);
    assert.equal(run.steps.length, 500);
    assert.deepEqual(run.all(), records);
  });

  it('appended slices and a rewind (resume) cut back like single records', () => {
    const first = makeMetrics(300);
    const store = new MetricsStore();
    store.setColumns('r', toColumns(first.slice(0, 200)), true);
    store.setColumns('r', toColumns(first.slice(200)), false);
    // A resumed run restarts from step 200 with other values.
    const resumed = makeMetrics(150, { from: 200, seed: 9 });
    store.setColumns('r', toColumns(resumed), false);
    const run = store.get('r')!;
    assert.equal(run.steps.length, 350);
    assert.deepEqual(Array.from(run.steps.step.values()), Array.from({ length: 350 }, (_, i) => i));
    const expected = [...first.filter((r) => r.step < 200), ...resumed];
    assert.deepEqual(run.all(), expected);
  });

  it('a live record that rewinds replaces the rest of the run, time included', () => {
    const store = new MetricsStore();
    const run = store.setColumns('r', toColumns(makeMetrics(100)), true);
    store.append('r', { ...(makeMetrics(60)[59] as Extract<MetricRecord, { type: 'step' }>), step: 50, time: 42 });
    const all = run.all().filter((r) => r.type === 'step');
    assert.equal(all.length, 51);
    assert.equal(all[50]!.time, 42);
    assert.equal(all[49]!.step, 49);
  });
});

describe('MinMaxPyramid', () => {
  it('answers range min/max like a scan (earliest index on ties, non-finite skipped)', () => {
    const r = rng(7);
    for (const n of [1, 2, 3, 17, 64, 1000, 4097]) {
      const ys = Float64Array.from({ length: n }, () => (r() < 0.05 ? NaN : r() < 0.03 ? Infinity : Math.round(r() * 20)));
      const p = new MinMaxPyramid().update(ys, n);
      for (let q = 0; q < 200; q++) {
        const lo = Math.floor(r() * n);
        const hi = lo + 1 + Math.floor(r() * (n - lo));
        let mn = -1;
        let mx = -1;
        for (let i = lo; i < hi; i++) {
          if (!Number.isFinite(ys[i]!)) continue;
          if (mn < 0 || ys[i]! < ys[mn]!) mn = i;
          if (mx < 0 || ys[i]! > ys[mx]!) mx = i;
        }
        assert.deepEqual(p.range(lo, hi), [mn, mx], `n ${n} [${lo}, ${hi})`);
      }
    }
  });

  it('extends incrementally to the same answers as a fresh build', () => {
    const r = rng(3);
    const ys = new Float64Array(5000);
    const grown = new MinMaxPyramid();
    let n = 0;
    while (n < ys.length) {
      const k = 1 + Math.floor(r() * 300);
      for (let i = n; i < Math.min(ys.length, n + k); i++) ys[i] = r() - 0.5;
      n = Math.min(ys.length, n + k);
      grown.update(ys, n);
    }
    const fresh = new MinMaxPyramid().update(ys, n);
    for (let q = 0; q < 300; q++) {
      const lo = Math.floor(r() * n);
      const hi = lo + 1 + Math.floor(r() * (n - lo));
      assert.deepEqual(grown.range(lo, hi), fresh.range(lo, hi));
    }
  });

  it('gives the same display points as minMaxIndices', () => {
    const r = rng(11);
    const ys = Float64Array.from({ length: 100_000 }, (_, i) => (i % 997 === 0 ? NaN : Math.sin(i / 500) + r() * 0.1 + (i === 31_337 ? 50 : 0)));
    const p = new MinMaxPyramid().update(ys, ys.length);
    for (const [start, end, buckets] of [
      [0, 100_000, 400],
      [20_000, 40_000, 310],
      [25_000, 26_000, 200],
      [5, 99_999, 137],
    ] as const) {
      assert.deepEqual(minMaxIndicesFast(ys, p, start, end, buckets), minMaxIndices(ys, start, end, buckets), `[${start}, ${end}) / ${buckets}`);
    }
    // The spike survives decimation.
    assert.ok(minMaxIndicesFast(ys, p, 0, ys.length, 100).includes(31_337));
  });

  it('follows a column as it grows, and starts over after a cut', () => {
    const col = new Column(8);
    for (let i = 0; i < 1000; i++) col.push(Math.cos(i));
    const a = columnPyramid(col);
    assert.equal(a.length, 1000);
    for (let i = 0; i < 500; i++) col.push(i === 100 ? 99 : 0);
    assert.equal(columnPyramid(col).range(1000, 1500)[1], 1100);
    col.truncate(1050);
    col.push(-5);
    const after = columnPyramid(col);
    assert.equal(after.length, 1051);
    assert.equal(after.range(0, 1051)[0], 1050);
    const smooth = smoothedColumn(col, 0.9);
    const sp = smoothedPyramid(col, 0.9);
    let mx = 0;
    for (let i = 1; i < col.length; i++) if (smooth[i]! > smooth[mx]!) mx = i;
    assert.equal(sp.range(0, col.length)[1], mx);
  });
});
