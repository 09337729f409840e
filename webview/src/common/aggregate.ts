// Display decimation for long series. Charts draw a few points per pixel; hover and export
// always read the full arrays, so nothing is lost.

/**
 * Min/max bucketing over indices [start, end): per bucket the first, min, max and last point, in
 * index order. Keeps every spike (unlike averaging) and every bucket's ends (so lines join up).
 * Non-finite y values are skipped. Returns point indices, ascending.
 */
export function minMaxIndices(ys: ArrayLike<number>, start: number, end: number, buckets: number): Int32Array {
  const n = end - start;
  if (n <= 0) return new Int32Array(0);
  if (n <= buckets * 4) {
    const out: number[] = [];
    for (let i = start; i < end; i++) if (Number.isFinite(ys[i]!)) out.push(i);
    return Int32Array.from(out);
  }
  const out = new Int32Array(buckets * 4);
  let o = 0;
  for (let b = 0; b < buckets; b++) {
    const lo = start + Math.floor((b * n) / buckets);
    const hi = start + Math.floor(((b + 1) * n) / buckets);
    let first = -1;
    let last = -1;
    let min = -1;
    let max = -1;
    for (let i = lo; i < hi; i++) {
      const y = ys[i]!;
      if (!Number.isFinite(y)) continue;
      if (first < 0) first = i;
      last = i;
      if (min < 0 || y < ys[min]!) min = i;
      if (max < 0 || y > ys[max]!) max = i;
    }
    if (first < 0) continue;
    // Sorted and deduplicated: at most 4 distinct indices.
    const picks = [first, min, max, last].sort((a, c) => a - c);
    for (let k = 0; k < 4; k++) if (k === 0 || picks[k] !== picks[k - 1]) out[o++] = picks[k]!;
  }
  return out.slice(0, o);
}

/**
 * Largest-Triangle-Three-Buckets (Steinarsson 2013): `threshold` points that keep the visual shape.
 * Used where a smooth look matters more than every extreme (the minimap); returns indices.
 */
export function lttbIndices(xs: ArrayLike<number>, ys: ArrayLike<number>, start: number, end: number, threshold: number): Int32Array {
  const n = end - start;
  if (threshold >= n || threshold < 3) return Int32Array.from({ length: Math.max(n, 0) }, (_, i) => start + i);
  const out = new Int32Array(threshold);
  const every = (n - 2) / (threshold - 2);
  let a = start;
  out[0] = a;
  for (let i = 0; i < threshold - 2; i++) {
    // Average of the next bucket: the third corner of the triangle.
    const nextLo = start + Math.floor((i + 1) * every) + 1;
    const nextHi = Math.min(start + Math.floor((i + 2) * every) + 1, end);
    let ax = 0;
    let ay = 0;
    const len = Math.max(nextHi - nextLo, 1);
    for (let j = nextLo; j < nextHi; j++) {
      ax += xs[j]!;
      ay += ys[j]!;
    }
    ax /= len;
    ay /= len;
    const lo = start + Math.floor(i * every) + 1;
    const hi = start + Math.floor((i + 1) * every) + 1;
    const px = xs[a]!;
    const py = ys[a]!;
    let best = lo;
    let bestArea = -1;
    for (let j = lo; j < hi; j++) {
      const area = Math.abs((px - ax) * (ys[j]! - py) - (px - xs[j]!) * (ay - py));
      if (area > bestArea) {
        bestArea = area;
        best = j;
      }
    }
    out[i + 1] = best;
    a = best;
  }
  out[threshold - 1] = end - 1;
  return out;
}

/** Index of the point whose x is nearest to `x` in a sorted array (binary search). */
export function nearestIndex(xs: ArrayLike<number>, length: number, x: number): number {
  if (length === 0) return -1;
  let lo = 0;
  let hi = length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  if (lo > 0 && Math.abs(xs[lo - 1]! - x) <= Math.abs(xs[lo]! - x)) return lo - 1;
  return lo;
}

/** First index with xs[i] ≥ x (sorted xs). */
export function lowerBound(xs: ArrayLike<number>, length: number, x: number): number {
  let lo = 0;
  let hi = length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Min/max pyramid over a growing array: level k holds, per block of 2^(k+1) points, the index of
 * its smallest and of its largest finite value (−1: none finite; ties keep the earliest). A range
 * query reads O(log n) blocks, so bucketing 100,000 points into a few hundred pixel columns costs
 * the same as bucketing a few thousand. Appends extend it incrementally (`update`).
 */
export class MinMaxPyramid {
  private mins: Int32Array[] = [];
  private maxs: Int32Array[] = [];
  private ys: Float64Array = new Float64Array(0);
  length = 0;

  /** Brings the pyramid up to `ys[0..length)` (values before the old length must be unchanged). */
  update(ys: Float64Array, length: number): this {
    this.ys = ys;
    if (length < this.length) {
      this.mins = [];
      this.maxs = [];
      this.length = 0;
    }
    if (length === this.length) return this;
    const from = this.length;
    this.length = length;
    let n = length >> 1;
    let start = from >> 1;
    let k = 0;
    while (n > 0) {
      const { mins, maxs } = this.level(k, n);
      if (k === 0) {
        // Blocks of two leaves, straight from the values.
        for (let b = start; b < n; b++) {
          const l = 2 * b;
          const a = ys[l]!;
          const c = ys[l + 1]!;
          const fa = Number.isFinite(a);
          const fc = Number.isFinite(c);
          if (fa && fc) {
            mins[b] = c < a ? l + 1 : l;
            maxs[b] = c > a ? l + 1 : l;
          } else {
            const only = fa ? l : fc ? l + 1 : -1;
            mins[b] = only;
            maxs[b] = only;
          }
        }
      } else {
        const pm = this.mins[k - 1]!;
        const px = this.maxs[k - 1]!;
        for (let b = start; b < n; b++) {
          const l = 2 * b;
          const a = pm[l]!;
          const c = pm[l + 1]!;
          mins[b] = a < 0 ? c : c < 0 ? a : ys[c]! < ys[a]! ? c : a;
          const x = px[l]!;
          const y = px[l + 1]!;
          maxs[b] = x < 0 ? y : y < 0 ? x : ys[y]! > ys[x]! ? y : x;
        }
      }
      n >>= 1;
      start >>= 1;
      k++;
    }
    this.mins.length = k;
    this.maxs.length = k;
    return this;
  }

  /** Level k's arrays, grown (keeping their contents) to hold n blocks. */
  private level(k: number, n: number): { mins: Int32Array; maxs: Int32Array } {
    let mins = this.mins[k];
    let maxs = this.maxs[k];
    if (!mins || !maxs || mins.length < n) {
      const cap = Math.max(n, (mins?.length ?? 0) * 2, 16);
      const m = new Int32Array(cap);
      const x = new Int32Array(cap);
      if (mins && maxs) {
        m.set(mins);
        x.set(maxs);
      }
      mins = this.mins[k] = m;
      maxs = this.maxs[k] = x;
    }
    return { mins, maxs };
  }

  /** Indices of the smallest and largest finite value in [lo, hi) (−1 when none). */
  range(lo: number, hi: number): [number, number] {
    const ys = this.ys;
    const levels = this.mins.length;
    let mn = -1;
    let mx = -1;
    // Aligned blocks taken left to right (ties keep the earliest index): at each position the
    // largest block that starts there and fits, found in O(1) from the bits of i and hi − i.
    let i = lo;
    while (i < hi) {
      const align = i === 0 ? 31 : 31 - Math.clz32(i & -i); // trailing zeros of i
      const fit = 31 - Math.clz32(hi - i); // floor(log2(hi − i))
      const k = Math.min(align, fit, levels) - 1; // level k: blocks of 2^(k+1)
      let a: number;
      let b: number;
      if (k < 0) {
        a = b = Number.isFinite(ys[i]!) ? i : -1;
        i++;
      } else {
        const block = i >> (k + 1);
        a = this.mins[k]![block]!;
        b = this.maxs[k]![block]!;
        i += 2 << k;
      }
      if (a >= 0 && (mn < 0 || ys[a]! < ys[mn]!)) mn = a;
      if (b >= 0 && (mx < 0 || ys[b]! > ys[mx]!)) mx = b;
    }
    return [mn, mx];
  }
}

/**
 * minMaxIndices (same points: per bucket the first, min, max and last finite point, in index
 * order) with the min and max read from a pyramid: O(buckets · log n) instead of O(n).
 */
export function minMaxIndicesFast(ys: Float64Array, pyramid: MinMaxPyramid, start: number, end: number, buckets: number): Int32Array {
  const n = end - start;
  if (n <= buckets * 4) return minMaxIndices(ys, start, end, buckets);
  const out = new Int32Array(buckets * 4);
  let o = 0;
  for (let b = 0; b < buckets; b++) {
    const lo = start + Math.floor((b * n) / buckets);
    const hi = start + Math.floor(((b + 1) * n) / buckets);
    const [min, max] = pyramid.range(lo, hi);
    if (min < 0) continue;
    // First and last finite points (almost always lo and hi − 1).
    let first = lo;
    while (!Number.isFinite(ys[first]!)) first++;
    let last = hi - 1;
    while (!Number.isFinite(ys[last]!)) last--;
    // first ≤ min, max ≤ last: only the middle two may need swapping; duplicates dropped.
    const a = min < max ? min : max;
    const c = min < max ? max : min;
    out[o++] = first;
    if (a !== first) out[o++] = a;
    if (c !== a) out[o++] = c;
    if (last !== c) out[o++] = last;
  }
  return out.slice(0, o);
}
