// Per-token mask statistics and the chance baseline, independent of how masks are computed or
// transported: the fraction of units (attention: of causal keys) kept, how decided the mask is,
// masks from untrained A/B drawn from the run's init on the same hidden states, the default
// painted value, token classes and η² (variance explained by a grouping).
import type { DropoutConfig } from './config';
import type { MaskSite, PaintedDefinition } from '@common/protocol';
import { Rng } from './rng';

/** One token's statistics at one site. */
export interface TokenSiteStats {
  /** Units (attention: causal keys over all heads) with m ≥ 0.5. */
  active: number;
  /** Units (attention: causal keys over all heads) counted. */
  count: number;
  /** Mean m over them. */
  mean: number;
  /** Mean |2m − 1| over them: 0 all at 0.5, 1 all at 0 or 1. */
  decided: number;
}

/**
 * Where a token's mask values lie in a site's mask array: the masks of a batch of windows are
 * (rows, W, C) for unit sites and (rows, nh, W, W) for attention; token t of window row r.
 */
export interface TokenLocation {
  row: number;
  t: number;
  /** Window length. */
  W: number;
  nHead: number;
}

/** Visits the values of token `at` at `site` (attention: causal keys j ≤ t of every head). */
export function forTokenValues(m: ArrayLike<number>, site: MaskSite, at: TokenLocation, f: (v: number, unit: number) => void): void {
  const { row, t, W, nHead } = at;
  if (site.kind === 'attention') {
    // units of an attention site: head h, key j → h·(units/nh) + j (the analysis' layout)
    const perHead = site.units / nHead;
    for (let h = 0; h < nHead; h++) {
      const o = ((row * nHead + h) * W + t) * W;
      for (let j = 0; j <= t; j++) f(m[o + j], h * perHead + j);
    }
    return;
  }
  const C = site.units, o = (row * W + t) * C;
  for (let c = 0; c < C; c++) f(m[o + c], c);
}

export function tokenSiteStats(m: ArrayLike<number>, site: MaskSite, at: TokenLocation): TokenSiteStats {
  let active = 0, count = 0, sum = 0, dec = 0;
  forTokenValues(m, site, at, (v) => {
    if (v >= 0.5) active++;
    count++;
    sum += v;
    dec += Math.abs(2 * v - 1);
  });
  return { active, count, mean: count ? sum / count : 0, decided: count ? dec / count : 0 };
}

// ----------------------------------------------------------------------------- chance baseline

/** Seeds of the chance draws: fixed, so an analysis or report is reproducible. */
const CHANCE_SEED = 0x13c4a9ce;

/**
 * Untrained A and B for every site, drawn from the run's init distributions (dropout.aInit,
 * bInit), as long as the parameters (attention: blockSize). Draw k is the same numbers every time.
 */
export function chanceParams(sites: MaskSite[], blockSize: number, dropout: DropoutConfig, draw: number): { A: Float32Array; B: Float32Array }[] {
  const rng = new Rng((CHANCE_SEED + Math.imul(draw, 0x9e3779b9)) >>> 0);
  return sites.map((s) => {
    const n = s.kind === 'attention' ? blockSize : s.units;
    return { A: rng.fillNormal(new Float32Array(n), dropout.aInit.mean, dropout.aInit.std), B: rng.fillNormal(new Float32Array(n), dropout.bInit.mean, dropout.bInit.std) };
  });
}

/** m = ½·cos(A ⊙ x + B) + ½ over the last dimension (length `last`; A, B sliced to it), in float64 then float32. */
export function chanceMask(x: ArrayLike<number>, A: Float32Array, B: Float32Array, last: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let e = 0, j = 0; e < x.length; e++) {
    out[e] = 0.5 * Math.cos(A[j] * x[e] + B[j]) + 0.5;
    if (++j === last) j = 0;
  }
  return out;
}

// ----------------------------------------------------------------------------- painted value

/**
 * The value the editor paints by default: the mean fraction of units kept over the sites that are
 * not attention. Attention sites keep a fraction of the token's causal keys, whose number grows
 * along the window, and they would paint position rather than the token.
 */
export function paintedDefinition(sites: MaskSite[]): PaintedDefinition {
  const over = sites.filter((s) => s.kind !== 'attention').map((s) => s.name);
  return {
    metric: 'fraction',
    description: `mean fraction of units kept (m ≥ 0.5) over the ${over.length} non-attention sites (attention sites are left out: their kept keys grow with window position)`,
    sites: over,
  };
}

/** Per token: the mean of `fraction[k]` over the sites named in `def`. */
export function paintedValues(sites: MaskSite[], fraction: number[][], def: PaintedDefinition, n: number): number[] {
  const ks = sites.map((s, k) => (def.sites.includes(s.name) ? k : -1)).filter((k) => k >= 0);
  const out = new Array<number>(n).fill(0);
  if (!ks.length) return out;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (const k of ks) s += fraction[k][i];
    out[i] = s / ks.length;
  }
  return out;
}

// ----------------------------------------------------------------------------- groupings

/**
 * A token's class: upper, lower, digit, space, newline, punctuation or other, by its first
 * non-blank character; multi-character tokens (gpt2) with a leading space get a `space+` prefix.
 */
export function tokenClass(text: string): string {
  if (text === '') return 'empty';
  if (/^\n+$/.test(text)) return 'newline';
  if (/^\s+$/.test(text)) return 'space';
  const lead = text.length > 1 && /^\s/.test(text) ? 'space+' : '';
  const c = text.trimStart()[0];
  const cls = /\p{Lu}/u.test(c) ? 'upper' : /\p{Ll}/u.test(c) ? 'lower' : /\p{N}/u.test(c) ? 'digit' : /\p{P}|\p{S}/u.test(c) ? 'punctuation' : 'other';
  return lead + cls;
}

/**
 * η²: the share of the variance of `values` explained by the group means (between-group sum of
 * squares over the total). 0 when the values do not vary. Many small groups inflate it by chance,
 * which is why every η² is shown next to the chance baseline's over the same groups.
 */
export function eta2(values: ArrayLike<number>, groups: ArrayLike<number | string>): number {
  const n = values.length;
  if (n < 2) return 0;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += values[i];
  mean /= n;
  const by = new Map<number | string, { n: number; s: number }>();
  let total = 0;
  for (let i = 0; i < n; i++) {
    total += (values[i] - mean) ** 2;
    const g = by.get(groups[i]);
    if (g) {
      g.n++;
      g.s += values[i];
    } else by.set(groups[i], { n: 1, s: values[i] });
  }
  if (total <= 1e-12 * n) return 0;
  let between = 0;
  for (const g of by.values()) between += g.n * (g.s / g.n - mean) ** 2;
  return Math.min(1, between / total);
}
