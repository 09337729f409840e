// The tokens × units heatmap of one site on a canvas (10,000 × 512 cells stay smooth: only the
// visible window is aggregated to screen resolution), with a second canvas for hover/selection
// so that hovering never repaints the cells, d3 axes in SVG, and d3-zoom along the token axis.
import { axisBottom, axisLeft, scaleLinear, select, zoom, zoomIdentity, type ScaleLinear, type ZoomBehavior, type ZoomTransform } from 'd3';
import { el, fitCanvas, frameThrottle } from '../common/dom';
import { aggregateGrid, gridSize, paintLut, type CellAggregate } from '../common/grid';

export interface HeatmapData {
  /** Row-major bytes, `units` per token. */
  data: Uint8Array;
  tokens: number;
  units: number;
  lut: Uint32Array;
  aggregate: CellAggregate;
  /** Faint separators every `groupSize` units (attention heads). */
  groupSize?: number;
}

export interface HeatmapMarks {
  hover: number | null;
  selected: number | null;
  pinned: number[];
  unit: number | null;
}

export interface HeatmapCallbacks {
  hover(token: number | null, unit: number | null): void;
  click(token: number, event: MouseEvent): void;
  window(t0: number, t1: number): void;
  key(event: KeyboardEvent): void;
}

export class Heatmap {
  readonly element: HTMLElement;
  private readonly cells: HTMLCanvasElement;
  private readonly overlay: HTMLCanvasElement;
  private readonly xAxis: SVGSVGElement;
  private readonly yAxis: SVGSVGElement;
  private data: HeatmapData | null = null;
  private marks: HeatmapMarks = { hover: null, selected: null, pinned: [], unit: null };
  private transform: ZoomTransform = zoomIdentity;
  private readonly zoomBehavior: ZoomBehavior<HTMLCanvasElement, unknown>;
  private x: ScaleLinear<number, number> = scaleLinear();
  private size = { width: 1, height: 1, dpr: 1 };
  /** Per data array: the window it was last painted for, as a bitmap (layer switches reuse it). */
  private readonly bitmaps = new WeakMap<Uint8Array, { key: string; lut: Uint32Array; canvas: HTMLCanvasElement }>();
  readonly scheduleRender = frameThrottle(() => this.render());
  private readonly scheduleOverlay = frameThrottle(() => this.renderOverlay());
  /** Last render's duration (the benchmark reads it). */
  lastRenderMs = 0;

  constructor(private readonly callbacks: HeatmapCallbacks) {
    this.element = el('div', 'heatmap');
    this.yAxis = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    this.yAxis.classList.add('axis', 'y-axis');
    const stack = el('div', 'heatmap-stack');
    this.cells = el('canvas', 'heatmap-cells');
    this.overlay = el('canvas', 'heatmap-overlay', undefined, { tabindex: '0', 'aria-label': 'mask heatmap: tokens × units' });
    stack.append(this.cells, this.overlay);
    this.xAxis = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    this.xAxis.classList.add('axis', 'x-axis');
    const corner = el('div', 'heatmap-corner');
    this.element.append(this.yAxis, stack, corner, this.xAxis);

    this.zoomBehavior = zoom<HTMLCanvasElement, unknown>()
      .scaleExtent([1, 1])
      .filter((event: Event) => (event.type === 'wheel' ? true : !(event as MouseEvent).button))
      .on('zoom', (event: { transform: ZoomTransform }) => {
        this.transform = event.transform;
        this.render();
        const [t0, t1] = this.window();
        this.callbacks.window(t0, t1);
      });
    select(this.overlay).call(this.zoomBehavior).on('dblclick.zoom', null);

    this.overlay.addEventListener('mousemove', (e) => {
      const hit = this.hit(e);
      this.callbacks.hover(hit?.token ?? null, hit?.unit ?? null);
    });
    this.overlay.addEventListener('mouseleave', () => this.callbacks.hover(null, null));
    this.overlay.addEventListener('click', (e) => {
      const hit = this.hit(e);
      if (hit) this.callbacks.click(hit.token, e);
    });
    this.overlay.addEventListener('dblclick', () => this.resetZoom());
    this.overlay.addEventListener('keydown', (e) => this.callbacks.key(e));
    new ResizeObserver(() => this.render()).observe(stack);
  }

  setData(data: HeatmapData | null, keepWindow = true): void {
    if (!this.colours.size) this.readColours();
    const tokensChanged = !this.data || !data || data.tokens !== this.data.tokens;
    this.data = data;
    if (data) this.zoomBehavior.scaleExtent([1, Math.max(1, data.tokens / 4)]);
    if (tokensChanged || !keepWindow) this.transform = zoomIdentity;
    this.render();
  }

  /** Overlay colours, read once per theme (reading computed styles on every hover would force a style pass). */
  private colours = new Map<string, string>();

  readColours(): void {
    const css = getComputedStyle(this.element);
    this.colours = new Map(['--ld-grid-line', '--ld-unit-highlight', '--ld-pin-a', '--ld-pin-b', '--ld-selected', '--ld-hover'].map((n) => [n, css.getPropertyValue(n).trim()]));
  }

  setMarks(marks: HeatmapMarks): void {
    this.marks = marks;
    this.scheduleOverlay();
  }

  /** Visible token window [t0, t1). */
  window(): [number, number] {
    const n = this.data?.tokens ?? 0;
    const [a, b] = this.x.domain() as [number, number];
    return [Math.max(0, Math.floor(a)), Math.min(n, Math.ceil(b))];
  }

  /** Zooms so that [t0, t1) fills the width. */
  showWindow(t0: number, t1: number): void {
    const n = this.data?.tokens ?? 0;
    if (!n) return;
    const k = Math.min(Math.max(1, n / Math.max(1, t1 - t0)), n / 4);
    const t = zoomIdentity.scale(k).translate((-t0 * this.size.width) / n, 0);
    select(this.overlay).call(this.zoomBehavior.transform, t);
  }

  /** Scrolls (keeping the zoom) so that a token is visible. */
  reveal(token: number): void {
    const [t0, t1] = this.window();
    if (token >= t0 && token < t1) return;
    const span = t1 - t0;
    const start = Math.max(0, Math.min(token - span / 2, (this.data?.tokens ?? 0) - span));
    this.showWindow(start, start + span);
  }

  resetZoom(): void {
    select(this.overlay).call(this.zoomBehavior.transform, zoomIdentity);
  }

  render(): void {
    const started = performance.now();
    this.size = fitCanvas(this.cells);
    fitCanvas(this.overlay);
    const { width, height, dpr } = this.size;
    const n = this.data?.tokens ?? 0;
    const base = scaleLinear().domain([0, Math.max(n, 1)]).range([0, width]);
    this.zoomBehavior.translateExtent([
      [0, 0],
      [width, height],
    ]).extent([
      [0, 0],
      [width, height],
    ]);
    this.x = this.transform.rescaleX(base);
    const ctx = this.cells.getContext('2d')!;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.cells.width, this.cells.height);
    const d = this.data;
    if (d && n > 0) {
      const [t0, t1] = this.window();
      const pxStart = this.x(t0);
      const pxEnd = this.x(t1);
      const bitmap = this.bitmapFor(d, t0, t1, (pxEnd - pxStart) * dpr, height * dpr);
      // Nearest-neighbour: zoomed in, cells are crisp blocks whose colours are the exact values.
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(bitmap, 0, 0, bitmap.width, bitmap.height, Math.round(pxStart * dpr), 0, Math.round((pxEnd - pxStart) * dpr), Math.round(height * dpr));
    }
    this.renderAxes(width, height, d?.units ?? 0);
    this.renderOverlay();
    this.lastRenderMs = performance.now() - started;
  }

  /** Aggregates and paints the window for `d` at screen resolution, or reuses the last bitmap. */
  private bitmapFor(d: HeatmapData, t0: number, t1: number, widthPx: number, heightPx: number): HTMLCanvasElement {
    const { cols, rows } = gridSize(t1 - t0, d.units, widthPx, heightPx);
    const key = `${t0}:${t1}:${cols}:${rows}:${d.aggregate}`;
    const cached = this.bitmaps.get(d.data);
    if (cached && cached.key === key && cached.lut === d.lut) return cached.canvas;
    const values = aggregateGrid(d.data, d.units, { t0, t1, cols, rows }, d.aggregate);
    const image = new ImageData(cols, rows);
    paintLut(values, d.lut, new Uint32Array(image.data.buffer));
    const canvas = cached?.canvas ?? document.createElement('canvas');
    canvas.width = cols;
    canvas.height = rows;
    canvas.getContext('2d')!.putImageData(image, 0, 0);
    this.bitmaps.set(d.data, { key, lut: d.lut, canvas });
    return canvas;
  }

  /** Paints `d` for the current window ahead of time (idle), so switching to it is a blit. */
  prepare(d: HeatmapData): void {
    const n = d.tokens;
    if (!n || n !== this.data?.tokens) return;
    const [t0, t1] = this.window();
    this.bitmapFor(d, t0, t1, (this.x(t1) - this.x(t0)) * this.size.dpr, this.size.height * this.size.dpr);
  }

  /** What the axes were last drawn for: a layer switch with the same window and units skips them. */
  private axesKey = '';

  private renderAxes(width: number, height: number, units: number): void {
    const [d0, d1] = this.x.domain() as [number, number];
    const key = `${width}:${height}:${units}:${d0}:${d1}`;
    if (key === this.axesKey) return;
    this.axesKey = key;
    const xa = select(this.xAxis).attr('width', width + 1).attr('height', 22);
    xa.selectAll<SVGGElement, null>('g.ticks')
      .data([null])
      .join('g')
      .attr('class', 'ticks')
      .attr('transform', 'translate(0.5,0)')
      .call(axisBottom(this.x).ticks(Math.max(2, Math.floor(width / 90))).tickFormat((v) => String(Math.floor(Number(v)))).tickSizeOuter(0));
    const y = scaleLinear().domain([0, Math.max(units, 1)]).range([0, height]);
    const ya = select(this.yAxis).attr('width', 40).attr('height', height + 1);
    ya.selectAll<SVGGElement, null>('g.ticks')
      .data([null])
      .join('g')
      .attr('class', 'ticks')
      .attr('transform', 'translate(39.5,0)')
      .call(axisLeft(y).ticks(Math.max(2, Math.floor(height / 40))).tickFormat((v) => String(Math.floor(Number(v)))).tickSizeOuter(0));
  }

  private renderOverlay(): void {
    const { width, height, dpr } = this.size;
    const ctx = this.overlay.getContext('2d')!;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const d = this.data;
    if (!d) return;
    const colour = (name: string): string => this.colours.get(name) ?? '#888';
    if (d.groupSize && d.groupSize < d.units) {
      ctx.strokeStyle = colour('--ld-grid-line');
      ctx.lineWidth = 1;
      for (let u = d.groupSize; u < d.units; u += d.groupSize) {
        const yy = Math.round((u / d.units) * height) + 0.5;
        ctx.beginPath();
        ctx.moveTo(0, yy);
        ctx.lineTo(width, yy);
        ctx.stroke();
      }
    }
    const column = (token: number, stroke: string, lineWidth: number): void => {
      const x0 = this.x(token);
      const w = Math.max(1, this.x(token + 1) - x0);
      ctx.strokeStyle = stroke;
      ctx.lineWidth = lineWidth;
      ctx.strokeRect(Math.round(x0) - 0.5, 0.5, Math.round(w) + 1, height - 1);
    };
    if (this.marks.unit !== null && this.marks.unit < d.units) {
      const y0 = (this.marks.unit / d.units) * height;
      const h = Math.max(1, height / d.units);
      ctx.fillStyle = colour('--ld-unit-highlight');
      ctx.fillRect(0, y0, width, h);
    }
    const [pinA, pinB] = this.marks.pinned;
    if (pinA !== undefined) column(pinA, colour('--ld-pin-a'), 2);
    if (pinB !== undefined) column(pinB, colour('--ld-pin-b'), 2);
    if (this.marks.selected !== null) column(this.marks.selected, colour('--ld-selected'), 2);
    if (this.marks.hover !== null) column(this.marks.hover, colour('--ld-hover'), 1);
  }

  private hit(e: MouseEvent): { token: number; unit: number } | null {
    const d = this.data;
    if (!d) return null;
    const rect = this.overlay.getBoundingClientRect();
    const token = Math.floor(this.x.invert(e.clientX - rect.left));
    const unit = Math.floor(((e.clientY - rect.top) / rect.height) * d.units);
    if (token < 0 || token >= d.tokens || unit < 0 || unit >= d.units) return null;
    return { token, unit };
  }

  /** Page coordinates of a cell's centre (tests and the benchmark hover there). */
  cellCenter(token: number, unit: number): { x: number; y: number } | null {
    const d = this.data;
    if (!d) return null;
    const rect = this.overlay.getBoundingClientRect();
    return {
      x: rect.left + (this.x(token) + this.x(token + 1)) / 2,
      y: rect.top + ((unit + 0.5) / d.units) * rect.height,
    };
  }

  /** The cells canvas, for exports. */
  get canvas(): HTMLCanvasElement {
    return this.cells;
  }
  get axes(): { x: SVGSVGElement; y: SVGSVGElement } {
    return { x: this.xAxis, y: this.yAxis };
  }
}
