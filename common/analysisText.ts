// The analyzed text rebuilt from an analysis (the explorer's restore state and the host's
// re-analysis at other checkpoints use it). Pure: shared by the webview and the host.
import type { AnalysisResult } from '@common/webviewProtocol';

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
