// Box-aggregation of a tokens × units byte matrix into a cols × rows image for the canvas
// heatmaps: zoomed out, each pixel shows the mean (or max) of the cells it covers, so no token is
// skipped the way canvas downscaling would skip it; zoomed in, one cell maps to one pixel cell.

export type CellAggregate = 'mean' | 'max';

export interface GridWindow {
  /** Token window [t0, t1). */
  t0: number;
  t1: number;
  /** Output size; cols ≤ t1 − t0 and rows ≤ units are what callers ask for. */
  cols: number;
  rows: number;
}

/**
 * Aggregates `data` (row-major, `units` per token) over the window into `out` (cols × rows, row
 * major: out[row·cols + col]). Image row r covers units [r·units/rows, (r+1)·units/rows).
 */
export function aggregateGrid(
  data: Uint8Array,
  units: number,
  w: GridWindow,
  mode: CellAggregate = 'mean',
  out = new Uint8Array(w.cols * w.rows),
): Uint8Array {
  const { t0, t1, cols, rows } = w;
  const span = t1 - t0;
  if (cols === span && rows === units) {
    // One cell per pixel: a transpose-free copy (image rows are units).
    for (let c = 0; c < cols; c++) {
      const base = (t0 + c) * units;
      for (let r = 0; r < rows; r++) out[r * cols + c] = data[base + r]!;
    }
    return out;
  }
  if (rows === units && mode === 'mean') {
    // Common case (every unit gets a pixel row): plain column sums, no unit → row lookup.
    const sum = new Uint32Array(units);
    for (let c = 0; c < cols; c++) {
      const lo = t0 + Math.floor((c * span) / cols);
      const hi = Math.max(lo + 1, t0 + Math.floor(((c + 1) * span) / cols));
      sum.fill(0);
      for (let t = lo; t < hi; t++) {
        const base = t * units;
        for (let u = 0; u < units; u++) sum[u]! += data[base + u]!;
      }
      const n = hi - lo;
      for (let r = 0; r < rows; r++) out[r * cols + c] = Math.round(sum[r]! / n);
    }
    return out;
  }
  const sums = new Float64Array(rows);
  const counts = new Uint32Array(rows);
  const unitRow = new Int32Array(units);
  for (let u = 0; u < units; u++) unitRow[u] = Math.min(rows - 1, Math.floor((u * rows) / units));
  for (let c = 0; c < cols; c++) {
    const lo = t0 + Math.floor((c * span) / cols);
    const hi = Math.max(lo + 1, t0 + Math.floor(((c + 1) * span) / cols));
    sums.fill(0);
    counts.fill(0);
    for (let t = lo; t < hi; t++) {
      const base = t * units;
      if (mode === 'mean') {
        for (let u = 0; u < units; u++) {
          const r = unitRow[u]!;
          sums[r]! += data[base + u]!;
          counts[r]!++;
        }
      } else {
        for (let u = 0; u < units; u++) {
          const r = unitRow[u]!;
          const v = data[base + u]!;
          if (v > sums[r]!) sums[r] = v;
          counts[r] = 1;
        }
      }
    }
    for (let r = 0; r < rows; r++) out[r * cols + c] = counts[r] ? Math.round(sums[r]! / counts[r]!) : 0;
  }
  return out;
}

/** Paints aggregated bytes through a colour lookup into RGBA pixels (ImageData.data's buffer). */
export function paintLut(values: Uint8Array, lut: Uint32Array, pixels: Uint32Array): void {
  for (let i = 0; i < values.length; i++) pixels[i] = lut[values[i]!]!;
}

/** Screen-column count for a window: one per token when they fit, else one per pixel. */
export function gridSize(tokens: number, units: number, widthPx: number, heightPx: number): { cols: number; rows: number } {
  return { cols: Math.max(1, Math.min(tokens, Math.floor(widthPx))), rows: Math.max(1, Math.min(units, Math.floor(heightPx))) };
}
