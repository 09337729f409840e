// What one `tiny` training step (`ldlens bench --shapes tiny`: batch 16 × 64, 2 layers of 64)
// costs beyond its native kernels: the tfjs kernels it runs (tf.profile of one step: forward,
// backward, AdamW) by name, and the cross-entropy's forward and backward timed alone, as tfjs ops
// and in place (ops/crossEntropy.ts), alternating.
// Usage: npx tsx engine/bench/step-parts.ts [wasm|cpu] [repeats]
import type { BackendChoice } from '@common/protocol';
import { initBackend, tf } from '../src/backend';
import { BENCH_SHAPES, benchModel, modelShapeOf } from '../src/bench';
import { crossEntropyMean } from '../src/model';
import { crossEntropyInPlace } from '../src/ops/crossEntropy';
import { Rng } from '../src/rng';

async function main() {
  const backend = (process.argv[2] ?? 'wasm') as BackendChoice;
  const repeats = Number(process.argv[3] ?? 300);
  await initBackend(backend);
  const s = modelShapeOf(BENCH_SHAPES.tiny, 65);
  const { model, optimizer } = benchModel(s, new Rng(0));
  const opt = optimizer();
  const rng = new Rng(1);
  const ids = () => tf.tensor2d(Int32Array.from({ length: 16 * 64 }, () => rng.int(s.vocabSize)), [16, 64], 'int32');
  const x = ids(), y = ids();
  const step = async () => {
    const { value, grads } = model.gradients(() => model.loss(x, y, 0.01, 0.01, { training: true, wantMasks: false }).loss);
    await value.data();
    await opt.update(grads, 1e-3, 1);
    tf.dispose([value, ...grads.values()]);
  };
  for (let i = 0; i < 3; i++) await step(); // warm: kernels set up, parameters in their own buffers
  const info = await tf.profile(step);
  const counts = new Map<string, number>();
  for (const k of info.kernels) counts.set(k.name, (counts.get(k.name) ?? 0) + 1);
  console.log(`${backend}: ${info.kernels.length} tfjs kernels per training step: ${[...counts].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ')}`);

  const logits = tf.variable(tf.randomNormal([16, 64, s.vocabSize], 0, 1, 'float32', 2));
  const times = new Map<string, number[]>([['tfjs ops', []], ['in place', []]]);
  for (let i = 0; i < repeats + 10; i++) {
    for (const [name, ce] of [['tfjs ops', crossEntropyMean], ['in place', crossEntropyInPlace]] as const) {
      const t0 = performance.now();
      const { value, grads } = tf.variableGrads(() => ce(logits as unknown as tf.Tensor3D, y), [logits]);
      await value.data();
      tf.dispose([value, ...Object.values(grads)]);
      if (i >= 10) times.get(name)!.push(performance.now() - t0);
    }
  }
  for (const [name, t] of times) {
    t.sort((a, b) => a - b);
    const q = (f: number) => t[Math.floor(f * (t.length - 1))].toFixed(3);
    console.log(`cross-entropy forward + backward on (16, 64, ${s.vocabSize}) logits, ${name}: median ${q(0.5)} ms (p10 ${q(0.1)}, p90 ${q(0.9)}) over ${repeats}`);
  }
  tf.dispose([x, y, logits]);
  opt.dispose();
  model.dispose();
}

void main();
