// The hover's per-site figures of one token: kept fraction (with the hard count), decidedness and
// soft mass, each next to what untrained A/B give on the same hidden states (the chance baseline),
// and a plain sentence when the masks are undecided. No `vscode` import: unit-tested under Node.
import type { SiteMasks, Token } from '@common/protocol';
import { blockChar } from '../heatmap/colors';
import { isPending } from '../heatmap/lazyAnalysis';
import type { AnalysisView } from '../heatmap/metrics';
import { shortSiteLabel } from '@common/sites';
import { meanSd } from '@common/stats';

/**
 * Below this mean |2m − 1| a token's mask at a site is called undecided: a typical m lies within
 * 0.15 of the 0.5 threshold, so "kept" or "dropped" turns on small differences.
 */
export const UNDECIDED_BELOW = 0.3;

/** Space before a right-aligned cell: the hover's tables have no cell padding of their own. */
const CELL_PAD = '&nbsp;'.repeat(3);

function fmt(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '–';
  return v.toFixed(2);
}

const spreadCache = new WeakMap<SiteMasks, { mean: number; sd: number }>();

/** Spread of a site's chance kept fraction over the analyzed tokens: the "±" next to chance. */
export function chanceSpread(layer: SiteMasks, tokens: readonly Token[]): { mean: number; sd: number } | undefined {
  if (!layer.chance) return undefined;
  const hit = spreadCache.get(layer);
  if (hit) return hit;
  const f = layer.chance.fraction;
  // Over the tokens received so far: a kept analysis fills its columns as summaries arrive (0 before).
  const complete = !tokens.some(isPending);
  const received = complete
    ? f
    : {
        *[Symbol.iterator]() {
          for (let i = 0; i < f.length; i++) if (!isPending(tokens[i])) yield f[i];
        },
      };
  const { mean, sd } = meanSd(received);
  // Kept only once every token has its value.
  if (complete) spreadCache.set(layer, { mean, sd });
  return { mean, sd };
}

export interface TokenSiteFigures {
  site: number;
  label: string;
  kept: number;
  /** Hard count and what it is out of (units, or heads × causal keys at attention sites). */
  active: number;
  of: number;
  decided?: number;
  mean: number;
  chance?: { kept: number; sd: number; decided: number; mean: number };
}

export function tokenSiteFigures(view: AnalysisView, token: number): TokenSiteFigures[] {
  return view.sites.map((s, i) => {
    const l = view.analysis.layers[i];
    const of = l.keys?.[token] ?? s.units;
    const spread = chanceSpread(l, view.analysis.tokens);
    return {
      site: i,
      label: shortSiteLabel(s),
      kept: l.fraction?.[token] ?? l.active[token] / of,
      active: l.active[token],
      of,
      decided: l.decided?.[token],
      mean: l.mean[token],
      chance: l.chance && spread ? { kept: l.chance.fraction[token], sd: spread.sd, decided: l.chance.decided[token], mean: l.chance.mean[token] } : undefined,
    };
  });
}

/**
 * The per-site table ("0.62 kept, chance 0.51 ± 0.04"), the undecided sentence, and what is
 * missing from an older engine's analysis. The block before the kept fraction places it within
 * that site's range over the text.
 */
export function siteFiguresMarkdown(view: AnalysisView, token: number): string {
  const rows = tokenSiteFigures(view, token);
  const hasChance = rows.some((r) => r.chance);
  const hasDecided = rows.some((r) => r.decided !== undefined);
  const attention = view.sites.some((s) => s.kind === 'attention');
  const out: string[] = [];
  out.push(
    `Per site: **kept** = fraction of units with m ≥ 0.5${attention ? ' (attention: of heads × causal keys)' : ''}; **decided** = mean |2m − 1| (0: all at 0.5, 1: all at 0 or 1); **m̄** = soft mass, mean m` +
      (hasChance ? '; **chance** = the same with untrained A/B on the same hidden states (± its sd over this text):' : ':'),
    '',
  );
  const head = hasChance ? ['kept', 'chance', 'decided', 'chance', 'm̄', 'chance'] : ['kept', 'decided', 'm̄'];
  out.push(`| site | ${head.map((h) => CELL_PAD + h).join(' | ')} |`);
  out.push(`|:--|${head.map(() => '--:').join('|')}|`);
  for (const r of rows) {
    const { values, domain } = view.values({ site: { kind: 'site', name: view.sites[r.site].name }, metric: 'fraction', unit: 0, rounded: true });
    const t = domain[1] > domain[0] ? (values[token] - domain[0]) / (domain[1] - domain[0]) : 0.5;
    const kept = `${blockChar(t)} ${fmt(r.kept)} (${r.active}/${r.of})`;
    const cells = hasChance
      ? [kept, r.chance ? `${fmt(r.chance.kept)} ± ${fmt(r.chance.sd)}` : '–', fmt(r.decided), fmt(r.chance?.decided), fmt(r.mean), fmt(r.chance?.mean)]
      : [kept, fmt(r.decided), fmt(r.mean)];
    out.push(`| ${r.label} | ${cells.map((c) => CELL_PAD + c).join(' | ')} |`);
  }
  const notes: string[] = [];
  if (hasDecided) {
    const undecided = rows.filter((r) => r.decided !== undefined && r.decided < UNDECIDED_BELOW);
    if (undecided.length === rows.length) {
      notes.push(`**Undecided masks**: at every site this token's mask values sit near 0.5 (decided < ${UNDECIDED_BELOW}), so which units count as kept turns on small differences around the threshold.`);
    } else if (undecided.length) {
      notes.push(`**Undecided** at ${undecided.map((r) => r.label).join(', ')} (decided < ${UNDECIDED_BELOW}: mask values near 0.5).`);
    }
  } else notes.push('This analysis has no decidedness (an older engine).');
  if (!hasChance) notes.push('No chance baseline in this analysis (an older engine): these figures cannot be compared with untrained masks.');
  return [out.join('\n'), ...notes].join('\n\n');
}
