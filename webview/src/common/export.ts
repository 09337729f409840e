// Building export files in the webview (the host only writes them): CSV, JSON, SVG, PNG.

/** RFC 4180: quote fields holding a comma, quote, CR or LF; double inner quotes. */
export function csvField(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return '';
  const s = typeof value === 'number' ? formatCsvNumber(value) : String(value);
  return /[",\r\n]/.test(s) || /^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Shortest text that reads back to the same double; non-finite values as NaN/Infinity. */
function formatCsvNumber(v: number): string {
  return String(v);
}

export function csvRow(fields: readonly (string | number | boolean | null | undefined)[]): string {
  return fields.map(csvField).join(',');
}

/** A whole CSV document, CRLF line ends as the RFC says. */
export function toCsv(header: readonly string[], rows: Iterable<readonly (string | number | boolean | null | undefined)[]>): string {
  const lines = [csvRow(header)];
  for (const r of rows) lines.push(csvRow(r));
  return lines.join('\r\n') + '\r\n';
}

export { parseCsv } from '@common/csv';

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

export function bytesToBase64(bytes: Uint8Array): string {
  const parts: string[] = [];
  const CHUNK = 3 * 16384;
  for (let start = 0; start < bytes.length; start += CHUNK) {
    const end = Math.min(start + CHUNK, bytes.length);
    let s = '';
    let i = start;
    for (; i + 3 <= end; i += 3) {
      const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
      s += B64[n >> 18]! + B64[(n >> 12) & 63]! + B64[(n >> 6) & 63]! + B64[n & 63]!;
    }
    if (end - i === 1) {
      const n = bytes[i]! << 16;
      s += B64[n >> 18]! + B64[(n >> 12) & 63]! + '==';
    } else if (end - i === 2) {
      const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
      s += B64[n >> 18]! + B64[(n >> 12) & 63]! + B64[(n >> 6) & 63]! + '=';
    }
    parts.push(s);
  }
  return parts.join('');
}

/** Paint and font properties SVG inherits (written only where they differ from the parent). */
const INHERITED = [
  'fill',
  'fill-opacity',
  'stroke',
  'stroke-width',
  'stroke-opacity',
  'stroke-dasharray',
  'font-family',
  'font-size',
  'font-weight',
  'text-anchor',
  'dominant-baseline',
] as const;

/**
 * A standalone SVG document from an `<svg>` attached to the page: every element's computed
 * paint and font become presentation attributes, so the file needs no stylesheet. That also
 * keeps it drawable where CSS is not allowed: a PNG is this SVG drawn through a blob: image,
 * which inherits the webview's CSP (no inline <style>, no style attributes).
 */
export function standaloneSvg(svg: SVGSVGElement, size?: { width: number; height: number }): string {
  const clone = svg.cloneNode(true) as SVGSVGElement;
  const live = [svg, ...svg.querySelectorAll('*')];
  const copies = [clone, ...clone.querySelectorAll('*')];
  const computed = new Map<Element, CSSStyleDeclaration>();
  live.forEach((element, i) => {
    const copy = copies[i]!;
    copy.removeAttribute('style');
    if (!(element instanceof SVGElement)) return;
    const cs = getComputedStyle(element);
    computed.set(element, cs);
    const parent = element === svg ? undefined : computed.get(element.parentElement!);
    for (const p of INHERITED) {
      const v = cs.getPropertyValue(p);
      if (v && (!parent || parent.getPropertyValue(p) !== v)) copy.setAttribute(p, v);
    }
    if (cs.display === 'none') copy.setAttribute('display', 'none');
    if (cs.opacity !== '1') copy.setAttribute('opacity', cs.opacity);
  });
  clone.setAttribute('xmlns', 'http://www.w3.org/2000/svg');
  clone.setAttribute('xmlns:xlink', 'http://www.w3.org/1999/xlink');
  clone.setAttribute('width', String(size?.width ?? svg.viewBox.baseVal?.width ?? svg.clientWidth));
  clone.setAttribute('height', String(size?.height ?? svg.viewBox.baseVal?.height ?? svg.clientHeight));
  return '<?xml version="1.0" encoding="UTF-8"?>\n' + new XMLSerializer().serializeToString(clone);
}

/** Runs `build` with `svg` attached (invisibly) so that its computed styles exist. */
export function withStaged<T>(svg: SVGSVGElement, build: () => T): T {
  const stage = document.createElement('div');
  stage.className = 'ld-export-stage';
  stage.append(svg);
  document.body.append(stage);
  try {
    return build();
  } finally {
    stage.remove();
  }
}

/** Rasterizes an SVG document to PNG (base64) at `scale`× for crisp text. */
export async function svgToPngBase64(svgText: string, width: number, height: number, scale = 2): Promise<string> {
  const blob = new Blob([svgText], { type: 'image/svg+xml' });
  const url = URL.createObjectURL(blob);
  try {
    const img = new Image();
    img.decoding = 'async';
    img.src = url;
    await img.decode();
    const canvas = document.createElement('canvas');
    canvas.width = Math.round(width * scale);
    canvas.height = Math.round(height * scale);
    const ctx = canvas.getContext('2d')!;
    ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
    return canvasToPngBase64(canvas);
  } finally {
    URL.revokeObjectURL(url);
  }
}

export function canvasToPngBase64(canvas: HTMLCanvasElement): string {
  const url = canvas.toDataURL('image/png');
  return url.slice(url.indexOf(',') + 1);
}

/** A file-name-safe stem from free text (run names, checkpoint folders). */
export function safeFileStem(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 80) || 'export';
}
