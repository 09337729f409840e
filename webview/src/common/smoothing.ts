// TensorBoard's smoothing: a debiased exponential moving average, so the first points are not
// dragged towards zero. weight 0 = raw, 0.99 = very smooth. Non-finite values pass through.

export class Ema {
  private last = 0;
  /** weight^count, kept as a running product (no Math.pow per point). */
  private decay = 1;
  constructor(readonly weight: number) {}
  next(value: number): number {
    if (!Number.isFinite(value) || this.weight <= 0) return value;
    this.last = this.last * this.weight + (1 - this.weight) * value;
    this.decay *= this.weight;
    return this.last / (1 - this.decay);
  }
}

/** Smooths `values[0..length)` into `out` (reused when big enough). */
export function emaSmooth(values: ArrayLike<number>, weight: number, length = values.length, out?: Float64Array): Float64Array {
  const result = out && out.length >= length ? out : new Float64Array(length);
  const ema = new Ema(weight);
  for (let i = 0; i < length; i++) result[i] = ema.next(values[i]!);
  return result;
}
