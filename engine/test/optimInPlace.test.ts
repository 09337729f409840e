// The CPU backends' in-place optimizer step (optimInPlace.ts) against the path it replaced (tfjs
// clipping, then the JS loop on a copy of each weight, assigned back) and against real PyTorch
// (clip_grad_norm_ then torch.optim.AdamW), over steps with and without clipping and with a
// parameter that has no gradient; and what holds a parameter's old values keeps them. scripts/test.sh
// runs it again with LDLENS_NATIVE=0 (wasm's own matrix products: a new buffer each update).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { initBackend, tf } from '../src/backend';
import { DEFAULTS, merge, type DropoutConfig } from '../src/config';
import { GPT, initWeights } from '../src/model';
import { AdamW, clipByGlobalNorm, type ParamGroup } from '../src/optim';
import { buffersReusable } from '../src/optimInPlace';
import { Rng } from '../src/rng';
import { probeTorch } from '../src/torch/python';

const PY = process.env.LDLENS_TEST_PYTHON ?? '/usr/bin/python3';
const SHAPES: Record<string, number[]> = { 'w.weight': [7, 5], 'ln.weight': [5], 'drop.A': [5], 'drop.B': [5], 'fixed.A': [3], 'unused.weight': [4] };
/** Off the loss path at every step (tfjs leaves it out of the gradients). */
const UNUSED = 'unused.weight';
const BETAS: [number, number] = [0.9, 0.95];
const EPS = 1e-8, MAX_NORM = 5;
/** Per step: the gradients' scale (large ones are clipped) and a parameter left without a gradient at that step only. */
const STEPS: { scale: number; skip?: string }[] = [{ scale: 0.3 }, { scale: 4 }, { scale: 0.3, skip: 'ln.weight' }, { scale: 5, skip: 'w.weight' }, { scale: 0.2 }, { scale: 3 }];

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

function initial(): Map<string, Float32Array> {
  const rng = new Rng(3);
  return new Map(Object.entries(SHAPES).map(([n, s]) => [n, Float32Array.from({ length: size(s) }, () => rng.normal())]));
}

/**
 * The gradients of a step. `intermittent`: with the step's skipped parameter left out. torch counts
 * steps per parameter (one skipped keeps a bias correction a step behind); AdamW counts them for
 * all, so only the comparison with the previous path skips a parameter at one step.
 */
function gradArrays(step: number, intermittent = true): Map<string, Float32Array> {
  const rng = new Rng(50 + step), out = new Map<string, Float32Array>();
  for (const [n, s] of Object.entries(SHAPES)) {
    const a = Float32Array.from({ length: size(s) }, () => STEPS[step].scale * rng.normal());
    if (n !== UNUSED && !(intermittent && n === STEPS[step].skip)) out.set(n, a);
  }
  return out;
}

const tensors = (arrays: Map<string, Float32Array>) => new Map([...arrays].map(([n, a]) => [n, tf.tensor(a.slice(), SHAPES[n])]));
const variables = (prefix: string) => new Map([...initial()].map(([n, a]) => [n, tf.variable(tf.tensor(a, SHAPES[n]), true, `${prefix}-${n}-${Math.random()}`)]));

/** AdamW with decay on the matrix; `fixed.A` at a fixed rate; `drop.B` by SGD (the abOptimizer setting). */
function groups(sgd: boolean) {
  return (n: string): ParamGroup =>
    n === 'fixed.A' ? { lrScale: 1, fixedLr: 0.03, weightDecay: 0, kind: 'adamw' }
    : n === 'drop.B' && sgd ? { lrScale: 10, weightDecay: 0, kind: 'sgd' }
    : n.startsWith('drop.') ? { lrScale: 10, weightDecay: 0, kind: 'adamw' }
    : { lrScale: 1, weightDecay: n === 'w.weight' ? 0.1 : 0, kind: 'adamw' };
}
const lrAt = (s: number) => 1e-2 * (1 - s / 10);

/** The path this replaced, kept here as the reference: tfjs clipping, then a loop on a copy of each weight. */
async function previousPath(groupOf: (n: string) => ParamGroup) {
  const params = variables('prev');
  const m = new Map([...params].map(([n, p]) => [n, new Float32Array(p.size)]));
  const v = new Map([...params].map(([n, p]) => [n, new Float32Array(p.size)]));
  const norms: number[] = [], weights: Map<string, Float32Array>[] = [];
  for (let s = 0; s < STEPS.length; s++) {
    const g0 = tensors(gradArrays(s));
    const { grads, norm } = await clipByGlobalNorm(g0, MAX_NORM);
    norms.push(norm);
    const [b1, b2] = BETAS, t = s + 1, bc1 = 1 - b1 ** t, bc2Sqrt = Math.sqrt(1 - b2 ** t);
    for (const [n, p] of params) {
      const gt = grads.get(n);
      if (!gt) continue;
      const grp = groupOf(n), glr = grp.fixedLr ?? lrAt(s) * grp.lrScale, decay = 1 - glr * grp.weightDecay;
      const w = Float32Array.from(p.dataSync() as Float32Array), g = gt.dataSync() as Float32Array;
      if (grp.kind === 'sgd') for (let i = 0; i < w.length; i++) w[i] = w[i] * decay - glr * g[i];
      else {
        const mm = m.get(n)!, vv = v.get(n)!, stepSize = glr / bc1;
        for (let i = 0; i < w.length; i++) {
          const gi = g[i];
          const mi = (mm[i] = b1 * mm[i] + (1 - b1) * gi);
          const vi = (vv[i] = b2 * vv[i] + (1 - b2) * gi * gi);
          w[i] = w[i] * decay - (stepSize * mi) / (Math.sqrt(vi) / bc2Sqrt + EPS);
        }
      }
      p.assign(tf.tensor(w, p.shape));
    }
    tf.dispose([...g0.values(), ...grads.values()]);
    weights.push(new Map([...params].map(([n, p]) => [n, (p.dataSync() as Float32Array).slice()])));
  }
  tf.dispose([...params.values()]);
  return { norms, weights, m, v };
}

async function inPlacePath(groupOf: (n: string) => ParamGroup, intermittent = true) {
  const params = variables('inplace');
  const opt = new AdamW(params, groupOf, { betas: BETAS, eps: EPS });
  assert.equal(opt.onDevice, false, 'the CPU backends take the in-place path');
  const norms: number[] = [], weights: Map<string, Float32Array>[] = [];
  for (let s = 0; s < STEPS.length; s++) {
    const g = tensors(gradArrays(s, intermittent));
    norms.push(await opt.update(g, lrAt(s), MAX_NORM));
    tf.dispose([...g.values()]);
    weights.push(new Map([...params].map(([n, p]) => [n, (p.dataSync() as Float32Array).slice()])));
  }
  const state = await opt.state();
  opt.dispose();
  tf.dispose([...params.values()]);
  return { norms, weights, m: state.m, v: state.v };
}

const clipped = (norm: number) => norm > MAX_NORM;

for (const backend of ['cpu', 'wasm'] as const) {
  test(`in-place AdamW on ${backend} equals the previous path: bit for bit until a step is clipped, within float32 rounding after`, async () => {
    await initBackend(backend);
    for (const sgd of [false, true]) {
      const prev = await previousPath(groups(sgd)), now = await inPlacePath(groups(sgd));
      assert.ok(prev.norms.some(clipped) && !prev.norms.every(clipped), 'steps with and without clipping');
      let exact = true;
      for (let s = 0; s < STEPS.length; s++) {
        // the norm: float64 here, float32 sums there
        assert.ok(Math.abs(now.norms[s] - prev.norms[s]) <= 1e-6 * prev.norms[s], `step ${s + 1} norm ${now.norms[s]} vs ${prev.norms[s]}`);
        if (clipped(prev.norms[s])) exact = false;
        for (const n of Object.keys(SHAPES)) {
          const a = now.weights[s].get(n)!, b = prev.weights[s].get(n)!;
          if (exact) assert.deepEqual(a, b, `step ${s + 1} ${n}: bit for bit before any clipping`);
          else for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= 1e-6 * (1 + Math.abs(b[i])), `step ${s + 1} ${n}[${i}]: ${a[i]} vs ${b[i]}`);
        }
      }
      // the step without a gradient left that parameter as it was
      assert.deepEqual(now.weights[2].get('ln.weight'), now.weights[1].get('ln.weight'));
      assert.notDeepEqual(now.weights[3].get('ln.weight'), now.weights[2].get('ln.weight'));
      assert.deepEqual(now.weights.at(-1)!.get(UNUSED), initial().get(UNUSED), 'a parameter never on the loss path never moves');
      for (const n of Object.keys(SHAPES)) {
        for (const [k, x, y] of [['m', now.m, prev.m], ['v', now.v, prev.v]] as const) {
          const a = x.get(n)!, b = y.get(n)!;
          for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= 1e-6 * (1e-3 + Math.abs(b[i])), `${k} ${n}[${i}]: ${a[i]} vs ${b[i]}`);
        }
      }
    }
  });
}

const TORCH_STEPS = String.raw`
import json, sys, torch
d = json.load(sys.stdin)
params = {n: torch.nn.Parameter(torch.tensor(v, dtype=torch.float32)) for n, v in d['init'].items()}
groups = [{'params': [params[n] for n in g['names']], 'lr': 0.0, 'weight_decay': g['decay']} for g in d['groups']]
opt = torch.optim.AdamW(groups, betas=(0.9, 0.95), eps=1e-8)
norms, weights = [], []
for st in d['steps']:
    for n, p in params.items():
        p.grad = torch.tensor(st['grads'][n], dtype=torch.float32) if n in st['grads'] else None
    norms.append(float(torch.nn.utils.clip_grad_norm_([p for p in params.values() if p.grad is not None], d['maxNorm'])))
    for g, spec in zip(opt.param_groups, d['groups']):
        g['lr'] = spec['fixedLr'] if spec['fixedLr'] is not None else st['lr'] * spec['lrScale']
    opt.step()
    weights.append({n: p.detach().flatten().tolist() for n, p in params.items()})
print(json.dumps({'norms': norms, 'weights': weights, 'torch': torch.__version__}))
`;

test('in-place AdamW equals torch.optim.AdamW after clip_grad_norm_, with clipped steps and a parameter without gradient (None in torch)', { skip: probeTorch(PY).ok ? false : `no PyTorch to test against: ${probeTorch(PY).reason}`, timeout: 120_000 }, async () => {
  await initBackend('wasm');
  const groupOf = groups(false);
  const names = Object.keys(SHAPES);
  const specs = new Map<string, { names: string[]; decay: number; lrScale: number; fixedLr: number | null }>();
  for (const n of names) {
    const g = groupOf(n), key = JSON.stringify(g);
    if (!specs.has(key)) specs.set(key, { names: [], decay: g.weightDecay, lrScale: g.lrScale, fixedLr: g.fixedLr ?? null });
    specs.get(key)!.names.push(n);
  }
  const input = {
    init: Object.fromEntries([...initial()].map(([n, a]) => [n, reshape([...a], SHAPES[n])])),
    groups: [...specs.values()],
    maxNorm: MAX_NORM,
    steps: STEPS.map((_, s) => ({ lr: lrAt(s), grads: Object.fromEntries([...gradArrays(s, false)].map(([n, a]) => [n, reshape([...a], SHAPES[n])])) })),
  };
  const r = spawnSync(PY, ['-c', TORCH_STEPS], { input: JSON.stringify(input), encoding: 'utf8', timeout: 100_000 });
  assert.equal(r.status, 0, r.stderr);
  const torch = JSON.parse(r.stdout) as { norms: number[]; weights: Record<string, number[]>[] };
  const now = await inPlacePath(groupOf, false);
  assert.ok(torch.norms.some(clipped) && !torch.norms.every(clipped), 'steps with and without clipping');
  for (let s = 0; s < STEPS.length; s++) {
    assert.ok(Math.abs(now.norms[s] - torch.norms[s]) <= 1e-6 * torch.norms[s], `step ${s + 1} norm ${now.norms[s]} vs torch ${torch.norms[s]}`);
    for (const n of names) {
      const a = now.weights[s].get(n)!, b = torch.weights[s][n];
      // torch computes the update in float32, this in float64: a few float32 roundings apart
      for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= 2e-6 * (1 + Math.abs(b[i])), `step ${s + 1} ${n}[${i}]: ${a[i]} vs torch ${b[i]}`);
    }
  }
});

function reshape(a: number[], shape: number[]): unknown {
  if (shape.length <= 1) return a;
  const rows = shape[0], per = a.length / rows;
  return Array.from({ length: rows }, (_, r) => reshape(a.slice(r * per, (r + 1) * per), shape.slice(1)));
}

for (const backend of ['cpu', 'wasm'] as const) {
  test(`on ${backend}, training steps update the parameters in their own buffers, and what held the old values keeps them`, async () => {
    await initBackend(backend);
    const shape = { vocabSize: 11, blockSize: 8, nEmbd: 8, nHead: 2, nLayer: 1 };
    const dropout: DropoutConfig = merge(DEFAULTS.dropout, { kind: 'learned' });
    const init = initWeights(shape, dropout, new Rng(1));
    const initCopy = new Map([...init].map(([n, a]) => [n, a.slice()]));
    const model = GPT.fromWeights(shape, dropout, init);
    const opt = new AdamW(model.params, () => ({ lrScale: 1, weightDecay: 0.1, kind: 'adamw' }), { betas: BETAS, eps: EPS });
    const rng = new Rng(2);
    const batch = () => tf.tensor2d(Int32Array.from({ length: 16 }, () => rng.int(11)), [2, 8], 'int32');
    const step = async () => {
      const x = batch(), y = batch();
      const { value, grads } = model.gradients(() => model.loss(x, y, 0.01, 0.01, { training: true, wantMasks: false }).loss);
      await opt.update(grads, 1e-2, 1);
      tf.dispose([x, y, value, ...grads.values()]);
    };
    await step(); // the first update gives each parameter a buffer of its own
    const wte = model.params.get('transformer.wte.weight')!;
    // a product with the weight as its right operand, which tfjs-wasm's own kernel packs and caches by tensor
    const probe = tf.randomNormal([5, shape.vocabSize]);
    tf.matMul(probe, wte).dispose();
    const saved = await model.weights();
    const savedCopy = new Map([...saved].map(([n, a]) => [n, a.slice()]));
    const view = tf.reshape(wte, [-1]); // shares the buffer: the next update must not write into it
    const viewBefore = (view.dataSync() as Float32Array).slice();
    const ids = new Map([...model.params].map(([n, p]) => [n, p.dataId]));
    const tensorsBefore = tf.memory().numTensors;
    await step();
    assert.deepEqual(view.dataSync(), viewBefore, 'a reshape taken before the step keeps the old values');
    assert.notDeepEqual(wte.dataSync(), viewBefore, 'the parameter moved');
    view.dispose();
    await step();
    await step();
    assert.equal(tf.memory().numTensors, tensorsBefore - 1, 'steps leave no tensors behind (the reshape was disposed)');
    let inPlace = 0;
    for (const [n, p] of model.params) if (p.dataId === ids.get(n)) inPlace++;
    if (buffersReusable()) assert.equal(inPlace, model.params.size - 1, 'every parameter but the one a reshape shared kept its buffer');
    else assert.equal(inPlace, 0, 'without the native kernels every update writes a new buffer (tfjs-wasm caches packed weights by tensor)');
    // no kernel computes with a stale copy of a weight (tfjs-wasm's matmul caches packed weights by tensor)
    const copy = tf.tensor(wte.dataSync().slice(), wte.shape);
    const product = (w: tf.Tensor) => tf.tidy(() => tf.matMul(probe, w)).dataSync().slice();
    assert.deepEqual(product(wte), product(copy), 'a product with the weight is one with its current values');
    tf.dispose([probe, copy]);
    const x = batch(), y = batch();
    const fresh = GPT.fromWeights(shape, dropout, await model.weights());
    const lossOf = async (m: GPT) => tf.tidy(() => m.loss(x, y, 0, 0, { training: false, wantMasks: false }).crossEntropy).data();
    assert.deepEqual(await lossOf(model), await lossOf(fresh), 'the trained model computes as a new one made from its weights');
    fresh.dispose();
    tf.dispose([x, y]);
    for (const [n, a] of saved) assert.deepEqual(a, savedCopy.get(n), `weights() of before the steps, ${n}, unchanged`);
    for (const [n, a] of init) assert.deepEqual(a, initCopy.get(n), `the arrays the model was made from, ${n}, unchanged`);
    opt.dispose();
    model.dispose();
  });
}
