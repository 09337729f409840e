// Token types: per distinct token, mean ± spread of active units at every site, sortable, with a
// dot-and-whisker chart of the sorted site (the model's "experts per token type", made visible).
import { max, scaleBand, scaleLinear, select } from 'd3';
import { el } from '../common/dom';
import { DrawWhenVisible } from '../common/drawWhenVisible';
import { drawBottomAxis } from './bottomAxis';
import { shortSiteLabel } from '@common/sites';
import { displayToken } from '@common/tokens';
import type { AnalysisModel } from '../common/masks';
import { sortTokenTypes, tokenTypeStats, type TokenTypeSortKey, type TokenTypeStats } from '../common/tokenTypes';

export interface TokenTypeSort {
  key: TokenTypeSortKey;
  site: number;
  desc: boolean;
}

const MAX_ROWS = 400;
const CHART_ROWS = 40;

export class TokenTypesView {
  readonly element: HTMLElement;
  private readonly chart: SVGSVGElement;
  private readonly table: HTMLTableElement;
  private readonly note: HTMLElement;
  private stats: TokenTypeStats[] = [];
  private model: AnalysisModel | null = null;
  private selectedId: number | null = null;
  /** Drawing waits while the tab is hidden. */
  private readonly drawing = new DrawWhenVisible(() => this.render());

  constructor(
    private sort: TokenTypeSort,
    private readonly callbacks: { select(stats: TokenTypeStats | null): void; sortChanged(sort: TokenTypeSort): void },
  ) {
    this.element = el('div', 'token-types');
    this.chart = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    this.chart.classList.add('types-chart');
    this.table = el('table', 'types-table');
    this.note = el('p', 'muted');
    const tableWrap = el('div', 'types-table-wrap');
    tableWrap.append(this.table, this.note);
    this.element.append(tableWrap, this.chart);
  }

  setModel(model: AnalysisModel | null): void {
    this.model = model;
    this.stats = model ? tokenTypeStats(model.tokens, model.sites.map((_, i) => model.active(i))) : [];
    if (model && this.sort.site >= model.sites.length) this.sort = { ...this.sort, site: 0 };
    this.render();
  }

  setVisible(visible: boolean): void {
    this.drawing.setVisible(visible);
  }

  /** The site the table sorts by follows the explorer's site unless the user picked a column. */
  setSite(site: number): void {
    if (this.sort.site === site || !this.model) return;
    this.sort = { ...this.sort, site };
    if (!this.drawing.now()) return;
    if (this.sort.key === 'mean' || this.sort.key === 'std') return this.render();
    // The order does not depend on the site: move the column highlight (one <col>), redraw the chart.
    this.table.querySelectorAll('col').forEach((c, i) => c.classList.toggle('current-site', i === site + 2));
    this.renderChart(sortTokenTypes(this.stats, this.sort.key, site, this.sort.desc).slice(0, CHART_ROWS), this.model);
  }

  get all(): TokenTypeStats[] {
    return this.stats;
  }

  render(): void {
    if (!this.drawing.now()) return;
    const model = this.model;
    if (!model) {
      this.table.replaceChildren();
      this.note.textContent = 'No analysis yet.';
      return;
    }
    const sorted = sortTokenTypes(this.stats, this.sort.key, this.sort.site, this.sort.desc);
    const head = el('tr');
    const th = (label: string, key: TokenTypeSortKey, site: number | null, title?: string): HTMLElement => {
      const active = this.sort.key === key && (site === null || this.sort.site === site);
      const cell = el('th', `sortable${active ? ' sorted' : ''}`, label + (active ? (this.sort.desc ? ' ▼' : ' ▲') : ''), {
        title: title ?? label,
        'aria-sort': active ? (this.sort.desc ? 'descending' : 'ascending') : 'none',
      });
      cell.addEventListener('click', () => {
        const same = this.sort.key === key && (site === null || this.sort.site === site);
        this.sort = { key, site: site ?? this.sort.site, desc: same ? !this.sort.desc : key !== 'text' };
        this.callbacks.sortChanged(this.sort);
        this.render();
      });
      return cell;
    };
    head.append(th('token', 'text', null), th('count', 'count', null));
    model.sites.forEach((s, i) => head.append(th(shortSiteLabel(s), 'mean', i, `${s.name}: mean ± std of active units (of ${s.units})`)));
    const cols = el('colgroup');
    for (let i = 0; i < model.sites.length + 2; i++) cols.append(el('col', i === this.sort.site + 2 ? 'current-site' : undefined));
    const rows: HTMLElement[] = [cols, head];
    for (const st of sorted.slice(0, MAX_ROWS)) {
      const tr = el('tr', st.id === this.selectedId ? 'selected' : undefined, undefined, { 'data-id': String(st.id) });
      const tokenCell = el('td');
      tokenCell.append(el('span', 'token-chip', displayToken(st.text)));
      tr.append(tokenCell, el('td', 'num', String(st.count)));
      model.sites.forEach((_, i) => tr.append(el('td', 'num stat', meanStd(st.mean[i]!, st.std[i]!))));
      tr.addEventListener('click', () => {
        this.selectedId = this.selectedId === st.id ? null : st.id;
        this.callbacks.select(this.selectedId === null ? null : st);
        this.render();
      });
      rows.push(tr);
    }
    this.table.replaceChildren(...rows);
    this.note.textContent =
      `${this.stats.length} distinct tokens` + (sorted.length > MAX_ROWS ? `; the first ${MAX_ROWS} are listed` : '') + '. Click a row to highlight its occurrences.';
    this.renderChart(sorted.slice(0, CHART_ROWS), model);
  }

  private renderChart(rows: TokenTypeStats[], model: AnalysisModel): void {
    const site = this.sort.site;
    const labels = new Map(rows.map((r) => [r.id, chartLabel(r.text)]));
    // Room for the longest label (10 px monospace: ~6.1 px a character).
    const labelW = Math.max(24, ...[...labels.values()].map((l) => Math.ceil(l.length * 6.1)));
    const width = 300 + labelW;
    const rowH = 16;
    const margin = { top: 18, right: 12, bottom: 24, left: labelW + 12 };
    const height = margin.top + margin.bottom + rowH * Math.max(rows.length, 1);
    const units = model.sites[site]?.units ?? 1;
    const x = scaleLinear()
      .domain([0, Math.max(1, max(rows, (r) => r.mean[site]! + r.std[site]!) ?? 1)])
      .nice()
      .range([margin.left, width - margin.right]);
    const y = scaleBand<number>()
      .domain(rows.map((r) => r.id))
      .range([margin.top, height - margin.bottom])
      .padding(0.3);
    const svg = select(this.chart).attr('viewBox', `0 0 ${width} ${height}`).attr('width', width).attr('height', height);
    svg
      .selectAll('text.chart-title')
      .data([null])
      .join('text')
      .attr('class', 'chart-title')
      .attr('x', margin.left)
      .attr('y', 12)
      .text(`${shortSiteLabel(model.sites[site]!)}: active units (of ${units}), mean ± std`);
    drawBottomAxis(svg, x, height - margin.bottom, 5);
    const row = svg
      .selectAll<SVGGElement, TokenTypeStats>('g.type-row')
      .data(rows, (d) => String(d.id))
      .join((enter) => {
        const g = enter.append('g').attr('class', 'type-row');
        g.append('text').attr('class', 'type-label');
        g.append('line').attr('class', 'whisker');
        g.append('circle').attr('class', 'dot').attr('r', 3.5);
        return g;
      })
      .attr('transform', (d) => `translate(0,${(y(d.id) ?? 0) + y.bandwidth() / 2})`)
      .classed('selected', (d) => d.id === this.selectedId);
    row
      .select('text.type-label')
      .attr('x', margin.left - 6)
      .attr('dy', '0.32em')
      .text((d) => labels.get(d.id) ?? '')
      .append('title')
      .text((d) => displayToken(d.text));
    row
      .select('line.whisker')
      .attr('x1', (d) => x(Math.max(0, d.mean[site]! - d.std[site]!)))
      .attr('x2', (d) => x(d.mean[site]! + d.std[site]!));
    row.select('circle.dot').attr('cx', (d) => x(d.mean[site]!));
  }
}

/** "16.6 ± 0.5": one decimal each (counts of units; the table is for reading, not exporting). */
export function meanStd(mean: number, std: number): string {
  return `${mean.toFixed(1)} ± ${std.toFixed(1)}`;
}

/** A token's chart label: at most 12 characters (the full text is in its tooltip). */
function chartLabel(text: string): string {
  const d = displayToken(text);
  return d.length > 12 ? d.slice(0, 11) + '…' : d;
}
