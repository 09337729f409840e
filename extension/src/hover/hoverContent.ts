// Markdown of the token hover, built from the cached analysis only (no engine round trip, no
// `vscode` import: unit-tested and timed under plain Node).
import { attentionHeads } from '@common/analysisText';
import { siteLabel } from '@common/sites';
import { displayToken } from '@common/tokens';
import { blockChar } from '../heatmap/colors';
import { AnalysisView, describeChoice, type PaintChoice } from '../heatmap/metrics';
import { siteFiguresMarkdown } from './siteFigures';

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

/** A token's text made visible (whitespace as symbols), at most 24 characters. */
export function visibleTokenText(text: string): string {
  const v = displayToken(text);
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

/**
 * Characters per line of the unit strip: a hover is only so wide (about 250 px at the default
 * font, where 32 block characters need 307 px and were clipped), so 16 units a line.
 */
export const STRIP_LINE = 16;

/** The units of one token at one site: █ on / ░ off (rounded) or ▁…█ (soft), in lines of STRIP_LINE. */
export function unitStrip(view: AnalysisView, site: number, token: number, rounded: boolean, maxRows = 8): string {
  const s = view.sites[site];
  // The token's row: fetched from the engine for a kept analysis (see LazyAnalysis).
  const masks = view.maskRow(site, token);
  if (!masks) return '(masks not loaded)';
  const off = 0;
  // Attention: each head's keys (blockSize of them) start a new line; elsewhere the units run on.
  const rowLen = s.kind === 'attention' ? s.units / attentionHeads(s, view.analysis.layers[site]) : s.units;
  const rows: string[] = [];
  // The count the table shows: for attention, over the causal keys only (the rest of a head's row
  // multiplies attention probabilities that are zero).
  let on = 0;
  const keys = view.analysis.layers[site].keys?.[token];
  if (s.kind === 'attention' && keys !== undefined) on = view.analysis.layers[site].active[token];
  else for (let u = 0; u < s.units; u++) if (masks[off + u] >= 128) on++;
  let shown = 0;
  for (let r = 0; r * rowLen < s.units && rows.length < maxRows; r++) {
    const end = Math.min(s.units, (r + 1) * rowLen);
    for (let start = r * rowLen; start < end && rows.length < maxRows; start += STRIP_LINE) {
      let row = '';
      for (let u = start; u < Math.min(end, start + STRIP_LINE); u++) {
        const m = masks[off + u] / 255;
        row += rounded ? (m >= 0.5 ? '█' : '░') : blockChar(m);
      }
      rows.push(row);
      shown += row.length;
    }
  }
  const more = s.units - shown;
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
  parts.push(siteFiguresMarkdown(view, index));

  const stripSite = choice.site.kind === 'site' ? view.resolveSite(choice.site) : view.resolveSite({ kind: 'site', name: '' });
  if (stripSite >= 0) {
    parts.push(`Units at **${escapeMd(siteLabel(view.sites[stripSite]))}** (${choice.rounded ? '█ on · ░ off' : 'soft mask, ▁ 0 … █ 1'}):\n${unitStrip(view, stripSite, index, choice.rounded)}`);
  }
  return parts.join('\n\n');
}
