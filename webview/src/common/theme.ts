// Colours come from VS Code's theme variables (--vscode-*), resolved through a probe element so
// any CSS colour syntax works, and re-read when the theme changes.
import { color, interpolateLab } from 'd3';

/**
 * Resolves a CSS colour expression (e.g. `var(--ld-heat-high)`) through a probe element class to
 * `rgb(r, g, b)`. Computed colours can come back as `color(srgb …)` (color-mix), which d3 does
 * not parse, so the value goes through a 1×1 canvas, which understands every CSS colour.
 */
export function resolveColor(probeClass: string, fallback = 'rgb(128, 128, 128)'): string {
  const probe = document.createElement('span');
  probe.className = `ld-probe ${probeClass}`;
  document.body.appendChild(probe);
  const c = getComputedStyle(probe).color;
  probe.remove();
  return c ? toRgb(c) ?? fallback : fallback;
}

let pixel: CanvasRenderingContext2D | null = null;

/** Any CSS colour → `rgb(r, g, b)` (alpha dropped), or null when the browser rejects it. */
export function toRgb(css: string): string | null {
  const parsed = color(css);
  if (parsed && !css.startsWith('color(')) {
    const c = parsed.rgb();
    return `rgb(${Math.round(c.r)}, ${Math.round(c.g)}, ${Math.round(c.b)})`;
  }
  pixel ??= Object.assign(document.createElement('canvas'), { width: 1, height: 1 }).getContext('2d', { willReadFrequently: true });
  if (!pixel) return null;
  pixel.clearRect(0, 0, 1, 1);
  pixel.fillStyle = '#000';
  pixel.fillStyle = css;
  pixel.fillRect(0, 0, 1, 1);
  const [r, g, b] = pixel.getImageData(0, 0, 1, 1).data;
  return `rgb(${r}, ${g}, ${b})`;
}

/** 256-entry RGBA lookup (little-endian Uint32 as ImageData wants) from low to high colour. */
export function colorLut(low: string, high: string, steps = 256): Uint32Array {
  const lut = new Uint32Array(steps);
  const interp = interpolateLab(low, high);
  for (let i = 0; i < steps; i++) {
    const c = color(interp(i / (steps - 1)))!.rgb();
    lut[i] = (255 << 24) | (Math.round(c.b) << 16) | (Math.round(c.g) << 8) | Math.round(c.r);
  }
  return lut;
}

/** The same colour as an `rgb()` string (SVG fill attributes). */
export function lutCss(lut: Uint32Array, i: number): string {
  const v = lut[Math.max(0, Math.min(lut.length - 1, i))]!;
  return `rgb(${v & 255},${(v >> 8) & 255},${(v >> 16) & 255})`;
}

/** Calls back when VS Code switches theme (body class) or redefines its variables (html style). */
export function onThemeChange(callback: () => void): () => void {
  let pending = 0;
  const fire = (): void => {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(callback);
  };
  const observer = new MutationObserver(fire);
  observer.observe(document.body, { attributes: true, attributeFilter: ['class'] });
  observer.observe(document.documentElement, { attributes: true, attributeFilter: ['style', 'class'] });
  return () => observer.disconnect();
}
