// The in-place cross-entropy (ops/crossEntropy.ts) gives the tfjs expression's value and gradient
// bit for bit (model.ts crossEntropyMean), on every backend whose tensors JS reads, for a row count
// that is not a power of two and an upstream gradient that is not 1; a target outside the
// vocabulary is refused by name. scripts/test.sh runs it again with LDLENS_NATIVE=0.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initBackend, tf } from '../src/backend';
import { crossEntropyMean } from '../src/model';
import { crossEntropyInPlace } from '../src/ops/crossEntropy';
import { Rng } from '../src/rng';

for (const backend of ['wasm', 'cpu'] as const) {
  test(`in-place cross-entropy on ${backend}: the tfjs expression's value and gradient, bit for bit`, async () => {
    await initBackend(backend);
    const rng = new Rng(5);
    for (const [B, T, V, scale, spread] of [[3, 7, 65, 0.37, 3], [16, 64, 65, 1, 1], [2, 5, 11, -2.5, 30]] as const) {
      const z = tf.variable(tf.tensor3d(Float32Array.from({ length: B * T * V }, () => spread * rng.normal()), [B, T, V]));
      const y = tf.tensor2d(Int32Array.from({ length: B * T }, () => rng.int(V)), [B, T], 'int32');
      const run = (ce: typeof crossEntropyMean) => {
        const { value, grads } = tf.variableGrads(() => tf.mul(ce(z as unknown as tf.Tensor3D, y), scale) as tf.Scalar, [z]);
        const out = { value: value.dataSync().slice(), grad: Object.values(grads)[0].dataSync().slice() };
        tf.dispose([value, ...Object.values(grads)]);
        return out;
      };
      const ops = run(crossEntropyMean), inPlace = run(crossEntropyInPlace);
      assert.deepEqual(inPlace.value, ops.value, `value, (${B}, ${T}, ${V})`);
      assert.deepEqual(inPlace.grad, ops.grad, `gradient, (${B}, ${T}, ${V})`);
      assert.ok(ops.grad.some((g) => g > 0) && ops.grad.some((g) => g < 0), 'a gradient with both signs');
      const before = tf.memory().numTensors;
      tf.tidy(() => {
        crossEntropyInPlace(z as unknown as tf.Tensor3D, y);
      });
      assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
      tf.dispose([z, y]);
    }
    const z = tf.zeros([1, 2, 5]) as tf.Tensor3D, y = tf.tensor2d([[1, 5]], [1, 2], 'int32');
    assert.throws(() => crossEntropyInPlace(z, y), /target id 5 at 1 is outside the vocabulary of 5/);
    tf.dispose([z, y]);
  });
}
