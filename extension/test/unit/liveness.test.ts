// Liveness: the supervisor pings the engine and restarts one that stops answering (a real child
// process whose thread blocks for good: alive, deaf), within its restart cap.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type CrashInfo, type EngineLaunch, EngineSupervisor, type EngineState } from '../../src/engine/supervisor';
import { Sleep } from '../fixtures/fakeProtocol';

const root = join(__dirname, '../../..');
const fixture = join(__dirname, '../fixtures/fake-engine.ts');
const scratch = mkdtempSync(join(tmpdir(), 'ldlens-liveness-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function launch(env: Record<string, string>): EngineLaunch {
  return { command: process.execPath, args: ['--import', 'tsx', fixture], cwd: root, env: { ...process.env, ...env } };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function waitFor<T>(what: string, f: () => T | undefined | false, ms = 30_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = () => {
      const v = f();
      if (v) return resolve(v);
      if (Date.now() - t0 > ms) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 20);
    };
    tick();
  });
}

describe('engine supervisor liveness (fixture process)', () => {
  it('kills an engine that stops answering pings and restarts it; requests work again', async () => {
    const pids = join(scratch, 'pids-1');
    let launches = 0;
    const crashes: CrashInfo[] = [];
    const states: EngineState[] = [];
    const logs: string[] = [];
    const sup = new EngineSupervisor({
      // The first engine hangs half a second after its handshake; the restarted one does not.
      launch: () => launch({ FAKE_PID_LOG: pids, ...(launches++ === 0 ? { FAKE_HANG_AFTER_MS: '500' } : {}) }),
      initializeParams: () => ({ clientName: 'test' }),
      pingIntervalMs: 200,
      pingTimeoutMs: 1000,
      log: (l, m) => logs.push(`${l}: ${m}`),
    });
    sup.onDidCrash((c) => crashes.push(c));
    sup.onDidChangeState((c) => states.push(c.state));
    try {
      await sup.start();
      const first = sup.pid!;
      const crash = await waitFor('a crash report', () => crashes[0]);
      assert.equal(crash.pid, first);
      assert.equal(crash.restarting, true);
      assert.match(crash.message, /^The engine stopped answering \(it did not answer a ping within 1 s\) unexpectedly; restarting it/);
      assert.ok(logs.some((l) => /^warn: The engine \(pid \d+\) stopped answering/.test(l)));
      await waitFor('the restarted engine', () => sup.state === 'running' && sup.pid !== first && sup.pid);
      assert.equal(alive(first), false, 'the hung engine was killed');
      const r = await sup.request(Sleep, { ms: 10 });
      assert.ok(r.slept >= 10);
      // The healthy engine keeps answering its pings: no further crash over several intervals.
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(crashes.length, 1);
      assert.deepEqual(readFileSync(pids, 'utf8').trim().split('\n').map(Number), [first, sup.pid]);
    } finally {
      await sup.dispose();
    }
  });

  it('gives up after the restart cap when every engine hangs', async () => {
    const crashes: CrashInfo[] = [];
    const sup = new EngineSupervisor({
      launch: () => launch({ FAKE_HANG_AFTER_MS: '100' }),
      initializeParams: () => ({ clientName: 'test' }),
      pingIntervalMs: 100,
      pingTimeoutMs: 600,
      maxRestarts: 1,
    });
    sup.onDidCrash((c) => crashes.push(c));
    try {
      await sup.start();
      await waitFor('the failed state', () => sup.state === 'failed', 60_000);
      assert.equal(crashes.length, 2);
      assert.deepEqual(crashes.map((c) => c.restarting), [true, false]);
      assert.match(sup.failureReason!, /stopped answering .* 2 times within 3 min; it will not be restarted again/);
      for (const c of crashes) assert.equal(alive(c.pid!), false);
    } finally {
      await sup.dispose();
    }
  });
});
