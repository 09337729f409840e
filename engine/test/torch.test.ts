// The torch backend (engine/torch, engine/src/torch) against the TypeScript engine, with real
// PyTorch and real processes (the built CLI): from the same initial weights and the same batches
// (both draw them from one sfc32 stream), 20 steps on each engine give the same losses per step
// (relative 1e-4), evaluations, mask statistics and final weights (norm-wise 1e-3), for each
// config knob; a killed worker leaves a run that either engine resumes; two processes under
// torchrun (gloo) equal one. Skipped, saying why, where the Python with torch is absent.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { EvalRecord, MetricRecord, ReportRecord, StatsRecord, StepRecord } from '@common/protocol';
import { decodeSafetensors } from '../src/safetensors';
import { resolveConfig } from '../src/config';
import { cliPath, fixturesDir, repoRoot, runCli, smallCorpus, tempDir } from './helpers';
import { probeTorch } from '../src/torch/python';
import { spawn } from 'node:child_process';

/** Debian's python3-torch by default (scripts/test.sh installs it); LDLENS_TEST_PYTHON to choose. */
const PY = process.env.LDLENS_TEST_PYTHON ?? '/usr/bin/python3';
const probe = probeTorch(PY);
const skip = probe.ok ? false : `no PyTorch to test against: ${probe.reason}`;

const dir = tempDir('ldlens-torch-');
after(() => rmSync(dir, { recursive: true, force: true }));
const corpus = smallCorpus(dir);

/** A shape and schedule small enough for a shared 2-core machine. */
const BASE: Record<string, unknown> = {
  'model.blockSize': 32, 'model.nEmbd': 32, 'model.nHead': 2, 'model.nLayer': 1,
  'train.batchSize': 4, 'train.evalInterval': 10, 'train.evalBatches': 2, 'train.checkpointInterval': 10, 'train.statsInterval': 5,
  'train.decaySteps': 20,
};
const sets = (o: Record<string, unknown>) => Object.entries({ ...BASE, ...o }).flatMap(([k, v]) => ['--set', `${k}=${JSON.stringify(v)}`]);
const TS = ['--backend', 'wasm'];
const TORCH = ['--backend', 'torch', '--python', PY, '--threads', '1'];

function metrics(runDir: string): MetricRecord[] {
  return readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}
function weights(ckptDir: string): Map<string, Float32Array> {
  const t = decodeSafetensors(readFileSync(join(ckptDir, 'model.safetensors'))).tensors;
  return new Map([...t].map(([n, v]) => [n, v.data]));
}
const ckpt = (runDir: string, step: number) => join(runDir, 'checkpoints', `step-${String(step).padStart(6, '0')}`);

/** ‖a − b‖ / ‖b‖ (element-wise relative error is meaningless near zero; see parity.test.ts). */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let d = 0, n = 1e-30;
  for (let i = 0; i < a.length; i++) {
    d += (a[i] - b[i]) ** 2;
    n += b[i] ** 2;
  }
  return Math.sqrt(d / n);
}
const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);

async function train(name: string, backend: string[], o: Record<string, unknown>, extra: string[] = []): Promise<string> {
  const out = join(dir, name);
  const r = await runCli(['train', '--data', corpus, '--out', out, '--steps', '20', ...backend, ...sets(o), ...extra], { timeoutMs: 180_000 });
  assert.equal(r.code, 0, `${name}: ${r.stderr}`);
  return out;
}

/** Same losses per step, evaluations, statistics and final weights (and the same files). */
function assertSameRun(a: string, b: string, o: { exactStats?: boolean; step?: number } = {}): void {
  const ma = metrics(a), mb = metrics(b);
  assert.deepEqual(ma.map((r) => `${r.type}@${r.step}`), mb.map((r) => `${r.type}@${r.step}`), 'the same records in the same order');
  for (let i = 0; i < ma.length; i++) {
    const x = ma[i], y = mb[i];
    if (x.type === 'step') {
      const ys = y as StepRecord;
      for (const k of ['loss', 'crossEntropy', 'entropy', 'l1'] as const)
        assert.ok(rel(x[k], ys[k]) <= 1e-4 || Math.abs(x[k] - ys[k]) < 1e-7, `step ${x.step} ${k}: ${x[k]} vs ${ys[k]}`);
      assert.equal(x.lr, ys.lr, `step ${x.step} lr`);
      assert.equal(x.lambdaEntropy, ys.lambdaEntropy);
      assert.equal(x.lambdaL1, ys.lambdaL1);
    } else if (x.type === 'eval') {
      const ye = y as EvalRecord;
      assert.ok(rel(x.trainLoss, ye.trainLoss) <= 1e-4 && rel(x.valLoss, ye.valLoss) <= 1e-4, `eval at ${x.step}: ${JSON.stringify([x, ye])}`);
      assert.equal(x.valTokens, ye.valTokens, `eval at ${x.step}: the same validation tokens`);
      assert.ok(typeof x.valTokens === 'number' && x.valTokens > 0, `eval at ${x.step}: valTokens ${x.valTokens}`);
    } else if (x.type === 'report') {
      // the engine computes the torch run's report too, from the torch checkpoint: same windows,
      // same chance draws; the figures differ only by what the weights do (relative 1e-3)
      const rx = x.report, ry = (y as ReportRecord).report;
      assert.equal(rx.tokens, ry.tokens);
      assert.equal(rx.chanceDraws, ry.chanceDraws);
      assert.deepEqual(rx.sites.map((r) => r.site), ry.sites.map((r) => r.site));
      rx.sites.forEach((r, k) => {
        for (const which of ['trained', 'chance'] as const)
          for (const f of ['decidedFraction', 'meanDecided', 'meanFraction'] as const)
            assert.ok(Math.abs(r[which][f] - ry.sites[k][which][f]) <= 0.01, `report at ${x.step} ${r.site} ${which}.${f}: ${r[which][f]} vs ${ry.sites[k][which][f]}`);
      });
    } else if (x.type === 'stats') {
      assert.deepEqual(x.stuckSites, (y as StatsRecord).stuckSites, `stats at ${x.step}: the same stuck sites`);
      const ys = (y as StatsRecord).sites;
      assert.equal(x.sites.length, ys.length);
      x.sites.forEach((s, k) => {
        assert.equal(s.site, ys[k].site);
        assert.equal(s.kind, ys[k].kind);
        assert.equal(s.units, ys[k].units);
        for (const f of ['meanMask', 'aMean', 'aStd', 'bMean', 'bStd'] as const) assert.ok(Math.abs(s[f] - ys[k][f]) <= 1e-4 * Math.max(1, Math.abs(ys[k][f])), `stats ${s.site} ${f}: ${s[f]} vs ${ys[k][f]}`);
        // counts of values past a threshold may differ by the odd value sitting on it
        for (const f of ['fracLow', 'fracHigh'] as const) assert.ok(Math.abs(s[f] - ys[k][f]) <= 0.01, `stats ${s.site} ${f}`);
      });
    } else assert.fail(`a record neither engine writes yet: ${(x as MetricRecord).type}`);
  }
  const step = o.step ?? 20;
  const wa = weights(ckpt(a, step)), wb = weights(ckpt(b, step));
  assert.deepEqual([...wa.keys()], [...wb.keys()], 'the same tensors in the same order');
  for (const [n, v] of wa) {
    const e = relErr(v, wb.get(n)!);
    assert.ok(e <= 1e-3, `weight ${n} after ${step} steps: relative error ${e}`);
  }
  // the other files of a checkpoint: same optimizer tensors, same state
  const opt = (d: string) => [...decodeSafetensors(readFileSync(join(ckpt(d, step), 'optimizer.safetensors'))).tensors.keys()];
  assert.deepEqual(opt(a), opt(b));
  const st = (d: string) => JSON.parse(readFileSync(join(ckpt(d, step), 'state.json'), 'utf8'));
  assert.deepEqual(st(a).rng, st(b).rng, 'the same RNG state: both drew the same batches');
  assert.equal(st(a).step, st(b).step);
}

/** Each knob of the config once, in a few small runs (each is 20 steps on both engines). */
const CASES: { name: string; o: Record<string, unknown> }[] = [
  // the default LearnedDropout: Shannon entropy, detached input, λ ramping in (rate > 0), A/B in AdamW;
  // with gradient accumulation and a tight clip that bites
  { name: 'learned, shannon, λ ramp, accumulation 2, clip 0.5', o: { 'train.gradAccum': 2, 'train.gradClip': 0.5, 'dropout.entropy.schedule': { max: 0.5, min: 0, rate: 0.05 } } },
  // complement entropy, sharpened mask, gradients into x, A/B on plain SGD at their own rate, λ constant
  { name: 'learned, complement, sharpen, not detached, A/B SGD at abLr, λ constant', o: { 'dropout.entropy.form': 'complement', 'dropout.sharpen': true, 'dropout.detachInput': false, 'dropout.abOptimizer': 'sgd', 'dropout.abLr': 0.05, 'dropout.entropy.schedule': { max: 0.2, min: 0.2, rate: 0 }, 'dropout.l1.schedule': { max: 0.1, min: 0.1, rate: 0 } } },
  // penalties off one at a time; A/B AdamW at their own rate; no clipping; micro-batches of 2; no warmup
  { name: 'learned, entropy off, L1 on, abLr, no clip, micro-batch 2, no warmup', o: { 'dropout.entropy.enabled': false, 'dropout.abLr': 0.01, 'train.gradClip': 0, 'train.microBatch': 2, 'train.warmupSteps': 0 } },
  // baselines: no dropout; standard dropout at rate 0 (its path, not its random masks: see below)
  { name: 'none, weight decay 0.5', o: { 'dropout.kind': 'none', 'train.weightDecay': 0.5 } },
  { name: 'standard at rate 0', o: { 'dropout.kind': 'standard', 'dropout.rate': 0 } },
  // dropout.rounding: binary forward masks with the soft mask's gradient; stochastic draws the
  // engine's counter-hash noise (same seed per step and micro-batch, so the same draws), here
  // with micro-batches so the per-chunk seeds matter; A/B at a constant rate off the schedule;
  // the validation loss over part of the validation split
  { name: 'learned, rounding straight-through', o: { 'dropout.rounding': 'straight-through' } },
  { name: 'learned, rounding stochastic, micro-batch 2, A/B constant lr', o: { 'dropout.rounding': 'stochastic', 'train.microBatch': 2, 'dropout.abLr': 0.02, 'dropout.abLrMode': 'constant', 'train.evalValTokens': 256 } },
  { name: 'learned, A/B SGD at a constant lr', o: { 'dropout.abOptimizer': 'sgd', 'dropout.abLr': 0.5, 'dropout.abLrMode': 'constant' } },
];

describe('torch backend', { skip }, () => {
  test('its model and optimizer match the PyTorch reference\'s fixtures (logits, masks, loss terms, gradients, 5 AdamW steps)', { timeout: 60_000 }, () => {
    const r = spawnSync(PY, [join(__dirname, 'torchReference.py'), join(fixturesDir, 'tiny')], { encoding: 'utf8', env: { ...process.env, PYTHONPATH: join(repoRoot, 'engine/torch'), PYTHONDONTWRITEBYTECODE: '1' } });
    assert.equal(r.status, 0, r.stderr);
    const errs = JSON.parse(r.stdout) as Record<string, number>;
    assert.deepEqual(Object.keys(errs), ['logits', 'masks', 'grads', 'terms', 'trainLosses', 'after5']);
    for (const [k, e] of Object.entries(errs)) assert.ok(e <= (k === 'after5' ? 1e-3 : 1e-4), `${k}: relative error ${e}`);
  });

  for (const c of CASES) {
    test(`parity, 20 steps: ${c.name}`, { timeout: 300_000 }, async () => {
      const slug = c.name.replace(/[^a-z0-9]+/gi, '-');
      const a = await train(`ts-${slug}`, TS, c.o);
      const b = await train(`torch-${slug}`, TORCH, c.o);
      assertSameRun(b, a);
      const meta = JSON.parse(readFileSync(join(b, 'run.json'), 'utf8'));
      assert.equal(meta.backend, 'torch');
      assert.equal(meta.status, 'completed');
      assert.equal(meta.step, 20);
    });
  }

  test('standard dropout at rate 0.2 trains (its random masks are torch\'s own, so no step-by-step parity)', { timeout: 120_000 }, async () => {
    const b = await train('torch-standard', TORCH, { 'dropout.kind': 'standard', 'dropout.rate': 0.2 });
    const a = join(dir, 'torch-standard-at-rate-0');
    const steps = (d: string) => metrics(d).filter((r): r is StepRecord => r.type === 'step');
    const sb = steps(b), s0 = steps(a);
    assert.equal(sb.length, 20);
    assert.ok(sb.every((r) => Number.isFinite(r.loss)));
    assert.ok(sb.some((r, i) => r.loss !== s0[i].loss), 'dropout changed the losses');
    assert.ok(Math.abs(sb[0].loss - s0[0].loss) < 0.3, `step 1 near the undropped run's: ${sb[0].loss} vs ${s0[0].loss}`);
  });

  test('a killed torch worker leaves a run the TypeScript engine resumes, matching an unbroken run', { timeout: 300_000 }, async () => {
    const o = { 'train.checkpointInterval': 5 };
    const whole = await train('ts-whole', TS, o);
    const out = join(dir, 'torch-killed');
    // --json: one event per line; SIGKILL the Python worker (not the CLI) after the step-10 checkpoint
    const child = spawn(process.execPath, [cliPath, 'train', '--json', '--data', corpus, '--out', out, '--steps', '20', ...TORCH, ...sets(o)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((res) => {
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
        if (/"event":"checkpoint".*"step":10\b/.test(d)) {
          const kids = spawnSync('ps', ['-o', 'pid=', '--ppid', String(child.pid)], { encoding: 'utf8' }).stdout.trim().split(/\s+/).map(Number);
          for (const pid of kids) process.kill(pid, 'SIGKILL');
        }
      });
      child.on('close', res);
    });
    assert.equal(code, 1, `the CLI reports the killed worker: ${stdout}\n${stderr}`);
    const done = stdout.trim().split('\n').map((l) => JSON.parse(l)).find((e) => e.event === 'done');
    assert.equal(done.status, 'failed');
    assert.match(done.error, /killed \(SIGKILL\).*resumes from its last checkpoint/);
    const meta = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
    assert.equal(meta.status, 'failed');
    assert.ok(existsSync(join(ckpt(out, 10), 'state.json')), 'the step-10 checkpoint is whole');
    // resume on the TypeScript engine from the torch checkpoint: the same steps as never stopping
    const r = await runCli(['resume', '--run', out, ...TS], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /resuming at step (10|15) of 20/);
    assertSameRun(out, whole);
  });

  test('a TypeScript checkpoint resumes on torch, matching an unbroken run', { timeout: 300_000 }, async () => {
    const o = { 'train.checkpointInterval': 5 };
    const out = join(dir, 'ts-then-torch');
    let r = await runCli(['train', '--data', corpus, '--out', out, '--steps', '10', ...TS, ...sets(o)], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    r = await runCli(['resume', '--run', out, '--steps', '20', ...TORCH], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /backend torch .*\nresuming at step 10 of 20/);
    assertSameRun(out, join(dir, 'ts-whole'));
  });

  test('a run written before issue 13\'s keys resumes on torch by the engine\'s upgraded config, matching an unbroken run', { timeout: 300_000 }, async () => {
    // the unbroken TypeScript run cut back to its step-10 checkpoint, its config.json without
    // evalValTokens, rounding and abLrMode (as older runs have it); resumed without --steps, so
    // config.json is not rewritten and the worker trains by the job's upgraded config. (On this
    // small corpus the worker's own fallbacks would give the same numbers: evalValTokens' default
    // only caps validation splits over 131,072 tokens; so the job's config is checked directly.)
    const out = join(dir, 'old-config');
    cpSync(join(dir, 'ts-whole'), out, { recursive: true });
    for (const s of [15, 20]) rmSync(ckpt(out, s), { recursive: true });
    const cfgPath = join(out, 'config.json'), saved = JSON.parse(readFileSync(cfgPath, 'utf8'));
    delete saved.config.train.evalValTokens;
    delete saved.config.dropout.rounding;
    delete saved.config.dropout.abLrMode;
    writeFileSync(cfgPath, JSON.stringify(saved));
    const r = await runCli(['resume', '--run', out, ...TORCH], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /resuming at step 10 of 20/);
    assert.ok(!Object.hasOwn(JSON.parse(readFileSync(cfgPath, 'utf8')).config.train, 'evalValTokens'), 'config.json as it was');
    const job = JSON.parse(readFileSync(join(out, 'torch', 'job.json'), 'utf8'));
    assert.equal(job.config.train.evalValTokens, resolveConfig('tiny', {}).train.evalValTokens);
    assert.equal(job.config.dropout.rounding, 'none');
    assert.equal(job.config.dropout.abLrMode, 'scaled');
    assertSameRun(out, join(dir, 'ts-whole'));
  });

  test('two processes under torchrun (gloo) equal one process on the same global batch', { timeout: 300_000 }, async () => {
    const o = { 'train.gradAccum': 2 };
    const one = await train('torch-1proc', TORCH, o);
    const two = await train('torch-2proc', TORCH, o, ['--nproc', '2']);
    const ma = metrics(two).filter((r) => r.type !== 'stats'), mb = metrics(one).filter((r) => r.type !== 'stats');
    assert.equal(ma.length, mb.length);
    ma.forEach((x, i) => {
      if (x.type === 'step') assert.ok(rel(x.loss, (mb[i] as StepRecord).loss) <= 1e-4, `step ${x.step}: ${x.loss} vs ${(mb[i] as StepRecord).loss}`);
      if (x.type === 'eval') assert.ok(rel(x.valLoss, (mb[i] as EvalRecord).valLoss) <= 1e-4);
    });
    for (const [n, v] of weights(ckpt(two, 20))) assert.ok(relErr(v, weights(ckpt(one, 20)).get(n)!) <= 1e-3, n);
    assert.equal(JSON.parse(readFileSync(join(two, 'run.json'), 'utf8')).status, 'completed');
  });

  test('a config key or mode ldtorch does not implement is refused, by the engine and by the worker itself, naming it', { timeout: 120_000 }, () => {
    const env = { ...process.env, PYTHONPATH: join(repoRoot, 'engine/torch'), PYTHONDONTWRITEBYTECODE: '1' };
    const keys = (cfg: unknown) => {
      const r = spawnSync(PY, ['-m', 'ldtorch.config_keys'], { input: JSON.stringify(cfg), encoding: 'utf8', env });
      assert.equal(r.status, 0, r.stderr);
      return (JSON.parse(r.stdout) as { problems: string[] }).problems;
    };
    // every key and mode of the engine's config is one the worker implements (a key added to
    // config.ts fails here until ldtorch implements it and lists it in config_keys.py)
    const cfg = resolveConfig('tiny', {}) as unknown as { model: Record<string, unknown>; dropout: Record<string, unknown> };
    cfg.model.vocabSize = 65;
    assert.deepEqual(keys(cfg), []);
    for (const rounding of ['straight-through', 'stochastic']) assert.deepEqual(keys({ ...cfg, dropout: { ...cfg.dropout, rounding } }), []);
    assert.deepEqual(keys({ ...cfg, dropout: { ...cfg.dropout, futureKnob: 1 } }), ['dropout.futureKnob: this torch worker does not implement it (train on the TypeScript engine, or update ldtorch)']);
    assert.match(keys({ ...cfg, dropout: { ...cfg.dropout, rounding: 'gumbel' } }).join(), /dropout\.rounding: "gumbel" is not implemented by this torch worker/);
    // the worker refuses such a run folder itself (a cluster launch no engine prepared), before training
    const src = join(dir, 'torch-learned-rounding-straight-through'), copy = join(dir, 'torch-future-key');
    cpSync(src, copy, { recursive: true });
    // the config the worker trains by: the job's (the engine's upgraded one), else config.json's
    const jobPath = join(copy, 'torch', 'job.json');
    const job = JSON.parse(readFileSync(jobPath, 'utf8'));
    job.config.dropout.futureKnob = 1;
    writeFileSync(jobPath, JSON.stringify(job));
    const before = readFileSync(join(copy, 'metrics.jsonl'), 'utf8');
    const r = spawnSync(PY, ['-m', 'ldtorch.train', '--job', jobPath], { input: '', encoding: 'utf8', env });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    const ended = r.stdout.trim().split('\n').map((l) => JSON.parse(l)).find((e) => e.type === 'ended');
    assert.equal(ended.status, 'failed');
    assert.match(ended.error, /does not implement: dropout\.futureKnob: this torch worker does not implement it/);
    assert.equal(readFileSync(join(copy, 'metrics.jsonl'), 'utf8'), before, 'nothing trained');
    assert.equal(JSON.parse(readFileSync(join(copy, 'run.json'), 'utf8')).status, 'failed');
  });

  test('bad input: no such Python, a corrupt checkpoint, an unknown --device: one clear line, nothing lost', { timeout: 120_000 }, async () => {
    let r = await runCli(['train', '--data', corpus, '--out', join(dir, 'nopy'), '--backend', 'torch', '--python', join(dir, 'no-such-python'), ...sets({})]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /the torch backend cannot start: no Python: .*no-such-python was not found/);
    assert.ok(!existsSync(join(dir, 'nopy')), 'no run folder for a run that could not start');
    r = await runCli(['train', '--data', corpus, '--out', join(dir, 'nodev'), '--backend', 'torch', '--device', 'tpu', ...sets({})]);
    assert.match(r.stderr, /--device must be auto, cuda, mps or cpu/);

    const run = join(dir, 'torch-1proc');
    const model = join(ckpt(run, 20), 'model.safetensors');
    const before = readFileSync(join(run, 'metrics.jsonl'), 'utf8');
    truncateSync(model, 100);
    r = await runCli(['resume', '--run', run, '--steps', '30', ...TORCH]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /model\.safetensors.*truncated/);
    assert.equal(readFileSync(join(run, 'metrics.jsonl'), 'utf8'), before, 'the metrics are untouched');
    assert.ok(existsSync(join(ckpt(run, 10), 'model.safetensors')), 'the earlier checkpoint is untouched');
  });
});
