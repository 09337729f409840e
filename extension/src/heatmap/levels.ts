// Colour levels of the painted values: how a value becomes one of LEVELS colours. Linear levels
// over [min, max] let a few extreme tokens squeeze everything else into two or three colours; the
// default, quantile levels, gives each colour an equal share of the tokens shown, and z-score
// levels place each token by how many standard deviations it lies from the text's mean.
// No `vscode` import: unit-tested under plain Node.
import { LEVELS, levelOf } from './colors';

export type Levelling = 'quantile' | 'zscore' | 'linear';
export const LEVELLINGS: readonly Levelling[] = ['quantile', 'zscore', 'linear'];

export const LEVELLING_LABEL: Record<Levelling, string> = {
  quantile: 'quantile levels (each colour ≈ 1/8 of the tokens)',
  zscore: 'z-score levels (standard deviations from the mean over this text)',
  linear: 'linear levels (equal steps from min to max)',
};

/** Z-score edges between levels: ≤ −1.5, −1, −0.5, 0, 0.5, 1, 1.5, above (8 levels). */
const Z_EDGES = [-1.5, -1, -0.5, 0, 0.5, 1, 1.5];

export interface Levels {
  levelling: Levelling;
  /** Per token: its level in [0, levels), or −1 for a value that is not a number (left unpainted). */
  level: Int8Array;
  /** LEVELS + 1 value bounds: level l holds values in [bounds[l], bounds[l + 1]] (for the legend). */
  bounds: number[];
  /** Finite values levelled. */
  count: number;
  mean: number;
  sd: number;
}

function finiteSorted(values: ArrayLike<number>): Float64Array {
  const out: number[] = [];
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i])) out.push(values[i]);
  return Float64Array.from(out).sort();
}

/** The q-quantile (0 ≤ q ≤ 1) of sorted values, linear between neighbours. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (!n) return NaN;
  const x = Math.max(0, Math.min(1, q)) * (n - 1);
  const i = Math.floor(x);
  return i + 1 < n ? sorted[i] + (sorted[i + 1] - sorted[i]) * (x - i) : sorted[n - 1];
}

/** Levels of the values under a levelling; NaN values get level −1. */
export function computeLevels(values: ArrayLike<number>, levelling: Levelling, levels = LEVELS): Levels {
  const sorted = finiteSorted(values);
  const n = sorted.length;
  let sum = 0;
  for (const v of sorted) sum += v;
  const mean = n ? sum / n : NaN;
  let ss = 0;
  for (const v of sorted) ss += (v - mean) ** 2;
  const sd = n > 1 ? Math.sqrt(ss / (n - 1)) : 0;
  const lo = n ? sorted[0] : 0;
  const hi = n ? sorted[n - 1] : 0;
  let bounds: number[];
  if (levelling === 'quantile') bounds = Array.from({ length: levels + 1 }, (_, l) => quantile(sorted, l / levels));
  else if (levelling === 'zscore' && levels === Z_EDGES.length + 1) bounds = [lo, ...Z_EDGES.map((z) => Math.min(hi, Math.max(lo, mean + z * sd))), hi];
  else bounds = Array.from({ length: levels + 1 }, (_, l) => lo + ((hi - lo) * l) / levels);
  const level = new Int8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) level[i] = -1;
    else if (!(hi > lo)) level[i] = levels >> 1; // one value everywhere: the middle colour
    else if (levelling === 'linear') level[i] = levelOf(v, lo, hi, levels);
    else if (levelling === 'zscore' && levels === Z_EDGES.length + 1) {
      const z = sd > 0 ? (v - mean) / sd : 0;
      let l = 0;
      while (l < Z_EDGES.length && z > Z_EDGES[l]) l++;
      level[i] = l;
    } else {
      // Quantile: the first level whose upper bound reaches v. Ties share a level, so a value
      // held by many tokens keeps one colour rather than being split at random.
      let l = 0;
      while (l < levels - 1 && v > bounds[l + 1]) l++;
      level[i] = l;
    }
  }
  return { levelling, level, bounds, count: n, mean, sd };
}
