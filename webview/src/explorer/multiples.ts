// Small multiples: every site's heatmap over the same token window, one strip per site grouped
// by layer; clicking one makes it the main heatmap's site.
import { el, fitCanvas, whenIdle } from '../common/dom';
import { aggregateGrid, gridSize } from '../common/grid';
import { shortSiteLabel } from '@common/sites';
import type { AnalysisModel } from '../common/masks';

export class SmallMultiples {
  readonly element: HTMLElement;
  private canvases: HTMLCanvasElement[] = [];
  private rows: HTMLElement[] = [];
  private generation = 0;

  constructor(private readonly onSelect: (site: number) => void) {
    this.element = el('div', 'multiples', undefined, { 'aria-label': 'all sites' });
  }

  setModel(model: AnalysisModel | null): void {
    this.canvases = [];
    this.rows = [];
    this.element.replaceChildren();
    if (!model) return;
    for (const group of model.groups) {
      const layer = el('div', 'multiples-layer');
      layer.append(el('div', 'multiples-layer-title', group.layer < 0 ? 'embedding' : `layer ${group.layer}`));
      for (const s of group.sites) {
        const row = el('button', 'multiple', undefined, { 'data-site': String(s), title: model.sites[s]!.name });
        const canvas = el('canvas', 'multiple-cells');
        row.append(el('span', 'multiple-label', shortSiteLabel(model.sites[s]!)), canvas);
        row.addEventListener('click', () => this.onSelect(s));
        this.canvases[s] = canvas;
        this.rows[s] = row;
        layer.append(row);
      }
      this.element.append(layer);
    }
  }

  setCurrent(site: number): void {
    this.rows.forEach((r, i) => r.classList.toggle('current', i === site));
  }

  /** Paints every site for the window, one site per idle slot (decoding masks is the cost). */
  render(model: AnalysisModel | null, t0: number, t1: number, lut: Uint32Array): void {
    const generation = ++this.generation;
    if (!model) return;
    const order = model.sites.map((_, i) => i);
    const next = (): void => {
      if (generation !== this.generation) return; // a newer window or model superseded this pass
      const s = order.shift();
      if (s === undefined) return;
      this.paint(model, s, t0, t1, lut);
      whenIdle(next);
    };
    whenIdle(next);
  }

  private paint(model: AnalysisModel, site: number, t0: number, t1: number, lut: Uint32Array): void {
    const canvas = this.canvases[site];
    if (!canvas || t1 <= t0) return;
    const { width, height, dpr } = fitCanvas(canvas);
    const m = model.matrix(site);
    const { cols, rows } = gridSize(t1 - t0, m.units, width * dpr, height * dpr);
    const values = aggregateGrid(m.data, m.units, { t0, t1, cols, rows }, 'mean');
    const image = new ImageData(cols, rows);
    const px = new Uint32Array(image.data.buffer);
    for (let i = 0; i < values.length; i++) px[i] = lut[values[i]!]!;
    const scratch = document.createElement('canvas');
    scratch.width = cols;
    scratch.height = rows;
    scratch.getContext('2d')!.putImageData(image, 0, 0);
    const ctx = canvas.getContext('2d')!;
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(scratch, 0, 0, canvas.width, canvas.height);
    canvas.dataset['painted'] = '1';
  }
}
