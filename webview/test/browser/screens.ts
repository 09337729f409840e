// Screenshots of the webviews at the sizes VS Code gives them (half an editor for the Mask
// Explorer, the default side-bar width for the Run charts), in light and dark, plus the explorer's
// exported SVG and PNG: for looking at, not asserting. Writes to test-output/webview/screens/.
//   node --import tsx webview/test/browser/screens.ts
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ExplorerSnapshot } from '@common/webviewProtocol';
import { makeAnalysis, makeCheckpoints, makeRun, SMALL_SHAPE } from '../fixtures';
import { buildWebview, launch, loadFixtures, openView, OUTPUT_DIR, type TestWindow } from './harness';
import type { ThemeName } from './themes';

const DIR = join(OUTPUT_DIR, 'screens');

async function main(): Promise<void> {
mkdirSync(DIR, { recursive: true });
buildWebview();
const browser = await launch();
const analysis = makeAnalysis(SMALL_SHAPE);
const themes = (process.argv[2] ? process.argv[2].split(',') : ['dark', 'light']) as ThemeName[];

try {
  for (const theme of themes) {
    // Mask Explorer at half an editor (≈ 550 px), a token selected and two pinned.
    const ex = await openView(browser, 'explorer', { theme, width: 550, height: 900 });
    const snap: ExplorerSnapshot = {
      analysis,
      source: { uri: 'file:///work/sample.txt', runDir: '/runs/20261128-165338-journey' },
      checkpoints: makeCheckpoints('/runs/20261128-165338-journey', [30, 60, 90, 120, 150]),
      selectedToken: null,
      live: false,
    };
    await ex.send({ type: 'state', state: snap });
    await ex.page.evaluate(() => (window as unknown as TestWindow).__waitRender(1));
    await ex.page.locator('.token-strip span[data-i="3"]').click();
    await ex.page.locator('.token-strip span[data-i="3"]').click({ modifiers: ['Alt'] });
    await ex.page.locator('.token-strip span[data-i="20"]').click({ modifiers: ['Alt'] });
    await ex.page.mouse.move(2, 890);
    await ex.page.evaluate(() => (window as unknown as TestWindow).__nextFrame());
    await ex.page.waitForTimeout(200);
    await ex.screenshot(`screens/explorer-half-${theme}`);
    const selection = await ex.page.evaluate(() => String(window.getSelection()));
    if (selection) console.log(`explorer ${theme}: text selected after clicks: ${JSON.stringify(selection.slice(0, 60))}`);
    await ex.page.locator('.tabs').screenshot({ path: join(DIR, `explorer-token-types-${theme}.png`) });
    await ex.page.locator('.types-chart').scrollIntoViewIfNeeded();
    await ex.page.locator('.tabs').screenshot({ path: join(DIR, `explorer-token-types-chart-${theme}.png`) });
    await ex.page.setViewportSize({ width: 1100, height: 900 });
    await ex.page.waitForTimeout(300);
    await ex.page.locator('.tabs').screenshot({ path: join(DIR, `explorer-token-types-wide-${theme}.png`) });
    await ex.page.setViewportSize({ width: 550, height: 900 });
    await ex.page.waitForTimeout(300);
    for (const kind of ['svg', 'png'] as const) {
      const before = (await ex.posted()).length;
      await ex.page.locator(`.export-${kind}`).click();
      const file = (await ex.waitForPosted('export', before)) as unknown as { data: string; encoding: string; requestId: number };
      writeFileSync(join(DIR, `explorer-export-${theme}.${kind}`), Buffer.from(file.data, file.encoding === 'base64' ? 'base64' : 'utf8'));
      await ex.send({ type: 'exportResult', requestId: file.requestId, path: `/tmp/x.${kind}` });
    }
    console.log(`explorer ${theme}: CSP ${JSON.stringify(await ex.cspViolations())}, errors ${JSON.stringify(ex.consoleErrors)}`);
    await ex.close();

    // Run charts in the side bar (≈ 300 px).
    const ch = await openView(browser, 'charts', { theme, width: 300, height: 700 });
    const runs = [
      makeRun('20261128-165338-journey', { name: 'journey', status: 'running', step: 30, totalSteps: 150 }),
      makeRun('20261127-101500-shakespeare-char-long-name', { name: 'shakespeare-char-long-name', dropoutKind: 'standard', bestValLoss: 1.6123, step: 12000, totalSteps: 12000 }),
    ];
    await ch.send({ type: 'state', state: { runs, selected: [runs[0]!.id, runs[1]!.id] } });
    await loadFixtures(ch.page);
    for (const [i, r] of runs.entries()) {
      await ch.page.evaluate(
        ({ runId, seed }) => {
          const f = (window as unknown as TestWindow).ldlensFixtures;
          window.postMessage({ type: 'metrics', runId, columns: f.toColumns(f.makeMetrics(150, { seed })), replace: true }, '*');
        },
        { runId: r.id, seed: i + 3 },
      );
    }
    await ch.page.waitForTimeout(400);
    await ch.screenshot(`screens/charts-sidebar-${theme}`);
    console.log(`charts ${theme}: CSP ${JSON.stringify(await ch.cspViolations())}, errors ${JSON.stringify(ch.consoleErrors)}`);
    await ch.close();
  }
} finally {
  await browser.close();
}
}

void main();
