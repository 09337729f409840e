// The scenarios, in order (later ones use the run the training scenario made).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, type Session, findDescendants, heatmapPixels, sleep, waitFor } from './driver';

export interface Ctx {
  workspace: string;
  log: (m: string) => void;
}

/** Thrown by a scenario that cannot run on this machine: counted and printed as skipped, with the reason. */
export class Skip extends Error {}

export interface Scenario {
  name: string;
  /** Later scenarios cannot run without this one. */
  critical?: boolean;
  run(s: Session, ctx: Ctx): Promise<void>;
}

/** Model and schedule small enough for 2 cores: the tiny preset, narrower, a short run. */
const FAST = {
  model: { nEmbd: 32, nHead: 2, blockSize: 32, nLayer: 2 },
  train: { batchSize: 8, checkpointInterval: 20, evalInterval: 20, evalBatches: 2, statsInterval: 10 },
};

export function userSettings(steps = 100): Record<string, unknown> {
  return {
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'workbench.enableExperiments': false,
    'workbench.colorTheme': 'Default Dark Modern',
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'security.workspace.trust.enabled': false,
    'editor.hover.delay': 200,
    'editor.minimap.enabled': false,
    'chat.commandCenter.enabled': false,
    'ldlens.engine.backend': 'wasm',
    'ldlens.training.overrides': { ...FAST, train: { ...FAST.train, steps } },
  };
}

export function prepareWorkspace(ws: string): void {
  mkdirSync(ws, { recursive: true });
  const shakespeare = join(ROOT, '../shared/data/tinyshakespeare.txt');
  const corpus = existsSync(shakespeare) ? readFileSync(shakespeare, 'utf8').slice(0, 12_000) : 'the cat sat on the mat.\n'.repeat(500);
  writeFileSync(join(ws, 'corpus.txt'), corpus);
  // A document analyzed only by the scenario that kills the idle engine.
  writeFileSync(
    join(ws, 'lost.txt'),
    ['Second Citizen:', 'We are accounted poor citizens, the patricians good.', 'What authority surfeits on would relieve us.', ''].join('\n'),
  );
  // Tabs, CRLF line ends, an emoji (not in the vocabulary: skipped) and a combining accent.
  writeFileSync(
    join(ws, 'sample.txt'),
    ['First Citizen:', '\tBefore we proceed any further, hear me speak.', 'All:', '\tSpeak, speak. 😀 Cafe\u0301 citizens!', 'First Citizen:', 'You are all resolved rather to die than to famish?', ''].join('\r\n'),
  );
}

/**
 * long.txt for the visible-range-first scenario: 3,000 short lines (~55k characters) from the
 * corpus, so that the whole-document pass takes seconds and the visible lines (±10) well under one.
 */
export function prepareLongDocument(ws: string): void {
  const src = readFileSync(join(ws, 'corpus.txt'), 'utf8').split('\n').map((l) => l.trim().slice(0, 20)).filter((l) => l.length > 3);
  const lines = Array.from({ length: 3000 }, (_, i) => src[i % src.length]);
  writeFileSync(join(ws, 'long.txt'), lines.join('\n') + '\n');
}

function runsDir(ws: string): string {
  return join(ws, '.ldlens/runs');
}

export function runDirs(ws: string): string[] {
  const d = runsDir(ws);
  return existsSync(d) ? readdirSync(d).map((n) => join(d, n)).filter((p) => existsSync(join(p, 'run.json'))) : [];
}

/** Train Model on the active file (`file`, its name), preset tiny, run `name`. */
export async function trainFromPalette(s: Session, name: string, file = 'corpus.txt'): Promise<void> {
  await s.palette('LearnedDropout: Train Model');
  await s.pick('Train Model (1/3)', 'Active file', `Active file: ${file}`);
  await s.pick('Train Model (2/3)', 'tiny');
  await s.input('Train Model (3/3)', name);
}

export const SCENARIOS: Scenario[] = [
  {
    name: 'smoke: workbench, palette commands, Run Charts view',
    critical: true,
    async run(s, { log }) {
      const title = await s.page.title();
      log(`  title: ${title}`);
      assert.match(title, /Extension Development Host/);
      await s.openFile('sample.txt', 'First Citizen');
      const rows = await s.palette('LearnedDropout:', false);
      await s.screenshot('palette');
      const want = ['Train Model', 'Analyze Document', 'Choose Layer and Site to Paint', 'Choose Metric to Paint', 'Sample Text', 'Select Checkpoint', 'Open Mask Explorer', 'Open Run Charts', 'Install GPU Backend', 'Show Engine Log', 'Resume Training'];
      const text = rows.join('\n');
      for (const w of want) assert.ok(text.includes(`LearnedDropout: ${w}`), `palette lists "LearnedDropout: ${w}"\n${text}`);
      assert.ok(!text.includes('Pin Token for Comparison'), 'hover-only commands stay out of the palette');
      await s.page.keyboard.press('Escape');
      await s.palette('LearnedDropout: Open Run Charts');
      await waitFor('the Run Charts view', async () => (await s.page.locator('.pane-header', { hasText: 'Run Charts' }).count()) > 0);
      await s.webviewFrame('body', 30_000);
      await sleep(1500);
      await s.screenshot('run-charts-view');
    },
  },
  {
    name: 'train a tiny model from the palette: status bar progress, streamed heatmap, one announcement',
    critical: true,
    async run(s, { workspace, log }) {
      await s.openFile('corpus.txt', 'First Citizen');
      await trainFromPalette(s, 'e2e-run');
      const status = await s.statusItem(/LD \d+\/100 · loss [\d.]+ · [\d.]+k? tok\/s/, 120_000);
      log(`  status bar: ${status}`);
      await s.notification(/Training e2e-run/, 10_000);
      await s.screenshot('training-progress');
      // At each checkpoint the engine re-analyzes the watched document: the heatmap appears in place.
      await waitFor('streamed heatmap in corpus.txt', async () => (await s.decorationColours()).length > 20, 120_000);
      await s.screenshot('training-streamed-heatmap');
      const done = await s.notification(/Training e2e-run finished: 100 steps, loss [\d.]+/, 240_000);
      log(`  ${done}`);
      assert.match(done, /Open Run Charts/);
      assert.match(done, /Analyze Document/);
      const after = await s.statusItem(/LD completed 100\/100/);
      log(`  status bar: ${after}`);
      await s.screenshot('training-finished');
      const [run] = runDirs(workspace);
      assert.ok(run, 'the run is stored under .ldlens/runs in the workspace');
      assert.ok(readdirSync(join(run, 'checkpoints')).some((c) => c.startsWith('step-')));
      await s.clickNotificationButton(/finished/, 'Open Run Charts');
      await waitFor('run charts with data', async () => {
        const f = await s.webviewFrame('svg', 20_000);
        return (await f.locator('svg path').count()) > 3;
      }, 60_000);
      await sleep(1000);
      await s.screenshot('run-charts-after-training');
    },
  },
  {
    name: 'analyze a document: decorations with computed colours, legend, layer switch',
    critical: true,
    async run(s, { log }) {
      await s.openFile('sample.txt', 'First Citizen');
      await s.palette('LearnedDropout: Analyze Document');
      const colours = await waitFor('heatmap decorations', async () => {
        const c = await s.decorationColours();
        return c.length > 50 ? c : undefined;
      }, 60_000);
      const distinct = new Set(colours);
      log(`  ${colours.length} painted elements, ${distinct.size} colours: ${[...distinct].slice(0, 8).join(' ')}`);
      assert.ok(distinct.size >= 3, 'several colour levels are used');
      const legend = await s.statusItem(/all layers .* [▁▂▃▄▅▆▇█]{8} /);
      log(`  legend: ${legend}`);
      await s.screenshot('analyzed-document');
      // Switch to one site: the picker previews, Enter keeps it.
      await s.palette('LearnedDropout: Choose Layer and Site to Paint');
      await s.pick('Choose Layer and Site', 'layer 1 · MLP');
      await s.statusItem(/layer 1 MLP kept fraction/);
      const after = await s.decorationColours();
      assert.ok(after.length > 50);
      assert.notDeepEqual(after, colours, 'the colours follow the site');
      await s.screenshot('layer-1-mlp');
    },
  },
  {
    name: 'hover a token: token and id, per-site figures, unit strip, type average, links',
    async run(s, { log }) {
      const text = await s.hover('proceed', 0, 2);
      log('  hover:\n' + text.split('\n').map((l) => '    ' + l).join('\n'));
      assert.match(text, /token \d+ of \d+ · id \d+/);
      assert.match(text, /L0 attn\s/);
      assert.match(text, /L1 mlp\s/);
      assert.match(text, /emb\s+. [\d.]+ \(\d+\/32\)/);
      assert.match(text, /Units at layer 1 · MLP/);
      assert.match(text, /[█░]{16}/);
      assert.match(text, /\d+ of 32 units on/);
      assert.match(text, /average for this token type/);
      assert.match(text, /Open in Mask Explorer/);
      assert.match(text, /Pin for comparison/);
      await sleep(600); // the hover fades in
      await s.screenshot('token-hover');
    },
  },
  {
    name: 'pin a token from its hover: the next hover compares with it; Unpin removes it',
    async run(s, { log }) {
      // The painted metric (layer 1 · MLP kept fraction, chosen above) of the first token ...
      const value = (hover: string) => Number(/kept fraction: ([\d.]+) ·/.exec(hover)?.[1]);
      const a = await s.hover('proceed', 0, 2); // "o"
      const va = value(a);
      assert.ok(Number.isFinite(va), `the hover shows the painted value\n${a}`);
      assert.doesNotMatch(a, /Pinned/);
      await s.page.locator('.monaco-hover:not(.hidden) a', { hasText: 'Pin for comparison' }).first().click();
      const msg = await s.statusItem(/pinned “o” for comparison in hovers/, 10_000);
      log(`  status bar: ${msg}`);
      await s.screenshot('token-pinned');
      // ... shows up in the hover of another token, with the difference.
      const b = await s.hover('further', 0, 1); // "u"
      const vb = value(b);
      const m = /Pinned o: ([\d.]+) \(this token ([+−])([\d.]+)\)/.exec(b);
      assert.ok(m, `the hover compares with the pinned token\n${b}`);
      log(`  hover of "u": ${m[0]} (u: ${vb}, o: ${va})`);
      assert.equal(Number(m[1]), va, 'the pinned value is the one its own hover showed');
      // Two-decimal fractions: the shown difference may differ from the difference of the shown values in the last digit.
      assert.ok(Math.abs((m[2] === '−' ? -1 : 1) * Number(m[3]) - (vb - va)) <= 0.0101, 'the difference is this token minus the pinned one');
      await sleep(600);
      await s.screenshot('hover-compares-with-pinned');
      await s.screenshotOf('.monaco-hover:not(.hidden)', 'hover-compares-with-pinned-closeup');
      // The layer × site table: each header sits over its column (same alignment as the body).
      const cols = await s.page.evaluate(() => {
        const table = document.querySelector('.monaco-hover:not(.hidden) table');
        if (!table) return null;
        const rows = Array.from(table.querySelectorAll('tr')).map((tr) =>
          Array.from(tr.querySelectorAll('th,td')).map((c) => {
            // The rectangle of the visible text (leading no-break spaces left out).
            const r = document.createRange();
            r.selectNodeContents(c);
            const walker = document.createTreeWalker(c, NodeFilter.SHOW_TEXT);
            for (let n = walker.nextNode(); n; n = walker.nextNode()) {
              const i = (n.textContent ?? '').search(/\S/);
              if (i >= 0) {
                r.setStart(n, i);
                break;
              }
            }
            const t = r.getBoundingClientRect();
            return { text: (c.textContent ?? '').trim(), tag: c.tagName, align: getComputedStyle(c).textAlign, tl: t.left, tr: t.right };
          }),
        );
        return rows;
      });
      assert.ok(cols && cols.length >= 3, 'the hover has the per-site table');
      log('  table: ' + cols.map((r) => r.map((c) => c.text || '·').join(' | ')).join(' / '));
      // With a chance baseline (engines after issue 13) each figure has its chance column.
      const heads = cols[0].map((c) => c.text);
      assert.ok(
        JSON.stringify(heads) === JSON.stringify(['site', 'kept', 'decided', 'm̄']) || JSON.stringify(heads) === JSON.stringify(['site', 'kept', 'chance', 'decided', 'chance', 'm̄', 'chance']),
        `headers ${heads.join(' | ')}`,
      );
      for (let j = 1; j < cols[0].length; j++) {
        // Right-aligned, headers and counts alike: the texts end at the same x.
        for (const row of cols) {
          assert.equal(row[j].align.replace('-webkit-', ''), 'right', `column ${j} is right-aligned (${row[j].tag} "${row[j].text}")`);
          assert.ok(Math.abs(row[j].tr - cols[0][j].tr) <= 1, `"${row[j].text}" ends under its header "${cols[0][j].text}" (${row[j].tr} vs ${cols[0][j].tr})`);
        }
        // Space between the columns: each header starts clear of the previous column's widest text.
        const prevRight = Math.max(...cols.map((r) => r[j - 1].tr));
        assert.ok(cols[0][j].tl - prevRight >= 8, `a gap before "${cols[0][j].text}" (${(cols[0][j].tl - prevRight).toFixed(1)} px)`);
      }
      // Every site's kept fraction has its count and denominator: attention's is heads (2) × the causal keys (≤ 32).
      for (const row of cols.slice(1)) assert.match(row[1].text, /^. [\d.]+ \(\d+\/\d+\)$/, `cell "${row[1].text}"`);
      const attnRow = cols.find((r) => r[0].text === 'L0 attn')!;
      const [, attnActive, attnOf] = /\((\d+)\/(\d+)\)/.exec(attnRow[1].text)!.map(Number);
      assert.ok(attnOf % 2 === 0 && attnOf >= 2 && attnOf <= 64 && attnActive <= attnOf, `attention ${attnRow[1].text}`);
      assert.match(b, /\*\*kept\*\* = fraction of units with m ≥ 0\.5 \(attention: of heads × causal keys\)|kept = fraction of units with m ≥ 0\.5 \(attention: of heads × causal keys\)/);
      // Unpin from the palette (it is there only while a token is pinned).
      await s.page.mouse.move(5, 400);
      await s.page.keyboard.press('Escape');
      await s.palette('LearnedDropout: Unpin Compared Token');
      const c = await s.hover('further', 0, 1);
      assert.doesNotMatch(c, /Pinned/, 'unpinned: no comparison');
      await s.page.mouse.move(5, 400);
      await s.page.keyboard.press('Escape');
    },
  },
  {
    name: 'the Mask Explorer opens from the hover with heatmap pixels',
    async run(s, { log }) {
      await s.hover('further', 0, 1);
      await s.page.locator('.monaco-hover:not(.hidden) a', { hasText: 'Open in Mask Explorer' }).first().click();
      await s.page.mouse.move(5, 400);
      await s.page.keyboard.press('Escape');
      const f = await s.webviewFrame('canvas.heatmap-cells', 60_000);
      const painted = await waitFor('heatmap pixels', async () => {
        const n = await heatmapPixels(f);
        return n > 100 ? n : undefined;
      }, 60_000);
      log(`  ${painted} painted heatmap pixels`);
      await sleep(1000);
      await s.screenshot('mask-explorer');
      await s.palette('View: Close All Editors');
    },
  },
  {
    name: 'visible range first: a long document is painted where it is scrolled to, then everywhere',
    async run(s, { workspace, log }) {
      // long.txt (prepareLongDocument, written before VS Code starts: Quick Open caches the file list).
      const all = readFileSync(join(workspace, 'long.txt'), 'utf8');
      const lines = all.split('\n').slice(0, -1);
      const total = all.length;
      s.writeUserSettings({ 'ldlens.analysis.visibleRangeFirst': 5000 });
      try {
        await sleep(1500); // VS Code picks up the settings file
        await s.openFile('long.txt', lines[0]);
        // Scroll to the middle: Go to Line 1500 (revealed in the centre).
        await s.page.keyboard.press('Control+G');
        await s.page.locator('.quick-input-widget .quick-input-box input').fill(':1500');
        await s.page.keyboard.press('Enter');
        const shown = await waitFor('line 1500 on screen', async () => {
          const n = await s.visibleLineNumbers();
          return n.includes(1500) ? n : undefined;
        }, 10_000);
        const lo = shown[0], hi = shown[shown.length - 1];
        log(`  long.txt: ${lines.length} lines, ${total} characters; lines ${lo}–${hi} on screen`);
        const logBefore = s.extensionLog().length;
        const newLog = () => s.extensionLog().slice(logBefore);
        const t0 = Date.now();
        await s.palette('LearnedDropout: Analyze Document');
        // The visible lines are painted while the whole-document pass is still running (its
        // progress notification says so and the whole pass has not logged yet).
        const first = await waitFor('decorations in the viewport while the whole document is analyzed', async () => {
          const dec = (await s.decorationColours()).length;
          if (dec < 20) return undefined;
          const toasts = (await s.page.locator('.notifications-toasts .notification-toast').allInnerTexts()).join(' ').replace(/\s+/g, ' ');
          return { dec, toasts, whole: /analyzed long\.txt: \d+ tokens/.test(newLog()), ms: Date.now() - t0 };
        }, 60_000, 100);
        log(`  first paint after ${first.ms} ms: ${first.dec} painted elements; notification "${first.toasts}"`);
        assert.ok(!first.whole, 'the viewport was painted before the whole document was analyzed');
        assert.match(first.toasts, /the whole document \([\d,]+ characters\)/, 'the whole-document pass is in progress');
        await s.screenshot('visible-range-painted-first');
        // Meanwhile the top of the document is not painted yet (only the visible lines ±10 were analyzed).
        await s.page.keyboard.press('Control+Home');
        await waitFor('line 1 on screen', async () => (await s.visibleLineNumbers()).includes(1), 5000, 50);
        await sleep(150);
        const topDuring = (await s.decorationColours()).length;
        const stillRunning = !/analyzed long\.txt: \d+ tokens/.test(newLog());
        log(`  top of the document during the whole pass: ${topDuring} painted elements (whole pass ${stillRunning ? 'still running' : 'already done'})`);
        if (stillRunning) assert.equal(topDuring, 0, 'only the visible range is painted before the whole pass ends');
        if (stillRunning) await s.screenshot('visible-range-top-not-yet');
        const whole = await waitFor('the whole-document pass', async () => /analyzed long\.txt: (\d+) tokens[^\n]*/.exec(newLog())?.[0], 90_000, 200);
        log(`  ${whole} (${Date.now() - t0} ms after the command)`);
        // The log: the visible range first, around the lines that were on screen, then the whole document.
        const text = newLog();
        const vis = /analyzed long\.txt lines (\d+)–(\d+) first \(the visible range\): (\d+) tokens in (\d+) ms/.exec(text);
        assert.ok(vis, `the visible range is analyzed first\n${text}`);
        log(`  ${vis[0]}`);
        assert.ok(text.indexOf(vis[0]) < text.indexOf(whole), 'visible range before the whole document');
        const [vlo, vhi, vtok] = [Number(vis[1]), Number(vis[2]), Number(vis[3])];
        assert.ok(vlo <= lo && vhi >= hi, `the analyzed range ${vlo}–${vhi} holds the lines on screen ${lo}–${hi}`);
        assert.ok(vhi - vlo < 200, 'only the visible lines and a margin');
        assert.ok(vtok * 10 < Number(/(\d+) tokens/.exec(whole)![1]), 'the first pass is a small part of the document');
        // The whole document ends up painted: top, middle and bottom.
        await waitFor('the top painted', async () => (await s.decorationColours()).length > 20, 10_000);
        await s.screenshot('visible-range-then-top-painted');
        await s.page.keyboard.press('Control+End');
        await waitFor('the last line on screen', async () => (await s.visibleLineNumbers()).includes(3000), 5000);
        await waitFor('the bottom painted', async () => (await s.decorationColours()).length > 20, 10_000);
        await s.screenshot('visible-range-then-bottom-painted');
      } finally {
        s.writeUserSettings();
        await s.palette('View: Close All Editors').catch(() => {});
      }
    },
  },
  {
    name: 'kill the engine mid-run, then Resume: the run completes with every step\'s metrics',
    async run(s, { workspace, log }) {
      await s.clearNotifications();
      await s.openFile('corpus.txt', 'First Citizen');
      const before = new Set(runDirs(workspace));
      await trainFromPalette(s, 'e2e-kill');
      // After the first checkpoint (step 20), well before the end (the status is polled every 100 ms).
      await s.statusItem(/LD (2[1-9]|[3-7]\d)\/100 · /, 180_000);
      const pids = findDescendants(s.serverPid!, ['dist/engine/cli.js', 'serve']);
      assert.equal(pids.length, 1, `one engine process (found ${pids.join(', ')})`);
      log(`  killing engine pid ${pids[0]}`);
      process.kill(pids[0], 'SIGKILL');
      const warn = await s.notification(/Training e2e-kill was interrupted at step \d+/, 30_000);
      log(`  ${warn}`);
      await s.statusItem(/LD interrupted/);
      await s.screenshot('engine-killed-interrupted');
      await waitFor('a new engine process', () => findDescendants(s.serverPid!, ['dist/engine/cli.js', 'serve']).filter((p) => p !== pids[0]).length === 1, 30_000);
      await s.clickNotificationButton(/interrupted/, 'Resume Training');
      await s.statusItem(/LD \d+\/100 · loss/, 60_000);
      await s.screenshot('resumed');
      await s.notification(/Training e2e-kill finished: 100 steps/, 300_000);
      await s.screenshot('resumed-run-finished');
      const run = runDirs(workspace).find((d) => !before.has(d))!;
      const steps = new Set(
        readFileSync(join(run, 'metrics.jsonl'), 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l))
          .filter((r) => r.type === 'step')
          .map((r) => r.step),
      );
      const missing = Array.from({ length: 100 }, (_, i) => i + 1).filter((i) => !steps.has(i));
      assert.deepEqual(missing, [], 'no step lost its metrics');
    },
  },
  {
    name: 'an analysis the engine lost (killed while idle): a hover says so, the document is analyzed again, masks come back',
    async run(s, { log }) {
      await s.openFile('lost.txt', 'Second Citizen');
      await s.palette('LearnedDropout: Analyze Document');
      await waitFor('heatmap decorations', async () => (await s.decorationColours()).length > 20, 60_000);
      const pids = findDescendants(s.serverPid!, ['dist/engine/cli.js', 'serve']);
      assert.equal(pids.length, 1, `one engine process (found ${pids.join(', ')})`);
      process.kill(pids[0], 'SIGKILL');
      await waitFor('a new engine process', () => findDescendants(s.serverPid!, ['dist/engine/cli.js', 'serve']).filter((p) => p !== pids[0]).length === 1, 30_000);
      // no token of lost.txt has been hovered: its masks were never fetched, and the analysis that
      // held them went with the killed engine
      const gone = await s.hover('patricians', 0, 2);
      log('  first hover after the restart:\n' + gone.split('\n').map((l) => '    ' + l).join('\n'));
      assert.match(gone, /no longer holds this analysis/);
      const back = await waitFor('a hover with masks again', async () => {
        const t = await s.hover('patricians', 0, 2);
        return /\d+ of \d+ units on/.test(t) ? t : undefined;
      }, 60_000, 1000);
      assert.doesNotMatch(back, /no longer holds/);
      await s.screenshot('hover-after-engine-restart');
    },
  },
];
