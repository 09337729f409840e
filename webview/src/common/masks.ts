// An analysis with its masks as byte rows (decoded lazily per site and kept), and the comparisons
// the Mask Explorer's views make on them.
import { ACTIVE_Q, decodeBase64 } from '@common/maskBytes';
import type { AnalysisResult, MaskSite, SiteMasks, Token } from '@common/webviewProtocol';

/** One site's masks as bytes: row t holds token t's units. */
export class SiteMatrix {
  constructor(
    readonly site: MaskSite,
    readonly tokens: number,
    readonly data: Uint8Array,
  ) {
    if (data.length !== tokens * site.units) {
      throw new Error(`site ${site.name}: ${data.length} mask bytes, expected ${tokens} tokens × ${site.units} units`);
    }
  }
  get units(): number {
    return this.site.units;
  }
  row(token: number): Uint8Array {
    const u = this.site.units;
    return this.data.subarray(token * u, token * u + u);
  }
  /** Quantized value 0..255. */
  q(token: number, unit: number): number {
    return this.data[token * this.site.units + unit]!;
  }
  value(token: number, unit: number): number {
    return this.q(token, unit) / 255;
  }
  isActive(token: number, unit: number): boolean {
    return this.q(token, unit) >= ACTIVE_Q;
  }
}

export interface SiteGroup {
  /** −1: embedding. */
  layer: number;
  sites: number[];
}

/** An analysis with lazily decoded masks and the lookups the views need. */
export class AnalysisModel {
  private readonly matrices: (SiteMatrix | undefined)[];
  readonly siteIndexByName = new Map<string, number>();
  readonly groups: SiteGroup[];

  constructor(readonly analysis: AnalysisResult) {
    if (analysis.layers.length !== analysis.sites.length) {
      throw new Error(`analysis has ${analysis.sites.length} sites but ${analysis.layers.length} mask entries`);
    }
    analysis.sites.forEach((s, i) => this.siteIndexByName.set(s.name, i));
    this.matrices = new Array(analysis.sites.length).fill(undefined);
    const byLayer = new Map<number, number[]>();
    analysis.sites.forEach((s, i) => {
      const list = byLayer.get(s.layer) ?? [];
      list.push(i);
      byLayer.set(s.layer, list);
    });
    this.groups = [...byLayer.entries()].sort((a, b) => a[0] - b[0]).map(([layer, sites]) => ({ layer, sites }));
  }

  get tokens(): Token[] {
    return this.analysis.tokens;
  }
  get sites(): MaskSite[] {
    return this.analysis.sites;
  }
  get tokenCount(): number {
    return this.analysis.tokens.length;
  }
  siteMasks(site: number): SiteMasks {
    return this.analysis.layers[site]!;
  }
  active(site: number): number[] {
    return this.analysis.layers[site]!.active;
  }
  isDecoded(site: number): boolean {
    return this.matrices[site] !== undefined;
  }
  matrix(site: number): SiteMatrix {
    let m = this.matrices[site];
    if (!m) {
      m = new SiteMatrix(this.analysis.sites[site]!, this.tokenCount, decodeBase64(this.analysis.layers[site]!.masks));
      this.matrices[site] = m;
    }
    return m;
  }
  /** Largest active count at a site (the colour scale's top). */
  maxActive(site: number): number {
    return this.activeRange(site)[1];
  }
  /** Smallest and largest active count at a site (the strip's colour scale); [0, 0] when empty. */
  activeRange(site: number): [number, number] {
    const active = this.active(site);
    if (!active.length) return [0, 0];
    let min = Infinity;
    let max = 0;
    for (const a of active) {
      if (a > max) max = a;
      if (a < min) min = a;
    }
    return [min, max];
  }
}

/** Indices of units active in both rows, in a only, in b only. */
export function overlap(a: Uint8Array, b: Uint8Array): { both: number; onlyA: number; onlyB: number; jaccard: number } {
  let both = 0;
  let onlyA = 0;
  let onlyB = 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i]! >= ACTIVE_Q;
    const y = b[i]! >= ACTIVE_Q;
    if (x && y) both++;
    else if (x) onlyA++;
    else if (y) onlyB++;
  }
  const union = both + onlyA + onlyB;
  return { both, onlyA, onlyB, jaccard: union === 0 ? 1 : both / union };
}

/** Per token, how many units crossed 0.5 between two matrices of the same text (diff view). */
export function flips(a: SiteMatrix, b: SiteMatrix): { perToken: Uint32Array; on: number; off: number } {
  if (a.tokens !== b.tokens || a.units !== b.units) throw new Error('checkpoints analyzed different token/unit shapes');
  const perToken = new Uint32Array(a.tokens);
  let on = 0;
  let off = 0;
  const u = a.units;
  for (let t = 0; t < a.tokens; t++) {
    let n = 0;
    for (let i = t * u, end = i + u; i < end; i++) {
      const x = a.data[i]! >= ACTIVE_Q;
      const y = b.data[i]! >= ACTIVE_Q;
      if (x !== y) {
        n++;
        if (y) on++;
        else off++;
      }
    }
    perToken[t] = n;
  }
  return { perToken, on, off };
}

/** Tokens where a unit is on, in text order. */
export function tokensWithUnit(m: SiteMatrix, unit: number): number[] {
  const out: number[] = [];
  if (unit < 0 || unit >= m.units) return out;
  for (let t = 0, i = unit; t < m.tokens; t++, i += m.units) if (m.data[i]! >= ACTIVE_Q) out.push(t);
  return out;
}
