import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lowerBound, lttbIndices, minMaxIndices, nearestIndex } from '../src/common/aggregate';
import { aggregateGrid, gridSize } from '../src/common/grid';
import { mulberry32 } from './fixtures';

describe('minMaxIndices', () => {
  const rnd = mulberry32(11);
  const ys = Float64Array.from({ length: 100_000 }, (_, i) => Math.sin(i / 500) + rnd() * 0.1);
  ys[31_337] = 50; // a spike
  ys[77_777] = -50;

  it('keeps every bucket extreme, the spikes and both ends', () => {
    const idx = minMaxIndices(ys, 0, ys.length, 300);
    assert.ok(idx.length <= 1200);
    const kept = new Set(idx);
    assert.ok(kept.has(31_337) && kept.has(77_777));
    assert.ok(kept.has(0) && kept.has(ys.length - 1));
    for (let i = 1; i < idx.length; i++) assert.ok(idx[i]! > idx[i - 1]!, 'ascending, no duplicates');
    // Each bucket's min and max survive.
    for (let b = 0; b < 300; b++) {
      const lo = Math.floor((b * ys.length) / 300);
      const hi = Math.floor(((b + 1) * ys.length) / 300);
      let min = lo;
      let max = lo;
      for (let i = lo; i < hi; i++) {
        if (ys[i]! < ys[min]!) min = i;
        if (ys[i]! > ys[max]!) max = i;
      }
      assert.ok(kept.has(min) && kept.has(max), `bucket ${b}`);
    }
  });

  it('returns all finite points of short ranges and skips NaN', () => {
    const short = Float64Array.from([1, NaN, 3, Infinity, 5]);
    assert.deepEqual([...minMaxIndices(short, 0, 5, 100)], [0, 2, 4]);
    assert.deepEqual([...minMaxIndices(short, 2, 2, 10)], []);
  });
});

describe('lttbIndices', () => {
  it('returns the threshold count, first and last included', () => {
    const xs = Float64Array.from({ length: 5000 }, (_, i) => i);
    const ys = Float64Array.from(xs, (x) => Math.cos(x / 40));
    const idx = lttbIndices(xs, ys, 0, 5000, 200);
    assert.equal(idx.length, 200);
    assert.equal(idx[0], 0);
    assert.equal(idx[199], 4999);
    for (let i = 1; i < idx.length; i++) assert.ok(idx[i]! > idx[i - 1]!);
  });
  it('passes short series through', () => {
    assert.deepEqual([...lttbIndices([0, 1, 2], [1, 2, 3], 0, 3, 10)], [0, 1, 2]);
  });
});

describe('binary searches', () => {
  const xs = [0, 10, 20, 30];
  it('finds the nearest point', () => {
    assert.equal(nearestIndex(xs, 4, -5), 0);
    assert.equal(nearestIndex(xs, 4, 14), 1);
    assert.equal(nearestIndex(xs, 4, 16), 2);
    assert.equal(nearestIndex(xs, 4, 99), 3);
    assert.equal(nearestIndex(xs, 0, 1), -1);
  });
  it('finds the lower bound', () => {
    assert.equal(lowerBound(xs, 4, 10), 1);
    assert.equal(lowerBound(xs, 4, 11), 2);
    assert.equal(lowerBound(xs, 4, 31), 4);
  });
});

describe('aggregateGrid', () => {
  // 4 tokens × 3 units, row-major by token.
  const data = Uint8Array.from([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110]);
  it('copies one cell per pixel with units as image rows', () => {
    const out = aggregateGrid(data, 3, { t0: 1, t1: 3, cols: 2, rows: 3 });
    assert.deepEqual([...out], [30, 60, 40, 70, 50, 80]);
  });
  it('averages or takes the max over the covered cells', () => {
    assert.deepEqual([...aggregateGrid(data, 3, { t0: 0, t1: 4, cols: 2, rows: 1 })], [25, 85]);
    assert.deepEqual([...aggregateGrid(data, 3, { t0: 0, t1: 4, cols: 2, rows: 1 }, 'max')], [50, 110]);
  });
  it('sizes the grid to the pixels or the cells, whichever is fewer', () => {
    assert.deepEqual(gridSize(10_000, 512, 900, 300), { cols: 900, rows: 300 });
    assert.deepEqual(gridSize(40, 64, 900, 300), { cols: 40, rows: 64 });
  });
});
