// Parity with the PyTorch reference (shared/reference/ld_gpt.py): logits, every mask, the loss
// terms, every gradient and the weights after five AdamW steps, on each CPU backend we ship.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { initBackend, tf } from '../src/backend';
import { DEFAULTS, lrAt, merge, type DropoutConfig, type ModelShape } from '../src/config';
import { GPT } from '../src/model';
import { backendOps } from '../src/ops/backendOps';
import { fusedOps } from '../src/ops/fused';
import { ldKernelsForBackend } from '../src/ops/ldKernels';
import { nativeOps } from '../src/ops/nativeOps';
import { referenceOps } from '../src/ops/reference';
import { AdamW } from '../src/optim';
import { decodeSafetensors } from '../src/safetensors';
import { fixturesDir } from './helpers';

const dir = join(fixturesDir, 'tiny');
const spec = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8'));
const read = (f: string) => decodeSafetensors(readFileSync(join(dir, f)), f).tensors;

/**
 * Norm-wise relative error ‖a − b‖₂ / ‖b‖₂. Element-wise relative error is meaningless for entries
 * near zero (and AdamW's normalized step turns a 1e-7 gradient difference on a near-zero gradient
 * into a full-size step difference for that one entry), so the tensor's norm sets the scale.
 */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let diff = 0, norm = 1e-30;
  for (let i = 0; i < a.length; i++) {
    diff += (a[i] - b[i]) ** 2;
    norm += b[i] ** 2;
  }
  return Math.sqrt(diff / norm);
}

const shape: ModelShape = spec.model;
const dropout: DropoutConfig = merge(DEFAULTS.dropout, { kind: 'learned', entropy: { form: 'shannon' } });

// webgpu runs where its optional packages and a GPU adapter are there (see README, Compute
// backends; LDLENS_WEBGPU_SOFTWARE=1 with Mesa's lavapipe runs it without a GPU), else it is skipped.
for (const [backend, fused] of [['wasm', true], ['wasm', false], ['cpu', true], ['cpu', false], ['webgpu', false]] as const) {
  test(`parity with the PyTorch reference on ${backend}, ${fused ? 'fused LearnedDropout kernel' : 'op-by-op LearnedDropout'}`, async (t) => {
    if (backend === 'webgpu') {
      try {
        await initBackend('webgpu');
      } catch (e) {
        t.skip(`webgpu cannot start here: ${(e as Error).message.replace(/^no compute backend could start: /, '')}`);
        return;
      }
    } else await initBackend(backend);
    const weights = new Map([...read('weights.safetensors')].map(([n, v]) => [n, v.data]));
    const expected = read('forward.safetensors');
    // The fused kernels on wasm are the native ones (the SIMD module with LDLENS_NATIVE=0), on cpu the JS loops; the
    // backend picks them (webgpu: the reference ops) unless LDLENS_FUSED=0. Here they run whatever LDLENS_FUSED says.
    const fusedKernels = fusedOps(nativeOps(), ldKernelsForBackend());
    const kernelsWanted = backend === 'cpu' ? 'fused (LearnedDropout js)' : process.env.LDLENS_NATIVE === '0' ? 'fused (LearnedDropout wasm-simd)' : 'fused (LearnedDropout native, native attention, GELU, LayerNorm)';
    if (backend !== 'webgpu') assert.equal(fusedKernels.name, kernelsWanted);
    assert.equal(backendOps().model.name, backend === 'webgpu' || process.env.LDLENS_FUSED === '0' ? 'reference' : kernelsWanted);
    const model = GPT.fromWeights(shape, dropout, weights, fused ? fusedKernels : referenceOps);
    const idx = tf.tensor2d(spec.idx, undefined, 'int32');
    const tgt = tf.tensor2d(spec.targets, undefined, 'int32');
    const { lambdaEntropy, lambdaL1 } = spec;

    await t.test('forward: logits, masks, loss terms', async () => {
      let r!: ReturnType<typeof model.loss>;
      tf.tidy(() => {
        r = model.loss(idx, tgt, lambdaEntropy, lambdaL1, { training: true });
        return [r.logits, ...r.masks, r.crossEntropy, r.entropy, r.l1, r.loss]; // kept, the rest freed
      });
      // Asynchronous reads: GPU backends (webgpu) have no synchronous read in Node.
      assert.ok(relErr(await r.logits.data(), expected.get('logits')!.data) <= 1e-4, 'logits');
      assert.equal(r.masks.length, model.sites.length);
      for (const [i, s] of model.sites.entries()) {
        const want = expected.get('mask:' + s.name)!;
        assert.deepEqual(r.masks[i].shape, want.shape, s.name);
        const e = relErr(await r.masks[i].data(), want.data);
        assert.ok(e <= 1e-4, `mask ${s.name}: relative error ${e}`);
      }
      const close = (got: number, want: number, what: string) =>
        assert.ok(Math.abs(got - want) <= 1e-4 * Math.abs(want), `${what}: ${got} vs ${want}`);
      close((await r.crossEntropy.data())[0], spec.expected.crossEntropy, 'cross-entropy');
      close((await r.entropy.data())[0], spec.expected.entropy, 'entropy');
      close((await r.l1.data())[0], spec.expected.l1, 'L1');
      close((await r.loss.data())[0], spec.expected.loss, 'loss');
      tf.dispose([r.logits, ...r.masks, r.crossEntropy, r.entropy, r.l1, r.loss]);
    });

    // The chance baseline reads each site's input (attention: the softmax probabilities, zero above
    // the diagonal); an inference pass that asks for them gets them from the kernels as op by op.
    await t.test("inference with the sites' inputs: masks and inputs as the op-by-op path's", async () => {
      const ref = fused ? GPT.fromWeights(shape, dropout, weights, referenceOps) : model;
      const run = (m: GPT) => {
        let r!: ReturnType<GPT['forward']>;
        tf.tidy(() => {
          r = m.forward(idx, { training: false, wantInputs: true });
          return [r.logits, ...r.masks, ...r.inputs!]; // kept, the rest freed
        });
        return r;
      };
      const a = run(model), b = run(ref);
      assert.equal(a.inputs!.length, model.sites.length);
      for (const [i, s] of model.sites.entries()) {
        assert.deepEqual(a.inputs![i].shape, b.masks[i].shape, `input ${s.name}: the mask's shape`);
        const ia = await a.inputs![i].data(), ib = await b.inputs![i].data();
        assert.ok(relErr(ia, ib) <= 1e-5, `input ${s.name}: relative error ${relErr(ia, ib)}`);
        assert.ok(relErr(await a.masks[i].data(), await b.masks[i].data()) <= 1e-5, `mask ${s.name}`);
        if (s.kind === 'attention') {
          const T = spec.idx[0].length;
          for (let e = 0; e < ia.length; e++) if (e % T > Math.floor(e / T) % T) assert.equal(ia[e], 0, `${s.name}: p above the diagonal`);
        }
      }
      tf.dispose([a.logits, ...a.masks, ...a.inputs!, ...(ref === model ? [] : [b.logits, ...b.masks, ...b.inputs!])]);
      if (ref !== model) ref.dispose();
    });

    await t.test('every gradient', async () => {
      const { value, grads } = model.gradients(() => model.loss(idx, tgt, lambdaEntropy, lambdaL1, { training: true }).loss);
      value.dispose();
      for (const name of model.params.keys()) {
        const g = grads.get(name);
        assert.ok(g, `no gradient for ${name}`);
        const e = relErr(await g.data(), expected.get('grad:' + name)!.data);
        assert.ok(e <= 1e-4, `grad ${name}: relative error ${e}`);
      }
      grads.forEach((g) => g.dispose());
    });

    // The op-by-op runs also take the optimizer's tensor path, the one GPU backends use.
    await t.test(`weights after five AdamW steps (warmup + cosine, clipping; moments ${fused ? 'in JS arrays' : 'as tensors'})`, async () => {
      const o = spec.optimizer;
      const opt = new AdamW(model.params, (n) => ({ lrScale: 1, weightDecay: model.params.get(n)!.rank >= 2 ? o.weightDecay : 0, kind: 'adamw' }), {
        betas: o.betas,
        eps: o.eps,
        onDevice: !fused,
      });
      assert.equal(opt.onDevice, !fused);
      for (let step = 0; step < 5; step++) {
        const lr = lrAt(step, o);
        assert.ok(Math.abs(lr - spec.trainLrs[step]) < 1e-12, `lr at ${step}`);
        const { value, grads } = model.gradients(() => model.loss(idx, tgt, lambdaEntropy, lambdaL1, { training: true }).loss);
        assert.ok(Math.abs((await value.data())[0] - spec.trainLosses[step]) <= 1e-4 * spec.trainLosses[step], `loss at step ${step}`);
        await opt.update(grads, lr, o.gradClip);
        value.dispose();
        for (const g of grads.values()) g.dispose();
      }
      const after = read('after-5-steps.safetensors');
      for (const [name, p] of model.params) {
        const e = relErr(await p.data(), after.get(name)!.data);
        assert.ok(e <= 1e-4, `weights ${name} after 5 steps: relative error ${e}`);
      }
      const st = await opt.state();
      assert.equal(st.step, 5);
      assert.ok([...st.v.values()].every((v) => v.some((x) => x > 0)), 'second moments were updated');
      opt.dispose();
    });
    model.dispose();
    idx.dispose();
    tgt.dispose();
  });
}
