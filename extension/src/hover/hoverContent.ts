// Markdown of the token hover, built from the cached analysis only (no engine round trip, no
// `vscode` import: unit-tested and timed under plain Node).
import type { MaskSite } from '@common/protocol';
import { blockChar } from '../heatmap/colors';
import { AnalysisView, describeChoice, type PaintChoice, siteLabel } from '../heatmap/metrics';

export interface PinnedToken {
  /** The view and index the pinned token comes from (it may be another document's analysis). */
  view: AnalysisView;
  index: number;
  label: string;
}

export interface HoverInput {
  view: AnalysisView;
  index: number;
  choice: PaintChoice;
  pinned?: PinnedToken;
  /** Arguments of the command links (the hovered document and token). */
  uri: string;
}

export const HOVER_COMMANDS = ['ldlens.openInMaskExplorer', 'ldlens.pinToken'] as const;

/** A token's text made visible: whitespace as symbols, at most 24 characters. */
export function visibleTokenText(text: string): string {
  const v = text.replace(/ /g, '␣').replace(/\r\n/g, '↵').replace(/[\r\n]/g, '↵').replace(/\t/g, '→');
  return v.length > 24 ? v.slice(0, 23) + '…' : v;
}

/** Inline code that survives backticks in the token. */
export function inlineCode(text: string): string {
  const fence = text.includes('`') ? '``' : '`';
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}

function escapeMd(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, '\\$&');
}

export function commandLink(label: string, command: string, args: unknown): string {
  return `[${label}](command:${command}?${encodeURIComponent(JSON.stringify([args]))})`;
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return '–';
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
}

/**
 * How many mask entries a token's active count at a site is out of: the site's units, or for
 * attention the heads × causal keys of the token's window (the engine's `keys`; without them, the
 * site's units).
 */
export function activeOf(view: AnalysisView, site: number, token: number): number {
  return view.analysis.layers[site].keys?.[token] ?? view.sites[site].units;
}

/** "▆ 41/64": a site's active units for a token (of its units, or of its causal keys × heads for attention), the block relative to that site over the text. */
function siteCell(view: AnalysisView, site: number, token: number): string {
  const s = view.sites[site];
  const { values, domain } = view.values({ site: { kind: 'site', name: s.name }, metric: 'active', unit: 0, rounded: true });
  const v = values[token];
  const t = domain[1] > domain[0] ? (v - domain[0]) / (domain[1] - domain[0]) : 0.5;
  return `${blockChar(t)} ${fmt(v)}/${activeOf(view, site, token)}`;
}

/** Space before a right-aligned cell: the hover's tables have no cell padding of their own. */
const CELL_PAD = '&nbsp;'.repeat(4);

/**
 * Active units of one token at every site: the embedding, then a compact layer × site table
 * ("▆ 41/64": the count, of the site's units or of heads × causal keys for attention; the block
 * relative to that site over the text). The count columns are right-aligned, headers and cells
 * alike, so each header sits over its numbers.
 */
export function sitesTable(view: AnalysisView, token: number): string {
  const sites = view.sites;
  const lines: string[] = [];
  const emb = sites.findIndex((s) => s.kind === 'embedding');
  const layers = [...new Set(sites.filter((s) => s.layer >= 0).map((s) => s.layer))].sort((a, b) => a - b);
  const cols: MaskSite['kind'][] = ['attention', 'attentionOutput', 'mlp'];
  const present = cols.filter((k) => sites.some((s) => s.kind === k));
  const header = { attention: 'attention', attentionOutput: 'attn out', mlp: 'MLP', embedding: 'embedding' };
  const attention = present.includes('attention') ? ' (attention: of heads × causal keys)' : '';
  lines.push(`Active units (m ≥ 0.5) per layer and site${attention}:`, '');
  lines.push(`| | ${present.map((k) => CELL_PAD + header[k]).join(' | ')} |`);
  lines.push(`|:--|${present.map(() => '--:').join('|')}|`);
  for (const l of layers) {
    const cells = present.map((k) => {
      const i = sites.findIndex((s) => s.layer === l && s.kind === k);
      return i >= 0 ? CELL_PAD + siteCell(view, i, token) : '';
    });
    lines.push(`| layer ${l} | ${cells.join(' | ')} |`);
  }
  const table = lines.join('\n');
  return emb >= 0 ? `Embedding: ${siteCell(view, emb, token)} active\n\n${table}` : table;
}

/** The units of one token at one site: █ on / ░ off (rounded) or ▁…█ (soft), in rows. */
export function unitStrip(view: AnalysisView, site: number, token: number, rounded: boolean, maxRows = 8): string {
  const s = view.sites[site];
  const masks = view.maskRow(site, token);
  if (!masks) return '(masks not loaded)';
  const off = 0;
  // Attention: one row per head over its keys; elsewhere rows of 32 units.
  const rowLen = s.kind === 'attention' ? Math.max(1, Math.round(s.units / Math.max(1, Math.round(s.units / 64)))) : 32;
  const shownLen = Math.min(rowLen, 64);
  const rows: string[] = [];
  // The count the table shows: for attention, over the causal keys only (the rest of a head's row
  // multiplies attention probabilities that are zero).
  let on = 0;
  const keys = view.analysis.layers[site].keys?.[token];
  if (s.kind === 'attention' && keys !== undefined) on = view.analysis.layers[site].active[token];
  else for (let u = 0; u < s.units; u++) if (masks[off + u] >= 128) on++;
  for (let r = 0; r * rowLen < s.units && rows.length < maxRows; r++) {
    let row = '';
    for (let u = r * rowLen; u < Math.min(s.units, r * rowLen + shownLen); u++) {
      const m = masks[off + u] / 255;
      row += rounded ? (m >= 0.5 ? '█' : '░') : blockChar(m);
    }
    rows.push(row);
  }
  const more = s.units - Math.min(s.units, rows.length * rowLen);
  const tail = more > 0 ? `\n… ${more} more units` : '';
  const of = s.kind === 'attention' && keys !== undefined ? `${keys} (heads × causal keys)` : `${s.units} units`;
  return '```text\n' + rows.join('\n') + tail + '\n```\n' + `${on} of ${of} on`;
}

export function buildHoverMarkdown(input: HoverInput): string {
  const { view, index, choice } = input;
  const tok = view.analysis.tokens[index];
  const parts: string[] = [];
  const surprisal = view.analysis.surprisal?.[index];
  parts.push(
    `**${inlineCode(visibleTokenText(tok.text))}** token ${index + 1} of ${view.tokenCount} · id ${tok.id}` +
      `${typeof surprisal === 'number' ? ` · surprisal ${fmt(surprisal)} nats` : ''} · checkpoint step ${view.analysis.checkpoint.step}  \n` +
      [commandLink('$(preview) Open in Mask Explorer', 'ldlens.openInMaskExplorer', { uri: input.uri, index }), commandLink('$(pin) Pin for comparison', 'ldlens.pinToken', { uri: input.uri, index })].join(' · '),
  );

  const painted = describeChoice(choice, view.sites);
  const { values } = view.values(choice);
  const avg = view.typeAverage(tok.id, choice);
  let compare = `${escapeMd(painted)}: **${fmt(values[index])}** · average for this token type (${avg.count}×): **${fmt(avg.mean)}**`;
  const pin = input.pinned;
  if (pin && pin.index < pin.view.tokenCount) {
    const pv = pin.view.values(choice).values[pin.index];
    const d = values[index] - pv;
    compare += `  \nPinned ${inlineCode(visibleTokenText(pin.label))}: **${fmt(pv)}** (this token ${d >= 0 ? '+' : '−'}${fmt(Math.abs(d))})`;
  }
  parts.push(compare);
  parts.push(sitesTable(view, index));

  const stripSite = choice.site.kind === 'site' ? view.resolveSite(choice.site) : view.resolveSite({ kind: 'site', name: '' });
  if (stripSite >= 0) {
    parts.push(`Units at **${escapeMd(siteLabel(view.sites[stripSite]))}** (${choice.rounded ? '█ on · ░ off' : 'soft mask, ▁ 0 … █ 1'}):\n${unitStrip(view, stripSite, index, choice.rounded)}`);
  }
  return parts.join('\n\n');
}
