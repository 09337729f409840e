// The diff against another checkpoint of the same text: which mask bits flipped (m crossed 0.5)
// as heatmap cells, per token for the strip, and per site for the scrubber's table.
import { ACTIVE_Q } from '@common/maskBytes';
import { shortSiteLabel } from '@common/sites';
import { flips, type AnalysisModel, type SiteMatrix } from '../common/masks';
import type { FlipSummary } from './scrubber';

/** Diff cells (see palette.diff): 0 off in both, 85 on in both, 170 switched on, 255 switched off. */
export function diffCells(before: SiteMatrix, after: SiteMatrix): Uint8Array {
  const codes = new Uint8Array(before.data.length);
  for (let i = 0; i < codes.length; i++) {
    const x = before.data[i]! >= ACTIVE_Q;
    const y = after.data[i]! >= ACTIVE_Q;
    codes[i] = x === y ? (x ? 85 : 0) : y ? 170 : 255;
  }
  return codes;
}

/** From `before` to `shown`: each site's flips (the `site` already counted is reused). */
export function flipRows(before: AnalysisModel, shown: AnalysisModel, site: number, siteFlips: ReturnType<typeof flips>): FlipSummary[] {
  return shown.sites.map((s, i) => {
    const f = i === site ? siteFlips : flips(before.matrix(i), shown.matrix(i));
    return { label: shortSiteLabel(s), on: f.on, off: f.off, cells: shown.tokenCount * s.units };
  });
}

/** The same tokens at the same offsets: two analyses of one text, comparable token by token. */
export function sameTokens(a: AnalysisModel, b: AnalysisModel): boolean {
  if (a.tokenCount !== b.tokenCount) return false;
  const ta = a.tokens;
  const tb = b.tokens;
  for (let i = 0; i < ta.length; i++) if (ta[i]!.id !== tb[i]!.id || ta[i]!.start !== tb[i]!.start) return false;
  return true;
}
