// Summary statistics shared by the hover (extension) and the Mask Explorer (webview).

export interface MeanSd {
  mean: number;
  /** Sample standard deviation (n − 1); 0 with fewer than two values. */
  sd: number;
  /** How many values counted: the finite ones. */
  n: number;
}

/**
 * Mean and standard deviation of the finite values: a kept analysis fills its columns as summaries
 * arrive, so missing values (NaN) are skipped rather than poisoning the figure. NaN mean when none.
 */
export function meanSd(values: Iterable<number>): MeanSd {
  let n = 0;
  let sum = 0;
  for (const v of values) if (Number.isFinite(v)) (n++, (sum += v));
  const mean = n ? sum / n : NaN;
  let ss = 0;
  for (const v of values) if (Number.isFinite(v)) ss += (v - mean) ** 2;
  return { mean, sd: n > 1 ? Math.sqrt(ss / (n - 1)) : 0, n };
}
