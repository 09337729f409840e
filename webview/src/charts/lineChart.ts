// One line chart (d3, SVG): scales rebuilt on every update from the visible data, lines joined
// per series, min/max decimation to a few points per pixel for drawing (read from a min/max
// pyramid per column, so 100,000 points cost what a few thousand would) while hover reads the
// exact points, its own linear/log y toggle, TensorBoard-like smoothing (raw line faint underneath), brush to zoom the step
// axis, and a tooltip inside the SVG (so it exports, and needs no inline styles).
import { axisBottom, axisLeft, brushX, format, scaleLinear, scaleLog, select, type BrushBehavior, type ScaleContinuousNumeric } from 'd3';
import { lowerBound, minMaxIndicesFast, nearestIndex } from '../common/aggregate';
import { el } from '../common/dom';
import { formatValue } from '../common/format';
import { DASHES, PALETTE_SIZE, type ChartDef, type SeriesData } from './definitions';
import { columnPyramid, smoothedColumn, smoothedPyramid } from './smoothCache';

export interface ChartInput {
  series: SeriesData[];
  /** Zoomed step range; null: everything. */
  xDomain: [number, number] | null;
  /** This chart's y scale is logarithmic. */
  log: boolean;
  smoothing: number;
  runNames: Map<string, string>;
}

export interface ChartEvents {
  brush(domain: [number, number] | null): void;
  hover(step: number | null, source: LineChart): void;
  /** The user toggled this chart's log y scale. */
  log(on: boolean, source: LineChart): void;
}

const HEIGHT = 150;
const MARGIN = { top: 8, right: 10, bottom: 20, left: 46 };

interface Drawn {
  s: SeriesData;
  smooth: Float64Array | null;
  raw: string;
  smoothed: string;
  band: string;
}

export class LineChart {
  readonly element: HTMLDetailsElement;
  private readonly svg: SVGSVGElement;
  /** Hover rule, dots, tooltip and brush: a layer of their own, so hovering never repaints lines. */
  private readonly overlay: SVGSVGElement;
  private readonly legend: HTMLElement;
  private readonly logToggle: HTMLButtonElement;
  private input: ChartInput | null = null;
  private x: ScaleContinuousNumeric<number, number> = scaleLinear();
  private y: ScaleContinuousNumeric<number, number> = scaleLinear();
  private width = 300;
  private brush: BrushBehavior<unknown>;
  private dirty = true;
  /** Last update's duration (benchmark). */
  lastRenderMs = 0;

  constructor(
    readonly def: ChartDef,
    private readonly events: ChartEvents,
    open: boolean,
    onToggle: (open: boolean) => void,
  ) {
    this.element = el('details', 'chart', undefined, { 'data-chart': def.id });
    this.element.open = open;
    const summary = el('summary', 'chart-title', def.title);
    this.logToggle = el('button', 'log-toggle', 'log y', {
      type: 'button',
      'aria-pressed': 'false',
      title: def.positive ? 'Logarithmic y scale for this chart' : 'Logarithmic y scale for this chart (values ≤ 0 are left out)',
    });
    this.logToggle.addEventListener('click', (e) => {
      e.preventDefault(); // inside <summary>: do not fold the chart
      e.stopPropagation();
      this.events.log(this.logToggle.getAttribute('aria-pressed') !== 'true', this);
    });
    summary.append(this.logToggle);
    this.legend = el('div', 'chart-legend');
    this.svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    this.svg.classList.add('chart-svg');
    this.overlay = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    this.overlay.classList.add('chart-overlay');
    const plot = el('div', 'chart-plot');
    plot.append(this.svg, this.overlay);
    this.element.append(summary, this.legend, plot);
    this.element.addEventListener('toggle', () => {
      onToggle(this.element.open);
      if (this.element.open && this.dirty && this.input) this.update(this.input);
    });
    this.brush = brushX<unknown>().on('end', (event: { selection: [number, number] | null; sourceEvent?: Event }) => {
      if (!event.sourceEvent || !event.selection) return;
      const [a, b] = event.selection;
      select(this.overlay).select<SVGGElement>('g.brush').call(this.brush.move, null);
      if (Math.abs(b - a) < 3) return;
      this.events.brush([this.x.invert(a), this.x.invert(b)]);
    });
    const root = select(this.svg);
    root.append('g').attr('class', 'bands');
    root.append('g').attr('class', 'lines');
    root.append('g').attr('class', 'axis x-axis');
    root.append('g').attr('class', 'axis y-axis');
    const top = select(this.overlay);
    top.append('line').attr('class', 'hover-rule hidden');
    top.append('g').attr('class', 'hover-dots');
    const brushG = top.append('g').attr('class', 'brush');
    top.append('g').attr('class', 'tooltip hidden');
    brushG.on('mousemove', (event: MouseEvent) => {
      const [mx] = pointerIn(this.overlay, event);
      this.events.hover(this.x.invert(mx), this);
    });
    brushG.on('mouseleave', () => this.events.hover(null, this));
    brushG.on('dblclick', () => this.events.brush(null));
  }

  /** The log toggle (tests). */
  get logButton(): HTMLButtonElement {
    return this.logToggle;
  }

  get isOpen(): boolean {
    return this.element.open;
  }

  update(input: ChartInput, width = this.element.clientWidth || this.width): void {
    // A few points (one per checkpoint) are drawn as they are: smoothing would shift them.
    if (this.def.raw) input = { ...input, smoothing: 0 };
    this.input = input;
    const pressed = String(input.log);
    if (this.logToggle.getAttribute('aria-pressed') !== pressed) {
      this.logToggle.setAttribute('aria-pressed', pressed);
      this.logToggle.classList.toggle('on', input.log);
    }
    if (!this.element.open) {
      this.dirty = true;
      return;
    }
    const started = performance.now();
    this.dirty = false;
    this.width = Math.max(160, width);
    const w = this.width;
    const h = HEIGHT;
    const plotW = w - MARGIN.left - MARGIN.right;
    const svg = select(this.svg).attr('width', w).attr('height', h).attr('viewBox', `0 0 ${w} ${h}`);
    const top = select(this.overlay).attr('width', w).attr('height', h).attr('viewBox', `0 0 ${w} ${h}`);

    const series = input.series.filter((s) => s.xs.length > 0);
    const xDomain = input.xDomain ?? fullExtent(series);
    this.x = scaleLinear().domain(xDomain).range([MARGIN.left, w - MARGIN.right]);
    // Two pixels per bucket, four points each (first, min, max, last): every extreme stays.
    const buckets = Math.max(16, Math.round(plotW / 2));

    // Decimate each series over the visible range; the kept points include every extreme, so
    // the y domain computed from them is the exact one.
    let yMin = Infinity;
    let yMax = -Infinity;
    const ranges = series.map((s) => {
      const n = s.xs.length;
      const i0 = Math.max(0, lowerBound(s.xs.data, n, xDomain[0]) - 1);
      const i1 = Math.min(n, lowerBound(s.xs.data, n, xDomain[1]) + 1);
      const idx = minMaxIndicesFast(s.ys.data, columnPyramid(s.ys), i0, i1, buckets);
      const ys = s.ys.data;
      const spreads = s.band?.spread.data;
      for (let k = 0; k < idx.length; k++) {
        const i = idx[k]!;
        const v = ys[i]!;
        const spread = spreads ? Math.abs(spreads[i]!) : 0;
        // Lower bound, value, upper bound (a band's edges count; in log scale only positives).
        for (let j = -1; j <= 1; j++) {
          const c = v + j * spread;
          if (!Number.isFinite(c) || (input.log && c <= 0)) continue;
          if (c < yMin) yMin = c;
          if (c > yMax) yMax = c;
        }
      }
      return { s, i0, i1, idx };
    });
    if (!Number.isFinite(yMin) || !Number.isFinite(yMax)) {
      yMin = input.log ? 0.1 : 0;
      yMax = 1;
    }
    if (yMin === yMax) {
      const pad = Math.abs(yMin) * 0.05 || (input.log ? yMin * 0.5 : 1);
      yMin -= pad;
      yMax += pad;
    }
    this.y = (input.log ? scaleLog() : scaleLinear()).domain([yMin, yMax]).range([h - MARGIN.bottom, MARGIN.top]).nice();
    const x = this.x;
    const y = this.y;

    const drawn: Drawn[] = ranges.map(({ s, i0, i1, idx }) => {
      const smooth = input.smoothing > 0 ? smoothedColumn(s.ys, input.smoothing) : null;
      const raw = linePath(s.xs.data, s.ys.data, idx, x, y, input.log);
      const smoothed = smooth ? linePath(s.xs.data, smooth, minMaxIndicesFast(smooth, smoothedPyramid(s.ys, input.smoothing), i0, i1, buckets), x, y, input.log) : '';
      const band = s.band ? bandPath(s.xs.data, s.ys.data, s.band.spread.data, idx, x, y, input.log) : '';
      return { s, smooth, raw, smoothed, band };
    });

    const clipId = `clip-${this.def.id}`;
    svg
      .selectAll('defs')
      .data([null])
      .join('defs')
      .selectAll('clipPath')
      .data([null])
      .join('clipPath')
      .attr('id', clipId)
      .selectAll('rect')
      .data([null])
      .join('rect')
      .attr('x', MARGIN.left)
      .attr('y', MARGIN.top)
      .attr('width', plotW)
      .attr('height', h - MARGIN.top - MARGIN.bottom);
    const colorClass = (d: Drawn): string => `c${d.s.color % PALETTE_SIZE}`;
    svg
      .select('g.bands')
      .attr('clip-path', `url(#${clipId})`)
      .selectAll<SVGPathElement, Drawn>('path.band')
      .data(
        drawn.filter((d) => d.band),
        (d) => d.s.key,
      )
      .join('path')
      .attr('class', (d) => `band fill-${colorClass(d)}`)
      .attr('d', (d) => d.band);
    const groups = svg
      .select('g.lines')
      .attr('clip-path', `url(#${clipId})`)
      .selectAll<SVGGElement, Drawn>('g.series')
      .data(drawn, (d) => d.s.key)
      .join('g')
      .attr('class', (d) => `series ${colorClass(d)}`)
      .attr('data-key', (d) => d.s.key);
    groups
      .selectAll<SVGPathElement, Drawn>('path.raw')
      .data((d) => [d])
      .join('path')
      .attr('class', (d) => `raw${d.smooth ? ' faint' : ''}`)
      .attr('stroke-dasharray', (d) => DASHES[d.s.dash % DASHES.length] || null)
      .attr('d', (d) => d.raw);
    groups
      .selectAll<SVGPathElement, Drawn>('path.smoothed')
      .data((d) => (d.smooth ? [d] : []))
      .join('path')
      .attr('class', 'smoothed')
      .attr('stroke-dasharray', (d) => DASHES[d.s.dash % DASHES.length] || null)
      .attr('d', (d) => d.smoothed);

    svg
      .select<SVGGElement>('g.x-axis')
      .attr('transform', `translate(0,${h - MARGIN.bottom})`)
      .call(axisBottom(x).ticks(Math.max(2, Math.floor(plotW / 70))).tickFormat((v) => stepTick(Number(v))).tickSizeOuter(0));
    svg
      .select<SVGGElement>('g.y-axis')
      .attr('transform', `translate(${MARGIN.left},0)`)
      .call(axisLeft(y).ticks(4).tickFormat((v) => valueTick(Number(v))).tickSizeOuter(0));
    this.brush.extent([
      [MARGIN.left, MARGIN.top],
      [w - MARGIN.right, h - MARGIN.bottom],
    ]);
    top.select<SVGGElement>('g.brush').call(this.brush);
    top.select('g.tooltip').raise();
    this.renderLegend(series);
    this.lastRenderMs = performance.now() - started;
  }

  /** Hover rule at `step` (all charts) with exact values; the tooltip only where the mouse is. */
  showHover(step: number | null, withTooltip: boolean): void {
    const svg = select(this.overlay);
    const rule = svg.select('line.hover-rule');
    const tooltip = svg.select<SVGGElement>('g.tooltip');
    const input = this.input;
    if (step === null || !input || !this.element.open) {
      rule.classed('hidden', true);
      tooltip.classed('hidden', true);
      svg.select('g.hover-dots').selectAll('circle').remove();
      return;
    }
    const [d0, d1] = this.x.domain() as [number, number];
    const points: { s: SeriesData; i: number; smooth: number | null }[] = [];
    for (const s of input.series) {
      const i = nearestIndex(s.xs.data, s.xs.length, step);
      if (i < 0) continue;
      const xv = s.xs.data[i]!;
      if (xv < d0 || xv > d1) continue;
      points.push({ s, i, smooth: input.smoothing > 0 ? smoothedColumn(s.ys, input.smoothing)[i]! : null });
    }
    // The rule sits on the nearest real step, not between points.
    const at = points.length ? points.reduce((best, p) => (Math.abs(p.s.xs.data[p.i]! - step) < Math.abs(best - step) ? p.s.xs.data[p.i]! : best), points[0]!.s.xs.data[points[0]!.i]!) : step;
    const xPos = this.x(at);
    const [yTop, yBottom] = [MARGIN.top, HEIGHT - MARGIN.bottom];
    rule.classed('hidden', false).attr('x1', xPos).attr('x2', xPos).attr('y1', yTop).attr('y2', yBottom);
    const y = this.y;
    svg
      .select('g.hover-dots')
      .selectAll<SVGCircleElement, (typeof points)[number]>('circle')
      .data(
        points.filter((p) => Number.isFinite(p.s.ys.data[p.i]!) && (!input.log || p.s.ys.data[p.i]! > 0)),
        (p) => p.s.key,
      )
      .join('circle')
      .attr('class', (p) => `hover-dot fill-c${p.s.color % PALETTE_SIZE}`)
      .attr('r', 3)
      .attr('cx', (p) => this.x(p.s.xs.data[p.i]!))
      .attr('cy', (p) => y(input.smoothing > 0 && p.smooth !== null ? p.smooth : p.s.ys.data[p.i]!));
    if (!withTooltip) {
      tooltip.classed('hidden', true);
      return;
    }
    const multiRun = new Set(input.series.map((s) => s.runId)).size > 1;
    const lines = points.map((p) => {
      const v = p.s.ys.data[p.i]!;
      const spread = p.s.band ? ` ± ${formatValue(p.s.band.spread.data[p.i]!)}` : '';
      const smooth = p.smooth !== null ? ` (smoothed ${formatValue(p.smooth)})` : '';
      const name = multiRun ? `${input.runNames.get(p.s.runId) ?? p.s.runId} · ` : '';
      return { text: `${name}${p.s.label}: ${formatValue(v)}${spread}${smooth}`, color: p.s.color, step: p.s.xs.data[p.i]! };
    });
    const title = `step ${Math.round(at)}`;
    tooltip.classed('hidden', false);
    tooltip
      .selectAll('rect.tooltip-bg')
      .data([null])
      .join('rect')
      .attr('class', 'tooltip-bg');
    const text = tooltip.selectAll<SVGTextElement, null>('text').data([null]).join('text').attr('class', 'tooltip-text');
    text
      .selectAll('tspan')
      .data([{ text: title, color: -1 }, ...lines])
      .join('tspan')
      .attr('x', 8)
      .attr('dy', (_, i) => (i === 0 ? '1.1em' : '1.25em'))
      .attr('class', (d) => (d.color < 0 ? 'tooltip-title' : `tooltip-line fill-c${d.color % PALETTE_SIZE}`))
      .text((d) => d.text);
    const box = (text.node() as SVGTextElement).getBBox();
    const tw = box.width + 16;
    const th = box.height + 8;
    tooltip.select('rect.tooltip-bg').attr('width', tw).attr('height', th).attr('rx', 3);
    const left = xPos + 12 + tw > this.width ? Math.max(0, xPos - 12 - tw) : xPos + 12;
    tooltip.attr('transform', `translate(${left},${MARGIN.top})`);
  }

  /** Page position of a step inside the plot (tests, benchmark). */
  pointFor(step: number): { x: number; y: number } {
    const r = this.svg.getBoundingClientRect();
    return { x: r.left + this.x(step), y: r.top + (MARGIN.top + HEIGHT - MARGIN.bottom) / 2 };
  }

  get svgElement(): SVGSVGElement {
    return this.svg;
  }

  /** Colours and dashes each listed once with what they stand for (run, site or line). */
  private renderLegend(series: SeriesData[]): void {
    const items: HTMLElement[] = [];
    const colors = new Map<number, string>();
    const dashes = new Map<number, string>();
    for (const s of series) {
      if (!colors.has(s.color)) colors.set(s.color, s.colorLabel);
      if (s.dashLabel && !dashes.has(s.dash)) dashes.set(s.dash, s.dashLabel);
    }
    for (const [c, label] of colors) items.push(legendItem(`c${c % PALETTE_SIZE}`, '', label));
    if (dashes.size > 1) for (const [d, label] of dashes) items.push(legendItem('dash-key', DASHES[d % DASHES.length]!, label));
    if (!items.length) items.push(el('span', 'muted', this.def.empty ?? 'no data yet'));
    this.legend.replaceChildren(...items);
  }
}

function legendItem(cls: string, dash: string, label: string): HTMLElement {
  const item = el('span', 'legend-item');
  const swatch = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  swatch.setAttribute('width', '18');
  swatch.setAttribute('height', '8');
  swatch.classList.add('legend-swatch', cls);
  const l = document.createElementNS('http://www.w3.org/2000/svg', 'line');
  l.setAttribute('x1', '0');
  l.setAttribute('x2', '18');
  l.setAttribute('y1', '4');
  l.setAttribute('y2', '4');
  if (dash) l.setAttribute('stroke-dasharray', dash);
  swatch.append(l);
  item.append(swatch, el('span', undefined, label));
  return item;
}

const siTick = format('~s');
const gTick = format('~g');

function stepTick(v: number): string {
  return Math.abs(v) >= 1000 ? siTick(v) : String(Math.round(v));
}

/** Short y labels: SI suffixes only for big numbers (600m for 0.6 reads badly). */
function valueTick(v: number): string {
  const a = Math.abs(v);
  return a >= 1e4 ? siTick(v) : a !== 0 && a < 1e-3 ? format('.0e')(v) : gTick(Number(v.toPrecision(3)));
}

function fullExtent(series: SeriesData[]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of series) {
    lo = Math.min(lo, s.xs.data[0]!);
    hi = Math.max(hi, s.xs.data[s.xs.length - 1]!);
  }
  if (!Number.isFinite(lo)) return [0, 1];
  return lo === hi ? [lo - 1, hi + 1] : [lo, hi];
}

type Scale = (v: number) => number;

/** SVG path of the points `idx` (gaps where a value is not drawable); one string, no per-point objects. */
function linePath(xs: Float64Array, ys: Float64Array, idx: Int32Array, x: Scale, y: Scale, log: boolean): string {
  let d = '';
  let pen = false;
  for (let k = 0; k < idx.length; k++) {
    const i = idx[k]!;
    const v = ys[i]!;
    if (!Number.isFinite(v) || (log && v <= 0)) {
      pen = false;
      continue;
    }
    d += (pen ? 'L' : 'M') + Math.round(x(xs[i]!) * 10) / 10 + ',' + Math.round(y(v) * 10) / 10;
    pen = true;
  }
  return d;
}

/** Closed area between value − spread and value + spread, one polygon per run of drawable points. */
function bandPath(xs: Float64Array, ys: Float64Array, spread: Float64Array, idx: Int32Array, x: Scale, y: Scale, log: boolean): string {
  let d = '';
  let start = -1;
  const drawable = (i: number): boolean => {
    const lo = ys[i]! - Math.abs(spread[i]!);
    return Number.isFinite(lo) && Number.isFinite(ys[i]! + Math.abs(spread[i]!)) && (!log || lo > 0);
  };
  const close = (end: number): void => {
    if (start < 0) return;
    for (let k = start; k < end; k++) {
      const i = idx[k]!;
      d += (k === start ? 'M' : 'L') + Math.round(x(xs[i]!) * 10) / 10 + ',' + Math.round(y(ys[i]! + Math.abs(spread[i]!)) * 10) / 10;
    }
    for (let k = end - 1; k >= start; k--) {
      const i = idx[k]!;
      d += 'L' + Math.round(x(xs[i]!) * 10) / 10 + ',' + Math.round(y(ys[i]! - Math.abs(spread[i]!)) * 10) / 10;
    }
    d += 'Z';
    start = -1;
  };
  for (let k = 0; k < idx.length; k++) {
    if (drawable(idx[k]!)) {
      if (start < 0) start = k;
    } else close(k);
  }
  close(idx.length);
  return d;
}

function pointerIn(svg: SVGSVGElement, event: MouseEvent): [number, number] {
  const r = svg.getBoundingClientRect();
  return [event.clientX - r.left, event.clientY - r.top];
}

