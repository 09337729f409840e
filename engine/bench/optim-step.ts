// Times one optimizer step (AdamW.update: global norm, clipping, update) on the `tiny` bench
// shape's parameters (`ldlens bench --shapes tiny`: 29 tensors, 107,776 floats), with the gradients
// of a real training step; steps alternate clipped and unclipped. Prints the median and spread of
// each path the backend has: the CPU backends' in-place one and the flat tensor one GPU backends use.
// Usage: npx tsx engine/bench/optim-step.ts [wasm|cpu] [steps]
import type { BackendChoice } from '@common/protocol';
import { initBackend, tf } from '../src/backend';
import { BENCH_SHAPES, benchModel, modelShapeOf } from '../src/bench';
import { Rng } from '../src/rng';

async function main() {
  const backend = (process.argv[2] ?? 'wasm') as BackendChoice;
  const steps = Number(process.argv[3] ?? 300);
  await initBackend(backend);
  const s = modelShapeOf(BENCH_SHAPES.tiny, 65);
  const { model, optimizer } = benchModel(s, new Rng(0));
  const rng = new Rng(1);
  const x = tf.tensor2d(Int32Array.from({ length: 16 * 64 }, () => rng.int(s.vocabSize)), [16, 64], 'int32');
  const { value, grads } = model.gradients(() => model.loss(x, x, 0.01, 0.01, { training: true, wantMasks: false }).loss);
  const floats = [...model.params.values()].reduce((a, p) => a + p.size, 0);
  console.log(`${backend}: ${model.params.size} parameters, ${floats.toLocaleString('en-US')} floats, ${steps} steps per path`);
  for (const onDevice of [false, true]) {
    const opt = optimizer({ onDevice });
    const times: number[] = [];
    for (let i = 0; i < steps + 10; i++) {
      const t0 = performance.now();
      await opt.update(grads, 1e-6, i % 2 ? 1e-3 : 1e9); // tiny lr: the weights stay near where they were
      if (i >= 10) times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    const q = (f: number) => times[Math.floor(f * (times.length - 1))].toFixed(3);
    console.log(`${onDevice ? 'flat tensors (GPU path)' : 'in place (CPU path)    '}  median ${q(0.5)} ms  (p10 ${q(0.1)}, p90 ${q(0.9)})`);
    opt.dispose();
  }
  tf.dispose([x, value, ...grads.values()]);
  model.dispose();
}

void main();
