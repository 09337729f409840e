// One trainer per run folder, with real processes: a second `ldlens` (CLI or `serve`) on a run that
// is training is refused naming the holder; a kill -9 leaves a stale lock that the next resume takes
// over, cleaning the temporary folders the dead trainer left; a resume from a checkpoint of another
// vocabulary is refused before anything in the run folder changes.
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createMessageConnection, ResponseError, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import * as P from '@common/protocol';
import { saveCheckpoint } from '../src/checkpoint';
import { resolveConfig } from '../src/config';
import { initWeights } from '../src/model';
import { Rng } from '../src/rng';
import { acquireRunLock, LOCK_FILE, readLock, RunLockedError } from '../src/runLock';
import { assertSameFiles, cliPath, runCli, smallCorpus, snapshot, tempDir, TINY_SETS } from './helpers';

const dir = tempDir('ldlens-lock-');
after(() => rmSync(dir, { recursive: true, force: true }));
const corpus = smallCorpus(dir);

/** A `ldlens train --json` that keeps training until killed; resolves once it has taken a step. */
async function longTrain(runDir: string): Promise<ChildProcessWithoutNullStreams> {
  const child = spawn(process.execPath, [cliPath, 'train', '--data', corpus, '--steps', '100000', '--out', runDir, '--json', ...TINY_SETS, '--set', 'train.checkpointInterval=5'], { cwd: dir });
  let out = '', err = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  await new Promise<void>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (/"event":"checkpoint"/.test(out)) resolve();
    });
    child.on('exit', (code) => reject(new Error(`the trainer exited (${code}) before its first checkpoint:\n${err}`)));
  });
  return child;
}

function killed(child: ChildProcessWithoutNullStreams): Promise<void> {
  return new Promise((r) => {
    if (child.exitCode !== null || child.signalCode !== null) return r();
    child.on('exit', () => r());
    child.kill('SIGKILL');
  });
}

test('the lock in one process: a second acquire is refused, release frees it, a dead holder is stale', () => {
  const run = join(dir, 'unit');
  mkdirSync(run);
  const a = acquireRunLock(run);
  assert.deepEqual({ ...readLock(run), token: '' }, { pid: process.pid, host: hostname(), started: a.holder.started, token: '' });
  assert.throws(() => acquireRunLock(run), (e: Error) => e instanceof RunLockedError && /already being trained by this engine process/.test(e.message));
  a.release();
  assert.ok(!existsSync(join(run, LOCK_FILE)));
  // A lock left by a process that is gone (a pid above Linux's pid_max) is taken over.
  writeFileSync(join(run, LOCK_FILE), JSON.stringify({ pid: 2 ** 22 + 7, host: hostname(), started: 'then', token: 'old' }));
  const b = acquireRunLock(run);
  assert.equal(readLock(run)?.pid, process.pid);
  b.release();
  // Another host's lock is never judged by its pid: refused, naming the host and the file.
  writeFileSync(join(run, LOCK_FILE), JSON.stringify({ pid: 2 ** 22 + 7, host: 'elsewhere', started: 'then', token: 'x' }));
  assert.throws(() => acquireRunLock(run), (e: Error) => /host elsewhere/.test(e.message) && e.message.includes(join(run, LOCK_FILE)));
});

test('two ldlens processes on one run: resume and train are refused naming the trainer; after kill -9 resume takes over and cleans up', { timeout: 120_000 }, async () => {
  const runDir = join(dir, 'busy');
  const first = await longTrain(runDir);
  try {
    const [resume, train] = await Promise.all([
      runCli(['resume', '--run', runDir], { cwd: dir }),
      runCli(['train', '--data', corpus, '--steps', '5', '--out', runDir, ...TINY_SETS], { cwd: dir }),
    ]);
    for (const [r, cmd] of [[resume, 'resume'], [train, 'train']] as const) {
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`^ldlens ${cmd}: .*already being trained by process ${first.pid} on this machine`));
      assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
    }
  } finally {
    await killed(first);
  }
  // kill -9: the lock stays behind, naming a dead process; so do a half-written checkpoint and a temp file.
  assert.equal(readLock(runDir)?.pid, first.pid);
  const ckDir = join(runDir, 'checkpoints');
  mkdirSync(join(ckDir, '.tmp-step-999999-12345'));
  writeFileSync(join(ckDir, '.tmp-step-999999-12345', 'model.safetensors'), 'half');
  writeFileSync(join(runDir, '.run.json.12345.abc123.tmp'), '{');
  writeFileSync(join(runDir, `${LOCK_FILE}.stale-x1`), '{}');
  // Resume starts from the latest checkpoint (run.json may lag it: the kill can fall in between).
  const steps = Math.max(...readdirSync(ckDir).filter((n) => /^step-\d+$/.test(n)).map((n) => Number(n.slice(5))));
  const r = await runCli(['resume', '--run', runDir, '--steps', String(steps + 3), '--json'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readdirSync(ckDir).filter((n) => n.startsWith('.')), [], 'temporary checkpoint folders removed');
  assert.ok(!existsSync(join(runDir, '.run.json.12345.abc123.tmp')), 'temp file removed');
  assert.ok(!existsSync(join(runDir, `${LOCK_FILE}.stale-x1`)), 'a set-aside stale lock removed');
  assert.ok(!existsSync(join(runDir, LOCK_FILE)), 'the lock is released at exit');
  const recorded = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((x) => x.type === 'step').map((x) => x.step);
  assert.deepEqual(recorded, Array.from({ length: steps + 3 }, (_, i) => i + 1), 'every step recorded once');
});

test('serve honours the lock: train/resume of a run a CLI trains is Busy naming the trainer, and nothing changes', { timeout: 120_000 }, async () => {
  const runDir = join(dir, 'busy-rpc');
  const first = await longTrain(runDir);
  const server = spawn(process.execPath, [cliPath, 'serve'], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
  const conn = createMessageConnection(new StreamMessageReader(server.stdout), new StreamMessageWriter(server.stdin));
  conn.listen();
  try {
    await conn.sendRequest(P.Initialize, { backend: 'cpu' });
    const e = await conn.sendRequest(P.TrainResume, { runDir }).then(
      () => assert.fail('resume was accepted'),
      (e: unknown) => e,
    );
    assert.ok(e instanceof ResponseError);
    assert.equal(e.code, P.EngineErrorCode.Busy);
    assert.match(e.message, new RegExp(`already being trained by process ${first.pid}`));
  } finally {
    conn.dispose();
    server.stdin.end();
    await killed(first);
    await new Promise((r) => (server.exitCode !== null ? r(null) : server.on('exit', r)));
  }
  const meta = JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8'));
  assert.equal(meta.pid, first.pid, 'run.json still names the first trainer');
});

test('resume from a checkpoint of another vocabulary is refused before anything in the run folder changes', { timeout: 120_000 }, async () => {
  const a = join(dir, 'vocab-a'), b = join(dir, 'vocab-b');
  const other = join(dir, 'other.txt');
  writeFileSync(other, 'abcdefghij klmnopqrst uvwxyz\n'.repeat(200));
  const [ra, rb] = await Promise.all([
    runCli(['train', '--data', corpus, '--steps', '10', '--out', a, ...TINY_SETS], { cwd: dir }),
    runCli(['train', '--data', other, '--steps', '10', '--out', b, ...TINY_SETS], { cwd: dir }),
  ]);
  assert.equal(ra.code, 0, ra.stderr);
  assert.equal(rb.code, 0, rb.stderr);
  // b's latest checkpoint copied into a as a later one (as a careless copy between runs would).
  cpSync(join(b, 'checkpoints', 'step-000010'), join(a, 'checkpoints', 'step-000015'), { recursive: true });
  const before = snapshot(a);
  const r = await runCli(['resume', '--run', a, '--steps', '30'], { cwd: dir });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /^ldlens resume: .*step-000015: the checkpoint is vocabSize \d+, not \d+; the run cannot be resumed from it/);
  assertSameFiles(before, snapshot(a), 'the refused run');
});

test('a checkpoint write that fails midway (a full disk, a bad tensor) leaves no temporary folder behind', () => {
  const run = join(dir, 'failing-write');
  mkdirSync(run);
  const shape = { vocabSize: 2, blockSize: 4, nEmbd: 4, nHead: 1, nLayer: 1 };
  const config = resolveConfig('tiny', { model: { blockSize: 4, nEmbd: 4, nHead: 1, nLayer: 1 } });
  const weights = initWeights(shape, config.dropout, new Rng(1));
  // The weights are written, then the optimizer state fails (a moment for a parameter that does not exist).
  const bad = new Map([['no.such.param', new Float32Array(3)]]);
  assert.throws(() =>
    saveCheckpoint(run, { step: 1, shape, config, tokenizer: { type: 'char', vocab: ['a', 'b'] }, weights, optimizer: { step: 1, m: bad, v: bad }, rng: [1, 2, 3, 4], bestValLoss: null, valLoss: null }),
  );
  assert.deepEqual(readdirSync(join(run, 'checkpoints')), [], 'neither a checkpoint nor its temporary folder');
});
