// Real-browser harness for the webviews: builds the bundles, serves dist/webview under the same
// CSP page the extension uses (extension/src/webviews/html.ts), stands in for acquireVsCodeApi
// (recording what the view posts), applies a VS Code theme, and feeds host messages.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { webviewShell, type WebviewEntry } from '@common/webviewShell';
import type { ChartsApp } from '../../src/charts/app';
import type { ExplorerApp } from '../../src/explorer/app';
import { THEMES, type ThemeName } from './themes';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');
export const OUTPUT_DIR = join(ROOT, 'test-output/webview');
const ORIGIN = 'https://ldlens-webview.test';
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM);
}

/** Bundles the webviews (same command as `npm run build`). */
export function buildWebview(): void {
  execFileSync(process.execPath, [join(ROOT, 'scripts/build.mjs'), 'webview'], { cwd: ROOT, stdio: 'inherit' });
}

export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export interface ViewPage {
  page: Page;
  /** Messages the view posted (acquireVsCodeApi().postMessage), in order. */
  posted(): Promise<{ type: string; [k: string]: unknown }[]>;
  /** A host → view message, delivered as VS Code does (window 'message' event). */
  send(message: unknown): Promise<void>;
  /** Waits until the view posted a message of this type (after `from` messages). */
  waitForPosted(type: string, from?: number): Promise<{ type: string; [k: string]: unknown }>;
  cspViolations(): Promise<string[]>;
  consoleErrors: string[];
  screenshot(name: string): Promise<string>;
  close(): Promise<void>;
}

export async function openView(
  browser: Browser,
  entry: WebviewEntry,
  opts: { theme?: ThemeName; width?: number; height?: number; state?: unknown } = {},
): Promise<ViewPage> {
  const theme = THEMES[opts.theme ?? 'dark'];
  const context = await browser.newContext({ viewport: { width: opts.width ?? 1280, height: opts.height ?? 860 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const consoleErrors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  if (process.env['LDLENS_HARNESS_DEBUG']) page.on('console', (m) => console.error(`[${entry} ${m.type()}] ${m.text()}`));
  const html = webviewShell({
    cspSource: ORIGIN,
    nonce: 'harnessNonce0123456789',
    scriptUri: `${ORIGIN}/dist/webview/${entry}.js`,
    styleUri: `${ORIGIN}/dist/webview/${entry}.css`,
    title: entry,
  });
  await page.route(`${ORIGIN}/**`, async (route) => {
    const url = new URL(route.request().url());
    if (url.pathname === '/index.html') return route.fulfill({ contentType: 'text/html', body: html });
    const file = join(ROOT, url.pathname);
    if (!url.pathname.startsWith('/dist/webview/') || !existsSync(file)) return route.fulfill({ status: 404, body: 'not found' });
    const type = file.endsWith('.js') ? 'text/javascript' : file.endsWith('.css') ? 'text/css' : 'application/octet-stream';
    return route.fulfill({ contentType: type, body: readFileSync(file) });
  });
  // Runs before the page's scripts, outside its CSP (as VS Code's own webview glue does). A string,
  // not a function: tsx's name-keeping helpers do not exist inside the page.
  await page.addInitScript(initScript(theme.vars, theme.bodyClass, opts.state ?? null));
  await page.goto(`${ORIGIN}/index.html`);
  try {
    await page.waitForFunction(() => ((window as unknown as { __posted: { type: string }[] }).__posted ?? []).some((m) => m.type === 'ready'), null, {
      timeout: 20_000,
    });
  } catch (e) {
    throw new Error(`the ${entry} view never posted 'ready': ${consoleErrors.join(' | ') || String(e)}`);
  }
  mkdirSync(OUTPUT_DIR, { recursive: true });
  const posted = (): Promise<{ type: string; [k: string]: unknown }[]> => page.evaluate(() => (window as unknown as { __posted: { type: string }[] }).__posted) as never;
  return {
    page,
    consoleErrors,
    posted,
    send: async (message) => {
      await page.evaluate((m) => window.postMessage(m, '*'), message as never);
    },
    waitForPosted: async (type, from = 0) => {
      const handle = await page.waitForFunction(
        ({ type, from }) => (window as unknown as { __posted: { type: string }[] }).__posted.slice(from).find((m) => m.type === type),
        { type, from },
        { timeout: 15_000 },
      );
      return (await handle.jsonValue()) as { type: string };
    },
    cspViolations: () => page.evaluate(() => (window as unknown as { __cspViolations: string[] }).__cspViolations),
    screenshot: async (name) => {
      const path = join(OUTPUT_DIR, `${name}.png`);
      await page.screenshot({ path });
      return path;
    },
    close: () => context.close(),
  };
}

/** What the harness and the views put on `window`, for page.evaluate callbacks. */
export interface TestWindow {
  __posted: { type: string; [k: string]: unknown }[];
  __state: unknown;
  __cspViolations: string[];
  /** Resolves after the next frame was produced (rAF, then a task after paint). */
  __nextFrame(): Promise<void>;
  __renders: number;
  __waitRender(n: number): Promise<void>;
  ldlensExplorer: ExplorerApp;
  ldlensCharts: ChartsApp;
  ldlensFixtures: typeof import('../fixtures');
}

function initScript(vars: Record<string, string>, bodyClass: string, state: unknown): string {
  return `(() => {
  const posted = [];
  const violations = [];
  let saved = ${JSON.stringify(state)};
  window.__posted = posted;
  // tsx keeps function names with a __name(fn, name) helper that also appears inside functions
  // handed to page.evaluate; give the page a no-op one.
  window.__name = (f) => f;
  // Helpers for page.evaluate callbacks (kept free of named inner functions: see above).
  window.__nextFrame = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
  window.__renders = 0;
  window.addEventListener('ldlens:rendered', () => { window.__renders++; });
  window.__waitRender = (n) => new Promise((r) => {
    const check = () => (window.__renders >= n ? r(undefined) : setTimeout(check, 1));
    check();
  });
  window.__cspViolations = violations;
  document.addEventListener('securitypolicyviolation', (e) => violations.push(e.violatedDirective + ': ' + e.blockedURI + ' ' + e.sample));
  window.acquireVsCodeApi = () => ({
    postMessage: (m) => posted.push(JSON.parse(JSON.stringify(m))),
    getState: () => saved,
    setState: (s) => { saved = s; window.__state = s; },
  });
  const vars = ${JSON.stringify(vars)};
  const apply = () => {
    const html = document.documentElement;
    if (html && !html.dataset.themed) {
      for (const [k, v] of Object.entries(vars)) html.style.setProperty(k, v);
      html.dataset.themed = '1';
    }
    if (document.body && !document.body.classList.contains(${JSON.stringify(bodyClass)})) document.body.classList.add(${JSON.stringify(bodyClass)});
    return html && html.dataset.themed && document.body;
  };
  if (!apply()) {
    const observer = new MutationObserver(() => { if (apply()) observer.disconnect(); });
    observer.observe(document, { childList: true, subtree: true });
  }
})();`;
}

let fixtureBundle: string | null = null;

/**
 * Defines `window.ldlensFixtures` (webview/test/fixtures.ts bundled for the browser) in the page,
 * so that big analyses and metric series are generated there instead of being serialized
 * through the driver (which would dominate every timing).
 */
export async function loadFixtures(page: Page): Promise<void> {
  if (!fixtureBundle) {
    const esbuild = await import('esbuild');
    const out = await esbuild.build({
      entryPoints: [join(ROOT, 'webview/test/fixtures.ts')],
      bundle: true,
      write: false,
      format: 'iife',
      globalName: 'ldlensFixtures',
      platform: 'browser',
      target: 'es2022',
      keepNames: false,
    });
    fixtureBundle = out.outputFiles[0]!.text;
  }
  // Runtime.evaluate is not subject to the page's CSP (no inline script is added).
  await page.evaluate(`${fixtureBundle}; window.ldlensFixtures = ldlensFixtures;`);
}
