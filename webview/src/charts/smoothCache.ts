// Smoothed copies of columns, extended incrementally as records stream in (EMA is a running
// state, so appending k points costs k steps, not a pass over 100,000).
import { MinMaxPyramid } from '../common/aggregate';
import { Ema } from '../common/smoothing';
import type { Column } from './store';

interface Entry {
  weight: number;
  cuts: number;
  length: number;
  ema: Ema;
  out: Float64Array;
}

const cache = new WeakMap<Column, Entry>();

export function smoothedColumn(col: Column, weight: number): Float64Array {
  let e = cache.get(col);
  // A different weight, or a column that was cut back: start over.
  if (!e || e.weight !== weight || e.cuts !== col.cuts) {
    e = { weight, cuts: col.cuts, length: 0, ema: new Ema(weight), out: new Float64Array(col.data.length) };
    cache.set(col, e);
  }
  if (e.out.length < col.length) {
    const grown = new Float64Array(col.data.length);
    grown.set(e.out.subarray(0, e.length));
    e.out = grown;
  }
  const src = col.data;
  for (let i = e.length; i < col.length; i++) e.out[i] = e.ema.next(src[i]!);
  e.length = col.length;
  return e.out;
}

const pyramids = new WeakMap<object, { generation: string; pyramid: MinMaxPyramid }>();

/** The min/max pyramid of a column (extended as it grows, rebuilt after a cut). */
export function columnPyramid(col: Column): MinMaxPyramid {
  return pyramidFor(col, col.data, col.length, String(col.cuts));
}

/** The min/max pyramid of a column's smoothed copy (smoothedColumn) at `weight`. */
export function smoothedPyramid(col: Column, weight: number): MinMaxPyramid {
  const smooth = smoothedColumn(col, weight);
  return pyramidFor(cache.get(col)!, smooth, col.length, `${col.cuts}:${weight}`);
}

function pyramidFor(key: object, ys: Float64Array, length: number, generation: string): MinMaxPyramid {
  let e = pyramids.get(key);
  if (!e || e.generation !== generation) {
    e = { generation, pyramid: new MinMaxPyramid() };
    pyramids.set(key, e);
  }
  return e.pyramid.update(ys, length);
}
