// The scenarios, in order (later ones use the run the training scenario made).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, type Session, findDescendants, sleep, waitFor } from './driver';

export interface Ctx {
  workspace: string;
  log: (m: string) => void;
}

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
  // Tabs, CRLF line ends, an emoji (not in the vocabulary: skipped) and a combining accent.
  writeFileSync(
    join(ws, 'sample.txt'),
    ['First Citizen:', '\tBefore we proceed any further, hear me speak.', 'All:', '\tSpeak, speak. 😀 Cafe\u0301 citizens!', 'First Citizen:', 'You are all resolved rather to die than to famish?', ''].join('\r\n'),
  );
}

function runsDir(ws: string): string {
  return join(ws, '.ldlens/runs');
}

function runDirs(ws: string): string[] {
  const d = runsDir(ws);
  return existsSync(d) ? readdirSync(d).map((n) => join(d, n)).filter((p) => existsSync(join(p, 'run.json'))) : [];
}

async function trainFromPalette(s: Session, name: string): Promise<void> {
  await s.palette('LearnedDropout: Train Model');
  await s.pick('Train Model (1/3)', 'Active file', 'Active file: corpus.txt');
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
      await s.statusItem(/layer 1 MLP active units/);
      const after = await s.decorationColours();
      assert.ok(after.length > 50);
      assert.notDeepEqual(after, colours, 'the colours follow the site');
      await s.screenshot('layer-1-mlp');
    },
  },
  {
    name: 'hover a token: token and id, layer × site picture, unit strip, type average, links',
    async run(s, { log }) {
      const text = await s.hover('proceed', 0, 2);
      log('  hover:\n' + text.split('\n').map((l) => '    ' + l).join('\n'));
      assert.match(text, /token \d+ of \d+ · id \d+/);
      assert.match(text, /layer 0/);
      assert.match(text, /layer 1/);
      assert.match(text, /Embedding: . \d+\/32 active/);
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
    name: 'the Mask Explorer opens from the hover with heatmap pixels',
    async run(s, { log }) {
      await s.hover('further', 0, 1);
      await s.page.locator('.monaco-hover:not(.hidden) a', { hasText: 'Open in Mask Explorer' }).first().click();
      await s.page.mouse.move(5, 400);
      await s.page.keyboard.press('Escape');
      const f = await s.webviewFrame('canvas.heatmap-cells', 60_000);
      const painted = await waitFor('heatmap pixels', async () => {
        const n = await f.evaluate(() => {
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
        return n > 100 ? n : undefined;
      }, 60_000);
      log(`  ${painted} painted heatmap pixels`);
      await sleep(1000);
      await s.screenshot('mask-explorer');
      await s.palette('View: Close All Editors');
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
];
