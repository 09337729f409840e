// Token strip backgrounds on canvas (tokenStrip.ts): the rectangles of a chunk's tokens, and
// painting them in one fill per colour. No DOM here, so it runs (and is tested) anywhere.

/** Token rectangles of one chunk (a wrapped token has several), relative to the chunk's box. */
export class StripRects {
  length = 0;
  token = new Int32Array(64);
  /** x, y, w, h per rectangle. */
  box = new Float32Array(256);

  constructor(
    readonly width: number,
    readonly height: number,
  ) {}

  add(token: number, x: number, y: number, w: number, h: number): void {
    if (w <= 0 || h <= 0) return;
    if (this.length === this.token.length) {
      const t = new Int32Array(this.token.length * 2);
      t.set(this.token);
      this.token = t;
      const b = new Float32Array(this.box.length * 2);
      b.set(this.box);
      this.box = b;
    }
    const k = this.length++;
    this.token[k] = token;
    this.box.set([x, y, w, h], k * 4);
  }

  /** The token whose rectangle holds (x, y), or null (between tokens, past the text). */
  tokenAt(x: number, y: number): number | null {
    const b = this.box;
    for (let k = 0; k < this.length; k++) {
      const o = k * 4;
      if (x >= b[o]! && x < b[o]! + b[o + 2]! && y >= b[o + 1]! && y < b[o + 1]! + b[o + 3]!) return this.token[k]!;
    }
    return null;
  }
}

/**
 * The fill of each level: `rgb` at opacity level × 5 %, times `opacity` (dimmed tokens), as
 * `rgba()`. The same colours as the legend's `.lvN` classes
 * (color-mix(in srgb, C p%, transparent) is C at alpha p). Level 0 is transparent ('').
 */
export function levelFill(rgb: string, levels: number, opacity: number): string[] {
  const m = /rgba?\(\s*(\d+)[,\s]+(\d+)[,\s]+(\d+)/.exec(rgb);
  const [r, g, b] = m ? [m[1], m[2], m[3]] : ['128', '128', '128'];
  const out: string[] = [''];
  for (let l = 1; l < levels; l++) out.push(`rgba(${r}, ${g}, ${b}, ${Math.round(l * 0.05 * opacity * 1000) / 1000})`);
  return out;
}

/** What paintLevelRects needs of a 2-D context (tests pass a recorder). */
export interface RectPainter {
  fillStyle: unknown;
  beginPath(): void;
  rect(x: number, y: number, w: number, h: number): void;
  fill(): void;
}

/**
 * Paints each rectangle in its token's level colour (dimmed tokens in the dim set), one path and
 * one fill per colour. Returns how many rectangles were painted.
 */
export function paintLevelRects(
  ctx: RectPainter,
  rects: StripRects,
  levels: ArrayLike<number>,
  dimmed: ArrayLike<number> | null,
  fills: { normal: string[]; dim: string[] },
): number {
  const n = fills.normal.length;
  // Colour index per rectangle: level, or level + n when dimmed; 0 and n are transparent.
  const code = new Uint8Array(rects.length);
  const used = new Uint8Array(n * 2);
  for (let k = 0; k < rects.length; k++) {
    const t = rects.token[k]!;
    const level = Math.min(n - 1, levels[t] ?? 0);
    const c = level === 0 ? 0 : dimmed?.[t] ? level + n : level;
    code[k] = c;
    used[c] = 1;
  }
  let painted = 0;
  const b = rects.box;
  for (let c = 1; c < n * 2; c++) {
    if (!used[c] || c === n) continue;
    ctx.fillStyle = c < n ? fills.normal[c]! : fills.dim[c - n]!;
    ctx.beginPath();
    for (let k = 0; k < rects.length; k++) {
      if (code[k] !== c) continue;
      const o = k * 4;
      ctx.rect(b[o]!, b[o + 1]!, b[o + 2]!, b[o + 3]!);
      painted++;
    }
    ctx.fill();
  }
  return painted;
}
