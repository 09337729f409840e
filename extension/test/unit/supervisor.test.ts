// The engine supervisor against real child processes: the real engine (`dist/engine/cli.js
// serve`, killed on purpose), and a small JSON-RPC fixture for behaviour the real engine does not
// have (refusing to exit, a wrong protocol version, crashing on start).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CancellationTokenSource } from 'vscode-jsonrpc/node';
import * as P from '@common/protocol';
import { describeEngineError } from '../../src/engine/errors';
import {
  type CrashInfo,
  type EngineLaunch,
  EngineSupervisor,
  type EngineState,
  EngineUnavailableError,
  RequestCancelledError,
  type SupervisorOptions,
} from '../../src/engine/supervisor';
import { Sleep } from '../fixtures/fakeProtocol';

const root = join(__dirname, '../../..');
const engineCli = join(root, 'dist/engine/cli.js');
const fixture = join(__dirname, '../fixtures/fake-engine.ts');

function fakeLaunch(env: Record<string, string> = {}): EngineLaunch {
  return { command: process.execPath, args: ['--import', 'tsx', fixture], cwd: root, env: { ...process.env, ...env } };
}
function realLaunch(): EngineLaunch {
  return { command: process.execPath, args: [engineCli, 'serve'], cwd: join(root, 'dist/engine'), env: { ...process.env, LDLENS_BACKEND: 'wasm' } };
}

function supervise(launch: EngineLaunch, o: Partial<SupervisorOptions> = {}) {
  const states: EngineState[] = [];
  const crashes: CrashInfo[] = [];
  const logs: string[] = [];
  const sup = new EngineSupervisor({ launch: () => launch, initializeParams: () => ({ clientName: 'test' }), log: (l, m) => logs.push(`${l}: ${m}`), ...o });
  sup.onDidChangeState((c) => states.push(c.state));
  sup.onDidCrash((c) => crashes.push(c));
  return { sup, states, crashes, logs };
}

function waitFor<T>(what: string, f: () => T | undefined | false, ms = 20_000): Promise<T> {
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

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('engine supervisor (fixture process)', () => {
  it('starts, initializes and stops gracefully: stopped → starting → running → stopping → stopped', async () => {
    const { sup, states } = supervise(fakeLaunch());
    await sup.start();
    assert.equal(sup.state, 'running');
    assert.equal(sup.initializeResult?.protocolVersion, P.PROTOCOL_VERSION);
    const pid = sup.pid!;
    await sup.stop();
    assert.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
    assert.equal(alive(pid), false);
  });

  it('kills an engine that does not exit after shutdown within the timeout', async () => {
    const { sup, logs } = supervise(fakeLaunch({ FAKE_IGNORE_SHUTDOWN: '1' }), { shutdownTimeoutMs: 400 });
    await sup.start();
    const pid = sup.pid!;
    const t0 = Date.now();
    await sup.stop();
    assert.equal(sup.state, 'stopped');
    assert.equal(alive(pid), false);
    assert.ok(Date.now() - t0 < 4000);
    assert.ok(logs.some((l) => /did not exit .* killing it/.test(l)));
  });

  it('fails (no restart) on a protocol version mismatch, and says why', async () => {
    const { sup, crashes } = supervise(fakeLaunch({ FAKE_PROTOCOL: '99' }));
    await assert.rejects(sup.start(), (e: Error) => e instanceof EngineUnavailableError && /protocol 99/.test(e.message));
    assert.equal(sup.state, 'failed');
    assert.match(sup.failureReason!, /rebuild them together/);
    assert.equal(crashes.length, 0);
    await assert.rejects(sup.request(P.ListRuns, { runsDir: '/nowhere' }), EngineUnavailableError);
  });

  it('fails when the runtime cannot be spawned', async () => {
    const { sup } = supervise({ command: '/nonexistent/node', args: [] });
    await assert.rejects(sup.start(), /could not be started/);
    assert.equal(sup.state, 'failed');
  });

  it('restarts after crashes up to the cap, then stops and says why', async () => {
    const { sup, crashes, states } = supervise(fakeLaunch({ FAKE_CRASH_ON_START: '1' }), { maxRestarts: 2, restartWindowMs: 60_000 });
    await sup.start().catch(() => {});
    await waitFor('failed', () => sup.state === 'failed');
    assert.deepEqual(crashes.map((c) => c.restarting), [true, true, false]);
    assert.equal(crashes[0].code, 3);
    assert.deepEqual(crashes[0].stderrTail, ['fake engine: crashing on start']);
    assert.match(sup.failureReason!, /3 times within 1 min; it will not be restarted again/);
    assert.equal(states.filter((s) => s === 'failed').length, 1);
  });

  it('cancels a request from the UI at once, and the connection stays usable', async () => {
    const { sup } = supervise(fakeLaunch());
    await sup.start();
    const cts = new CancellationTokenSource();
    const t0 = Date.now();
    setTimeout(() => cts.cancel(), 100);
    await assert.rejects(sup.request(Sleep, { ms: 10_000 }, cts.token), RequestCancelledError);
    assert.ok(Date.now() - t0 < 2000);
    assert.deepEqual(await sup.request(Sleep, { ms: 1 }).then((r) => typeof r.slept), 'number', 'the connection still works');
    await sup.stop();
  });

  it('turns typed engine errors into messages naming every problem', async () => {
    const { sup } = supervise(fakeLaunch());
    await sup.start();
    const e = await sup.request(P.TrainStart, { data: [], runsDir: '/r', overrides: { train: { steps: -1 } } }).catch((x) => x);
    const d = describeEngineError(e, 'Training could not start');
    assert.equal(d.kind, 'invalidConfig');
    assert.equal(d.problems.length, 2);
    assert.match(d.message, /^Training could not start: invalid config: train\.steps: .*; model\.nHead: unknown key\. Fix the configuration/);
    const nf = describeEngineError(await sup.request(P.Analyze, { checkpoint: '/x/ck', text: 'a' }).catch((x) => x), 'Analyzing failed');
    assert.equal(nf.kind, 'notFound');
    assert.equal(nf.path, '/x/ck');
    await sup.stop();
  });
});

describe('engine supervisor (the real engine: dist/engine/cli.js serve)', () => {
  let dir: string;
  before(() => {
    if (!existsSync(engineCli)) execFileSync(process.execPath, [join(root, 'scripts/build.mjs'), 'engine'], { cwd: root, stdio: 'inherit' });
    dir = mkdtempSync(join(tmpdir(), 'ldlens-sup-'));
    mkdirSync(join(dir, 'runs'));
    writeFileSync(join(dir, 'corpus.txt'), 'the cat sat on the mat. the dog sat on the log. '.repeat(200));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('restarts the engine after it is killed, and requests work again', async () => {
    const { sup, crashes, logs } = supervise(realLaunch());
    await sup.start();
    // Listeners that send requests while the crash is reported must not start a second engine.
    const early: Promise<unknown>[] = [];
    sup.onDidCrash(() => early.push(sup.request(P.ListRuns, { runsDir: join(dir, 'runs') })));
    sup.onDidChangeState((c) => c.state === 'starting' && early.push(sup.request(P.ListRuns, { runsDir: join(dir, 'runs') })));
    assert.ok(sup.initializeResult!.presets.some((p) => p.name === 'tiny'));
    const pid1 = sup.pid!;
    process.kill(pid1, 'SIGKILL');
    await waitFor('restart', () => sup.state === 'running' && sup.pid !== pid1 && sup.pid);
    assert.equal(crashes.length, 1);
    assert.equal(crashes[0].signal, 'SIGKILL');
    assert.equal(crashes[0].restarting, true);
    assert.deepEqual(await sup.request(P.ListRuns, { runsDir: join(dir, 'runs') }), []);
    assert.deepEqual(await Promise.all(early), [[], []]);
    assert.equal(logs.filter((l) => l.includes('engine started')).length, 2, 'one engine per start');
    await sup.stop();
    assert.equal(sup.state, 'stopped');
  });

  it('gives up after the cap, and an explicit restart brings it back', async () => {
    const { sup, crashes } = supervise(realLaunch(), { maxRestarts: 1 });
    await sup.start();
    process.kill(sup.pid!, 'SIGKILL');
    await waitFor('first restart', () => sup.state === 'running' && crashes.length === 1);
    process.kill(sup.pid!, 'SIGKILL');
    await waitFor('failed', () => sup.state === 'failed');
    assert.deepEqual(crashes.map((c) => c.restarting), [true, false]);
    await sup.restart();
    assert.equal(sup.state, 'running');
    await sup.stop();
  });

  it('a run killed mid-training resumes from its last checkpoint with no metrics lost', async () => {
    const { sup } = supervise(realLaunch());
    const checkpoints: number[] = [];
    const ended: P.TrainEndedParams[] = [];
    sup.onNotification(P.TrainCheckpoint, (p) => checkpoints.push(p.checkpoint.step));
    sup.onNotification(P.TrainEnded, (p) => ended.push(p));
    const overrides = {
      model: { nLayer: 1, nEmbd: 32, nHead: 2, blockSize: 32 },
      train: { steps: 40, batchSize: 4, checkpointInterval: 10, evalInterval: 10, statsInterval: 5 },
    };
    const started = await sup.request(P.TrainStart, { data: [join(dir, 'corpus.txt')], runsDir: join(dir, 'runs'), name: 'killed', overrides });
    await waitFor('a checkpoint', () => checkpoints.length >= 1, 60_000);
    const pid = sup.pid!;
    process.kill(pid, 'SIGKILL');
    await waitFor('restart', () => sup.state === 'running' && sup.pid !== pid, 30_000);
    const [run] = await sup.request(P.ListRuns, { runsDir: join(dir, 'runs') });
    assert.notEqual(run.status, 'completed');
    assert.ok(run.checkpoints.length >= 1);
    const resumed = await sup.request(P.TrainResume, { runDir: started.runDir });
    assert.equal(resumed.runDir, started.runDir);
    await waitFor('the resumed run to end', () => ended.find((e) => e.runId === resumed.runId), 120_000);
    assert.equal(ended.at(-1)!.status, 'completed');
    const records = await sup.request(P.RunMetrics, { runDir: started.runDir });
    const steps = new Set(records.filter((r) => r.type === 'step').map((r) => r.step));
    const missing = Array.from({ length: 40 }, (_, i) => i + 1).filter((s) => !steps.has(s));
    assert.deepEqual(missing, [], 'every step has its metrics');
    await sup.stop();
  });
});
