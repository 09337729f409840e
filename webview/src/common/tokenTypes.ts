// Per distinct token: how many units ("experts") it switches on at each site, averaged over its
// occurrences. The product's central claim is that this differs by token type.
import type { Token } from '@common/webviewProtocol';

export interface TokenTypeStats {
  id: number;
  text: string;
  count: number;
  /** Token indices of the occurrences, in text order. */
  occurrences: number[];
  /** Per site: mean and population standard deviation of the active-unit count. */
  mean: Float64Array;
  std: Float64Array;
}

/** Groups tokens by id; `activeBySite[s][t]` is token t's active count at site s. */
export function tokenTypeStats(tokens: readonly Token[], activeBySite: readonly (readonly number[])[]): TokenTypeStats[] {
  const sites = activeBySite.length;
  const byId = new Map<number, TokenTypeStats>();
  // Welford per (type, site): numerically stable in one pass.
  const m2 = new Map<number, Float64Array>();
  tokens.forEach((tok, t) => {
    let s = byId.get(tok.id);
    if (!s) {
      s = { id: tok.id, text: tok.text, count: 0, occurrences: [], mean: new Float64Array(sites), std: new Float64Array(sites) };
      byId.set(tok.id, s);
      m2.set(tok.id, new Float64Array(sites));
    }
    s.count++;
    s.occurrences.push(t);
    const acc = m2.get(tok.id)!;
    for (let site = 0; site < sites; site++) {
      const x = activeBySite[site]![t]!;
      const delta = x - s.mean[site]!;
      s.mean[site]! += delta / s.count;
      acc[site]! += delta * (x - s.mean[site]!);
    }
  });
  for (const s of byId.values()) {
    const acc = m2.get(s.id)!;
    for (let site = 0; site < sites; site++) s.std[site] = Math.sqrt(acc[site]! / s.count);
  }
  return [...byId.values()];
}

export type TokenTypeSortKey = 'text' | 'count' | 'mean' | 'std';

export function sortTokenTypes(
  list: TokenTypeStats[],
  key: TokenTypeSortKey,
  site: number,
  descending: boolean,
): TokenTypeStats[] {
  const dir = descending ? -1 : 1;
  const value = (s: TokenTypeStats): number | string =>
    key === 'text' ? s.text : key === 'count' ? s.count : key === 'mean' ? s.mean[site]! : s.std[site]!;
  return [...list].sort((a, b) => {
    const x = value(a);
    const y = value(b);
    const c = typeof x === 'string' ? compareText(x, y as string) : x - (y as number);
    // Ties broken by frequency then text, so the order is stable across sites.
    return c !== 0 ? c * dir : b.count - a.count || compareText(a.text, b.text);
  });
}

/** Code-unit order: deterministic and far cheaper than localeCompare on thousands of types. */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

