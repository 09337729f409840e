// End-to-end scenarios in a real VS Code (code-server + Chromium), run by scripts/e2e/run.sh.
// Each scenario saves screenshots under test-output/e2e/; the last line printed is
// "N passed, N failed" (CI reads it). Usage: run.ts [scenario-name-substring ...]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, Session } from './driver';
import { HOSTILE_TEXTS, prepareHostileTexts } from './hostileTexts';
import { JOURNEY, journeyScreenshot, stopJourney } from './journey';
import { NEWCOMER } from './newcomer';
import { TORCH } from './torch';
import { SCENARIOS, type Scenario, Skip, prepareLongDocument, prepareWorkspace, userSettings } from './scenarios';

async function main(): Promise<number> {
  const only = process.argv.slice(2);
  const out = join(ROOT, 'test-output/e2e');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const tmp = mkdtempSync(join(tmpdir(), 'ldlens-e2e-'));
  const workspace = join(tmp, 'workspace');
  prepareWorkspace(workspace);
  prepareLongDocument(workspace);
  prepareHostileTexts(workspace);
  const logLines: string[] = [];
  const log = (m: string) => {
    logLines.push(m);
    console.log(m);
  };
  const session = new Session({ tmp, workspace, userSettings: userSettings(), screenshots: out, log });
  // The development-mode session runs SCENARIOS; the journey (journey.ts) installs the VSIX into
  // sessions of its own, after them.
  const chosen = (list: Scenario[]) => list.filter((sc) => !only.length || only.some((o) => sc.name.includes(o)));
  // TORCH and NEWCOMER last: they reload the window. TORCH before NEWCOMER: after the newcomer
  // scenario it once timed out waiting for Analyze Document's paint on a clean clone (the run itself
  // had trained on torch); it passes after it here, and its failures now log what the window showed.
  const planned = [...chosen([...SCENARIOS, ...HOSTILE_TEXTS, ...TORCH, ...NEWCOMER]).map((sc) => ({ sc, dev: true })), ...chosen(JOURNEY).map((sc) => ({ sc, dev: false }))];
  let passed = 0;
  let failed = 0;
  const skipped: string[] = [];
  // A hard stop so that a wedged browser cannot hold CI forever.
  const minutes = planned.some((p) => !p.dev) ? 45 : 25;
  const watchdog = setTimeout(() => {
    console.error(`e2e: watchdog fired after ${minutes} minutes`);
    void Promise.all([session.stop(), stopJourney()]).finally(() => {
      console.log(`${passed} passed, ${failed + 1} failed`);
      process.exit(1);
    });
  }, minutes * 60_000);
  watchdog.unref();
  try {
    if (planned.some((p) => p.dev)) {
      const t0 = Date.now();
      await session.start();
      log(`workbench ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
    let devStopped = false;
    let devBlocked = false;
    for (const { sc, dev } of planned) {
      if (dev && devBlocked) continue;
      if (!dev && !devStopped) {
        await session.stop(); // one VS Code at a time on these small machines
        devStopped = true;
      }
      const t1 = Date.now();
      log(`▶ ${sc.name}`);
      try {
        await sc.run(session, { workspace, log });
        passed++;
        log(`✔ ${sc.name} (${((Date.now() - t1) / 1000).toFixed(1)} s)`);
      } catch (e) {
        if (e instanceof Skip) {
          skipped.push(sc.name);
          log(`⊘ ${sc.name}: SKIPPED: ${e.message}`);
          continue;
        }
        failed++;
        log(`✖ ${sc.name}: ${(e as Error).stack ?? e}`);
        await (dev ? session.screenshot.bind(session) : journeyScreenshot)(`FAILED-${sc.name.replace(/\W+/g, '-')}`).catch(() => {});
        if (sc.critical) {
          log('  (a scenario the others depend on failed: skipping the development-mode scenarios after it)');
          devBlocked = true;
        }
      }
    }
  } catch (e) {
    failed++;
    log(`✖ start: ${(e as Error).stack ?? e}\n${session.serverLogTail()}`);
    await session.screenshot('FAILED-start').catch(() => {});
  } finally {
    await stopJourney().catch((e) => log(`stopping the journey: ${e}`));
    await session.stop();
    clearTimeout(watchdog);
    writeFileSync(join(out, 'e2e.log'), logLines.join('\n') + '\n');
    if (!process.env.LDLENS_E2E_KEEP) rmSync(tmp, { recursive: true, force: true });
    else log(`kept ${tmp}`);
  }
  if (skipped.length) console.log(`${skipped.length} skipped (not counted as passed): ${skipped.join('; ')}`);
  console.log(`${passed} passed, ${failed} failed`);
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    console.log('0 passed, 1 failed');
    process.exit(1);
  },
);
