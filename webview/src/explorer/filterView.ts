// Unit search (which tokens switch a unit on) and the active-units range filter, chosen on a
// histogram of the site's active counts with a brush.
import { bin, brushX, max, scaleLinear, select, type BrushBehavior } from 'd3';
import { el } from '../common/dom';
import { DrawWhenVisible } from '../common/drawWhenVisible';
import { drawBottomAxis } from './bottomAxis';
import { tokensWithUnit, type AnalysisModel } from '../common/masks';
import { displayToken } from '@common/tokens';

export interface Filters {
  unit: number | null;
  range: [number, number] | null;
}

export interface FilterCallbacks {
  change(filters: Filters): void;
  select(token: number): void;
}

export class FilterView {
  readonly element: HTMLElement;
  private readonly unitInput: HTMLInputElement & { value: string };
  private readonly unitResult: HTMLElement;
  private readonly histogram: SVGSVGElement;
  private readonly rangeLabel: HTMLElement;
  private model: AnalysisModel | null = null;
  private site = 0;
  private brush: BrushBehavior<null> | null = null;
  private settingBrush = false;
  /** Drawing waits while the tab is hidden; the dimming filter still applies. */
  private readonly drawing = new DrawWhenVisible(() => this.render());

  constructor(
    private filters: Filters,
    private readonly callbacks: FilterCallbacks,
  ) {
    this.element = el('div', 'filters');
    const unitRow = el('div', 'filter-row');
    this.unitInput = el('vscode-textfield', 'unit-input', undefined, { type: 'number', min: '0', placeholder: 'unit #', 'aria-label': 'unit number' }) as unknown as HTMLInputElement;
    const clearUnit = el('vscode-button', undefined, 'Clear', { secondary: '' });
    clearUnit.addEventListener('click', () => {
      this.unitInput.value = '';
      this.update({ unit: null });
    });
    this.unitInput.addEventListener('input', () => {
      const v = this.unitInput.value.trim();
      this.update({ unit: v === '' || !Number.isFinite(Number(v)) ? null : Math.max(0, Math.floor(Number(v))) });
    });
    unitRow.append(el('label', 'filter-label', 'Tokens that switch on unit'), this.unitInput, clearUnit);
    this.unitResult = el('div', 'unit-result');

    const rangeRow = el('div', 'filter-row');
    this.rangeLabel = el('span', 'range-label');
    const clearRange = el('vscode-button', undefined, 'Clear range', { secondary: '' });
    clearRange.addEventListener('click', () => this.update({ range: null }));
    rangeRow.append(el('label', 'filter-label', 'Active units range (drag on the histogram)'), this.rangeLabel, clearRange);
    this.histogram = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    this.histogram.classList.add('histogram');
    this.element.append(unitRow, this.unitResult, rangeRow, this.histogram);
  }

  /** `draw` false: only the model and site change now (dimming); render() draws later. */
  setModel(model: AnalysisModel | null, site: number, draw = true): void {
    this.model = model;
    this.site = site;
    if (draw) this.render();
    else this.drawing.later();
  }

  setVisible(visible: boolean): void {
    this.drawing.setVisible(visible);
  }

  setFilters(filters: Filters): void {
    this.filters = filters;
    this.unitInput.value = filters.unit === null ? '' : String(filters.unit);
    this.render();
  }

  /** Per token: 1 when it fails a filter (dimmed in the strip); null when no filter is set. */
  dimmed(): Uint8Array | null {
    const model = this.model;
    if (!model || (this.filters.unit === null && this.filters.range === null)) return null;
    const n = model.tokenCount;
    const out = new Uint8Array(n);
    if (this.filters.range) {
      const [lo, hi] = this.filters.range;
      const active = model.active(this.site);
      for (let t = 0; t < n; t++) if (active[t]! < lo || active[t]! > hi) out[t] = 1;
    }
    if (this.filters.unit !== null) {
      const keep = new Uint8Array(n);
      for (const t of tokensWithUnit(model.matrix(this.site), this.filters.unit)) keep[t] = 1;
      for (let t = 0; t < n; t++) if (!keep[t]) out[t] = 1;
    }
    return out;
  }

  private update(part: Partial<Filters>): void {
    this.filters = { ...this.filters, ...part };
    this.callbacks.change(this.filters);
    this.render();
  }

  render(): void {
    if (!this.drawing.now()) return;
    const model = this.model;
    const range = this.filters.range;
    this.rangeLabel.textContent = range ? `${range[0]} – ${range[1]}` : 'all';
    if (!model) {
      this.unitResult.replaceChildren();
      return;
    }
    const site = model.sites[this.site]!;
    if (this.filters.unit === null) {
      this.unitResult.replaceChildren(el('span', 'muted', `Units 0–${site.units - 1} at ${site.name}.`));
    } else if (this.filters.unit >= site.units) {
      this.unitResult.replaceChildren(el('span', 'error-text', `This site has ${site.units} units (0–${site.units - 1}).`));
    } else {
      const hits = tokensWithUnit(model.matrix(this.site), this.filters.unit);
      const list = el('div', 'chips');
      for (const t of hits.slice(0, 300)) {
        const chip = el('button', 'token-chip', displayToken(model.tokens[t]!.text), { title: `token #${t}`, 'data-i': String(t) });
        chip.addEventListener('click', () => this.callbacks.select(t));
        list.append(chip);
      }
      const types = new Set(hits.map((t) => model.tokens[t]!.id)).size;
      this.unitResult.replaceChildren(
        el('div', 'unit-summary', `Unit ${this.filters.unit} is on for ${hits.length} of ${model.tokenCount} tokens (${types} distinct)` + (hits.length > 300 ? '; the first 300:' : ':')),
        list,
      );
    }
    this.renderHistogram(model);
  }

  private renderHistogram(model: AnalysisModel): void {
    const active = model.active(this.site);
    const units = model.sites[this.site]!.units;
    const width = 420;
    const height = 110;
    const margin = { top: 6, right: 10, bottom: 22, left: 10 };
    const top = Math.max(1, max(active) ?? 1);
    const x = scaleLinear().domain([0, top + 1]).range([margin.left, width - margin.right]);
    const bins = bin()
      .domain([0, top + 1])
      .thresholds(Math.min(60, top + 1))(active);
    const y = scaleLinear()
      .domain([0, max(bins, (b) => b.length) ?? 1])
      .range([height - margin.bottom, margin.top]);
    const svg = select(this.histogram).attr('viewBox', `0 0 ${width} ${height}`).attr('width', width).attr('height', height);
    svg
      .selectAll('rect.bar')
      .data(bins)
      .join('rect')
      .attr('class', 'bar')
      .attr('x', (b) => x(b.x0!) + 0.5)
      .attr('width', (b) => Math.max(0, x(b.x1!) - x(b.x0!) - 1))
      .attr('y', (b) => y(b.length))
      .attr('height', (b) => y(0) - y(b.length));
    drawBottomAxis(svg, x, height - margin.bottom, 6);
    svg.selectAll('text.hist-title').data([null]).join('text').attr('class', 'hist-title').attr('x', width - margin.right).attr('y', 14).attr('text-anchor', 'end').text(`active units per token (of ${units})`);
    this.brush = brushX<null>()
      .extent([
        [margin.left, margin.top],
        [width - margin.right, height - margin.bottom],
      ])
      .on('end', (event: { selection: [number, number] | null; sourceEvent?: Event }) => {
        if (this.settingBrush || !event.sourceEvent) return;
        if (!event.selection) return this.update({ range: null });
        const [a, b] = event.selection.map((v) => x.invert(v));
        this.update({ range: [Math.ceil(a!), Math.max(Math.ceil(a!), Math.floor(b!))] });
      });
    const g = svg.selectAll<SVGGElement, null>('g.brush').data([null]).join('g').attr('class', 'brush').call(this.brush);
    this.settingBrush = true;
    g.call(this.brush.move, this.filters.range ? [x(this.filters.range[0]), x(this.filters.range[1] + 1)] : null);
    this.settingBrush = false;
  }
}
