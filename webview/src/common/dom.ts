// Tiny DOM helpers: elements with classes and text, never inline styles (the CSP forbids them).

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
  text?: string,
  attrs?: Record<string, string>,
): HTMLElementTagNameMap[K];
export function el(tag: string, className?: string, text?: string, attrs?: Record<string, string>): HTMLElement;
export function el(tag: string, className?: string, text?: string, attrs?: Record<string, string>): HTMLElement {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  if (attrs) for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`missing #${id}`);
  return e as T;
}

/** Sizes a canvas's bitmap to its laid-out box × devicePixelRatio; returns the CSS size. */
export function fitCanvas(canvas: HTMLCanvasElement): { width: number; height: number; dpr: number } {
  const dpr = window.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  const w = Math.max(1, Math.round(width * dpr));
  const h = Math.max(1, Math.round(height * dpr));
  if (canvas.width !== w) canvas.width = w;
  if (canvas.height !== h) canvas.height = h;
  return { width, height, dpr };
}

/** Runs `fn` once per animation frame however often it is requested. */
export function frameThrottle(fn: () => void): () => void {
  let pending = false;
  return () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      fn();
    });
  };
}

/** Work that can wait until the view is idle (decoding other sites' masks). */
export function whenIdle(fn: () => void): void {
  if ('requestIdleCallback' in window) window.requestIdleCallback(() => fn(), { timeout: 500 });
  else setTimeout(fn, 16);
}

/**
 * Runs `fn` once after the next frame is painted (a task queued from requestAnimationFrame), however
 * often it is requested before then: secondary panels catch up one frame after the main response.
 */
export function afterPaint(fn: () => void): () => void {
  let pending = false;
  return () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() =>
      setTimeout(() => {
        pending = false;
        fn();
      }, 0),
    );
  };
}
