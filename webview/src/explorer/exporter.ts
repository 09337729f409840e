// What the explorer exports: the chosen site's masks as CSV (one row per token), the whole
// analysis as JSON (the engine's own lossless form), and the current view as SVG or PNG.
import { select } from 'd3';
import { csvRow, standaloneSvg, withStaged } from '../common/export';
import { shortSiteLabel } from '@common/sites';
import { displayToken } from '@common/tokens';
import type { AnalysisModel } from '../common/masks';
import { LEVELS } from './tokenStrip';

/** q → its mask value with 4 decimals: 1/255 apart, so round(v·255) gives q back exactly. */
const MASK_TEXT = Array.from({ length: 256 }, (_, q) => String(Number((q / 255).toFixed(4))));

/** One row per token: its offsets, text, counts and every unit's m (q/255, 4 decimals). */
export function masksCsv(model: AnalysisModel, site: number): string {
  const s = model.sites[site]!;
  const m = model.matrix(site);
  const masks = model.siteMasks(site);
  const header = ['token', 'start', 'end', 'text', 'id', 'active', 'mean'];
  for (let u = 0; u < s.units; u++) header.push(`u${u}`);
  const lines = [csvRow(header)];
  for (let t = 0; t < model.tokenCount; t++) {
    const tok = model.tokens[t]!;
    const row = m.row(t);
    let line = csvRow([t, tok.start, tok.end, tok.text, tok.id, masks.active[t]!, masks.mean[t]!]);
    for (let u = 0; u < row.length; u++) line += ',' + MASK_TEXT[row[u]!];
    lines.push(line);
  }
  return lines.join('\r\n') + '\r\n';
}

/** The analysis exactly as the engine sent it (base64 masks included), with a format tag. */
export function analysisJson(model: AnalysisModel): string {
  return JSON.stringify({ format: 'ldlens.analysis', version: 1, quantization: 'round(m*255), base64, tokens x units, row-major', analysis: model.analysis });
}

export interface ViewSnapshot {
  model: AnalysisModel;
  site: number;
  window: [number, number];
  heatmap: HTMLCanvasElement;
  axes: { x: SVGSVGElement; y: SVGSVGElement };
  levels: Uint8Array;
  levelColors: string[];
  title: string;
  /** What the strip's and the cells' colours measure (the view's legends), for the subtitle. */
  colours?: string;
}

/** Blank space (px) kept around everything drawn in an exported view. */
export const EXPORT_PAD = 8;

/**
 * The heatmap (as an embedded PNG of the canvas), its axes, and the window's tokens. The layout
 * is measured while the SVG is staged in the page: the document grows to hold the title, the
 * subtitle and every tick label (the axes are plain groups, not nested SVGs, so nothing is
 * clipped), with EXPORT_PAD around it all.
 */
export function viewSvg(v: ViewSnapshot): { svg: string; width: number; height: number } {
  const hw = v.heatmap.clientWidth;
  const hh = v.heatmap.clientHeight;
  const left = 44;
  const stripH = 28;
  const top = 40 + stripH;
  const svg = select(document.createElementNS('http://www.w3.org/2000/svg', 'svg'));
  const bg = svg.append('rect').attr('class', 'export-bg');
  const content = svg.append('g').attr('class', 'export-content');
  content.append('text').attr('class', 'export-title').attr('x', 0).attr('y', 12).text(v.title);
  const s = v.model.sites[v.site]!;
  content.append('text').attr('class', 'export-muted').attr('x', 0).attr('y', 28).text(`${shortSiteLabel(s)} · ${s.name} · ${s.units} units · tokens ${v.window[0]}–${v.window[1] - 1}${v.colours ? ` · ${v.colours}` : ''}`);
  // Token strip of the window: coloured cells, with text when they are wide enough to read.
  const [t0, t1] = v.window;
  const cell = hw / Math.max(1, t1 - t0);
  const strip = content.append('g').attr('transform', `translate(${left},${top - stripH})`);
  const maxCells = 2000;
  const step = Math.max(1, Math.ceil((t1 - t0) / maxCells));
  for (let t = t0; t < t1; t += step) {
    const x = (t - t0) * cell;
    strip.append('rect').attr('x', x).attr('y', 2).attr('width', Math.max(cell * step, 0.5)).attr('height', stripH - 6).attr('fill', v.levelColors[v.levels[t] ?? 0] ?? 'none');
    if (cell >= 9) strip.append('text').attr('class', 'tok-text').attr('x', x + cell / 2).attr('y', stripH - 9).attr('text-anchor', 'middle').text(displayToken(v.model.tokens[t]!.text));
  }
  content.append('image').attr('x', left).attr('y', top).attr('width', hw).attr('height', hh).attr('preserveAspectRatio', 'none').attr('href', v.heatmap.toDataURL('image/png'));
  // The axes' contents as groups: a nested <svg> would clip the labels at its edges.
  const axis = (from: SVGSVGElement, x: number, y: number): void => {
    const g = content.append('g').attr('class', from.getAttribute('class') ?? 'axis').attr('transform', `translate(${x},${y})`);
    for (const child of from.childNodes) g.node()!.append(child.cloneNode(true));
  };
  axis(v.axes.x, left, top + hh);
  axis(v.axes.y, left - 40, top);
  const node = svg.node()!;
  node.classList.add('export-view');
  return withStaged(node, () => {
    // Everything drawn, as laid out with the view's fonts: the document is that box plus padding.
    const box = content.node()!.getBBox();
    const x0 = Math.floor(Math.min(0, box.x));
    const y0 = Math.floor(Math.min(0, box.y));
    const width = Math.ceil(Math.max(left + hw, box.x + box.width) - x0 + 2 * EXPORT_PAD);
    const height = Math.ceil(Math.max(top + hh, box.y + box.height) - y0 + 2 * EXPORT_PAD);
    content.attr('transform', `translate(${EXPORT_PAD - x0},${EXPORT_PAD - y0})`);
    svg.attr('viewBox', `0 0 ${width} ${height}`);
    bg.attr('width', width).attr('height', height);
    return { svg: standaloneSvg(node, { width, height }), width, height };
  });
}

export const LEVEL_COUNT = LEVELS;
