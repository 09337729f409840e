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
