// Canvas colours, resolved from the stylesheet's --ld-* variables (themselves VS Code's
// --vscode-* theme colours), recomputed when the theme changes.
import { color } from 'd3';
import { colorLut, resolveColor } from '../common/theme';

export interface Palette {
  /** Mask value q (0..255) → colour. */
  heat: Uint32Array;
  /** Diff cells: 0 off/off, 85 on/on, 170 switched on, 255 switched off (see diffMatrix). */
  diff: Uint32Array;
  /** Compare rows: 0 neither, 1 pinned A only, 2 B only, 3 both. */
  compare: Uint32Array;
  background: string;
}

function rgba(css: string): number {
  const c = color(css)!.rgb();
  return (255 << 24) | (Math.round(c.b) << 16) | (Math.round(c.g) << 8) | Math.round(c.r);
}

export function readPalette(): Palette {
  const background = resolveColor('ld-probe-heat-low');
  const high = resolveColor('ld-probe-heat-high');
  const on = resolveColor('ld-probe-diff-on');
  const off = resolveColor('ld-probe-diff-off');
  const same = resolveColor('ld-probe-diff-same');
  const pinA = resolveColor('ld-probe-pin-a');
  const pinB = resolveColor('ld-probe-pin-b');
  const both = resolveColor('ld-probe-both');
  const diff = new Uint32Array(256);
  // Thresholds rather than exact codes, so that 'max' aggregation of codes stays meaningful.
  for (let i = 0; i < 256; i++) diff[i] = rgba(i < 43 ? background : i < 128 ? same : i < 213 ? on : off);
  return {
    heat: colorLut(background, high),
    diff,
    compare: Uint32Array.from([rgba(background), rgba(pinA), rgba(pinB), rgba(both)]),
    background,
  };
}
