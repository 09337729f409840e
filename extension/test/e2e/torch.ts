// Issue 12: training with the PyTorch worker from the palette (ldlens.engine.backend "torch", the
// interpreter in ldlens.engine.pythonPath), in the development-mode session: the run completes,
// its folder was written by the torch worker (run.json, the engine's log line), and Analyze
// Document paints the editor from that run's checkpoint. Skipped, with the reason printed, where
// the Python has no torch (Debian's python3-torch: scripts/test.sh installs it).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from './driver';
import { reloadWindow } from './newcomer';
import { type Scenario, Skip, trainFromPalette, userSettings } from './scenarios';

const PYTHON = process.env.LDLENS_E2E_PYTHON || '/usr/bin/python3';
const STEPS = 30;
/** A runs folder of its own: Analyze Document picks this run's checkpoint, not another scenario's. */
const RUNS = '.ldlens/torch-runs';

/** Why the torch scenario cannot run here, or undefined when PYTHON imports torch. */
function torchMissing(): string | undefined {
  const r = spawnSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8', timeout: 120_000 });
  if (r.error) return `${PYTHON} could not be run (${r.error.message})`;
  if (r.status !== 0) return `${PYTHON} has no torch (install python3-torch): ${(r.stderr || '').trim().split('\n').at(-1)}`;
  return undefined;
}

function torchSettings(): Record<string, unknown> {
  const o = userSettings(STEPS)['ldlens.training.overrides'] as { model: object; train: Record<string, number> };
  return {
    'ldlens.engine.backend': 'torch',
    'ldlens.engine.pythonPath': PYTHON,
    'ldlens.runsDir': RUNS,
    'ldlens.training.overrides': { ...o, train: { ...o.train, checkpointInterval: STEPS, evalInterval: STEPS, statsInterval: 10 } },
  };
}

export const TORCH: Scenario[] = [
  {
    name: 'torch backend: train from the palette on the PyTorch worker, then Analyze Document with its checkpoint',
    async run(s, { workspace, log }) {
      const missing = torchMissing();
      if (missing) throw new Skip(missing);
      s.writeUserSettings(torchSettings());
      try {
        // The backend is sent when the engine starts; a settings file written while VS Code runs is
        // not picked up by this code-server (newcomer.ts): a reload reads it and starts a new engine.
        await reloadWindow(s);
        await s.clearNotifications();
        const logBefore = s.extensionLog().length;
        const newLog = () => s.extensionLog().slice(logBefore);
        await s.openFile('corpus.txt', 'First Citizen');
        await trainFromPalette(s, 'e2e-torch');
        const status = await s.statusItem(new RegExp(`LD \\d+/${STEPS} · loss`), 120_000);
        log(`  status bar: ${status}`);
        const done = await s.notification(new RegExp(`Training e2e-torch finished: ${STEPS} steps, loss [\\d.]+`), 180_000);
        log(`  ${done}`);
        // The run folder was written by the torch worker.
        const dir = join(workspace, RUNS);
        const runs = existsSync(dir) ? readdirSync(dir).map((n) => join(dir, n)).filter((p) => existsSync(join(p, 'run.json'))) : [];
        assert.equal(runs.length, 1, `one run in ${RUNS}: ${runs.join(', ')}`);
        const meta = JSON.parse(readFileSync(join(runs[0], 'run.json'), 'utf8'));
        log(`  run.json: ${meta.id ?? meta.name}: backend ${meta.backend}, status ${meta.status}, step ${meta.step}/${meta.totalSteps}`);
        assert.equal(meta.backend, 'torch');
        assert.equal(meta.status, 'completed');
        assert.equal(meta.step, STEPS);
        const engineLine = /\[engine\] run \S+: \d+ steps on torch[^\n]*/.exec(newLog())?.[0];
        assert.ok(engineLine, `the engine log names torch\n${newLog()}`);
        log(`  ${engineLine}`);
        const why = /\[engine\] training on torch[^\n]*/.exec(newLog())?.[0];
        if (why) log(`  ${why}`);
        // Its checkpoint (the worker's, in this run's folder) is the one the extension announced.
        const ckpt = `checkpoint at step ${STEPS}: ${join(runs[0], 'checkpoints')}`;
        assert.ok(newLog().includes(ckpt), `the log announces ${ckpt}\n${newLog()}`);
        // Analyze Document paints sample.txt from that run's checkpoint.
        await s.clearNotifications();
        await s.openFile('sample.txt', 'First Citizen');
        await s.palette('LearnedDropout: Analyze Document');
        await waitFor('the log of the analysis with the torch checkpoint', () => new RegExp(`analyzed sample\\.txt: \\d+ tokens at step ${STEPS} `).test(newLog()), 60_000);
        // The default paint (all layers), whatever site an earlier scenario chose: one site of a
        // 30-step model can hold two values, whose equal neighbours VS Code draws as one element.
        await s.palette('LearnedDropout: Choose Layer and Site to Paint');
        await s.pick('Choose Layer and Site', 'All layers');
        const painted = await waitFor('sample.txt painted', async () => {
          const c = await s.decorationColours();
          return c.length > 20 ? c : undefined;
        }, 90_000).catch(async (e: unknown) => {
          // What the window showed, for a failure that cannot be rerun (a clean-clone CI run).
          log(`  status bar: ${(await s.statusItems()).join(' | ')}`);
          log(`  extension log since the reload:\n${newLog().split('\n').slice(-40).join('\n')}`);
          throw e;
        });
        log(`  sample.txt: ${painted.length} painted elements, ${new Set(painted).size} colours`);
        assert.ok(new Set(painted).size >= 2, 'more than one colour level');
        log(`  legend: ${await s.statusItem(new RegExp(`all layers .*[▁▂▃▄▅▆▇█]{8} \\S+ · \\S*e2e-torch\\S* step ${STEPS}$`), 30_000)}`);
        await s.screenshot('torch-run-analyzed');
      } finally {
        s.writeUserSettings();
        await s.palette('View: Close All Editors').catch(() => {});
      }
    },
  },
];
