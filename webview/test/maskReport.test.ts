// Issue 13 in the Mask Explorer, in a real browser (headless Chromium, as browser.test.ts): the
// mask report tab (trained vs chance per site, requested through the host), the decidedness
// colouring and the chance line of the chosen site, with and without the new analysis fields.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { AnalysisModel } from '../src/common/masks';
import { figure, outsideChance, REPORT_COLUMNS } from '../src/explorer/reportView';
import type { AnalysisResult, ExplorerSnapshot } from '@common/webviewProtocol';
import { buildWebview, chromiumAvailable, launch, loadFixtures, openView, type TestWindow } from './browser/harness';
import { makeAnalysis, makeCheckpoints, makeReport, makeRun, SMALL_SHAPE } from './fixtures';

const skip = chromiumAvailable() ? false : 'no Chromium at /usr/bin/chromium (set CHROMIUM_PATH)';
const RUN_DIR = '/runs/tiny-learned';

function snapshot(analysis: AnalysisResult): ExplorerSnapshot {
  return { analysis, source: { uri: 'file:///work/sample.txt', runDir: RUN_DIR }, checkpoints: makeCheckpoints(RUN_DIR, [100, 500]), selectedToken: null, live: false };
}

describe('mask report figures (no browser)', () => {
  it('calls a trained figure outside chance only beyond 2 sd', () => {
    assert.equal(outsideChance(0.48, 0.19, 0.03), 'above');
    assert.equal(outsideChance(0.24, 0.19, 0.03), null);
    assert.equal(outsideChance(0.1, 0.19, 0.03), 'below');
    assert.equal(outsideChance(0.2, 0.2, 0), null);
    assert.equal(outsideChance(NaN, 0.2, 0.1), null);
  });
});

describe('Mask Explorer and Run charts: report, decidedness, chance (real browser)', { skip, timeout: 180_000 }, () => {
  let browser: Browser;
  before(async () => {
    buildWebview();
    browser = await launch();
  });
  after(async () => browser?.close());

  it('requests the report of the shown checkpoint and shows each figure next to chance', async () => {
    const analysis = makeAnalysis(SMALL_SHAPE);
    const view = await openView(browser, 'explorer', { theme: 'dark' });
    try {
      await view.send({ type: 'state', state: snapshot(analysis) });
      await view.page.evaluate(() => (window as unknown as TestWindow).__waitRender(1));
      await view.page.locator('vscode-tab-header', { hasText: 'Mask report' }).click();
      const before = (await view.posted()).length;
      await view.page.locator('.report-button').click();
      const req = (await view.waitForPosted('requestReport', before)) as unknown as { requestId: number; checkpointDir: string };
      assert.equal(req.checkpointDir, analysis.checkpoint.dir);
      assert.match(await view.page.locator('.report-status').innerText(), /computing the report at step 500/);

      const report = makeReport(SMALL_SHAPE, 500);
      await view.send({ type: 'report', requestId: req.requestId, checkpointDir: req.checkpointDir, report });
      await view.page.waitForSelector('.report-table tbody tr');
      const rows = view.page.locator('.report-table tbody tr');
      assert.equal(await rows.count(), report.sites.length);
      assert.deepEqual(await view.page.locator('.report-summary li').allInnerTexts(), report.summary);
      assert.match(await view.page.locator('.report-status').innerText(), /step 500 over 300 tokens; chance: 5 draws/);

      const tokenCol = REPORT_COLUMNS.findIndex((c) => c.key === 'eta2.token');
      for (const [i, site] of report.sites.entries()) {
        const cells = rows.nth(i).locator('td');
        const cell = cells.nth(1 + tokenCol);
        const t = figure(site.trained, 'eta2.token');
        const c = figure(site.chance, 'eta2.token');
        const sd = figure(site.chanceSd, 'eta2.token');
        assert.equal(await cell.locator('.trained').innerText(), t.toFixed(2) + (outsideChance(t, c, sd) === 'above' ? ' ▲' : ''));
        assert.equal(await cell.locator('.chance').innerText(), `chance ${c.toFixed(2)} ± ${sd.toFixed(2)}`);
        const cls = (await cell.getAttribute('class')) ?? '';
        assert.equal(/\boutside above\b/.test(cls), outsideChance(t, c, sd) === 'above', `${site.site}: ${cls}`);
        assert.equal(await cells.last().innerText(), site.verdict);
        if (site.kind === 'attention') assert.equal(await cells.nth(1 + REPORT_COLUMNS.findIndex((x) => x.key === 'alwaysOn')).innerText(), 'n/a');
      }
      // The MLP sites of the fixture carry token structure above chance; the others do not.
      const above = await view.page.locator('.report-table td.outside.above').count();
      assert.ok(above >= 2, `${above} cells above chance`);
      await view.screenshot('explorer-mask-report');

      // A failed request says why.
      const next = (await view.posted()).length;
      await view.page.locator('.report-button').click();
      const req2 = (await view.waitForPosted('requestReport', next)) as unknown as { requestId: number; checkpointDir: string };
      await view.send({ type: 'report', requestId: req2.requestId, checkpointDir: req2.checkpointDir, error: 'the engine has no report request' });
      await view.page.waitForFunction(() => /No report: the engine has no report request/.test(document.querySelector('.report-status')?.textContent ?? ''));
      assert.deepEqual(view.consoleErrors, []);
    } finally {
      await view.close();
    }
  });

  it('colours the cells by decidedness on demand and says so; shows the site next to chance', async () => {
    const analysis = makeAnalysis(SMALL_SHAPE);
    const view = await openView(browser, 'explorer', { theme: 'dark' });
    try {
      await view.send({ type: 'state', state: snapshot(analysis) });
      await view.page.evaluate(() => (window as unknown as TestWindow).__waitRender(1));
      assert.match(await view.page.locator('.heat-legend').innerText(), /colour: mask m/);
      assert.match(await view.page.locator('.site-chance').innerText(), /emb over this text: mean kept fraction [\d.]+ \(chance [\d.]+, sd over tokens [\d.]+\) · mean decidedness \|2m − 1\| [\d.]+ \(chance/);
      await view.page.locator('.colour-select').selectOption('decided');
      await view.page.evaluate(() => (window as unknown as TestWindow).__nextFrame());
      assert.match(await view.page.locator('.heat-legend').innerText(), /decidedness \|2m − 1\|, dark 0 \(m = 0\.5\)/);
      const bad = await view.page.evaluate(() => {
        const w = window as unknown as TestWindow;
        const { heatmap, model, palette } = w.ldlensExplorer.debug;
        const m = model!.matrix(0);
        const ctx = heatmap.canvas.getContext('2d')!;
        const rect = heatmap.canvas.getBoundingClientRect();
        const out: string[] = [];
        for (const [t, u] of [[0, 0], [12, 5], [150, 63], [77, 40]] as [number, number][]) {
          const c = heatmap.cellCenter(t, u)!;
          const px = ctx.getImageData(Math.floor(c.x - rect.left), Math.floor(c.y - rect.top), 1, 1).data;
          const want = palette.heat[Math.abs(2 * m.q(t, u) - 255)]!;
          const got = (px[0]! | (px[1]! << 8) | (px[2]! << 16) | (255 << 24)) >>> 0;
          if (got !== want) out.push(`${t},${u}`);
        }
        return out;
      });
      assert.deepEqual(bad, []);
      // The strip paints kept fractions: at an attention site they do not ramp with window position.
      const model = new AnalysisModel(analysis);
      assert.ok(model.sites[1]!.kind === 'attention');
      await view.page.locator('.site-select').selectOption('1');
      assert.match(await view.page.locator('.strip-legend').innerText(), /fraction of causal keys kept per token/);
    } finally {
      await view.close();
    }
  });

  it('says what an older analysis lacks instead of inventing it', async () => {
    const view = await openView(browser, 'explorer', { theme: 'light' });
    try {
      await view.send({ type: 'state', state: snapshot(makeAnalysis({ ...SMALL_SHAPE, contract: false })) });
      await view.page.evaluate(() => (window as unknown as TestWindow).__waitRender(1));
      const line = await view.page.locator('.site-chance').innerText();
      assert.match(line, /no decidedness in this analysis \(older engine\)/);
      assert.match(line, /no chance baseline in this analysis \(older engine\)/);
      assert.deepEqual(view.consoleErrors, []);
    } finally {
      await view.close();
    }
  });

  it('charts report records (trained vs chance per site) and marks stuck sites in the run charts', async () => {
    const view = await openView(browser, 'charts', { theme: 'dark', width: 420, height: 2400 });
    try {
      await view.send({ type: 'state', state: { runs: [makeRun('tiny-learned')], selected: ['tiny-learned'] } });
      await loadFixtures(view.page);
      await view.page.evaluate(() => {
        const f = (window as unknown as TestWindow).ldlensFixtures;
        window.postMessage({ type: 'metrics', runId: 'tiny-learned', columns: f.toColumns(f.makeMetrics(450, { reports: true })), replace: true }, '*');
      });
      await view.page.waitForFunction(() => (window as unknown as TestWindow).__renders >= 1);
      await view.page.waitForSelector('[data-chart="reportEta2"] g.series');
      // 7 sites × (trained, chance).
      assert.equal(await view.page.locator('[data-chart="reportEta2"] g.series').count(), 14);
      assert.ok((await view.page.locator('[data-chart="reportEta2"] path.band').count()) >= 7, 'chance drawn with its ± sd band');
      const legend = await view.page.locator('[data-chart="reportEta2"] .chart-legend').innerText();
      assert.match(legend, /chance \(untrained A\/B\) ± sd/);
      assert.match(legend, /L1 mlp · stuck at 1 \(drops nothing\)/);
      assert.match(await view.page.locator('[data-chart="reportDecided"] .chart-legend').innerText(), /trained/);
      await view.screenshot('charts-mask-report');
      // A run without report records: the chart says so.
      await view.page.evaluate(() => {
        const f = (window as unknown as TestWindow).ldlensFixtures;
        window.postMessage({ type: 'metrics', runId: 'tiny-learned', columns: f.toColumns(f.makeMetrics(120)), replace: true }, '*');
      });
      await view.page.waitForFunction(() => /no mask reports/.test(document.querySelector('[data-chart="reportEta2"] .chart-legend')?.textContent ?? ''));
      assert.deepEqual(view.consoleErrors, []);
    } finally {
      await view.close();
    }
  });
});
