// What the heatmap paints: one number per token for a chosen site and metric, computed from an
// engine AnalysisResult. No `vscode` import: unit-tested under plain Node.
import { decodeBase64 } from '@common/maskBytes';
import type { AnalysisResult, MaskSite } from '@common/protocol';
import { siteLabel } from '@common/sites';
import { domainOf } from './colors';
import { computeLevels, type Levelling, type Levels } from './levels';
import { isPending, type MaskRows } from './lazyAnalysis';

/**
 * `painted`: the engine's default painted value (AnalysisResult.painted), or for a chosen site its
 * kept fraction; `fraction`: kept fraction (attention: of causal keys); `decided`: mean |2m − 1|;
 * `mean`: soft mass, mean m; `active`: hard count of units with m ≥ 0.5 (soft view: Σm);
 * `vsChance`: kept fraction minus the same under untrained A/B; `unit`: one unit's mask.
 */
export type MetricKind = 'painted' | 'fraction' | 'decided' | 'mean' | 'active' | 'vsChance' | 'unit';

/** The site to paint: one site by name, or every site together. */
export type SiteChoice = { kind: 'site'; name: string } | { kind: 'all' };

export interface PaintChoice {
  site: SiteChoice;
  metric: MetricKind;
  /** Unit index for the `unit` metric. */
  unit: number;
  /** Rounded view: a unit counts as on when m ≥ 0.5; soft view: m itself (`active` and `unit`). */
  rounded: boolean;
}

export const DEFAULT_CHOICE: PaintChoice = { site: { kind: 'all' }, metric: 'painted', unit: 0, rounded: true };

export const METRIC_LABEL: Record<MetricKind, string> = {
  painted: 'default (the engine\'s painted value)',
  fraction: 'kept fraction',
  decided: 'decidedness |2m − 1|',
  mean: 'soft mass (mean m)',
  active: 'hard count (units with m ≥ 0.5)',
  vsChance: 'kept fraction − chance',
  unit: 'a single unit',
};

function metricText(choice: PaintChoice): string {
  switch (choice.metric) {
    case 'painted':
      return choice.site.kind === 'all' ? 'default' : 'kept fraction';
    case 'active':
      return choice.rounded ? 'active units (m ≥ 0.5)' : 'Σm (soft active units)';
    case 'unit':
      return choice.rounded ? `unit ${choice.unit} on/off` : `unit ${choice.unit} mask`;
    default:
      return METRIC_LABEL[choice.metric];
  }
}

/** Human name of what is painted, e.g. "layer 1 · MLP · active units (m ≥ 0.5)". */
export function describeChoice(choice: PaintChoice, sites: readonly MaskSite[]): string {
  const where = choice.site.kind === 'all' ? 'all layers' : siteLabel(sites.find((s) => s.name === (choice.site as { name: string }).name) ?? { layer: -1, kind: 'embedding' });
  return `${where} · ${metricText(choice)}`;
}

/** What a choice paints over a given analysis, in words, for legends and hovers. */
export interface ChoiceExplanation {
  /** What the number measures. */
  measures: string;
  /** Which sites it is over. */
  sites: string;
  /** Set when the analysis lacks what the metric needs (older engine): nothing is painted. */
  missing?: string;
}

/** Sites a whole-model value is over: attention sites left out (their counts follow window position). */
export function nonAttentionSites(sites: readonly MaskSite[]): number[] {
  return sites.map((s, i) => (s.kind === 'attention' ? -1 : i)).filter((i) => i >= 0);
}

/** Analysis plus lazily decoded masks and cached per-choice values. */
export class AnalysisView {
  private readonly decoded = new Map<number, Uint8Array>();
  private readonly valueCache = new Map<string, { values: Float32Array; domain: [number, number] }>();
  private readonly levelCache = new WeakMap<object, Map<Levelling, Levels>>();
  /** token id → indices of its occurrences. */
  private byId: Map<number, number[]> | undefined;

  /**
   * `rows`: for an analysis the engine keeps (built from summaries, masks not sent), where masks
   * are fetched from; `release` frees it in the engine.
   */
  constructor(
    readonly analysis: AnalysisResult,
    readonly rows?: MaskRows,
    private readonly release?: () => void,
  ) {}

  /** Masks stay in the engine and are fetched by token (fetchRows before reading them). */
  get lazy(): boolean {
    return this.rows !== undefined;
  }

  /** Makes the masks of tokens [from, to) readable (a no-op when they came with the analysis). */
  async fetchRows(from: number, to: number): Promise<void> {
    if (!this.rows) return;
    const missing = [];
    for (let t = from; t < to; t++) if (this.analysis.sites.some((_, s) => !this.rows!.row(s, t))) missing.push(t);
    if (missing.length) await this.rows.fetch(missing[0], missing[missing.length - 1] + 1);
  }

  /** Makes what a choice paints readable (the single-unit metric needs one site's masks for every token). */
  async prepare(choice: PaintChoice, maxBytes = 64 * 2 ** 20): Promise<void> {
    if (!this.rows || choice.metric !== 'unit' || choice.site.kind !== 'site') return;
    const site = this.resolveSite(choice.site);
    await this.rows.fetchSite(site, maxBytes);
    this.valueCache.clear();
  }

  /** One token's masks at a site (round(m·255) per unit), or undefined when not fetched. */
  maskRow(site: number, token: number): Uint8Array | undefined {
    if (this.rows) return this.rows.row(site, token);
    const units = this.analysis.sites[site].units;
    return this.masks(site).subarray(token * units, (token + 1) * units);
  }

  dispose(): void {
    this.release?.();
  }

  get tokenCount(): number {
    return this.analysis.tokens.length;
  }

  get sites(): readonly MaskSite[] {
    return this.analysis.sites;
  }

  /** Index of the site to paint for a choice; falls back to the same layer and kind, then to the last MLP site. */
  resolveSite(choice: SiteChoice): number {
    if (choice.kind === 'all') return -1;
    const sites = this.analysis.sites;
    const exact = sites.findIndex((s) => s.name === choice.name);
    if (exact >= 0) return exact;
    const mlp = sites.map((s, i) => [s, i] as const).filter(([s]) => s.kind === 'mlp');
    return mlp.length ? mlp[mlp.length - 1][1] : sites.length - 1;
  }

  /** tokens × units mask bytes (round(m·255)) of a site. */
  masks(site: number): Uint8Array {
    const fetched = this.rows?.siteMatrix(site);
    if (fetched) return fetched;
    if (this.rows) throw new Error(`the masks of ${this.analysis.sites[site].name} are in the engine: prepare() fetches them`);
    let m = this.decoded.get(site);
    if (!m) {
      m = decodeBase64(this.analysis.layers[site].masks);
      this.decoded.set(site, m);
    }
    return m;
  }

  /** Mask of one unit of one token at a site, in [0, 1]. */
  unitValue(site: number, token: number, unit: number): number {
    const units = this.analysis.sites[site].units;
    if (unit < 0 || unit >= units) return NaN;
    if (!this.rows || this.rows.siteMatrix(site)) return this.masks(site)[token * units + unit] / 255;
    const row = this.rows.row(site, token);
    return row ? row[unit] / 255 : NaN;
  }

  /** The value of one token at one site for a metric (NaN where the analysis lacks it). */
  siteValue(site: number, token: number, metric: MetricKind, rounded: boolean, unit = 0): number {
    const l = this.analysis.layers[site];
    // What attention counts are over: heads × the token's causal keys (older engines: the units).
    const of = l.keys?.[token] ?? this.analysis.sites[site].units;
    switch (metric) {
      case 'painted':
      case 'fraction':
        return l.fraction ? l.fraction[token] : l.active[token] / of;
      case 'decided':
        return l.decided ? l.decided[token] : NaN;
      case 'mean':
        return l.mean[token];
      case 'active':
        return rounded ? l.active[token] : l.mean[token] * of;
      case 'vsChance':
        return l.chance ? this.siteValue(site, token, 'fraction', rounded) - l.chance.fraction[token] : NaN;
      case 'unit': {
        const m = this.unitValue(site, token, unit);
        return rounded ? (m >= 0.5 ? 1 : 0) : m;
      }
    }
  }

  /** The engine's painted values, when it sent them for every token. */
  private enginePainted(): number[] | undefined {
    const p = this.analysis.painted;
    return p && p.length === this.tokenCount ? p : undefined;
  }

  /** What a choice paints over this analysis: what it measures, over which sites, what is missing. */
  explain(choice: PaintChoice): ChoiceExplanation {
    const sites = this.analysis.sites;
    const site = this.resolveSite(choice.site);
    const metric = this.effectiveMetric(choice);
    const others = nonAttentionSites(sites);
    const over = site >= 0 ? siteLabel(sites[site]) : `${others.length} of ${sites.length} sites (attention left out: its counts follow window position)`;
    const layers = site >= 0 ? [this.analysis.layers[site]] : others.map((i) => this.analysis.layers[i]);
    const attention = site >= 0 && sites[site].kind === 'attention';
    const keptOf = attention ? 'its causal keys (heads × keys up to it)' : 'the units';
    const avg = site >= 0 ? '' : ', averaged over the sites';
    if (metric === 'painted' && site < 0) {
      const by = this.analysis.paintedBy;
      if (this.enginePainted()) return { measures: by?.description ?? 'the engine\'s default painted value', sites: by ? `${by.sites.length} of ${sites.length} sites` : 'as the engine chose' };
      return { measures: `fraction of units kept (m ≥ 0.5) per token${avg}; computed here: this engine sends no painted value`, sites: over };
    }
    const missingIf = (absent: boolean, what: string): string | undefined => (absent ? `this analysis has no ${what} (an older engine): nothing to paint` : undefined);
    switch (metric) {
      case 'painted':
      case 'fraction':
        return { measures: `fraction of ${keptOf} kept (m ≥ 0.5)${avg}`, sites: over };
      case 'decided':
        return { measures: `how decided the mask is: mean |2m − 1| over ${keptOf} (0: every m at 0.5, 1: every m at 0 or 1)${avg}`, sites: over, missing: missingIf(layers.some((l) => !l.decided), 'decidedness') };
      case 'mean':
        return { measures: `soft mass: mean m over ${keptOf}${avg}`, sites: over };
      case 'active':
        return { measures: `${choice.rounded ? 'units with m ≥ 0.5' : 'Σm'} per token${site >= 0 ? '' : ', summed over the sites'}`, sites: over };
      case 'vsChance':
        return {
          measures: `kept fraction minus the kept fraction under untrained A/B on the same hidden states (> 0: keeps more than chance)${avg}`,
          sites: over,
          missing: missingIf(layers.some((l) => !l.chance), 'chance baseline'),
        };
      case 'unit':
        return { measures: choice.rounded ? `unit ${choice.unit} on (1) or off (0)` : `unit ${choice.unit}'s mask m`, sites: over };
    }
  }

  /** A whole-model choice cannot paint one unit: it paints the default instead. */
  private effectiveMetric(choice: PaintChoice): MetricKind {
    return choice.site.kind === 'all' && choice.metric === 'unit' ? 'painted' : choice.metric;
  }

  /** One value per token for a choice, and their [min, max]; cached per choice. NaN: not available. */
  values(choice: PaintChoice): { values: Float32Array; domain: [number, number] } {
    const site = this.resolveSite(choice.site);
    const metric = this.effectiveMetric(choice);
    const key = `${site}|${metric}|${choice.rounded ? 1 : 0}|${metric === 'unit' ? choice.unit : 0}`;
    const hit = this.valueCache.get(key);
    if (hit) return hit;
    const n = this.tokenCount;
    const values = new Float32Array(n);
    const painted = site < 0 && metric === 'painted' ? this.enginePainted() : undefined;
    if (painted) values.set(painted);
    else if (site >= 0) {
      for (let t = 0; t < n; t++) values[t] = this.siteValue(site, t, metric, choice.rounded, choice.unit);
    } else {
      // All sites: attention left out (its kept keys grow along the window: it would paint
      // position); counts summed, the rest averaged.
      const S = nonAttentionSites(this.analysis.sites);
      for (const s of S) for (let t = 0; t < n; t++) values[t] += this.siteValue(s, t, metric, choice.rounded);
      if (metric !== 'active' && S.length > 0) for (let t = 0; t < n; t++) values[t] /= S.length;
      if (!S.length) values.fill(NaN);
    }
    // An analysis still arriving (Analyze Document's visible lines first): no value for the tokens
    // not received yet, whose columns read 0 until they come.
    const tokens = this.analysis.tokens;
    for (let t = 0; t < n; t++) if (isPending(tokens[t])) values[t] = NaN;
    const out = { values, domain: domainOf(values) };
    this.valueCache.set(key, out);
    return out;
  }

  /** Colour levels of a choice's values under a levelling; cached. */
  /** Colour levels of a choice; tokens marked in `skip` (a sample's whitespace) get none and don't shape them. */
  levels(choice: PaintChoice, levelling: Levelling, skip?: Uint8Array): Levels {
    const v = this.values(choice);
    if (skip) return computeLevels(v.values.map((x, i) => (skip[i] ? NaN : x)), levelling);
    let hit = this.levelCache.get(v);
    if (!hit) this.levelCache.set(v, (hit = new Map()));
    let out = hit.get(levelling);
    if (!out) hit.set(levelling, (out = computeLevels(v.values, levelling)));
    return out;
  }

  /** Mean of a choice's value over every occurrence of a token id (and how many there are). */
  typeAverage(tokenId: number, choice: PaintChoice): { mean: number; count: number } {
    if (!this.byId) {
      this.byId = new Map();
      this.analysis.tokens.forEach((t, i) => {
        const list = this.byId!.get(t.id);
        if (list) list.push(i);
        else this.byId!.set(t.id, [i]);
      });
    }
    const idx = this.byId.get(tokenId) ?? [];
    const { values } = this.values(choice);
    let sum = 0;
    for (const i of idx) sum += values[i];
    return { mean: idx.length ? sum / idx.length : NaN, count: idx.length };
  }
}
