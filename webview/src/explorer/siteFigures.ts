// Per-site figures the explorer shows next to the masks: each token's kept fraction (attention: of
// its causal keys, so the strip does not paint window position), how decided the masks are
// (|2m − 1|), and the same under untrained A/B (the chance baseline) when the engine sent it.
import { meanSd, type MeanSd } from '@common/stats';
import type { SiteMasks } from '@common/webviewProtocol';
import type { AnalysisModel } from '../common/masks';
import { activeLevels } from './tokenStrip';

/** Per token: fraction of its units kept (the engine's `fraction`, else active / (keys or units)). */
export function keptFraction(model: AnalysisModel, site: number): number[] {
  const l = model.siteMasks(site);
  if (l.fraction) return l.fraction;
  const units = model.sites[site]!.units;
  return l.active.map((a, t) => a / (l.keys?.[t] ?? units));
}

const decidedCache = new WeakMap<Uint8Array, Uint8Array>();

/** Cells as decidedness bytes: round(|2m − 1|·255) from the quantized m (0: m = 0.5, 255: m at 0 or 1). */
export function decidedBytes(q: Uint8Array): Uint8Array {
  let out = decidedCache.get(q);
  if (!out) {
    out = new Uint8Array(q.length);
    for (let i = 0; i < q.length; i++) out[i] = Math.abs(2 * q[i]! - 255);
    decidedCache.set(q, out);
  }
  return out;
}

/** Mean and sd over the text's tokens. */
export type Spread = Pick<MeanSd, 'mean' | 'sd'>;

export interface SiteSummary {
  kept: Spread;
  decided: Spread | null;
  chance: { kept: Spread; decided: Spread } | null;
}

const summaryCache = new WeakMap<SiteMasks, SiteSummary>();

/** A site's figures over the analyzed text, trained and (when sent) chance. */
export function siteSummary(model: AnalysisModel, site: number): SiteSummary {
  const l = model.siteMasks(site);
  let s = summaryCache.get(l);
  if (!s) {
    s = {
      kept: meanSd(keptFraction(model, site)),
      decided: l.decided ? meanSd(l.decided) : null,
      chance: l.chance ? { kept: meanSd(l.chance.fraction), decided: meanSd(l.chance.decided) } : null,
    };
    summaryCache.set(l, s);
  }
  return s;
}

const f2 = (v: number): string => (Number.isFinite(v) ? v.toFixed(2) : '–');

/** One line: "kept 0.48 (chance 0.50, sd 0.03 over tokens) · decided 0.12 (chance 0.10)", or what is missing. */
export function siteSummaryText(model: AnalysisModel, site: number): string {
  const s = siteSummary(model, site);
  const kept = `mean kept fraction ${f2(s.kept.mean)}`;
  const decided = s.decided ? `mean decidedness |2m − 1| ${f2(s.decided.mean)}` : 'no decidedness in this analysis (older engine)';
  if (!s.chance) return `${kept} · ${decided} · no chance baseline in this analysis (older engine)`;
  const c = s.chance;
  return (
    `${kept} (chance ${f2(c.kept.mean)}, sd over tokens ${f2(c.kept.sd)})` +
    ` · ${s.decided ? `${decided} (chance ${f2(c.decided.mean)}, sd ${f2(c.decided.sd)})` : decided}` +
    ' · chance: untrained A/B on the same hidden states'
  );
}

/** The lowest and highest kept fraction of a token at a site ([0, 0] with no tokens). */
export function keptRange(model: AnalysisModel, site: number): [number, number] {
  const kept = keptFraction(model, site);
  let min = Infinity;
  let max = -Infinity;
  for (const v of kept) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return min <= max ? [min, max] : [0, 0];
}

/**
 * The strip's colour levels at a site: its range of kept fractions spread over the levels
 * (fractions, not counts: attention counts grow with the token's position in its window).
 */
export function siteLevels(model: AnalysisModel, site: number): Uint8Array {
  const [min, max] = keptRange(model, site);
  return activeLevels(keptFraction(model, site), max, min);
}
