// Short names for sites in legends and tooltips ("emb", "L0 attn", …).
import type { SiteInfo } from './store';

export function siteLabelOf(s: SiteInfo): string {
  const kind = { embedding: 'emb', attention: 'attn', attentionOutput: 'resid', mlp: 'mlp' }[s.kind];
  return s.layer < 0 ? kind : `L${s.layer} ${kind}`;
}
