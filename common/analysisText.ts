// The analyzed text rebuilt from an analysis (the explorer's restore state and the host's
// re-analysis at other checkpoints use it), and an attention site's heads. Pure: shared by the
// webview and the host.
import type { AnalysisResult, MaskSite, SiteMasks } from '@common/webviewProtocol';

/**
 * The analyzed text rebuilt from its tokens (when the source did not pass it): each token's text
 * at its offsets, gaps (characters the tokenizer skipped) filled with spaces.
 */
export function textOf(analysis: AnalysisResult): string {
  const parts: string[] = [];
  let at = 0;
  for (const t of analysis.tokens) {
    if (t.start > at) parts.push(' '.repeat(t.start - at));
    if (t.start >= at) {
      parts.push(t.text);
      at = t.end;
    }
  }
  return parts.join('');
}

/**
 * The heads of an attention site (nHead; its units are nHead × blockSize, one row of keys a
 * head). From the site's shape; analyses without it: the causal keys of the text's first token
 * (position 0 of its window: one key a head); else 1.
 */
export function attentionHeads(site: MaskSite, layer: SiteMasks | undefined): number {
  const h = site.heads ?? layer?.keys?.[0];
  return h !== undefined && Number.isInteger(h) && h >= 1 && site.units % h === 0 ? h : 1;
}
