// The analyzed text as a strip of tokens coloured by active units. Virtualized: tokens live in
// chunks (cut at line breaks where possible) that are filled only when they come near the
// viewport, and `content-visibility: auto` lets the browser skip layout of the rest, so a
// 100,000-token text opens as fast as a short one.
import { el } from '../common/dom';
import { displayToken } from '../common/tokenTypes';
import type { Token } from '../protocol';

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

  constructor(private readonly callbacks: TokenStripCallbacks) {
    this.element = el('div', 'token-strip', undefined, { role: 'list', tabindex: '0', 'aria-label': 'tokens' });
    this.observer = new IntersectionObserver((entries) => this.onVisible(entries), { root: this.element, rootMargin: '200px 0px' });
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
      const chunk: Chunk = { start, end, element, filled: false, near: false, version: 0 };
      this.chunks.push(chunk);
      this.chunkByElement.set(element, chunk);
      frag.append(element);
      start = end;
    }
    this.element.replaceChildren(frag);
    for (const c of this.chunks) this.observer.observe(c.element);
    // The first screenful is filled now so the first paint has text.
    for (const c of this.chunks.slice(0, 2)) this.fill(c);
  }

  /** Colour levels (0..LEVELS−1) per token for the chosen site. */
  setLevels(levels: Uint8Array): void {
    this.levels = levels;
    this.restyle();
  }

  /** Tokens not matching a filter are dimmed (null: none dimmed). */
  setDimmed(dimmed: Uint8Array | null): void {
    this.dimmed = dimmed;
    this.restyle();
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
      if (!chunk.near) continue;
      if (chunk.filled) this.restyleChunk(chunk);
      else this.fill(chunk);
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
  }

  private applyClass(i: number): void {
    const span = this.spans[i];
    if (!span) return;
    let cls = `tok lv${this.levels[i] ?? 0}`;
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

/** Active count → colour level, relative to the site's largest count. */
export function activeLevels(active: readonly number[], max: number, out = new Uint8Array(active.length)): Uint8Array {
  const scale = max > 0 ? (LEVELS - 1) / max : 0;
  for (let i = 0; i < active.length; i++) out[i] = Math.round(active[i]! * scale);
  return out;
}
