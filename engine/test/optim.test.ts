// The two AdamW paths (moments in JS arrays on the CPU backends; one flat vector of tensors on GPU
// backends) give the same updates: parameter groups (decay, learning-rate scale, sgd), clipping,
// parameters off the loss path, and a state saved by one path and loaded by the other.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initBackend, tf } from '../src/backend';
import { AdamW, type ParamGroup } from '../src/optim';
import { Rng } from '../src/rng';

const SHAPES: Record<string, number[]> = { 'w.weight': [6, 5], 'ln.weight': [5], 'drop.A': [5], 'drop.B': [5] };

function params(seed: number): Map<string, tf.Variable> {
  const rng = new Rng(seed);
  return new Map(Object.entries(SHAPES).map(([n, s]) => [n, tf.variable(tf.tensor(Float32Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => rng.normal()), s), true, `${n}-${seed}-${Math.random()}`)]));
}

function grads(step: number, skip?: string): Map<string, tf.Tensor> {
  const rng = new Rng(100 + step);
  const out = new Map<string, tf.Tensor>();
  for (const [n, s] of Object.entries(SHAPES)) {
    const g = tf.tensor(Float32Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => 3 * rng.normal()), s);
    if (n === skip) g.dispose();
    else out.set(n, g);
  }
  return out;
}

// Decay on 2-D weights, A/B at 10× the rate with plain SGD (the `abOptimizer: sgd` setting).
const groupOf = (n: string): ParamGroup =>
  n.endsWith('.A') || n.endsWith('.B') ? { lrScale: 10, weightDecay: 0, kind: 'sgd' } : { lrScale: 1, weightDecay: n === 'w.weight' ? 0.1 : 0, kind: 'adamw' };

async function run(onDevice: boolean, skip?: string) {
  const p = params(7);
  const opt = new AdamW(p, groupOf, { betas: [0.9, 0.95], eps: 1e-8, onDevice });
  const norms: number[] = [];
  for (let s = 0; s < 4; s++) {
    const g = grads(s, s === 2 ? skip : undefined);
    norms.push(await opt.update(g, 1e-2, 5));
    tf.dispose([...g.values()]);
  }
  const w = new Map([...p].map(([n, v]) => [n, v.dataSync().slice() as Float32Array]));
  return { opt, p, w, norms, state: await opt.state() };
}

function close(a: Float32Array, b: Float32Array, what: string) {
  assert.equal(a.length, b.length, what);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= 1e-5 * (1 + Math.abs(b[i])), `${what}[${i}]: ${a[i]} vs ${b[i]}`);
}

test('AdamW: the flat on-device update equals the JS-array update (groups, sgd, clipping)', async () => {
  await initBackend('cpu');
  const js = await run(false), dev = await run(true);
  assert.equal(js.opt.onDevice, false);
  assert.equal(dev.opt.onDevice, true);
  for (let i = 0; i < 4; i++) assert.ok(Math.abs(js.norms[i] - dev.norms[i]) < 1e-4 * js.norms[i], `norm ${i}`);
  assert.ok(js.norms.some((n) => n > 5), 'clipping was exercised');
  for (const n of Object.keys(SHAPES)) {
    close(dev.w.get(n)!, js.w.get(n)!, `weights ${n}`);
    close(dev.state.m.get(n)!, js.state.m.get(n)!, `m ${n}`);
    close(dev.state.v.get(n)!, js.state.v.get(n)!, `v ${n}`);
  }
  assert.ok(![...params(7).get('w.weight')!.dataSync()].every((x, i) => x === js.w.get('w.weight')![i]), 'the weights moved');
  for (const r of [js, dev]) r.opt.dispose();
});

test('AdamW: a parameter off the loss path keeps its value and moments on both paths', async () => {
  await initBackend('cpu');
  const js = await run(false, 'ln.weight'), dev = await run(true, 'ln.weight');
  for (const n of Object.keys(SHAPES)) {
    close(dev.w.get(n)!, js.w.get(n)!, `weights ${n}`);
    close(dev.state.m.get(n)!, js.state.m.get(n)!, `m ${n}`);
  }
  const full = await run(false);
  assert.notDeepEqual(js.w.get('ln.weight'), full.w.get('ln.weight'), 'skipping a step changed the outcome');
  for (const r of [js, dev, full]) r.opt.dispose();
});

test('AdamW: state saved from one path loads into the other and continues identically', async () => {
  await initBackend('cpu');
  const a = await run(true);
  const p = params(7);
  for (const [n, v] of a.p) p.get(n)!.assign(v);
  const b = new AdamW(p, groupOf, { betas: [0.9, 0.95], eps: 1e-8, onDevice: false });
  b.load(a.state);
  assert.equal(b.step, 4);
  const g1 = grads(9), g2 = grads(9);
  await a.opt.update(g1, 1e-2, 5);
  await b.update(g2, 1e-2, 5);
  for (const n of Object.keys(SHAPES)) close(a.p.get(n)!.dataSync() as Float32Array, p.get(n)!.dataSync() as Float32Array, `after resume ${n}`);
  tf.dispose([...g1.values(), ...g2.values()]);
  a.opt.dispose();
  b.dispose();
});
