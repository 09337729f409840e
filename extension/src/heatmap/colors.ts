// Colour scales for the heatmap. No `vscode` import: unit-tested under plain Node.
//
// The heatmap paints every token with one of LEVELS background colours (one decoration type per
// level, so a repaint is LEVELS `setDecorations` calls whatever the token count). The default
// scale, `theme`, uses the colours contributed in package.json (`ldlens.heatmap.level0..7`), which
// themes and `workbench.colorCustomizations` can override; its defaults per theme kind are
// generated from THEME_STOPS below (a unit test keeps package.json in sync). The other scales
// are computed here, with the `ldlens.heatmap.opacity` setting as their alpha.

export const LEVELS = 8;

export type ScaleName = 'theme' | 'viridis' | 'magma' | 'coolWarm' | 'grayscale';
export const SCALE_NAMES: readonly ScaleName[] = ['theme', 'viridis', 'magma', 'coolWarm', 'grayscale'];

export type ThemeKind = 'dark' | 'light' | 'highContrast' | 'highContrastLight';

type RGB = [number, number, number];

const STOPS: Record<Exclude<ScaleName, 'theme'>, RGB[]> = {
  viridis: [
    [68, 1, 84],
    [59, 82, 139],
    [33, 145, 140],
    [94, 201, 98],
    [253, 231, 37],
  ],
  magma: [
    [0, 0, 4],
    [81, 18, 124],
    [183, 55, 121],
    [252, 137, 97],
    [252, 253, 191],
  ],
  coolWarm: [
    [59, 76, 192],
    [141, 176, 254],
    [221, 221, 221],
    [244, 154, 123],
    [180, 4, 38],
  ],
  grayscale: [
    [40, 40, 40],
    [230, 230, 230],
  ],
};

/**
 * The contributed theme colours: a blue → teal → amber → red ramp, darker and more transparent
 * on light themes (so black text stays readable), brighter and more opaque on dark ones, and
 * near-opaque with strong steps on high-contrast themes.
 */
const THEME_STOPS: Record<ThemeKind, { stops: RGB[]; alpha: [number, number] }> = {
  dark: { stops: [[40, 90, 200], [0, 160, 170], [230, 170, 0], [230, 60, 40]], alpha: [0.22, 0.5] },
  light: { stops: [[70, 130, 230], [0, 170, 160], [250, 190, 0], [240, 70, 50]], alpha: [0.18, 0.45] },
  highContrast: { stops: [[0, 70, 230], [0, 150, 160], [190, 130, 0], [220, 30, 30]], alpha: [0.5, 0.7] },
  highContrastLight: { stops: [[0, 60, 220], [0, 150, 140], [230, 160, 0], [230, 30, 30]], alpha: [0.3, 0.5] },
};

function lerp(a: number, b: number, t: number): number {
  return a + (b - a) * t;
}

function sample(stops: RGB[], t: number): RGB {
  const x = Math.max(0, Math.min(1, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  return [0, 1, 2].map((k) => Math.round(lerp(stops[i][k], stops[i + 1][k], f))) as RGB;
}

const hex2 = (v: number) => Math.round(Math.max(0, Math.min(255, v))).toString(16).padStart(2, '0');

export function toHex([r, g, b]: RGB, alpha?: number): string {
  return `#${hex2(r)}${hex2(g)}${hex2(b)}${alpha === undefined ? '' : hex2(alpha * 255)}`;
}

/** Position of level `l` on the scale, in [0, 1]. */
export function levelT(level: number, levels = LEVELS): number {
  return levels <= 1 ? 1 : level / (levels - 1);
}

/** Background colour (#rrggbbaa) of `level` in a computed scale. */
export function scaleColor(scale: Exclude<ScaleName, 'theme'>, level: number, opacity: number, levels = LEVELS): string {
  return toHex(sample(STOPS[scale], levelT(level, levels)), Math.max(0, Math.min(1, opacity)));
}

/** Default of the contributed colour `ldlens.heatmap.level<level>` for a theme kind. */
export function themeDefault(kind: ThemeKind, level: number, levels = LEVELS): string {
  const { stops, alpha } = THEME_STOPS[kind];
  const t = levelT(level, levels);
  return toHex(sample(stops, t), lerp(alpha[0], alpha[1], t));
}

export function themeColorId(level: number): string {
  return `ldlens.heatmap.level${level}`;
}

/** The `contributes.colors` entries, as package.json holds them. */
export function contributedColors(levels = LEVELS): { id: string; description: string; defaults: Record<ThemeKind, string> }[] {
  return Array.from({ length: levels }, (_, l) => ({
    id: themeColorId(l),
    description: `LearnedDropout heatmap: background of tokens in level ${l + 1} of ${levels} of the painted metric${l === 0 ? ' (lowest values)' : l === levels - 1 ? ' (highest values)' : ''}.`,
    defaults: {
      dark: themeDefault('dark', l, levels),
      light: themeDefault('light', l, levels),
      highContrast: themeDefault('highContrast', l, levels),
      highContrastLight: themeDefault('highContrastLight', l, levels),
    },
  }));
}

/** A value's level in [0, levels) on the domain [min, max] (a flat domain maps to the middle). */
export function levelOf(value: number, min: number, max: number, levels = LEVELS): number {
  if (!Number.isFinite(value)) return 0;
  if (!(max > min)) return levels >> 1;
  const t = (value - min) / (max - min);
  return Math.max(0, Math.min(levels - 1, Math.floor(t * levels)));
}

/** Domain of the finite values (ignores NaN); [0, 0] when there are none. */
export function domainOf(values: ArrayLike<number>): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo <= hi ? [lo, hi] : [0, 0];
}

const BLOCKS = ' ▁▂▃▄▅▆▇█';

/** One block character for t in [0, 1] (the status-bar legend and hover pictures). */
export function blockChar(t: number): string {
  if (!Number.isFinite(t)) return '·';
  return BLOCKS[Math.max(1, Math.min(8, Math.round(t * 8)))];
}

/** The legend ramp: one block per level, low to high. */
export function legendRamp(levels = LEVELS): string {
  return Array.from({ length: levels }, (_, l) => blockChar(levelT(l, levels))).join('');
}
