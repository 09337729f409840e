// Runs written "elsewhere": `ldlens cluster-script` prepares a self-contained run folder with
// torchrun and Slurm scripts; its torchrun script is run here as a user would (2 processes, gloo,
// on the CPU), while `ldlens follow` reports it live from the folder alone; the TypeScript engine
// then analyzes its checkpoint. Also the torch-only config keys (precision, compile). Real
// processes, real torch; skipped, saying why, without it.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { probeTorch } from '../src/torch/python';
import { cliPath, runCli, smallCorpus, tempDir } from './helpers';

const PY = process.env.LDLENS_TEST_PYTHON ?? '/usr/bin/python3';
const probe = probeTorch(PY);
const skip = probe.ok ? false : `no PyTorch to test against: ${probe.reason}`;
const dir = tempDir('ldlens-torchc-');
after(() => rmSync(dir, { recursive: true, force: true }));
const corpus = smallCorpus(dir);
const SETS = ['model.blockSize=32', 'model.nEmbd=32', 'model.nHead=2', 'model.nLayer=1', 'train.batchSize=4', 'train.checkpointInterval=5', 'train.evalInterval=5', 'train.evalBatches=2'].flatMap((s) => ['--set', s]);

describe('torch runs elsewhere', { skip }, () => {
  test('cluster-script, its torchrun script run (2 processes), followed live by ldlens follow, analyzed by the engine', { timeout: 240_000 }, async () => {
    const out = join(dir, 'cluster');
    const r = await runCli(['cluster-script', '--json', '--data', corpus, '--out', out, '--steps', '10', '--gpus-per-node', '2', '--nodes', '1', '--device', 'cpu', '--python', PY, '--partition', 'gpu', '--time', '00:10:00', ...SETS]);
    assert.equal(r.code, 0, r.stderr);
    const info = JSON.parse(r.stdout.trim());
    const [torchrun, slurm] = info.files as string[];
    for (const f of info.files) assert.equal(spawnSync('bash', ['-n', f]).status, 0, `${f} is valid bash`);
    const sb = readFileSync(slurm, 'utf8');
    assert.match(sb, /#SBATCH --nodes=1\n#SBATCH --ntasks-per-node=1\n#SBATCH --gpus-per-node=2\n#SBATCH --partition=gpu\n#SBATCH --time=00:10:00/);
    assert.match(sb, /srun .* -m ldtorch\.launch --nnodes 1 --nproc_per_node 2 .*--rdzv_backend c10d/s);
    assert.ok(existsSync(join(out, 'torch', 'ldtorch', 'train.py')), 'the folder carries its own ldtorch');
    assert.equal(JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')).status, 'stopped', 'not running until launched');

    const follow = spawn(process.execPath, [cliPath, 'follow', '--json', '--run', out, '--interval', '0.3'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let followOut = '';
    follow.stdout.setEncoding('utf8').on('data', (d: string) => (followOut += d));
    const followed = new Promise<number | null>((res) => follow.on('close', res));
    // the script as a user runs it: from elsewhere, with the Python it names, the engine nowhere on its path
    const launched = spawnSync('bash', [torchrun], { cwd: dir, encoding: 'utf8', env: { ...process.env, PYTHONPATH: '' }, timeout: 180_000 });
    assert.equal(launched.status, 0, launched.stderr);
    assert.equal(await followed, 0);
    const events = followOut.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(events.filter((e) => e.event === 'step').map((e) => e.step), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.deepEqual(events.filter((e) => e.event === 'checkpoint').map((e) => e.step), [5, 10]);
    assert.ok(events.some((e) => e.event === 'eval' && e.step === 10));
    assert.deepEqual(events.at(-1), { event: 'done', runDir: out, status: 'completed', step: 10 });
    const meta = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
    assert.equal(meta.status, 'completed');
    assert.equal(meta.backend, 'torch');

    const a = await runCli(['analyze', '--json', '--checkpoint', out, '--text', 'To be, or not to be', '--backend', 'wasm']);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(JSON.parse(a.stdout).checkpoint.step, 10);
  });

  test('a cluster job on a machine without the GPUs it asks for fails with one clear line, and follow reports it', { timeout: 120_000 }, async () => {
    if (probe.cuda) return; // this machine has them
    const out = join(dir, 'no-gpu');
    const r = await runCli(['cluster-script', '--data', corpus, '--out', out, '--steps', '10', '--python', PY, ...SETS]);
    assert.equal(r.code, 0, r.stderr);
    const launched = spawnSync('bash', [join(out, 'torch', 'launch-torchrun.sh')], { encoding: 'utf8', timeout: 120_000 });
    assert.notEqual(launched.status, 0);
    assert.match(launched.stdout, /the job asks for CUDA but this torch .* sees no CUDA device/);
    const meta = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
    assert.equal(meta.status, 'failed');
    assert.match(meta.error, /asks for CUDA/);
    const f = await runCli(['follow', '--json', '--run', out, '--interval', '0.2']);
    assert.equal(f.code, 1);
    assert.match(f.stdout, /"status":"failed".*asks for CUDA/);
  });

  test('train.precision bf16 trains near fp32; train.compile on torch < 2 says it trains uncompiled', { timeout: 120_000 }, async () => {
    const out = join(dir, 'bf16');
    const sets = [...SETS, '--set', 'train.precision="bf16"', ...(probe.compile ? [] : ['--set', 'train.compile=true'])];
    const r = await runCli(['train', '--data', corpus, '--out', out, '--steps', '5', '--backend', 'torch', '--python', PY, '--threads', '1', ...sets]);
    assert.equal(r.code, 0, r.stderr);
    if (!probe.compile) assert.match(r.stderr, /train\.compile needs torch >= 2 \(this is .*\): training uncompiled/);
    assert.match(r.stderr, /on cpu, bf16/);
    const steps = readFileSync(join(out, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((x) => x.type === 'step');
    assert.equal(steps.length, 5);
    // the same first batch and weights as an fp32 run: a loss within bf16's rounding of ln(vocab)-ish
    assert.ok(steps.every((s) => Number.isFinite(s.loss) && Math.abs(s.loss - steps[0].loss) < 0.5), JSON.stringify(steps.map((s) => s.loss)));
    const bad = await runCli(['train', '--data', corpus, '--out', join(dir, 'fp8'), '--backend', 'torch', '--python', PY, '--set', 'train.precision="fp8"']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /train\.precision: expected "fp32", "tf32" or "bf16", got "fp8"/);
  });
});

describe('torch runs elsewhere, through ldlens serve', { skip }, () => {
  test('torch/clusterScript writes the run; runs/follow reports its launch live as train/* notifications', { timeout: 240_000 }, async () => {
    const { createMessageConnection, StreamMessageReader, StreamMessageWriter } = await import('vscode-jsonrpc/node');
    const P = await import('@common/protocol');
    const child = spawn(process.execPath, [cliPath, 'serve'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LDLENS_BACKEND: 'wasm' } });
    const conn = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
    const notes: { method: string; params: any }[] = []; // eslint-disable-line @typescript-eslint/no-explicit-any
    let wake = () => {};
    conn.onNotification((method: string, params: unknown) => (notes.push({ method, params }), wake()));
    conn.listen();
    const until = (f: () => boolean) => new Promise<void>((res) => {
      const check = () => (f() ? res() : (wake = check));
      check();
    });
    try {
      await conn.sendRequest(P.Initialize, { clientName: 'test' });
      const overrides = { model: { blockSize: 32, nEmbd: 32, nHead: 2, nLayer: 1 }, train: { steps: 10, batchSize: 4, checkpointInterval: 5, evalInterval: 5, evalBatches: 2 } };
      const made = await conn.sendRequest(P.ClusterScript, { data: [corpus], runsDir: join(dir, 'served'), overrides, nodes: 1, gpusPerNode: 1, python: PY, device: 'cpu' });
      assert.equal(made.files.length, 2);
      const followed = await conn.sendRequest(P.RunFollow, { runDir: made.runDir, intervalMs: 200 });
      assert.equal(followed.runId, made.runId);
      const busy = await conn.sendRequest(P.TrainStart, { data: [corpus], runsDir: join(dir, 'served') }).then(() => null, (e) => e);
      assert.equal(busy?.code, P.EngineErrorCode.Busy, 'one run at a time, followed ones included');
      const launched = spawnSync('bash', [made.files[0]], { encoding: 'utf8', env: { ...process.env, PYTHONPATH: '' }, timeout: 180_000 });
      assert.equal(launched.status, 0, launched.stderr);
      await until(() => notes.some((n) => n.method === 'train/ended'));
      const steps = notes.filter((n) => n.method === 'train/metric' && n.params.record.type === 'step').map((n) => n.params.record.step);
      assert.deepEqual(steps, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      assert.deepEqual(notes.filter((n) => n.method === 'train/checkpoint').map((n) => n.params.checkpoint.step), [5, 10]);
      assert.ok(notes.some((n) => n.method === 'train/progress' && n.params.step === 10 && n.params.totalSteps === 10));
      const ended = notes.find((n) => n.method === 'train/ended')!.params;
      assert.deepEqual([ended.runId, ended.status, ended.step], [made.runId, 'completed', 10]);
    } finally {
      conn.dispose();
      child.kill();
    }
  });
});
