// Smoothed copies of columns, extended incrementally as records stream in (EMA is a running
// state, so appending k points costs k steps, not a pass over 100,000).
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
