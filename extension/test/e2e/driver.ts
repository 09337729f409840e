// Drives a real VS Code (code-server 4.100.3, i.e. VS Code 1.100.3) in Debian's Chromium with
// playwright-core: start/stop with throwaway HOME/XDG folders, the extension loaded in
// development mode (the `?payload=` URL), and helpers for the palette, quick picks, status bar,
// notifications, hovers, decorations and webviews. See ../shared/guides/vscode-e2e.md.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { type BrowserContext, type Frame, type Page, chromium } from 'playwright-core';

export const ROOT = join(__dirname, '../../..');
export const CODE_SERVER = join(ROOT, '.cache/code-server/node_modules/.bin/code-server');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

export async function waitFor<T>(what: string, f: () => Promise<T | undefined | false | null> | T | undefined | false | null, ms = 30_000, every = 200): Promise<T> {
  const t0 = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const v = await f();
      if (v) return v as T;
    } catch (e) {
      last = e;
    }
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await sleep(every);
  }
}

export interface SessionOptions {
  /** Throwaway folder for HOME, XDG dirs, user data, extensions, browser profile. */
  tmp: string;
  workspace: string;
  userSettings: Record<string, unknown>;
  screenshots: string;
  log: (m: string) => void;
}

export class Session {
  private server: ChildProcess | undefined;
  private context: BrowserContext | undefined;
  page!: Page;
  port = 0;
  private shot = 0;
  private serverLog: string[] = [];

  constructor(readonly o: SessionOptions) {}

  get userSettingsPath(): string {
    return join(this.o.tmp, 'user-data/User/settings.json');
  }

  writeUserSettings(extra: Record<string, unknown> = {}): void {
    mkdirSync(join(this.o.tmp, 'user-data/User'), { recursive: true });
    writeFileSync(this.userSettingsPath, JSON.stringify({ ...this.o.userSettings, ...extra }, null, 2));
  }

  private env(): NodeJS.ProcessEnv {
    const h = join(this.o.tmp, 'home');
    for (const d of ['', '.config', '.local/share', '.cache']) mkdirSync(join(h, d), { recursive: true });
    return { ...process.env, HOME: h, XDG_CONFIG_HOME: join(h, '.config'), XDG_DATA_HOME: join(h, '.local/share'), XDG_CACHE_HOME: join(h, '.cache'), VSCODE_CLI: undefined };
  }

  async start(): Promise<void> {
    this.port = await freePort();
    this.writeUserSettings();
    const cfg = join(this.o.tmp, 'code-server.yaml');
    writeFileSync(cfg, '');
    const args = [
      '--bind-addr', `127.0.0.1:${this.port}`, '--auth', 'none', '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust',
      '--disable-getting-started-override', '--ignore-last-opened', '--config', cfg,
      '--user-data-dir', join(this.o.tmp, 'user-data'), '--extensions-dir', join(this.o.tmp, 'extensions'), this.o.workspace,
    ];
    this.server = spawn(CODE_SERVER, args, { env: this.env(), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (b: Buffer) => {
      for (const l of b.toString().split('\n')) if (l.trim()) this.serverLog.push(l);
      if (this.serverLog.length > 400) this.serverLog.splice(0, this.serverLog.length - 400);
    };
    this.server.stdout!.on('data', keep);
    this.server.stderr!.on('data', keep);
    await waitFor('code-server /healthz', async () => (await fetch(`http://127.0.0.1:${this.port}/healthz`).catch(() => undefined))?.ok, 60_000, 250);
    this.o.log(`code-server up on port ${this.port} (pid ${this.server.pid})`);

    this.context = await chromium.launchPersistentContext(join(this.o.tmp, 'browser'), {
      executablePath: '/usr/bin/chromium',
      headless: true,
      viewport: { width: 1440, height: 900 },
      env: this.env() as Record<string, string>,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    this.page = this.context.pages()[0] ?? (await this.context.newPage());
    this.page.setDefaultTimeout(30_000);
    const payload = JSON.stringify([['extensionDevelopmentPath', `vscode-remote://127.0.0.1:${this.port}${ROOT}`]]);
    await this.page.goto(`http://127.0.0.1:${this.port}/?folder=${encodeURIComponent(this.o.workspace)}&payload=${encodeURIComponent(payload)}`);
    await this.page.waitForSelector('.monaco-workbench', { timeout: 60_000 });
    await this.page.waitForSelector('.explorer-folders-view .monaco-list-row', { timeout: 60_000 });
  }

  /** The pid of code-server (its process group holds everything it started). */
  get serverPid(): number | undefined {
    return this.server?.pid;
  }

  serverLogTail(n = 40): string {
    return this.serverLog.slice(-n).join('\n');
  }

  async stop(): Promise<void> {
    await this.context?.close().catch(() => {});
    const s = this.server;
    if (s?.pid && s.exitCode === null) {
      try {
        process.kill(-s.pid, 'SIGTERM');
      } catch {
        /* gone */
      }
      const exited = new Promise((r) => s.once('exit', r));
      await Promise.race([exited, sleep(5000)]);
      try {
        process.kill(-s.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }

  async screenshot(name: string): Promise<string> {
    mkdirSync(this.o.screenshots, { recursive: true });
    const file = join(this.o.screenshots, `${String(++this.shot).padStart(2, '0')}-${name}.png`);
    await this.page.screenshot({ path: file });
    this.o.log(`  screenshot ${file}`);
    return file;
  }

  /** A screenshot of one element (e.g. the hover), numbered with the page screenshots. */
  async screenshotOf(selector: string, name: string): Promise<string> {
    mkdirSync(this.o.screenshots, { recursive: true });
    const file = join(this.o.screenshots, `${String(++this.shot).padStart(2, '0')}-${name}.png`);
    await this.page.locator(selector).first().screenshot({ path: file });
    this.o.log(`  screenshot ${file}`);
    return file;
  }

  /** The extension's log (its LogOutputChannel "LearnedDropout", as VS Code writes it to disk). */
  extensionLog(): string {
    const logs = join(this.o.tmp, 'user-data/logs');
    if (!existsSync(logs)) return '';
    let out = '';
    for (const session of readdirSync(logs).sort()) {
      const dir = join(logs, session);
      for (const host of existsSync(dir) ? readdirSync(dir).filter((d) => d.startsWith('exthost')) : []) {
        const f = join(dir, host, 'ldlens.learneddropout-lens/LearnedDropout.log');
        if (existsSync(f)) out += readFileSync(f, 'utf8');
      }
    }
    return out;
  }

  /** Line numbers shown in the active editor's gutter (the rendered, i.e. visible, lines). */
  async visibleLineNumbers(): Promise<number[]> {
    const t = await this.page.locator('.editor-group-container.active .monaco-editor .margin-view-overlays .line-numbers').allInnerTexts();
    return t.map((x) => Number(x.trim())).filter((n) => Number.isFinite(n) && n > 0).sort((a, b) => a - b);
  }

  // ------------------------------------------------------------------------- workbench helpers

  async closeQuickInput(): Promise<void> {
    if (await this.page.locator('.quick-input-widget').isVisible()) await this.page.keyboard.press('Escape');
  }

  /** F1, type, wait for the row, and either press Enter or return the rows' labels. */
  async palette(text: string, run = true): Promise<string[]> {
    const rows = this.page.locator('.quick-input-widget .quick-input-list .monaco-list-row');
    let labels: string[] = [];
    // Commands of a development extension register a moment after the workbench shows: retry.
    await waitFor(`palette rows for "${text}"`, async () => {
      await this.closeQuickInput();
      await this.page.keyboard.press('F1');
      const input = this.page.locator('.quick-input-widget .quick-input-box input');
      // short per attempt: a clean-clone run saw the palette close again under it (focus taken by
      // a view) and one 30 s fill used the whole budget; a new attempt presses F1 again
      await input.waitFor({ state: 'visible', timeout: 5000 });
      await input.fill('>', { timeout: 5000 });
      await this.page.keyboard.type(text, { delay: 5 });
      const t0 = Date.now();
      while (Date.now() - t0 < 3000) {
        labels = (await rows.allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim());
        // the first row (what Enter runs) once the filter has caught up with the typing; while it
        // has not, a recently used command can still be first (a newcomer run failed on that)
        if (run ? labels[0]?.includes(text) : labels.some((t) => t.includes(text))) return true;
        await sleep(150);
      }
      return false;
    }, 60_000, 0);
    if (run) {
      // Enter runs the first (best) match; make sure it is the one asked for.
      if (!labels[0].includes(text)) throw new Error(`palette: the first row for "${text}" is "${labels[0]}"`);
      await this.page.keyboard.press('Enter');
    }
    return labels;
  }

  /** Waits for a quick pick whose title contains `title`, filters it with `filter` and accepts the first row. */
  async pick(title: string, filter: string, expectRow?: string): Promise<void> {
    await this.waitQuickInputTitle(title);
    const input = this.page.locator('.quick-input-widget .quick-input-box input');
    await input.fill(filter);
    const rows = this.page.locator('.quick-input-widget .quick-input-list .monaco-list-row');
    const want = expectRow ?? filter;
    await waitFor(`quick pick row "${want}"`, async () => ((await rows.first().innerText().catch(() => '')) || '').includes(want), 15_000);
    await this.page.keyboard.press('Enter');
  }

  /** Waits for an input box whose title contains `title`, replaces its value and accepts. */
  async input(title: string, value: string): Promise<void> {
    await this.waitQuickInputTitle(title);
    const input = this.page.locator('.quick-input-widget .quick-input-box input');
    await input.fill(value);
    await this.page.keyboard.press('Enter');
  }

  async waitQuickInputTitle(title: string): Promise<void> {
    await waitFor(`quick input "${title}"`, async () => {
      const w = this.page.locator('.quick-input-widget');
      if (!(await w.isVisible())) return false;
      return ((await w.locator('.quick-input-title').innerText().catch(() => '')) || '').includes(title);
    }, 20_000);
  }

  /** Opens a workspace file with Quick Open and waits for its text. */
  async openFile(name: string, expectText: string): Promise<void> {
    const input = this.page.locator('.quick-input-widget .quick-input-box input');
    const row = this.page.locator('.quick-input-list .monaco-list-row').first();
    // Quick Open again when the row does not come (a clean-clone run once waited 30 s for it with
    // a webview view just focused): close, reopen, type again.
    await waitFor(`quick open "${name}"`, async () => {
      await this.closeQuickInput();
      await this.page.keyboard.press('Control+P');
      await input.waitFor({ state: 'visible', timeout: 5000 });
      await input.fill(name, { timeout: 5000 });
      const t0 = Date.now();
      while (Date.now() - t0 < 8000) {
        if (((await row.innerText().catch(() => '')) || '').includes(name)) return true;
        await sleep(150);
      }
      return false;
    }, 45_000, 0);
    await this.page.keyboard.press('Enter');
    await waitFor(`editor with ${name}`, async () => (await this.editorText()).includes(expectText));
    await this.page.locator('.editor-group-container.active .monaco-editor .view-lines').first().click({ position: { x: 5, y: 5 } });
  }

  /** Visible text of the active editor (Monaco renders spaces as U+00A0). */
  async editorText(): Promise<string> {
    const t = await this.page.locator('.editor-group-container.active .monaco-editor .view-lines').first().innerText().catch(() => '');
    return (t || '').replace(/\u00a0/g, ' ');
  }

  statusItems(): Promise<string[]> {
    return this.page.locator('#workbench\\.parts\\.statusbar .statusbar-item').allInnerTexts();
  }

  async statusItem(match: RegExp, ms = 30_000): Promise<string> {
    return waitFor(`status bar item ${match}`, async () => (await this.statusItems()).map((t) => t.replace(/\s+/g, ' ').trim()).find((t) => match.test(t)), ms, 100);
  }

  async notification(match: RegExp, ms = 30_000): Promise<string> {
    return waitFor(`notification ${match}`, async () => (await this.page.locator('.notifications-toasts .notification-toast').allInnerTexts()).map((t) => t.replace(/\s+/g, ' ')).find((t) => match.test(t)), ms, 200);
  }

  async clickNotificationButton(match: RegExp, button: string): Promise<void> {
    const toast = this.page.locator('.notifications-toasts .notification-toast').filter({ hasText: match });
    await toast.locator('.monaco-button', { hasText: button }).first().click();
  }

  async clearNotifications(): Promise<void> {
    await this.palette('Notifications: Clear All Notifications').catch(() => {});
  }

  /**
   * Backgrounds painted by extension decorations in the active editor: one entry per painted
   * element with its computed colour.
   */
  async decorationColours(): Promise<string[]> {
    return this.page.evaluate(() => {
      const ed = document.querySelector('.editor-group-container.active .monaco-editor');
      if (!ed) return [];
      const out: string[] = [];
      for (const el of Array.from(ed.querySelectorAll('.view-overlays div[class*="ced-"]'))) {
        const c = getComputedStyle(el).backgroundColor;
        if (c && c !== 'transparent' && c !== 'rgba(0, 0, 0, 0)') out.push(c);
      }
      return out;
    });
  }

  /** Screen point at the middle of the `occurrence`-th match of `text` in the active editor (or the editor group `group` selects). */
  async textPoint(text: string, occurrence = 0, charOffset = 0, group = '.editor-group-container.active'): Promise<{ x: number; y: number }> {
    const p = await this.page.evaluate(
      ([t, occ, off, g]) => {
        const lines = document.querySelector(`${g} .monaco-editor .view-lines`);
        if (!lines) return null;
        const walker = document.createTreeWalker(lines, NodeFilter.SHOW_TEXT);
        let n = 0;
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
          const s = (node.textContent ?? '').replace(/\u00a0/g, ' ');
          let i = s.indexOf(t as string);
          while (i >= 0) {
            if (n++ === occ) {
              const r = document.createRange();
              const at = i + (off as number);
              r.setStart(node, at);
              r.setEnd(node, at + 1);
              const b = r.getBoundingClientRect();
              return { x: b.left + b.width / 2, y: b.top + b.height / 2 };
            }
            i = s.indexOf(t as string, i + 1);
          }
        }
        return null;
      },
      [text, occurrence, charOffset, group] as const,
    );
    if (!p) throw new Error(`text "${text}" not on screen`);
    return p;
  }

  async hover(text: string, occurrence = 0, charOffset = 0): Promise<string> {
    await this.page.mouse.move(5, 5);
    await sleep(200);
    const p = await this.textPoint(text, occurrence, charOffset);
    await this.page.mouse.move(p.x, p.y, { steps: 3 });
    const hover = this.page.locator('.monaco-hover:not(.hidden) .hover-contents, .monaco-hover:not(.hidden) .rendered-markdown').first();
    await hover.waitFor({ state: 'visible', timeout: 10_000 });
    return waitFor('hover text', async () => {
      const t = await this.page.locator('.monaco-hover:not(.hidden)').first().innerText();
      return t.includes('token') ? t : undefined;
    }, 10_000);
  }

  /** The inner frame of a webview whose document contains `selector`. */
  async webviewFrame(selector: string, ms = 30_000): Promise<Frame> {
    return waitFor(`webview with ${selector}`, async () => {
      for (const f of this.page.frames()) {
        if (f === this.page.mainFrame()) continue;
        if ((await f.locator(selector).count().catch(() => 0)) > 0) return f;
      }
      return undefined;
    }, ms, 300);
  }
}

/** Painted pixels of the Mask Explorer's heatmap canvas in frame `f`, or 0 while it has fewer than 5 colours. */
export async function heatmapPixels(f: Frame): Promise<number> {
  return f.evaluate(() => {
    const c = document.querySelector('canvas.heatmap-cells') as HTMLCanvasElement | null;
    if (!c || !c.width || !c.height) return 0;
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    const seen = new Set<number>();
    let nonBlank = 0;
    for (let i = 0; i < d.length; i += 4) {
      if (d[i + 3] > 0) nonBlank++;
      seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
    }
    return seen.size > 4 ? nonBlank : 0;
  });
}

/** Descendant pids of `root` whose command line contains every one of `parts`. */
export function findDescendants(root: number, parts: string[]): number[] {
  const parent = new Map<number, number>();
  const cmd = new Map<number, string>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(d), ppid);
      cmd.set(Number(d), readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' '));
    } catch {
      /* exited */
    }
  }
  const isDescendant = (p: number) => {
    for (let q = parent.get(p); q !== undefined && q > 1; q = parent.get(q)) if (q === root) return true;
    return false;
  };
  return [...cmd.entries()].filter(([p, c]) => parts.every((x) => c.includes(x)) && isDescendant(p)).map(([p]) => p);
}

export { existsSync };
