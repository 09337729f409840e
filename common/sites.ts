// How a mask site is named to people, everywhere (CLI, editor pickers and hovers, Mask Explorer,
// run charts): a full label for pickers and prose, a short one for legends, tables and file names.
import type { MaskSite, SiteKind } from './protocol';

/** What each kind of LearnedDropout site drops. */
export const SITE_KIND_LABEL: Record<SiteKind, string> = {
  embedding: 'embedding',
  attention: 'attention',
  attentionOutput: 'attention output',
  mlp: 'MLP',
};

const SITE_KIND_SHORT: Record<SiteKind, string> = {
  embedding: 'emb',
  attention: 'attn',
  attentionOutput: 'attn out',
  mlp: 'mlp',
};

export function siteKindLabel(kind: SiteKind): string {
  return SITE_KIND_LABEL[kind];
}

/** "layer 1 · MLP", "embedding". */
export function siteLabel(site: Pick<MaskSite, 'layer' | 'kind'>): string {
  return site.kind === 'embedding' ? SITE_KIND_LABEL.embedding : `layer ${site.layer} · ${SITE_KIND_LABEL[site.kind]}`;
}

/** "L1 mlp", "L0 attn out", "emb". */
export function shortSiteLabel(site: Pick<MaskSite, 'layer' | 'kind'>): string {
  return site.kind === 'embedding' ? SITE_KIND_SHORT.embedding : `L${site.layer} ${SITE_KIND_SHORT[site.kind]}`;
}
