// What the colours measure: the strip's legend (its levels' values at the site, or flipped units in
// a diff), the site's figures next to chance under the strip, and the heatmap cells' colour line.
// Built on first use and then updated in place: a layer switch changes only their text.
import { select } from 'd3';
import { shortSiteLabel } from '@common/sites';
import { el } from '../common/dom';
import type { AnalysisModel } from '../common/masks';
import { keptRange, siteSummaryText } from './siteFigures';
import { LEVELS } from './tokenStrip';
import type { CellColour } from './viewState';

/** The levels the strip legend labels: every third one, and the last. */
const LEGEND_LEVELS = [...Array.from({ length: Math.ceil(LEVELS / 3) }, (_, k) => 3 * k), LEVELS - 1];

export class Legends {
  /** Under the token strip: the legend and the site's figures. */
  readonly strip = el('div', 'legend strip-legend');
  readonly siteChance = el('div', 'site-chance muted');
  /** In the heatmap's header. */
  readonly heat = el('span', 'heat-legend');
  private stripParts: { title: HTMLElement; cells: HTMLElement[] } | null = null;

  /** `diffMax`: the strip shows flipped units per token against another checkpoint, up to this. */
  render(model: AnalysisModel, site: number, colour: CellColour | undefined, diffMax?: number): void {
    const [min, max] = diffMax === undefined ? keptRange(model, site) : [0, diffMax];
    const attention = model.sites[site]!.kind === 'attention';
    const what = diffMax === undefined ? `fraction of ${attention ? 'causal keys' : 'units'} kept per token (m ≥ 0.5)` : 'flipped units per token (diff)';
    const { title, cells } = this.buildStrip();
    setText(title, `${shortSiteLabel(model.sites[site]!)}: ${what}`);
    const label = (v: number): string => (diffMax === undefined ? v.toFixed(2) : String(Math.round(v)));
    cells.forEach((c, k) => setText(c, label(k === cells.length - 1 ? max : min + ((k * 3) / (LEVELS - 1)) * (max - min))));
    setText(this.siteChance, diffMax === undefined ? `${shortSiteLabel(model.sites[site]!)} over this text: ${siteSummaryText(model, site)}` : '');
    setText(
      this.heat,
      diffMax !== undefined ? '' : colour === 'decided' ? 'colour: decidedness |2m − 1|, dark 0 (m = 0.5) … bright 1 (m at 0 or 1)' : 'colour: mask m, dark 0 … bright 1',
    );
  }

  /** The strip legend's title and the cells' one, for an exported view's subtitle. */
  get coloursText(): string {
    return `strip: ${this.stripParts?.title.textContent ?? ''} · cells: ${(this.heat.textContent ?? '').replace(/^colour: /, '')}`;
  }

  private buildStrip(): { title: HTMLElement; cells: HTMLElement[] } {
    if (this.stripParts) return this.stripParts;
    const title = el('span', 'muted');
    this.strip.replaceChildren(title);
    const cells = select(this.strip)
      .selectAll<HTMLSpanElement, number>('span.legend-cell')
      .data(LEGEND_LEVELS)
      .join('span')
      .attr('class', (l) => `tok lv${l} legend-cell`)
      .nodes();
    this.strip.append(el('span', 'muted', '· click: select & reveal · Alt+click: pin to compare'));
    const parts = { title, cells };
    this.stripParts = parts;
    return parts;
  }
}

/** Writes only a changed text (no needless DOM mutation on a layer switch). */
function setText(e: HTMLElement, text: string): void {
  if (e.textContent !== text) e.textContent = text;
}
