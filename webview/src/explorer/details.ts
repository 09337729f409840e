// Token details: the hovered/selected token's mask at every site (one pixel row per site), and
// when two tokens are pinned, their overlap of active units ("shared experts") per site.
import { el } from '../common/dom';
import { formatValue } from '../common/format';
import { ACTIVE_Q } from '@common/maskBytes';
import { shortSiteLabel } from '@common/sites';
import { displayToken } from '@common/tokens';
import { overlap, type AnalysisModel } from '../common/masks';
import type { Palette } from './palette';

export interface DetailsCallbacks {
  pin(token: number): void;
  unpin(token: number): void;
  reveal(token: number): void;
  selectSite(site: number): void;
}

interface SiteRow {
  row: HTMLTableRowElement;
  active: HTMLElement;
  mean: HTMLElement;
  canvas: HTMLCanvasElement;
  image: ImageData;
}

/**
 * Built once per analysis and updated in place on hover (creating the rows, buttons and canvases
 * on every mouse move would cost more than the hover budget).
 */
export class TokenDetails {
  readonly element: HTMLElement;
  private readonly hint: HTMLElement;
  private readonly card: HTMLElement;
  private readonly chip: HTMLElement;
  private readonly meta: HTMLElement;
  private readonly pinButton: HTMLElement;
  private readonly table: HTMLTableElement;
  private readonly compare: HTMLElement;
  private rows: SiteRow[] = [];
  private model: AnalysisModel | null = null;
  private token: number | null = null;
  private pinnedKey = '';
  private isPinned = false;

  constructor(private readonly callbacks: DetailsCallbacks) {
    this.element = el('aside', 'details', undefined, { 'aria-label': 'token details' });
    this.hint = el('p', 'hint', 'No analysis yet.');
    this.card = el('div', 'details-body hidden');
    const title = el('div', 'details-title');
    this.chip = el('span', 'token-chip');
    this.meta = el('span', 'muted');
    title.append(this.chip, this.meta);
    const actions = el('div', 'details-actions');
    this.pinButton = el('vscode-button', 'pin-button', 'Pin', { secondary: '' });
    this.pinButton.addEventListener('click', () => {
      if (this.token === null) return;
      if (this.isPinned) this.callbacks.unpin(this.token);
      else this.callbacks.pin(this.token);
    });
    const revealButton = el('vscode-button', 'reveal-button', 'Reveal in editor', { secondary: '' });
    revealButton.addEventListener('click', () => this.token !== null && this.callbacks.reveal(this.token));
    actions.append(this.pinButton, revealButton);
    this.table = el('table', 'site-table');
    this.card.append(title, actions, this.table);
    this.compare = el('div', 'compare');
    this.element.append(this.hint, this.card, this.compare);
  }

  /** Shows `token` (null: a hint). Decodes every site's masks on first use. */
  show(model: AnalysisModel | null, token: number | null, site: number, pinned: number[], palette: Palette): void {
    if (model !== this.model) this.build(model);
    const pinnedKey = `${pinned.join(',')}|${palette.heat[255]}`;
    if (pinnedKey !== this.pinnedKey || model !== this.model) this.renderCompare(model, pinned, palette);
    this.pinnedKey = pinnedKey;
    this.model = model;
    this.token = model && token !== null && token < model.tokenCount ? token : null;
    if (!model || this.token === null) {
      this.hint.textContent = model ? 'Hover or click a token to see its mask at every layer and site.' : 'No analysis yet.';
      this.hint.classList.remove('hidden');
      this.card.classList.add('hidden');
      return;
    }
    const t = this.token;
    const tok = model.tokens[t]!;
    this.hint.classList.add('hidden');
    this.card.classList.remove('hidden');
    this.chip.textContent = displayToken(tok.text);
    const surprisal = model.analysis.surprisal?.[t];
    this.meta.textContent = `#${t} · id ${tok.id} · chars ${tok.start}–${tok.end}` + (surprisal !== null && surprisal !== undefined ? ` · surprisal ${formatValue(surprisal)} nats` : '');
    this.isPinned = pinned.includes(t);
    this.pinButton.textContent = this.isPinned ? 'Unpin' : 'Pin';
    this.rows.forEach((r, i) => {
      const masks = model.siteMasks(i);
      r.row.classList.toggle('current', i === site);
      // Attention: of heads × the token's causal keys (what the engine counted over), as the hover.
      r.active.textContent = `${masks.active[t]} / ${masks.keys?.[t] ?? model.sites[i]!.units}`;
      r.mean.textContent = formatValue(masks.mean[t]!);
      paintRow(r, model.matrix(i).row(t), palette.heat);
    });
  }

  private build(model: AnalysisModel | null): void {
    this.rows = [];
    const head = el('tr');
    for (const h of ['site', 'active', 'mean m', 'units']) head.append(el('th', undefined, h));
    const rows: HTMLElement[] = [head];
    model?.sites.forEach((s, i) => {
      const row = el('tr', undefined, undefined, { 'data-site': String(i) });
      row.addEventListener('click', () => this.callbacks.selectSite(i));
      const active = el('td', 'num');
      const mean = el('td', 'num');
      const cell = el('td', 'unit-cell');
      const canvas = el('canvas', 'unit-row');
      canvas.width = Math.max(1, s.units);
      canvas.height = 1;
      cell.append(canvas);
      row.append(el('td', 'site-name', shortSiteLabel(s), { title: s.name }), active, mean, cell);
      this.rows.push({ row, active, mean, canvas, image: new ImageData(canvas.width, 1) });
      rows.push(row);
    });
    this.table.replaceChildren(...rows);
  }

  private renderCompare(model: AnalysisModel | null, pinned: number[], palette: Palette): void {
    if (!model || pinned.length === 0) {
      this.compare.replaceChildren(el('p', 'hint', 'Pin two tokens (Alt+click) to compare their active units.'));
      return;
    }
    const head = el('div', 'compare-title');
    for (const [k, t] of pinned.entries()) {
      const chip = el('span', `token-chip ${k === 0 ? 'pin-a' : 'pin-b'}`, `${displayToken(model.tokens[t]?.text ?? '?')} #${t}`);
      const x = el('button', 'unpin', '×', { title: 'Unpin', 'aria-label': `unpin token ${t}` });
      x.addEventListener('click', () => this.callbacks.unpin(t));
      chip.append(x);
      head.append(chip);
    }
    if (pinned.length < 2) {
      this.compare.replaceChildren(head, el('p', 'hint', 'Pin a second token to compare.'));
      return;
    }
    const [a, b] = pinned as [number, number];
    const table = el('table', 'site-table compare-table');
    const hr = el('tr');
    for (const h of ['site', 'shared', 'A only', 'B only', 'Jaccard', 'units']) hr.append(el('th', undefined, h));
    table.append(hr);
    model.sites.forEach((s, i) => {
      const m = model.matrix(i);
      const ra = m.row(a);
      const rb = m.row(b);
      const o = overlap(ra, rb);
      const tr = el('tr', undefined, undefined, { 'data-site': String(i) });
      tr.append(
        el('td', 'site-name', shortSiteLabel(s), { title: s.name }),
        el('td', 'num shared', String(o.both)),
        el('td', 'num', String(o.onlyA)),
        el('td', 'num', String(o.onlyB)),
        el('td', 'num', formatValue(o.jaccard)),
      );
      const codes = new Uint8Array(ra.length);
      for (let u = 0; u < ra.length; u++) codes[u] = (ra[u]! >= ACTIVE_Q ? 1 : 0) | (rb[u]! >= ACTIVE_Q ? 2 : 0);
      const cell = el('td', 'unit-cell');
      cell.append(unitRowCanvas(codes, palette.compare));
      tr.append(cell);
      table.append(tr);
    });
    const legend = el('div', 'legend');
    legend.append(el('span', 'swatch both'), el('span', undefined, 'shared'), el('span', 'swatch pin-a'), el('span', undefined, 'A only'), el('span', 'swatch pin-b'), el('span', undefined, 'B only'));
    this.compare.replaceChildren(head, table, legend);
  }
}

function paintRow(r: SiteRow, values: Uint8Array, lut: Uint32Array): void {
  const px = new Uint32Array(r.image.data.buffer);
  for (let i = 0; i < values.length; i++) px[i] = lut[values[i]!]!;
  r.canvas.getContext('2d')!.putImageData(r.image, 0, 0);
}

/** A one-pixel-high canvas, one pixel per unit, scaled up by CSS (pixelated). */
export function unitRowCanvas(values: Uint8Array, lut: Uint32Array): HTMLCanvasElement {
  const canvas = el('canvas', 'unit-row');
  canvas.width = Math.max(1, values.length);
  canvas.height = 1;
  const image = new ImageData(canvas.width, 1);
  const px = new Uint32Array(image.data.buffer);
  for (let i = 0; i < values.length; i++) px[i] = lut[values[i]!]!;
  canvas.getContext('2d')!.putImageData(image, 0, 0);
  return canvas;
}
