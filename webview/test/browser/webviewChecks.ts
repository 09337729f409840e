// Checks on the webviews that work on any Playwright frame holding one: the harness page here,
// or the real webview inside VS Code (code-server), reached with
//   page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame')
// (use `.owner()`/`frames()` to get the Frame). The end-to-end suite can import these.
import type { Frame, Page } from 'playwright-core';
import type { TestWindow } from './harness';

type Target = Page | Frame;

/** Waits until the Mask Explorer has drawn an analysis (`renders` counts analyses shown). */
export async function waitForExplorer(target: Target, renders = 1, timeout = 30_000): Promise<void> {
  await target.waitForFunction((n) => Number(document.getElementById('app')?.dataset['renders'] ?? 0) >= n, renders, { timeout });
}

/**
 * Samples heatmap cells and compares each pixel with the palette colour of its mask byte.
 * Returns the mismatches (empty: the cells show the masks exactly). Needs a zoom where a cell is
 * at least a pixel wide (texts up to the heatmap's width in tokens, or after zooming in).
 */
export async function heatmapMismatches(target: Target, cells: [number, number][]): Promise<string[]> {
  return target.evaluate((list) => {
    const { heatmap, model, palette, state } = (window as unknown as TestWindow).ldlensExplorer.debug;
    if (!model) return ['no analysis shown'];
    const m = model.matrix(state.site);
    const rect = heatmap.canvas.getBoundingClientRect();
    const ctx = heatmap.canvas.getContext('2d')!;
    const dpr = heatmap.canvas.width / rect.width;
    const bad: string[] = [];
    for (const [t, u] of list) {
      if (t >= m.tokens || u >= m.units) continue;
      const c = heatmap.cellCenter(t, u)!;
      const px = ctx.getImageData(Math.floor((c.x - rect.left) * dpr), Math.floor((c.y - rect.top) * dpr), 1, 1).data;
      const want = palette.heat[m.q(t, u)]!;
      const got = (px[0]! | (px[1]! << 8) | (px[2]! << 16) | (255 << 24)) >>> 0;
      if (got !== want) bad.push(`token ${t} unit ${u}: rgb(${px[0]},${px[1]},${px[2]}) ≠ palette[${m.q(t, u)}]`);
    }
    return bad;
  }, cells);
}

/** Hovers a token in the strip and reads the details table: per site [label, "active / units", mean]. */
export async function tokenDetails(target: Target, token: number): Promise<string[][]> {
  await target.locator(`.token-strip span[data-i="${token}"]`).hover();
  return target.evaluate(() =>
    [...document.querySelectorAll('.details-body .site-table tr[data-site]')].map((tr) => [...tr.querySelectorAll('td')].slice(0, 3).map((td) => td.textContent ?? '')),
  );
}

/** The engine's numbers for a token, as the details table should show them. */
export async function expectedDetails(target: Target, token: number): Promise<string[][]> {
  return target.evaluate((t) => {
    const { model } = (window as unknown as TestWindow).ldlensExplorer.debug;
    return model!.sites.map((s, i) => [String(model!.active(i)[t]), String(s.units)]);
  }, token);
}

/** Steps charted for a run (0 when not loaded). */
export async function chartedSteps(target: Target, runId: string): Promise<number> {
  return target.evaluate((id) => (window as unknown as TestWindow).ldlensCharts.debug.store.get(id)?.steps.length ?? 0, runId);
}

/** Waits until a run has at least `steps` steps charted (live updates while it trains). */
export async function waitForChartedSteps(target: Target, runId: string, steps: number, timeout = 60_000): Promise<void> {
  await target.waitForFunction(
    ({ id, n }) => ((window as unknown as TestWindow).ldlensCharts?.debug.store.get(id)?.steps.length ?? 0) >= n,
    { id: runId, n: steps },
    { timeout },
  );
}

/**
 * Clicks an export button and waits for the host's answer in the status line ("Saved PATH",
 * "Export cancelled" or "Export failed: …"). With LDLENS_EXPORT_DIR set for the extension host,
 * the file lands there without a dialog.
 */
export async function exportVia(target: Target, kind: 'svg' | 'png' | 'csv' | 'json', timeout = 30_000): Promise<string> {
  const status = target.locator('.status-line');
  const before = (await status.textContent()) ?? '';
  await target.locator(`.export-${kind}`).click();
  await target.waitForFunction(
    (prev) => {
      const text = document.querySelector('.status-line')?.textContent ?? '';
      return text !== prev && /^(Saved|Export cancelled|Export failed)/.test(text);
    },
    before,
    { timeout },
  );
  return (await status.textContent()) ?? '';
}

/**
 * Lays out an exported SVG document in the page and returns what would be cut off: every text
 * (and the drawn content as a whole) whose box, in the document's coordinates, reaches past its
 * viewBox, and every nested <svg> (which clips its content at its own edges). Empty: nothing is
 * clipped. Also returns the document's size and text.
 */
export async function svgClipping(target: Target, svgText: string): Promise<{ clipped: string[]; width: number; height: number; texts: string[] }> {
  return target.evaluate((text) => {
    const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
    if (doc.querySelector('parsererror')) return { clipped: ['not well-formed'], width: 0, height: 0, texts: [] };
    const svg = document.importNode(doc.documentElement, true) as unknown as SVGSVGElement;
    const stage = document.createElement('div');
    stage.className = 'ld-export-stage';
    stage.append(svg);
    document.body.append(stage);
    try {
      const vb = svg.viewBox.baseVal;
      const clipped: string[] = [];
      const texts: string[] = [];
      const inside = (el: SVGGraphicsElement, what: string): void => {
        const b = el.getBBox();
        const m = el.getCTM()!;
        const corners = [
          new DOMPoint(b.x, b.y).matrixTransform(m),
          new DOMPoint(b.x + b.width, b.y + b.height).matrixTransform(m),
        ];
        const [x0, x1] = [Math.min(corners[0]!.x, corners[1]!.x), Math.max(corners[0]!.x, corners[1]!.x)];
        const [y0, y1] = [Math.min(corners[0]!.y, corners[1]!.y), Math.max(corners[0]!.y, corners[1]!.y)];
        if (x0 < vb.x - 0.5 || y0 < vb.y - 0.5 || x1 > vb.x + vb.width + 0.5 || y1 > vb.y + vb.height + 0.5)
          clipped.push(`${what}: [${x0.toFixed(1)}, ${y0.toFixed(1)}, ${x1.toFixed(1)}, ${y1.toFixed(1)}] outside viewBox ${vb.width}×${vb.height}`);
      };
      for (const t of svg.querySelectorAll('text')) {
        texts.push(t.textContent ?? '');
        if ((t.getAttribute('display') ?? '') !== 'none' && (t.textContent ?? '') !== '') inside(t, `text "${t.textContent}"`);
      }
      for (const g of svg.children) if (g instanceof SVGGraphicsElement) inside(g, `<${g.nodeName} class="${g.getAttribute('class') ?? ''}">`);
      for (const nested of svg.querySelectorAll('svg')) if (nested.getAttribute('overflow') !== 'visible') clipped.push(`a nested <svg class="${nested.getAttribute('class') ?? ''}"> clips its content`);
      return { clipped, width: vb.width, height: vb.height, texts };
    } finally {
      stage.remove();
    }
  }, svgText);
}

/** Width and height of a PNG (base64), from its IHDR chunk. */
export function pngSize(base64: string): { width: number; height: number } {
  const b = Buffer.from(base64, 'base64');
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

/** Boxes of the Mask Explorer's parts, and whether the heatmap's backing store matches its box. */
export interface ExplorerLayout {
  viewport: { width: number; height: number };
  boxes: Record<string, { x: number; y: number; width: number; height: number } | null>;
  /** Toolbar children that stick out of the toolbar (it should wrap instead). */
  toolbarOverflow: string[];
  canvas: { cssWidth: number; cssHeight: number; width: number; height: number; dpr: number };
}

/** Measures the explorer's layout (for the checks at narrow and short sizes). */
export async function explorerLayout(target: Target): Promise<ExplorerLayout> {
  return target.evaluate(() => {
    const box = (sel: string) => {
      const e = document.querySelector(sel);
      if (!e) return null;
      const r = e.getBoundingClientRect();
      return { x: r.x, y: r.y, width: r.width, height: r.height };
    };
    const parts = ['.toolbar', '.strip-section', '.token-strip', '.strip-legend', '.main-section', '.heat-pane', 'canvas.heatmap-cells', '.details', '.tabs', '.status-line'];
    const toolbar = document.querySelector('.toolbar')!.getBoundingClientRect();
    const toolbarOverflow = [...document.querySelectorAll<HTMLElement>('.toolbar > *')]
      .filter((c) => !c.classList.contains('hidden'))
      .filter((c) => {
        const r = c.getBoundingClientRect();
        return r.width > 0 && (r.right > toolbar.right + 0.5 || r.bottom > toolbar.bottom + 0.5);
      })
      .map((c) => c.className);
    const c = document.querySelector<HTMLCanvasElement>('canvas.heatmap-cells')!;
    const cr = c.getBoundingClientRect();
    return {
      viewport: { width: document.documentElement.clientWidth, height: window.innerHeight },
      boxes: Object.fromEntries(parts.map((p) => [p, box(p)])),
      toolbarOverflow,
      canvas: { cssWidth: cr.width, cssHeight: cr.height, width: c.width, height: c.height, dpr: window.devicePixelRatio },
    };
  });
}

/** Pairs of boxes that overlap by more than a pixel each way (names "a × b"). */
export function overlaps(boxes: ExplorerLayout['boxes'], names: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < names.length; i++) {
    for (let j = i + 1; j < names.length; j++) {
      const a = boxes[names[i]!], b = boxes[names[j]!];
      if (!a || !b) continue;
      const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
      const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
      if (w > 1 && h > 1) out.push(`${names[i]} × ${names[j]} (${w.toFixed(0)}×${h.toFixed(0)} px)`);
    }
  }
  return out;
}
