// dropout.rounding against PyTorch: the reference's tiny case with straight-through and stochastic
// masks, written by engine/test/reference/rounding_fixtures.py (which imports the reference model
// and extends its LearnedDropout forward): logits, soft masks, loss terms and every gradient.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { initBackend, tf } from '../src/backend';
import { DEFAULTS, merge, type DropoutConfig, type MaskRounding, type ModelShape } from '../src/config';
import { maskNoise } from '../src/ops/maskRounding';
import { GPT } from '../src/model';
import { decodeSafetensors } from '../src/safetensors';
import { fixturesDir } from './helpers';

const refDir = join(fixturesDir, 'tiny');
const ownDir = join(__dirname, 'fixtures/rounding');
const spec = JSON.parse(readFileSync(join(refDir, 'case.json'), 'utf8'));
const own = JSON.parse(readFileSync(join(ownDir, 'case.json'), 'utf8'));
const read = (path: string) => decodeSafetensors(readFileSync(path), path).tensors;
const shape: ModelShape = spec.model;

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let diff = 0, norm = 1e-30;
  for (let i = 0; i < a.length; i++) {
    diff += (a[i] - b[i]) ** 2;
    norm += b[i] ** 2;
  }
  return Math.sqrt(diff / norm);
}

test('the rounding noise is the one the PyTorch script draws', () => {
  assert.deepEqual(Array.from(maskNoise(own.seed, 5, 4)), own.noiseCheck);
});

function model(rounding: MaskRounding): GPT {
  const dropout: DropoutConfig = merge(DEFAULTS.dropout, { kind: 'learned', entropy: { form: 'shannon' }, rounding });
  return GPT.fromWeights(shape, dropout, new Map([...read(join(refDir, 'weights.safetensors'))].map(([n, v]) => [n, v.data])));
}

for (const backend of ['wasm', 'cpu'] as const)
  for (const rounding of ['straight-through', 'stochastic'] as const)
    test(`rounding ${rounding} on ${backend}: logits, masks, loss terms and gradients match PyTorch`, async () => {
      await initBackend(backend);
      const m = model(rounding);
      const expected = read(join(ownDir, rounding, 'forward.safetensors'));
      const idx = tf.tensor2d(spec.idx, undefined, 'int32'), tgt = tf.tensor2d(spec.targets, undefined, 'int32');
      let r!: ReturnType<typeof m.loss>;
      const { grads } = m.gradients(() => {
        r = m.loss(idx, tgt, spec.lambdaEntropy, spec.lambdaL1, { training: true, seed: own.seed });
        [r.logits, ...r.masks, r.crossEntropy, r.entropy, r.l1].forEach((t) => tf.keep(t));
        return r.loss;
      });
      assert.ok(relErr(await r.logits.data(), expected.get('logits')!.data) <= 1e-4, 'logits');
      for (const [i, s] of m.sites.entries()) assert.ok(relErr(await r.masks[i].data(), expected.get('mask:' + s.name)!.data) <= 1e-4, `mask ${s.name}`);
      const want = own.expected[rounding];
      for (const [got, key] of [[r.crossEntropy, 'crossEntropy'], [r.entropy, 'entropy'], [r.l1, 'l1']] as const) {
        const v = (await got.data())[0];
        assert.ok(Math.abs(v - want[key]) <= 1e-4 * Math.abs(want[key]), `${key}: ${v} vs ${want[key]}`);
      }
      for (const [name, g] of grads) {
        const e = relErr(await g.data(), expected.get('grad:' + name)!.data);
        assert.ok(e <= 1e-3, `grad ${name}: relative error ${e}`);
      }
      assert.equal(grads.size, m.params.size, 'every parameter gets a gradient');
      m.dispose();
    });

test('at inference: straight-through stays binary, stochastic uses the soft mask (the reference logits)', async () => {
  await initBackend('wasm');
  const idx = tf.tensor2d(spec.idx, undefined, 'int32');
  const soft = read(join(refDir, 'forward.safetensors')).get('logits')!.data;
  const st = read(join(ownDir, 'straight-through', 'forward.safetensors')).get('logits')!.data;
  const logits = async (rounding: MaskRounding) => {
    const m = model(rounding);
    const l = m.forward(idx, { training: false }).logits;
    const d = await l.data();
    m.dispose();
    return d;
  };
  assert.ok(relErr(await logits('stochastic'), soft) <= 1e-4);
  assert.ok(relErr(await logits('straight-through'), st) <= 1e-4);
  assert.ok(relErr(await logits('straight-through'), soft) > 1e-2, 'binary masks change the logits');
});
