// The analyzed text as a strip of tokens coloured by active units. Virtualized: tokens live in
// chunks (cut at line breaks where possible) that are filled only when they come near the
// viewport, and `content-visibility: auto` lets the browser skip layout of the rest, so a
// 100,000-token text opens as fast as a short one.
//
// The colour levels are painted on one canvas per chunk, behind the chunk's text, from token
// rectangles measured once per fill (and again after a width change). A layer switch repaints
// the canvases of the chunks near the viewport (a few hundred fillRects) and touches no element:
// restyling ~1,700 spans cost ~10 ms of style recalc plus ~15 ms of text repaint and raster
// per switch. Spans keep the text, the rarely-changing classes (dim, hover, selection, pins),
// DOM hit testing for hover and click, and keyboard focus, as before. Canvases of chunks that
// leave the viewport are released.
import { el } from '../common/dom';
import { toRgb } from '../common/theme';
import { displayToken } from '@common/tokens';
import { levelFill, paintLevelRects, StripRects } from './stripPaint';
import type { Token } from '@common/webviewProtocol';

export const LEVELS = 16;

interface Chunk {
  start: number;
  end: number;
  element: HTMLElement;
  filled: boolean;
  /** Near the viewport (IntersectionObserver); only these get restyled at once. */
  near: boolean;
  /** The `classVersion` its spans' classes were computed for. */
  version: number;
  /** Background canvas (behind the spans). */
  canvas: HTMLCanvasElement;
  /** Token rectangles relative to the chunk, or null until measured (or after a resize). */
  rects: StripRects | null;
  /** The `paintVersion` its canvas shows (-1: released). */
  painted: number;
}

export interface TokenStripCallbacks {
  hover(token: number | null): void;
  click(token: number, event: MouseEvent): void;
  /** Arrow keys move the selection, Enter reveals it. */
  key(event: KeyboardEvent): void;
}

export class TokenStrip {
  readonly element: HTMLElement;
  private tokens: Token[] = [];
  private chunks: Chunk[] = [];
  private chunkByElement = new WeakMap<Element, Chunk>();
  private spans: (HTMLSpanElement | undefined)[] = [];
  private levels: Uint8Array = new Uint8Array(0);
  private dimmed: Uint8Array | null = null;
  private marked = new Map<number, string>();
  /** Bumped by level and dimming changes; chunks away from the viewport catch up when seen. */
  private classVersion = 0;
  private readonly observer: IntersectionObserver;
  /** Bumped by level, dimming and colour changes; near chunks repaint their canvas for it. */
  private paintVersion = 0;
  /** CSS variable of the level colour (active units, or flipped units in diff mode). */
  private colourVar = '--ld-heat-high';
  /** Resolved fill per level (and dimmed), for `colourVar`; null: read on next paint. */
  private fills: { normal: string[]; dim: string[] } | null = null;
  private readonly resizes: ResizeObserver;
  /** Last level repaint (ms) and how many chunks it painted; the benchmark reads them. */
  lastPaint = { ms: 0, chunks: 0 };

  constructor(private readonly callbacks: TokenStripCallbacks) {
    this.element = el('div', 'token-strip', undefined, { role: 'list', tabindex: '0', 'aria-label': 'tokens' });
    this.observer = new IntersectionObserver((entries) => this.onVisible(entries), { root: this.element, rootMargin: '200px 0px' });
    // A chunk whose box changes (new width re-wrapping the text, a late font, a scrollbar) has its
    // token rectangles measured again; the observer calls back after layout, before paint.
    this.resizes = new ResizeObserver((entries) => {
      let changed = false;
      for (const e of entries) {
        const c = this.chunkByElement.get(e.target);
        if (!c?.rects) continue;
        const { width, height } = e.contentRect;
        if (Math.abs(width - c.rects.width) < 0.5 && Math.abs(height - c.rects.height) < 0.5) continue;
        c.rects = null;
        changed = true;
      }
      if (changed) this.repaint();
    });
    this.element.addEventListener('mouseover', (e) => {
      const i = this.indexOf(e.target);
      if (i !== null) this.callbacks.hover(i);
    });
    this.element.addEventListener('mouseleave', () => this.callbacks.hover(null));
    this.element.addEventListener('keydown', (e) => this.callbacks.key(e));
    this.element.addEventListener('click', (e) => {
      const i = this.indexOf(e.target);
      if (i !== null) this.callbacks.click(i, e);
    });
  }

  /** New text: rebuilds the chunks (empty until seen). */
  setTokens(tokens: Token[], levels: Uint8Array): void {
    this.observer.disconnect();
    this.resizes.disconnect();
    this.tokens = tokens;
    this.levels = levels;
    this.spans = new Array(tokens.length);
    this.marked.clear();
    this.dimmed = null;
    this.chunks = [];
    const frag = document.createDocumentFragment();
    for (let start = 0; start < tokens.length; ) {
      // 128–256 tokens, ending after a newline when there is one, else after a space: a chunk is
      // a block, so its end breaks the line, and it should do so where the text could.
      let end = Math.min(tokens.length, start + 256);
      if (end < tokens.length) {
        let space = -1;
        let newline = -1;
        for (let j = start + 128; j < end && newline < 0; j++) {
          const text = tokens[j - 1]!.text;
          if (text.includes('\n')) newline = j;
          else if (/\s$/.test(text)) space = j;
        }
        end = newline > 0 ? newline : space > 0 ? space : end;
      }
      const element = el('div', 'chunk');
      const canvas = el('canvas', 'chunk-bg', undefined, { 'aria-hidden': 'true' });
      element.append(canvas);
      const chunk: Chunk = { start, end, element, filled: false, near: false, version: 0, canvas, rects: null, painted: -1 };
      this.chunks.push(chunk);
      this.chunkByElement.set(element, chunk);
      frag.append(element);
      start = end;
    }
    this.element.replaceChildren(frag);
    for (const c of this.chunks) this.observer.observe(c.element);
    // The first screenful is filled now so the first paint has text.
    for (const c of this.chunks.slice(0, 2)) {
      this.fill(c);
      c.near = true; // until the observer says otherwise
    }
    this.paintVersion++;
    // Painted in the first frame, where the new text is laid out anyway.
    requestAnimationFrame(() => this.repaint());
  }

  /**
   * Colour levels (0..LEVELS−1) per token for the chosen site, in the colour of `colourVar`
   * (a --ld-* variable). Only canvases change.
   */
  setLevels(levels: Uint8Array, colourVar = '--ld-heat-high'): void {
    this.levels = levels;
    if (colourVar !== this.colourVar) {
      this.colourVar = colourVar;
      this.fills = null;
    }
    this.paintVersion++;
    this.repaint();
  }

  /** The theme changed: level colours are read again (and rectangles: the font may have changed). */
  readColours(): void {
    this.fills = null;
    for (const c of this.chunks) c.rects = null;
    this.paintVersion++;
    this.repaint();
  }

  /** Tokens not matching a filter are dimmed (null: none dimmed). */
  setDimmed(dimmed: Uint8Array | null): void {
    if (dimmed === null && this.dimmed === null) return;
    this.dimmed = dimmed;
    this.restyle();
    this.paintVersion++;
    this.repaint();
  }

  /** Repaints the canvases of the chunks near the viewport that are out of date. */
  private repaint(): void {
    const started = performance.now();
    let n = 0;
    for (const c of this.chunks) if (c.filled && c.near && this.paintChunk(c)) n++;
    this.lastPaint = { ms: performance.now() - started, chunks: n };
  }

  private paintChunk(c: Chunk): boolean {
    if (c.painted === this.paintVersion && c.rects) return false;
    c.rects ??= this.measure(c);
    const fills = (this.fills ??= this.readFills());
    const { canvas, rects } = c;
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.ceil(rects.width * dpr));
    const h = Math.max(1, Math.ceil(rects.height * dpr));
    if (canvas.width !== w || canvas.height !== h) {
      canvas.width = w;
      canvas.height = h;
    }
    const ctx = canvas.getContext('2d');
    if (!ctx) return false;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, rects.width, rects.height);
    paintLevelRects(ctx, rects, this.levels, this.dimmed, fills);
    c.painted = this.paintVersion;
    return true;
  }

  /** Token rectangles of a filled chunk, relative to the chunk (forces its layout when dirty). */
  private measure(c: Chunk): StripRects {
    const box = c.element.getBoundingClientRect();
    const rects = new StripRects(box.width, box.height);
    for (let i = c.start; i < c.end; i++) {
      const span = this.spans[i];
      if (!span) continue;
      for (const r of span.getClientRects()) rects.add(i, r.left - box.left, r.top - box.top, r.width, r.height);
    }
    return rects;
  }

  private readFills(): { normal: string[]; dim: string[] } {
    const raw = getComputedStyle(this.element).getPropertyValue(this.colourVar).trim();
    const rgb = (raw && toRgb(raw)) || 'rgb(128, 128, 128)';
    return { normal: levelFill(rgb, LEVELS, 1), dim: levelFill(rgb, LEVELS, DIM_OPACITY) };
  }

  /** Releases a chunk's bitmap (it left the viewport). */
  private release(c: Chunk): void {
    if (c.painted === -1) return;
    c.canvas.width = 0;
    c.canvas.height = 0;
    c.painted = -1;
  }

  /** New classes for the chunks near the viewport now, for the others when they come into view. */
  private restyle(): void {
    this.classVersion++;
    for (const c of this.chunks) if (c.filled && c.near) this.restyleChunk(c);
  }

  private restyleChunk(c: Chunk): void {
    if (c.version === this.classVersion) return;
    c.version = this.classVersion;
    for (let i = c.start; i < c.end; i++) this.applyClass(i);
  }

  /** Marks (selected, hover, pinA, pinB) by token; only changed tokens are touched. */
  setMarks(marks: Map<number, string>): void {
    const old = this.marked;
    this.marked = marks;
    for (const i of old.keys()) if (!marks.has(i)) this.applyClass(i);
    for (const [i, m] of marks) if (old.get(i) !== m) this.applyClass(i);
  }

  scrollTo(token: number): void {
    const chunk = this.chunkOf(token);
    if (!chunk) return;
    this.fill(chunk);
    this.restyleChunk(chunk);
    this.spans[token]?.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  }

  /** The span of a token, filling its chunk first (tests use it). */
  spanOf(token: number): HTMLSpanElement | undefined {
    const chunk = this.chunkOf(token);
    if (chunk) {
      this.fill(chunk);
      this.restyleChunk(chunk);
    }
    return this.spans[token];
  }

  /**
   * The token whose painted background holds a page point (null: none), from the measured
   * rectangles of the chunk there; tests check it against the spans.
   */
  tokenAt(clientX: number, clientY: number): number | null {
    for (const c of this.chunks) {
      if (!c.rects) continue;
      const box = c.element.getBoundingClientRect();
      if (clientY < box.top || clientY >= box.bottom) continue;
      const t = c.rects.tokenAt(clientX - box.left, clientY - box.top);
      if (t !== null) return t;
    }
    return null;
  }

  get renderedCount(): number {
    let n = 0;
    for (const c of this.chunks) if (c.filled) n += c.end - c.start;
    return n;
  }

  private chunkOf(token: number): Chunk | undefined {
    let lo = 0;
    let hi = this.chunks.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const c = this.chunks[mid]!;
      if (token < c.start) hi = mid - 1;
      else if (token >= c.end) lo = mid + 1;
      else return c;
    }
    return undefined;
  }

  private onVisible(entries: IntersectionObserverEntry[]): void {
    for (const e of entries) {
      const chunk = this.chunkByElement.get(e.target);
      if (!chunk) continue;
      chunk.near = e.isIntersecting;
      if (!chunk.near) {
        this.release(chunk);
        continue;
      }
      if (chunk.filled) this.restyleChunk(chunk);
      else this.fill(chunk);
      this.paintChunk(chunk);
    }
  }

  private fill(chunk: Chunk): void {
    if (chunk.filled) return;
    chunk.filled = true;
    chunk.version = this.classVersion;
    const frag = document.createDocumentFragment();
    for (let i = chunk.start; i < chunk.end; i++) {
      const t = this.tokens[i]!;
      const span = document.createElement('span');
      span.dataset['i'] = String(i);
      // Whitespace stays readable: newlines show as ⏎ and still break the line.
      span.textContent = t.text.includes('\n') ? t.text.replace(/\r?\n/g, '⏎\n') : t.text || displayToken(t.text);
      this.spans[i] = span;
      this.applyClass(i);
      frag.append(span);
    }
    chunk.element.append(frag);
    chunk.element.classList.add('filled');
    this.resizes.observe(chunk.element);
  }

  private applyClass(i: number): void {
    const span = this.spans[i];
    if (!span) return;
    let cls = 'tok';
    if (this.dimmed?.[i]) cls += ' dim';
    const mark = this.marked.get(i);
    if (mark) cls += ' ' + mark;
    if (span.className !== cls) span.className = cls;
  }

  private indexOf(target: EventTarget | null): number | null {
    if (!(target instanceof HTMLElement) || !target.dataset['i']) return null;
    return Number(target.dataset['i']);
  }
}

/** Opacity of dimmed tokens (explorer.css `.tok.dim`); their background is dimmed alike. */
const DIM_OPACITY = 0.25;

/**
 * Active count → colour level, spread over the site's range of counts: `min` (level 0, no
 * colour) to `max` (the strongest). Counts usually sit in a narrow band (14–18 of 32 units), and
 * scaling from 0 painted every token in nearly the same strong colour.
 */
export function activeLevels(active: readonly number[], max: number, min = 0, out = new Uint8Array(active.length)): Uint8Array {
  const scale = max > min ? (LEVELS - 1) / (max - min) : 0;
  for (let i = 0; i < active.length; i++) out[i] = Math.round(Math.max(0, active[i]! - min) * scale);
  return out;
}
