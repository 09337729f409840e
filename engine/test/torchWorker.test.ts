// The torch backend's supervision, in process and through `ldlens serve`: the probe and `auto`'s
// choice, the worker's state machine and a graceful stop (checkpoint, then exit) and resume, and
// train/start on `backend: torch` over JSON-RPC as the extension sends it. Real Python, real torch;
// skipped, saying why, where the Python with torch is absent.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import * as P from '@common/protocol';
import { initBackend } from '../src/backend';
import { listCheckpoints, readMetrics } from '../src/checkpoint';
import { prepareTorchResume, prepareTorchRun } from '../src/torch/prepare';
import { chooseTrainBackend, probeTorch, torchHasGpu } from '../src/torch/python';
import { TorchRun } from '../src/torch/worker';
import { cliPath, smallCorpus, tempDir } from './helpers';

const PY = process.env.LDLENS_TEST_PYTHON ?? '/usr/bin/python3';
const probe = probeTorch(PY);
const skip = probe.ok ? false : `no PyTorch to test against: ${probe.reason}`;
const dir = tempDir('ldlens-torchw-');
after(() => rmSync(dir, { recursive: true, force: true }));
const corpus = smallCorpus(dir);
const overrides = {
  model: { blockSize: 32, nEmbd: 32, nHead: 2, nLayer: 1 },
  train: { steps: 40, batchSize: 4, evalInterval: 20, evalBatches: 2, checkpointInterval: 100, statsInterval: 10 },
};

describe('torch worker', { skip }, () => {
  test('auto picks torch only where it has a GPU; the report says why', () => {
    const c = chooseTrainBackend('auto', PY);
    assert.equal(c.torch, torchHasGpu(probe));
    assert.match(c.reason, /torch \d+\.\d+/);
    if (!c.torch) assert.match(c.reason, /^torch not chosen: .*no GPU \(CPU only\)/);
    assert.equal(chooseTrainBackend('wasm', PY).torch, false);
    assert.throws(() => chooseTrainBackend('torch', join(dir, 'nope')), /the torch backend cannot start: no Python: .*nope was not found/);
  });

  test('a Python without torch is named as such', () => {
    // the same interpreter under another name, with a `torch` that fails to import ahead on its path
    const fake = join(dir, 'fake-torch');
    mkdirSync(join(fake, 'torch'), { recursive: true });
    writeFileSync(join(fake, 'torch', '__init__.py'), 'raise ImportError("simulated: no torch here")\n');
    const py = join(dir, 'python-without-torch');
    symlinkSync(PY, py);
    const saved = process.env.PYTHONPATH;
    process.env.PYTHONPATH = fake;
    try {
      const p = probeTorch(py);
      assert.equal(p.ok, false);
      assert.match(p.reason, /no torch in .*python-without-torch .*simulated: no torch here/);
      assert.throws(() => chooseTrainBackend('torch', py), /cannot start: no torch in/);
    } finally {
      if (saved === undefined) delete process.env.PYTHONPATH;
      else process.env.PYTHONPATH = saved;
    }
  });

  test('states starting → running → stopping → stopped; stop checkpoints first; resume completes the run', { timeout: 180_000 }, async () => {
    await initBackend('wasm'); // the engine's: it makes the mask report of each checkpoint the worker writes
    const prepared = await prepareTorchRun({ data: [corpus], runsDir: dir, runDir: join(dir, 'stop-resume'), overrides }, { threads: 1 });
    const run = new TorchRun(prepared, { python: PY });
    assert.equal(run.state, 'starting');
    const seen: string[] = [];
    const outcome = await run.run({
      progress: (p) => {
        seen.push(run.state);
        if (p.step === 5) run.stop();
      },
    });
    assert.equal(outcome.status, 'stopped');
    assert.ok(outcome.step >= 5 && outcome.step < 40, `stopped early, at ${outcome.step}`);
    assert.deepEqual(run.history, ['starting', 'running', 'stopping', 'stopped']);
    assert.equal(seen[0], 'running');
    assert.equal(listCheckpoints(run.dir).at(-1)?.step, outcome.step, 'a checkpoint at the step it stopped');
    const meta = JSON.parse(readFileSync(join(run.dir, 'run.json'), 'utf8'));
    assert.equal(meta.status, 'stopped');
    assert.equal(meta.step, outcome.step);
    assert.ok(existsSync(join(run.dir, 'torch', 'stop')), 'stop() left its stop file');
    // As a worker killed between its checkpoint and the engine's report would leave it: the
    // resumed checkpoint's report record gone; the resume writes it before the worker starts.
    const metricsPath = join(run.dir, 'metrics.jsonl');
    const isStopReport = (l: string) => l.includes('"type":"report"') && JSON.parse(l).step === outcome.step;
    const lines = readFileSync(metricsPath, 'utf8').split('\n').filter(Boolean);
    assert.equal(lines.filter(isStopReport).length, 1, 'the stop checkpoint had its report');
    writeFileSync(metricsPath, lines.filter((l) => !isStopReport(l)).join('\n') + '\n');

    const again = new TorchRun(await prepareTorchResume(run.dir, undefined, { threads: 1 }), { python: PY });
    assert.ok(!existsSync(join(run.dir, 'torch', 'stop')), 'resume clears it (else the worker would stop at once)');
    assert.equal(again.step, outcome.step);
    const done = await again.run();
    assert.equal(done.status, 'completed');
    assert.equal(done.step, 40);
    const steps = readMetrics(run.dir).filter((r) => r.type === 'step').map((r) => r.step);
    assert.deepEqual(steps, Array.from({ length: 40 }, (_, i) => i + 1), 'every step once');
    const reports = readMetrics(run.dir).filter((r) => r.type === 'report').map((r) => r.step);
    assert.equal(reports.filter((s) => s === outcome.step).length, 1, `the resumed checkpoint's report, once: ${reports}`);
  });

  test('the engine killed mid-run: the worker sees its stdin close, checkpoints and stops (run.json says stopped)', { timeout: 180_000 }, async () => {
    const out = join(dir, 'orphaned');
    const sets = ['model.blockSize=32', 'model.nEmbd=32', 'model.nHead=2', 'model.nLayer=1', 'train.batchSize=4', 'train.checkpointInterval=1000'].flatMap((x) => ['--set', x]);
    const cli = spawn(process.execPath, [cliPath, 'train', '--json', '--data', corpus, '--out', out, '--steps', '5000', '--backend', 'torch', '--python', PY, '--threads', '1', ...sets], { stdio: ['ignore', 'pipe', 'pipe'] });
    await new Promise<void>((res) => cli.stdout.setEncoding('utf8').on('data', (d: string) => /"event":"step"/.test(d) && res()));
    const owner = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')).pid;
    assert.ok(owner && owner !== cli.pid, 'run.json names the process that trains (the worker), not the engine');
    cli.kill('SIGKILL');
    const t0 = Date.now();
    let meta = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
    while (meta.status === 'running' && Date.now() - t0 < 60_000) {
      await new Promise((r) => setTimeout(r, 250));
      meta = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
    }
    assert.equal(meta.status, 'stopped');
    assert.ok(meta.step > 0 && meta.step < 5000);
    assert.equal(listCheckpoints(out).at(-1)?.step, meta.step, 'a checkpoint at the step it stopped');
  });

  test('a stop before the first step still ends cleanly with a checkpoint', { timeout: 120_000 }, async () => {
    const prepared = await prepareTorchRun({ data: [corpus], runsDir: dir, runDir: join(dir, 'early-stop'), overrides }, { threads: 1 });
    const run = new TorchRun(prepared, { python: PY });
    const p = run.run();
    run.stop();
    const outcome = await p;
    assert.equal(outcome.status, 'stopped');
    assert.equal(run.history.at(-1), 'stopped');
    assert.equal(listCheckpoints(run.dir).at(-1)?.step, outcome.step);
  });

  test('ldlens serve: train/start on backend torch, progress, metrics and the watched text as notifications, train/stop', { timeout: 180_000 }, async () => {
    const child = spawn(process.execPath, [cliPath, 'serve'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LDLENS_BACKEND: 'wasm' } });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const conn = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
    const notes: { method: string; params: any }[] = []; // eslint-disable-line @typescript-eslint/no-explicit-any
    let wake = () => {};
    conn.onNotification((method: string, params: unknown) => {
      notes.push({ method, params });
      wake();
    });
    conn.listen();
    const until = (f: () => boolean) => new Promise<void>((res) => {
      const check = () => (f() ? res() : (wake = check));
      check();
    });
    try {
      const init = await conn.sendRequest(P.Initialize, { backend: 'torch', pythonPath: PY, clientName: 'test' });
      assert.ok(['wasm', 'cpu'].includes(init.backend), 'analysis keeps a tfjs backend');
      const r = await conn.sendRequest(P.TrainStart, { data: [corpus], runsDir: join(dir, 'served'), overrides: { ...overrides, train: { ...overrides.train, steps: 400, checkpointInterval: 10 } }, watchText: 'To be, or not' });
      await until(() => notes.some((n) => n.method === 'train/watchAnalysis'));
      const watched = notes.find((n) => n.method === 'train/watchAnalysis')!.params;
      assert.equal(watched.analysis.tokens.length, 13, 'the watched text re-analyzed by the engine at the torch checkpoint');
      assert.equal(watched.analysis.checkpoint.step, notes.find((n) => n.method === 'train/checkpoint')!.params.checkpoint.step);
      assert.ok(notes.some((n) => n.method === 'train/progress' && n.params.runId === r.runId));
      assert.ok(notes.some((n) => n.method === 'train/metric' && n.params.record.type === 'stats'));
      assert.ok(notes.some((n) => n.method === 'log' && /training on torch/.test(n.params.message)), 'the log says why torch');
      const stop = await conn.sendRequest(P.TrainStop, { runId: r.runId });
      assert.deepEqual(stop, { stopped: true });
      await until(() => notes.some((n) => n.method === 'train/ended'));
      const ended = notes.find((n) => n.method === 'train/ended')!.params;
      assert.equal(ended.status, 'stopped', JSON.stringify(ended));
      const runs = await conn.sendRequest(P.ListRuns, { runsDir: join(dir, 'served') });
      assert.equal(runs[0].backend, 'torch');
      assert.equal(runs[0].status, 'stopped');
      assert.equal(runs[0].checkpoints.at(-1)?.step, ended.step);
      // the TypeScript engine analyzes the torch checkpoint
      const a = await conn.sendRequest(P.Analyze, { checkpoint: r.runDir, text: 'To be, or not to be' });
      assert.equal(a.checkpoint.step, ended.step);
      assert.equal(a.layers.length, 4);
    } finally {
      conn.dispose();
      child.kill();
    }
    assert.doesNotMatch(stderr, /Error/);
  });
});
