// The webviews in a real browser (headless Chromium), under the extension's CSP, with a stand-in
// acquireVsCodeApi: correctness only (what is drawn, what is posted, what is exported). Timings
// live in the benchmark (webview/test/browser/bench.ts), never here.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { parseCsv } from '../src/common/export';
import { ACTIVE_Q } from '@common/maskBytes';
import { AnalysisModel, overlap } from '../src/common/masks';
import type { AnalysisResult, ExplorerSnapshot } from '@common/webviewProtocol';
import { buildWebview, chromiumAvailable, launch, loadFixtures, openView, OUTPUT_DIR, type TestWindow, type ViewPage } from './browser/harness';
import { chartedSteps, explorerLayout, exportVia, heatmapMismatches, overlaps, pngSize, svgClipping, tokenDetails, waitForChartedSteps, waitForExplorer } from './browser/webviewChecks';
import { makeAnalysis, makeCheckpoints, makeMetrics, makeRun, sampleText, SMALL_SHAPE } from './fixtures';

const skip = chromiumAvailable() ? false : 'no Chromium at /usr/bin/chromium (set CHROMIUM_PATH)';
const RUN_DIR = '/runs/tiny-learned';

function snapshot(analysis: AnalysisResult, extra: Partial<ExplorerSnapshot> = {}): ExplorerSnapshot {
  return {
    analysis,
    source: { uri: 'file:///work/sample.txt', runDir: RUN_DIR },
    checkpoints: makeCheckpoints(RUN_DIR, [100, 200, 300, 400, 500]),
    selectedToken: null,
    live: false,
    ...extra,
  };
}

/** Keeps an exported file under test-output/webview/exports to look at. */
function keep(name: string, data: string, encoding: string): void {
  const dir = join(OUTPUT_DIR, 'exports');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, name), Buffer.from(data, encoding === 'base64' ? 'base64' : 'utf8'));
}

/**
 * Posts a run's metrics as the host does (columns, typed arrays), generated inside the page so the
 * typed arrays reach it as they would from VS Code.
 */
async function sendMetrics(view: ViewPage, runId: string, steps: number, opts: { learned?: boolean; seed?: number; from?: number } = {}, replace = true): Promise<void> {
  await loadFixtures(view.page);
  await view.page.evaluate(
    ({ runId, steps, opts, replace }) => {
      const f = (window as unknown as TestWindow).ldlensFixtures;
      window.postMessage({ type: 'metrics', runId, columns: f.toColumns(f.makeMetrics(steps, opts)), replace }, '*');
    },
    { runId, steps, opts, replace },
  );
}

async function noViolations(view: ViewPage): Promise<void> {
  assert.deepEqual(await view.cspViolations(), [], 'CSP violations');
  assert.deepEqual(
    view.consoleErrors.filter((e) => !/favicon/.test(e)),
    [],
    'console errors',
  );
}

describe('webviews in a real browser', { skip, timeout: 240_000 }, () => {
  let browser: Browser;
  before(async () => {
    buildWebview();
    browser = await launch();
  });
  after(async () => browser?.close());

  describe('Mask Explorer', () => {
    const analysis = makeAnalysis(SMALL_SHAPE);
    const model = new AnalysisModel(analysis);

    for (const theme of ['dark', 'light', 'high-contrast'] as const) {
      it(`draws the heatmap cells with the exact mask colours (${theme})`, async () => {
        const view = await openView(browser, 'explorer', { theme });
        try {
          await view.send({ type: 'state', state: snapshot(analysis, { selectedToken: 12 }) });
          await view.page.evaluate(() => (window as unknown as TestWindow).__waitRender(1));
          await view.page.evaluate(() => (window as unknown as TestWindow).__nextFrame());
          // Every sampled cell: the pixel at its centre is the palette colour of its byte.
          const mismatches = await view.page.evaluate(() => {
            const w = window as unknown as TestWindow;
            const { heatmap, model, palette } = w.ldlensExplorer.debug;
            const m = model!.matrix(0);
            const canvas = heatmap.canvas;
            const ctx = canvas.getContext('2d')!;
            const rect = canvas.getBoundingClientRect();
            const bad: string[] = [];
            for (const [t, u] of [
              [0, 0],
              [12, 5],
              [150, 63],
              [299, 31],
              [77, 40],
            ] as [number, number][]) {
              const c = heatmap.cellCenter(t, u)!;
              const px = ctx.getImageData(Math.floor(c.x - rect.left), Math.floor(c.y - rect.top), 1, 1).data;
              const want = palette.heat[m.q(t, u)]!;
              const got = (px[0]! | (px[1]! << 8) | (px[2]! << 16) | (255 << 24)) >>> 0;
              if (got !== want) bad.push(`${t},${u}: got ${px.join(',')} want ${want & 255},${(want >> 8) & 255},${(want >> 16) & 255}`);
            }
            return bad;
          });
          assert.deepEqual(mismatches, []);
          assert.equal(await view.page.locator('.token-strip .tok').first().isVisible(), true);
          await view.screenshot(`explorer-${theme}`);
          await noViolations(view);
        } finally {
          await view.close();
        }
      });
    }

    it("shows a token's mask at every site, reveals it on click, and switches layers", async () => {
      const view = await openView(browser, 'explorer', { theme: 'dark' });
      try {
        await view.send({ type: 'state', state: snapshot(analysis) });
        await view.page.evaluate(() => (window as unknown as TestWindow).__waitRender(1));
        const token = 42;
        await view.page.locator(`.token-strip span[data-i="${token}"]`).hover();
        const rows = view.page.locator('.details-body .site-table tr[data-site]');
        assert.equal(await rows.count(), model.sites.length);
        for (let s = 0; s < model.sites.length; s++) {
          const cells = await rows.nth(s).locator('td').allInnerTexts();
          // Attention: of heads × causal keys (the engine's `keys`), elsewhere of the site's units.
          const of = analysis.layers[s]!.keys?.[token] ?? model.sites[s]!.units;
          assert.equal(analysis.layers[s]!.keys !== undefined, model.sites[s]!.kind === 'attention', `site ${s}: keys on attention sites only`);
          assert.equal(cells[1], `${model.active(s)[token]} / ${of}`, `site ${s}`);
        }
        const title = await view.page.locator('.details-title').innerText();
        assert.match(title, new RegExp(`#${token}`));

        const before = (await view.posted()).length;
        await view.page.locator(`.token-strip span[data-i="${token}"]`).click();
        const reveal = await view.waitForPosted('revealToken', before);
        assert.deepEqual(reveal, { type: 'revealToken', index: token, start: analysis.tokens[token]!.start, end: analysis.tokens[token]!.end });

        // Layer switch from the small multiples: the heatmap now shows site 3 (L0 mlp).
        await view.page.locator('.multiple[data-site="3"]').click();
        const ok = await view.page.evaluate(() => {
          const w = window as unknown as TestWindow;
          const { heatmap, model, palette, state } = w.ldlensExplorer.debug;
          const c = heatmap.cellCenter(10, 7)!;
          const rect = heatmap.canvas.getBoundingClientRect();
          const px = heatmap.canvas.getContext('2d')!.getImageData(Math.floor(c.x - rect.left), Math.floor(c.y - rect.top), 1, 1).data;
          const want = palette.heat[model!.matrix(3).q(10, 7)]!;
          return state.site === 3 && (px[0]! | (px[1]! << 8) | (px[2]! << 16) | (255 << 24)) >>> 0 === want;
        });
        assert.equal(ok, true);
        assert.equal(((await view.page.evaluate(() => (window as unknown as TestWindow).__state)) as { site: number }).site, 3, 'view state saved');

        // The strip's levels are painted on canvas behind the spans: the painted rectangle under
        // each span is that token's, and its pixel is the level colour over the background.
        const strip = await view.page.evaluate(() => {
          const { strip, model } = (window as unknown as TestWindow).ldlensExplorer.debug;
          const out: { token: number; hit: number | null; alpha: number; level: number }[] = [];
          const [min, max] = model!.activeRange(3);
          for (const t of [0, 5, 42, 120]) {
            const r = strip.spanOf(t)!.getClientRects()[0]!;
            const x = r.left + r.width / 2;
            const y = r.top + r.height / 2;
            const chunk = strip.spanOf(t)!.parentElement!;
            const canvas = chunk.querySelector('canvas.chunk-bg') as HTMLCanvasElement;
            const box = chunk.getBoundingClientRect();
            const px = canvas.getContext('2d')!.getImageData(Math.floor(x - box.left), Math.floor(y - box.top), 1, 1).data;
            out.push({ token: t, hit: strip.tokenAt(x, y), alpha: px[3]!, level: Math.round(((model!.active(3)[t]! - min) * 15) / (max - min)) });
          }
          return { out, painted: strip.lastPaint.chunks };
        });
        assert.ok(strip.painted > 0, 'the layer switch repainted the strip');
        for (const p of strip.out) {
          assert.equal(p.hit, p.token, `token ${p.token} hit-tests to itself`);
          assert.ok(Math.abs(p.alpha - Math.round(p.level * 0.05 * 255)) <= 1, `token ${p.token}: alpha ${p.alpha} for level ${p.level}`);
        }

        // Hovering a heatmap cell reads its exact value.
        const c = await view.page.evaluate(() => (window as unknown as TestWindow).ldlensExplorer.debug.heatmap.cellCenter(20, 9)!);
        await view.page.mouse.move(c.x, c.y);
        const q = model.matrix(3).q(20, 9);
        assert.match(await view.page.locator('.readout').innerText(), new RegExp(`token #20 .* unit 9 · m = ${(q / 255).toFixed(4)} \\(q ${q}\\)`));
        await view.screenshot('explorer-details');
        await noViolations(view);
      } finally {
        await view.close();
      }
    });

    it('compares two pinned tokens (shared active units per site)', async () => {
      const view = await openView(browser, 'explorer', { theme: 'light' });
      try {
        await view.send({ type: 'state', state: snapshot(analysis) });
        await view.page.evaluate(() => (window as unknown as TestWindow).__waitRender(1));
        await view.page.locator('.token-strip span[data-i="3"]').click({ modifiers: ['Alt'] });
        await view.page.locator('.token-strip span[data-i="9"]').click({ modifiers: ['Alt'] });
        const pinned = await view.waitForPosted('pinToken', 0);
        assert.ok(pinned);
        const rows = view.page.locator('.compare-table tr[data-site]');
        assert.equal(await rows.count(), model.sites.length);
        for (let s = 0; s < model.sites.length; s++) {
          const o = overlap(model.matrix(s).row(3), model.matrix(s).row(9));
          const cells = await rows.nth(s).locator('td').allInnerTexts();
          assert.deepEqual(cells.slice(1, 4), [String(o.both), String(o.onlyA), String(o.onlyB)], `site ${s}`);
        }
        await view.screenshot('explorer-compare-light');
      } finally {
        await view.close();
      }
    });

    it('moves the selection with the keys (strip and heatmap), reveals it with Enter and pins it with P', async () => {
      const view = await openView(browser, 'explorer', { theme: 'dark' });
      try {
        await view.send({ type: 'state', state: snapshot(analysis) });
        await view.page.evaluate(() => (window as unknown as TestWindow).__waitRender(1));
        const last = analysis.tokens.length - 1;
        await view.page.locator('.token-strip').focus();
        await view.page.keyboard.press('ArrowRight');
        await view.page.waitForSelector('.token-strip .tok.sel[data-i="0"]');
        await view.page.keyboard.press('End');
        await view.page.waitForSelector(`.token-strip .tok.sel[data-i="${last}"]`);
        await view.page.locator('.heatmap-overlay').focus();
        await view.page.keyboard.press('ArrowLeft');
        await view.page.waitForSelector(`.token-strip .tok.sel[data-i="${last - 1}"]`);
        const before = (await view.posted()).length;
        await view.page.keyboard.press('Enter');
        assert.equal((await view.waitForPosted('revealToken', before))['index'], last - 1);
        await view.page.keyboard.press('p');
        assert.deepEqual((await view.waitForPosted('pinToken', before))['pinned'], [last - 1]);
        assert.equal(await view.page.evaluate(() => (window as unknown as TestWindow).ldlensExplorer.debug.state.selected), last - 1);
      } finally {
        await view.close();
      }
    });

    it('lists token types, finds the tokens of a unit, and filters by active range', async () => {
      const view = await openView(browser, 'explorer', { theme: 'dark' });
      try {
        await view.send({ type: 'state', state: snapshot(analysis) });
        await view.page.evaluate(() => (window as unknown as TestWindow).__waitRender(1));
        const distinct = new Set(analysis.tokens.map((t) => t.id)).size;
        assert.equal(await view.page.locator('.types-table tr[data-id]').count(), distinct);
        assert.equal(await view.page.locator('.types-chart .type-row').count(), Math.min(40, distinct));

        await view.page.locator('vscode-tab-header').nth(1).click();
        const unit = 5;
        await view.page.locator('.unit-input').locator('input').fill(String(unit));
        const expected = analysis.tokens.map((_, t) => t).filter((t) => model.matrix(0).q(t, unit) >= ACTIVE_Q);
        await view.page.waitForFunction((n) => document.querySelectorAll('.unit-result .token-chip').length === Math.min(n, 300), expected.length);
        assert.match(await view.page.locator('.unit-summary').innerText(), new RegExp(`on for ${expected.length} of ${analysis.tokens.length}`));
        const dimmed = await view.page.locator('.token-strip .tok.dim').count();
        const rendered = await view.page.locator('.token-strip .tok').count();
        const renderedExpected = expected.filter((t) => t < rendered).length;
        assert.equal(rendered - dimmed, renderedExpected);
        await view.screenshot('explorer-unit-search');
      } finally {
        await view.close();
      }
    });

    it('scrubs to another checkpoint and diffs the masks', async () => {
      const view = await openView(browser, 'explorer', { theme: 'dark' });
      try {
        await view.send({ type: 'state', state: snapshot(analysis) });
        await view.page.evaluate(() => (window as unknown as TestWindow).__waitRender(1));
        await view.page.locator('vscode-tab-header').nth(2).click();
        const before = (await view.posted()).length;
        await view.page.locator('.scrub-prev').click();
        const req = (await view.waitForPosted('requestAnalysis', before)) as unknown as { requestId: number; checkpointDir: string };
        assert.match(req.checkpointDir, /step-000400$/);
        const older = makeAnalysis({ ...SMALL_SHAPE, seed: 99, step: 400, runDir: RUN_DIR }, sampleText(SMALL_SHAPE.tokens));
        await view.send({ type: 'scrubAnalysis', requestId: req.requestId, checkpointDir: req.checkpointDir, analysis: older });
        await view.page.waitForFunction(() => (window as unknown as TestWindow).ldlensExplorer.debug.model?.analysis.checkpoint.step === 400);
        assert.match(await view.page.locator('.scrub-label').innerText(), /step 400/);
        // Diff against step 500 (already known: no request needed).
        await view.page.locator('.compare-select').selectOption({ label: 'step 500' });
        await view.page.waitForSelector('.flips .site-table');
        const flips = await view.page.locator('.flips .site-table tr').nth(1).locator('td').allInnerTexts();
        const a = new AnalysisModel(analysis).matrix(0);
        const b = new AnalysisModel(older).matrix(0);
        let on = 0;
        let off = 0;
        for (let i = 0; i < a.data.length; i++) {
          const x = a.data[i]! >= ACTIVE_Q;
          const y = b.data[i]! >= ACTIVE_Q;
          if (!x && y) on++;
          if (x && !y) off++;
        }
        assert.deepEqual(flips.slice(1, 3), [on.toLocaleString('en-US'), off.toLocaleString('en-US')]);
        await view.screenshot('explorer-diff');
      } finally {
        await view.close();
      }
    });

    it('replays state after ready, follows live analyses and restores its view state', async () => {
      const view = await openView(browser, 'explorer', { theme: 'dark', state: { site: 2, selected: 7, pinned: [], tab: 0, live: true } });
      try {
        await view.send({ type: 'state', state: snapshot(analysis) });
        await view.page.evaluate(() => (window as unknown as TestWindow).__waitRender(1));
        assert.equal(await view.page.evaluate(() => (window as unknown as TestWindow).ldlensExplorer.debug.state.site), 2);
        assert.equal(await view.page.locator('.token-strip .tok.sel').getAttribute('data-i'), '7');
        // What a reload needs to redo the analysis (MaskExplorerPanel.revive reads it).
        const saved = (await view.page.evaluate(() => (window as unknown as TestWindow).__state)) as { restore: { checkpointDir: string; source: { text: string } } };
        assert.equal(saved.restore.checkpointDir, analysis.checkpoint.dir);
        assert.equal(saved.restore.source.text, sampleText(SMALL_SHAPE.tokens));
        const live = makeAnalysis({ ...SMALL_SHAPE, seed: 5, step: 600, runDir: RUN_DIR });
        await view.send({ type: 'liveAnalysis', analysis: live });
        await view.page.evaluate(() => (window as unknown as TestWindow).__waitRender(2));
        assert.match(await view.page.locator('.live-badge').innerText(), /live · step 600/);
        assert.match(await view.page.locator('.source-label').innerText(), /step 600/);
        await view.send({ type: 'selectToken', index: 123 });
        await view.page.waitForSelector('.token-strip .tok.sel[data-i="123"]');
      } finally {
        await view.close();
      }
    });

    it('exports valid CSV, JSON, SVG and PNG files', async () => {
      const view = await openView(browser, 'explorer', { theme: 'dark' });
      try {
        await view.send({ type: 'state', state: snapshot(analysis) });
        await view.page.evaluate(() => (window as unknown as TestWindow).__waitRender(1));
        const files: Record<string, { filename: string; data: string; encoding: string; requestId: number }> = {};
        for (const kind of ['csv', 'json', 'svg', 'png']) {
          const before = (await view.posted()).length;
          await view.page.locator(`.export-${kind}`).click();
          files[kind] = (await view.waitForPosted('export', before)) as never;
          keep(`explorer.${kind}`, files[kind]!.data, files[kind]!.encoding);
          await view.send({ type: 'exportResult', requestId: files[kind]!.requestId, path: `/tmp/out/${files[kind]!.filename}` });
        }
        const rows = parseCsv(files['csv']!.data);
        assert.equal(rows.length, analysis.tokens.length + 1);
        assert.equal(rows[0]!.length, 7 + analysis.sites[0]!.units);
        assert.deepEqual(JSON.parse(files['json']!.data).analysis, analysis);
        const svgOk = await view.page.evaluate((svg) => {
          const doc = new DOMParser().parseFromString(svg, 'image/svg+xml');
          return !doc.querySelector('parsererror') && doc.documentElement.nodeName === 'svg' && doc.querySelectorAll('image').length === 1;
        }, files['svg']!.data);
        assert.equal(svgOk, true);
        const png = Buffer.from(files['png']!.data, 'base64');
        assert.equal(files['png']!.encoding, 'base64');
        assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
        assert.ok(png.length > 2000);
        assert.match(await view.page.locator('.status-line').innerText(), /Saved \/tmp\/out\/.*\.png/);
        await noViolations(view);
      } finally {
        await view.close();
      }
    });

    // A split editor column (narrow) and a panel under the editor (short): no part runs over
    // another, the toolbar wraps, and the heatmap takes the width it is given.
    for (const [width, height, what] of [[420, 700, 'narrow'], [1000, 360, 'short']] as const) {
      it(`fits a ${what} panel (${width}×${height})`, async () => {
        const view = await openView(browser, 'explorer', { theme: 'dark', width, height });
        try {
          await view.send({ type: 'state', state: snapshot(analysis, { selectedToken: 3 }) });
          await waitForExplorer(view.page);
          await view.page.evaluate(() => (window as unknown as TestWindow).__nextFrame());
          const l = await explorerLayout(view.page);
          const b = l.boxes;
          assert.deepEqual(overlaps(b, ['.toolbar', '.token-strip', '.strip-legend', '.heat-pane', '.details', '.tabs', '.status-line']), [], 'overlapping parts');
          assert.deepEqual(l.toolbarOverflow, [], 'toolbar items outside the toolbar (it wraps)');
          // The legend stays inside the strip's section, under the strip.
          assert.ok(b['.strip-legend']!.y + b['.strip-legend']!.height <= b['.strip-section']!.y + b['.strip-section']!.height + 0.5, 'the legend inside its section');
          assert.ok(b['.token-strip']!.height >= 40, `the token strip shows some lines (${b['.token-strip']!.height} px)`);
          // The heatmap fills its pane (less the 40 px y axis and the pane's padding) ...
          const pane = b['.heat-pane']!;
          assert.ok(l.canvas.cssWidth >= pane.width - 40 - 16 - 1, `heatmap ${l.canvas.cssWidth} px wide in a ${pane.width} px pane`);
          assert.ok(l.canvas.cssHeight >= 120, `heatmap ${l.canvas.cssHeight} px high ${JSON.stringify(b)}`);
          // ... drawn at its own size (the ResizeObserver sized the backing store) ...
          assert.equal(l.canvas.width, Math.round(l.canvas.cssWidth * l.canvas.dpr));
          assert.equal(l.canvas.height, Math.round(l.canvas.cssHeight * l.canvas.dpr));
          // ... and when narrow the pane has the whole width (the details go under it).
          if (what === 'narrow') {
            assert.ok(pane.width >= l.viewport.width - 1, `the heat pane is ${pane.width} of ${l.viewport.width} px`);
            assert.ok(b['.details']!.y >= pane.y + pane.height - 1, 'the details under the heatmap');
          }
          await view.screenshot(`explorer-${what}-${width}x${height}`);
          await noViolations(view);
        } finally {
          await view.close();
        }
      });
    }

    for (const theme of ['dark', 'light'] as const) {
      it(`exports the view at half an editor's width with nothing clipped (${theme})`, async () => {
        // At ~550 px the heatmap is narrower than the title: the document must grow to hold it, and
        // tick labels at the axes' ends ("0") must not be cut.
        const view = await openView(browser, 'explorer', { theme, width: 550, height: 900 });
        try {
          await view.send({ type: 'state', state: snapshot(analysis) });
          await waitForExplorer(view.page);
          const files: Record<string, { filename: string; data: string; encoding: string; requestId: number }> = {};
          for (const kind of ['svg', 'png']) {
            const before = (await view.posted()).length;
            await view.page.locator(`.export-${kind}`).click();
            files[kind] = (await view.waitForPosted('export', before)) as never;
            keep(`explorer-narrow-${theme}.${kind}`, files[kind]!.data, files[kind]!.encoding);
            await view.send({ type: 'exportResult', requestId: files[kind]!.requestId, path: `/tmp/out/${files[kind]!.filename}` });
          }
          const title = await view.page.locator('.source-label').innerText();
          const svg = await svgClipping(view.page, files['svg']!.data);
          assert.deepEqual(svg.clipped, [], 'nothing drawn outside the viewBox');
          assert.ok(svg.texts.includes(title), `the whole title is in the SVG: ${title}`);
          assert.ok(svg.texts.some((t) => t.startsWith('emb · ') && /tokens 0–299 · strip: emb: fraction of units kept per token \(m ≥ 0\.5\) · cells: mask m, dark 0 … bright 1$/.test(t)), 'the whole subtitle, saying what the colours measure');
          assert.ok(svg.texts.filter((t) => t === '0').length >= 2, 'the 0 ticks of both axes');
          // The PNG is that SVG at 2×: the same layout, lossless.
          assert.deepEqual(pngSize(files['png']!.data), { width: svg.width * 2, height: svg.height * 2 });
          // Token types at this width: "mean ± std" with one decimal, each on one line.
          const cells = await view.page.evaluate(() =>
            [...document.querySelectorAll<HTMLElement>('.types-table tr[data-id] td.stat')].slice(0, 40).map((td) => ({ text: td.textContent ?? '', lines: td.getClientRects().length, h: td.getBoundingClientRect().height })),
          );
          assert.ok(cells.length > 0);
          for (const c of cells) assert.match(c.text, /^\d+\.\d ± \d+\.\d$/);
          assert.ok(Math.max(...cells.map((c) => c.h)) < 24, 'one line per cell');
          // The strip's colours spread over the site's range of kept fractions (not counts, which
          // follow window position at attention sites): the lowest gets no colour, the highest the strongest level.
          const levels = await view.page.evaluate(() => {
            const { model, state } = (window as unknown as TestWindow).ldlensExplorer.debug;
            const kept = model!.siteMasks(state.site).fraction!;
            return { min: Math.min(...kept), max: Math.max(...kept), legend: [...document.querySelectorAll('.strip-legend .legend-cell')].map((c) => c.textContent) };
          });
          assert.equal(levels.legend[0], levels.min.toFixed(2));
          assert.equal(levels.legend.at(-1), levels.max.toFixed(2));
          await noViolations(view);
        } finally {
          await view.close();
        }
      });
    }

    it('passes the checks the end-to-end suite runs inside VS Code', async () => {
      const view = await openView(browser, 'explorer', { theme: 'dark' });
      try {
        await view.send({ type: 'state', state: snapshot(analysis) });
        await waitForExplorer(view.page);
        assert.deepEqual(await heatmapMismatches(view.page, [[0, 0], [5, 9], [299, 63]]), []);
        const rows = await tokenDetails(view.page, 17);
        assert.equal(rows.length, model.sites.length);
        assert.equal(rows[2]![1], `${model.active(2)[17]} / ${model.sites[2]!.units}`);
        const done = exportVia(view.page, 'json');
        const req = (await view.waitForPosted('export', 0)) as unknown as { requestId: number };
        await view.send({ type: 'exportResult', requestId: req.requestId, path: '/tmp/x.json' });
        assert.equal(await done, 'Saved /tmp/x.json');
      } finally {
        await view.close();
      }
    });

    it('keeps a 20,000-token text virtualized', async () => {
      const view = await openView(browser, 'explorer', { theme: 'dark' });
      try {
        await loadFixtures(view.page);
        await view.page.evaluate(() => {
          const w = window as unknown as TestWindow;
          const a = w.ldlensFixtures.makeAnalysis({ tokens: 20_000, nEmbd: 32, nHead: 2, blockSize: 32, nLayer: 2 });
          window.postMessage({ type: 'analysis', analysis: a, source: { uri: 'file:///big.txt', runDir: '/runs/x' } }, '*');
          return w.__waitRender(1);
        });
        const rendered = await view.page.evaluate(() => (window as unknown as TestWindow).ldlensExplorer.debug.strip.renderedCount);
        assert.ok(rendered < 5000, `only chunks near the viewport hold spans (${rendered})`);
        await view.page.locator('.token-strip').evaluate((e) => e.scrollTo(0, e.scrollHeight));
        await view.page.waitForFunction(() => !!document.querySelector('.token-strip span[data-i="19999"]'));
      } finally {
        await view.close();
      }
    });
  });

  describe('Run charts', () => {
    const runs = [makeRun('tiny-learned', { status: 'running', step: 400, totalSteps: 800 }), makeRun('baseline', { dropoutKind: 'standard', bestValLoss: 1.61 })];

    it('lists runs, overlays their charts and updates while a run trains', async () => {
      const view = await openView(browser, 'charts', { theme: 'dark', width: 420, height: 1500 });
      try {
        await view.send({ type: 'state', state: { runs, selected: ['tiny-learned', 'baseline'] } });
        await sendMetrics(view, 'tiny-learned', 400);
        await sendMetrics(view, 'baseline', 500, { learned: false, seed: 9 });
        await view.page.waitForFunction(() => (window as unknown as TestWindow).__renders >= 2);
        assert.equal(await view.page.locator('.runs-table tr[data-run]').count(), 2);
        assert.match(await view.page.locator('tr[data-run="tiny-learned"]').innerText(), /running[\s\S]*400\/800/);
        assert.equal(await view.page.locator('[data-chart="loss"] g.series').count(), 6, '3 lines × 2 runs');
        assert.match(await view.page.locator('[data-chart="loss"] .chart-legend').innerText(), /tiny-learned[\s\S]*baseline[\s\S]*validation/);
        await view.screenshot('charts-dark');

        // Live: 100 more steps stream in; the x axis grows to them.
        const more = makeMetrics(500).filter((r) => r.step >= 400);
        for (let i = 0; i < more.length; i += 7) await view.send({ type: 'metric', runId: 'tiny-learned', records: more.slice(i, i + 7) });
        await waitForChartedSteps(view.page, 'tiny-learned', 500);
        assert.equal(await chartedSteps(view.page, 'tiny-learned'), 500);
        await view.page.evaluate(() => new Promise((r) => setTimeout(r, 400)));
        const lastPath = await view.page.locator('[data-chart="loss"] g.series[data-key="tiny-learned/loss"] path.raw').getAttribute('d');
        assert.ok(lastPath && lastPath.length > 100);

        // Hover: the tooltip shows the exact value at the nearest step.
        const target = 250;
        const p = await view.page.evaluate((step) => (window as unknown as TestWindow).ldlensCharts.debug.charts[0]!.pointFor(step), target);
        await view.page.mouse.move(p.x, p.y);
        await view.page.waitForSelector('[data-chart="loss"] g.tooltip:not(.hidden)');
        const text = await view.page.locator('[data-chart="loss"] g.tooltip').textContent();
        const at = Number(/step (\d+)/.exec(text ?? '')![1]);
        assert.ok(Math.abs(at - target) <= 2, `step ${at}`);
        const exact = (at < 400 ? makeMetrics(400) : makeMetrics(500)).find((r) => r.type === 'step' && r.step === at) as { loss: number };
        assert.ok(text!.includes(String(Number(exact.loss.toPrecision(4)))), `${text} has ${exact.loss}`);
        await view.screenshot('charts-hover');

        // Brush zoom on the step axis, then reset.
        const a = await view.page.evaluate(() => (window as unknown as TestWindow).ldlensCharts.debug.charts[0]!.pointFor(100));
        const b = await view.page.evaluate(() => (window as unknown as TestWindow).ldlensCharts.debug.charts[0]!.pointFor(200));
        await view.page.mouse.move(a.x, a.y);
        await view.page.mouse.down();
        await view.page.mouse.move(b.x, b.y, { steps: 4 });
        await view.page.mouse.up();
        await view.page.waitForFunction(() => (window as unknown as TestWindow).ldlensCharts.debug.state.xDomain !== null);
        const domain = await view.page.evaluate(() => (window as unknown as TestWindow).ldlensCharts.debug.state.xDomain!);
        assert.ok(Math.abs(domain[0] - 100) < 3 && Math.abs(domain[1] - 200) < 3, String(domain));
        await view.screenshot('charts-zoomed');
        await view.page.locator('.reset-zoom').click();
        await view.page.waitForFunction(() => (window as unknown as TestWindow).ldlensCharts.debug.state.xDomain === null);

        // Log scale is per chart, view state, and told to the host (which replays it).
        const before = (await view.posted()).length;
        await view.page.locator('[data-chart="loss"] .log-toggle').click();
        await view.page.waitForFunction(() => ((window as unknown as TestWindow).__state as { logScale: string[] }).logScale.join() === 'loss');
        assert.deepEqual(await view.waitForPosted('logScale', before), { type: 'logScale', charts: ['loss'] });
        assert.equal(await view.page.locator('[data-chart="loss"] .log-toggle').getAttribute('aria-pressed'), 'true');
        assert.equal(await view.page.locator('[data-chart="terms"] .log-toggle').getAttribute('aria-pressed'), 'false');
        assert.equal(await view.page.locator('[data-chart="loss"]').evaluate((d) => (d as HTMLDetailsElement).open), true, 'the toggle does not fold the chart');
        // Log ticks: the loss chart's y axis labels are no longer evenly spaced in value.
        await view.page.waitForFunction(() => (window as unknown as TestWindow).__renders > 0);
        const yTicks = await view.page.locator('[data-chart="loss"] g.y-axis .tick').count();
        assert.ok(yTicks > 0);
        await view.send({ type: 'state', state: { runs, selected: ['tiny-learned', 'baseline'], logScale: ['terms', 'l1'] } });
        await view.page.waitForFunction(() => ((window as unknown as TestWindow).__state as { logScale: string[] }).logScale.join() === 'terms,l1');
        // the toggles follow on the next render (the state is saved first)
        await view.page.waitForFunction(() => document.querySelector('[data-chart="loss"] .log-toggle')?.getAttribute('aria-pressed') === 'false', undefined, { timeout: 5000 }).catch(() => undefined);
        assert.equal(await view.page.locator('[data-chart="loss"] .log-toggle').getAttribute('aria-pressed'), 'false');
        assert.equal(await view.page.locator('[data-chart="terms"] .log-toggle').getAttribute('aria-pressed'), 'true');
        await noViolations(view);
      } finally {
        await view.close();
      }
    });

    it('keeps run names readable in a side-bar-wide view', async () => {
      const view = await openView(browser, 'charts', { theme: 'dark', width: 300, height: 700 });
      try {
        const named = [
          makeRun('20261128-165338-journey', { name: 'journey', status: 'running', step: 30, totalSteps: 150 }),
          makeRun('20261127-101500-long', { name: 'shakespeare-char-long-name', step: 12000, totalSteps: 12000 }),
        ];
        await view.send({ type: 'state', state: { runs: named, selected: [] } });
        await view.page.waitForSelector('.runs-table tr[data-run]');
        const titles = await view.page.evaluate(() =>
          [...document.querySelectorAll<HTMLElement>('.runs-table .run-title')].map((t) => ({ text: t.textContent, width: t.clientWidth, scroll: t.scrollWidth })),
        );
        // The short name shows whole; the long one wraps (no character hidden sideways).
        for (const t of titles) assert.ok(t.scroll <= t.width + 1 && t.width >= 80, `run name "${t.text}" gets room: ${t.width}px`);
        assert.match(await view.page.locator('tr[data-run="20261127-101500-long"]').innerText(), /completed[\s\S]*12k\/12k/);
        assert.match((await view.page.locator('tr[data-run="20261127-101500-long"]').getAttribute('title')) ?? '', /^shakespeare-char-long-name\n/);
        await view.screenshot('charts-sidebar-runs');
        await noViolations(view);
      } finally {
        await view.close();
      }
    });

    it('tells the host which runs to show', async () => {
      // A saved state from before per-chart log scales: `log: true` meant every chart.
      const view = await openView(browser, 'charts', { theme: 'light', width: 420, height: 900, state: { selected: ['tiny-learned'], log: true } });
      try {
        await view.send({ type: 'state', state: { runs, selected: ['tiny-learned'] } });
        await sendMetrics(view, 'tiny-learned', 300);
        await view.page.waitForFunction(() => (window as unknown as TestWindow).__renders >= 1);
        const before = (await view.posted()).length;
        await view.page.locator('tr[data-run="baseline"] .run-name').click();
        assert.deepEqual(await view.waitForPosted('selectRuns', before), { type: 'selectRuns', runIds: ['tiny-learned', 'baseline'] });
        assert.equal(await view.page.locator('[data-chart="entropy"] .log-toggle').getAttribute('aria-pressed'), 'true');
        await view.screenshot('charts-light');
      } finally {
        await view.close();
      }
    });

    it('moves the runs table with the steps, keeping its rows (a click in between is not lost)', async () => {
      const view = await openView(browser, 'charts', { theme: 'dark', width: 420, height: 900 });
      try {
        await view.send({ type: 'state', state: { runs, selected: ['tiny-learned'] } });
        const row = view.page.locator('tr[data-run="tiny-learned"]');
        await row.waitFor();
        await row.evaluate((tr) => ((tr as HTMLElement & { original?: true }).original = true));
        // The host re-sends the runs as live records move them (chartsView runsMoved).
        await view.send({ type: 'runs', runs: [{ ...runs[0]!, step: 409, bestValLoss: 1.234 }, runs[1]!] });
        await view.page.waitForFunction(() => /409\/800/.test(document.querySelector('tr[data-run="tiny-learned"] .run-steps')?.textContent ?? ''));
        assert.match(await row.innerText(), /running[\s\S]*409\/800[\s\S]*1\.234/);
        assert.equal(await row.evaluate((tr) => (tr as HTMLElement & { original?: true }).original === true), true, 'the same row, updated in place');
        await view.send({ type: 'runs', runs: [{ ...runs[0]!, status: 'completed', step: 800 }, runs[1]!] });
        await view.page.waitForFunction(() => document.querySelector('tr[data-run="tiny-learned"] .status')?.classList.contains('status-completed'));
        assert.match(await row.innerText(), /completed[\s\S]*800\/800/);
        // A new run: the table is rebuilt with it.
        await view.send({ type: 'runs', runs: [...runs, makeRun('third')] });
        await view.page.waitForSelector('tr[data-run="third"]');
        assert.equal(await view.page.locator('.runs-table tr[data-run]').count(), 3);
        await noViolations(view);
      } finally {
        await view.close();
      }
    });

    it('exports CSV, SVG and PNG', async () => {
      const view = await openView(browser, 'charts', { theme: 'dark', width: 420, height: 900 });
      try {
        const records = makeMetrics(200);
        await view.send({ type: 'state', state: { runs, selected: ['tiny-learned'] } });
        await sendMetrics(view, 'tiny-learned', 200);
        await view.page.waitForFunction(() => (window as unknown as TestWindow).__renders >= 1);
        const files: Record<string, { data: string; requestId: number; encoding: string }> = {};
        for (const kind of ['csv', 'svg', 'png']) {
          const before = (await view.posted()).length;
          await view.page.locator(`.export-${kind}`).click();
          files[kind] = (await view.waitForPosted('export', before)) as never;
          keep(`charts.${kind}`, files[kind]!.data, files[kind]!.encoding);
          await view.send({ type: 'exportResult', requestId: files[kind]!.requestId, cancelled: true });
        }
        const rows = parseCsv(files['csv']!.data);
        const expectedRows = records.reduce((n, r) => n + (r.type === 'stats' ? r.sites.length : 1), 0);
        assert.equal(rows.length - 1, expectedRows);
        // Exact values, from the columns the view received.
        const header = rows[0]!;
        const step57 = rows.find((r) => r[header.indexOf('type')] === 'step' && r[header.indexOf('step')] === '57')!;
        const want = records.find((r) => r.type === 'step' && r.step === 57) as { loss: number; time: number };
        assert.equal(Number(step57[header.indexOf('loss')]), want.loss);
        assert.equal(Number(step57[header.indexOf('time')]), want.time);
        const svg = await view.page.evaluate((text) => {
          const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
          return { error: !!doc.querySelector('parsererror'), paths: doc.querySelectorAll('path.raw').length };
        }, files['svg']!.data);
        assert.equal(svg.error, false);
        assert.ok(svg.paths >= 8, `${svg.paths} lines`);
        const png = Buffer.from(files['png']!.data, 'base64');
        assert.equal(png.toString('latin1', 1, 4), 'PNG');
        assert.match(await view.page.locator('.status-line').innerText(), /cancelled/);
        await noViolations(view);
      } finally {
        await view.close();
      }
    });
  });
});
