// What the heatmap paints: one number per token for a chosen site and metric, computed from an
// engine AnalysisResult. No `vscode` import: unit-tested under plain Node.
import type { AnalysisResult, MaskSite, SiteKind } from '@common/protocol';
import { domainOf } from './colors';
import type { MaskRows } from './lazyAnalysis';

export type MetricKind = 'active' | 'mean' | 'unit';

/** The site to paint: one site by name, or every site together. */
export type SiteChoice = { kind: 'site'; name: string } | { kind: 'all' };

export interface PaintChoice {
  site: SiteChoice;
  metric: MetricKind;
  /** Unit index for the `unit` metric. */
  unit: number;
  /** Rounded view: a unit counts as on when m ≥ 0.5; soft view: m itself. */
  rounded: boolean;
}

export const DEFAULT_CHOICE: PaintChoice = { site: { kind: 'all' }, metric: 'active', unit: 0, rounded: true };

export const SITE_KIND_LABEL: Record<SiteKind, string> = {
  embedding: 'embedding',
  attention: 'attention',
  attentionOutput: 'attention output',
  mlp: 'MLP',
};

export const METRIC_LABEL: Record<MetricKind, string> = {
  active: 'active units per token',
  mean: 'mean mask',
  unit: 'a single unit',
};

export function siteLabel(site: Pick<MaskSite, 'layer' | 'kind'>): string {
  return site.kind === 'embedding' ? 'embedding' : `layer ${site.layer} · ${SITE_KIND_LABEL[site.kind]}`;
}

export function shortSiteLabel(site: Pick<MaskSite, 'layer' | 'kind'>): string {
  const k: Record<SiteKind, string> = { embedding: 'emb', attention: 'attn', attentionOutput: 'attn-out', mlp: 'mlp' };
  return site.kind === 'embedding' ? 'emb' : `L${site.layer} ${k[site.kind]}`;
}

/** Human name of what is painted, e.g. "layer 1 · MLP · active units (m ≥ 0.5)". */
export function describeChoice(choice: PaintChoice, sites: readonly MaskSite[]): string {
  const where = choice.site.kind === 'all' ? 'all layers' : siteLabel(sites.find((s) => s.name === (choice.site as { name: string }).name) ?? { layer: -1, kind: 'embedding' });
  const what =
    choice.metric === 'active'
      ? choice.rounded ? 'active units (m ≥ 0.5)' : 'Σm (soft active units)'
      : choice.metric === 'mean'
        ? choice.rounded ? 'fraction of units active' : 'mean mask'
        : choice.rounded ? `unit ${choice.unit} on/off` : `unit ${choice.unit} mask`;
  return `${where} · ${what}`;
}

/** Analysis plus lazily decoded masks and cached per-choice values. */
export class AnalysisView {
  private readonly decoded = new Map<number, Uint8Array>();
  private readonly valueCache = new Map<string, { values: Float32Array; domain: [number, number] }>();
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
      const b64 = this.analysis.layers[site].masks;
      const buf = Buffer.from(b64, 'base64');
      m = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
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

  /** The value of one token at one site for a metric. */
  siteValue(site: number, token: number, metric: MetricKind, rounded: boolean, unit = 0): number {
    const l = this.analysis.layers[site];
    const units = this.analysis.sites[site].units;
    switch (metric) {
      case 'active':
        return rounded ? l.active[token] : l.mean[token] * units;
      case 'mean':
        return rounded ? l.active[token] / units : l.mean[token];
      case 'unit': {
        const m = this.unitValue(site, token, unit);
        return rounded ? (m >= 0.5 ? 1 : 0) : m;
      }
    }
  }

  /** One value per token for a choice, and their [min, max]; cached per choice. */
  values(choice: PaintChoice): { values: Float32Array; domain: [number, number] } {
    const site = this.resolveSite(choice.site);
    const metric: MetricKind = choice.site.kind === 'all' && choice.metric === 'unit' ? 'active' : choice.metric;
    const key = `${site}|${metric}|${choice.rounded ? 1 : 0}|${metric === 'unit' ? choice.unit : 0}`;
    const hit = this.valueCache.get(key);
    if (hit) return hit;
    const n = this.tokenCount;
    const values = new Float32Array(n);
    if (site >= 0) {
      for (let t = 0; t < n; t++) values[t] = this.siteValue(site, t, metric, choice.rounded, choice.unit);
    } else {
      // All sites: total active units (or Σm) over the network; mean of the mean/fraction.
      const S = this.analysis.sites.length;
      for (let s = 0; s < S; s++) for (let t = 0; t < n; t++) values[t] += this.siteValue(s, t, metric, choice.rounded);
      if (metric === 'mean' && S > 0) for (let t = 0; t < n; t++) values[t] /= S;
    }
    const out = { values, domain: domainOf(values) };
    this.valueCache.set(key, out);
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
