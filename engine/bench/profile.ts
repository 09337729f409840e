// Per-kernel time of one training step (tf.profile), to see where a step goes.
// Usage: npx tsx engine/bench/profile.ts [tiny|small] [backend]   (LDLENS_PROFILE_SHAPES=1: per input
// shapes; LDLENS_PROFILE_INFER=1: the inference benchmark's forward pass instead of a training step)
import { readFileSync } from 'node:fs';
import { initBackend, tf } from '../src/backend';
import { BENCH_SHAPES } from '../src/bench';
import { DEFAULTS, merge, type ModelShape } from '../src/config';
import { Dataset } from '../src/dataset';
import { GPT, initWeights } from '../src/model';
import { AdamW } from '../src/optim';
import { Rng } from '../src/rng';
import { buildTokenizer } from '../src/tokenizer';

(async () => {
  const name = process.argv[2] ?? 'small';
  await initBackend((process.argv[3] as 'wasm') ?? 'wasm');
  const b = BENCH_SHAPES[name];
  const text = readFileSync(process.env.LDLENS_BENCH_TEXT ?? '../shared/data/tinyshakespeare.txt', 'utf8');
  const tok = buildTokenizer('char', text);
  const ds = new Dataset(Int32Array.from(tok.encode(text).ids), 0.1);
  const s: ModelShape = { vocabSize: tok.vocabSize, blockSize: b.block, nEmbd: b.embd, nHead: b.head, nLayer: b.layer };
  const d = merge(DEFAULTS.dropout, { aInit: { mean: 0, std: 1 }, bInit: { mean: 0, std: 0.02 } });
  const rng = new Rng(0);
  const model = GPT.fromWeights(s, d, initWeights(s, d, rng));
  const opt = new AdamW(model.params, (n) => ({ lrScale: 1, weightDecay: model.params.get(n)!.rank >= 2 ? 0.1 : 0, kind: 'adamw' }), { betas: [0.9, 0.95], eps: 1e-8 });
  const train = async () => {
    const { x, y } = ds.batch('train', b.batch, b.block, rng);
    const xs = tf.tensor2d(x, [b.batch, b.block], 'int32'), ys = tf.tensor2d(y, [b.batch, b.block], 'int32');
    const { value, grads } = model.gradients(() => model.loss(xs, ys, 0.01, 0.01, { training: true, wantMasks: false }).loss);
    await opt.update(grads, 1e-3, 1);
    await value.data();
    tf.dispose([xs, ys, value, ...grads.values()]);
  };
  const infer = async () => {
    const { x } = ds.batch('train', b.batch, b.block, rng);
    const means = tf.tidy(() => {
      const r = model.forward(tf.tensor2d(x, [b.batch, b.block], 'int32'), { training: false });
      return tf.stack([tf.mean(r.logits), ...r.masks.map((m) => tf.mean(m))]);
    });
    await means.data();
    means.dispose();
  };
  const step = process.env.LDLENS_PROFILE_INFER === '1' ? infer : train;
  await step();
  const t0 = performance.now();
  const info = await tf.profile(step);
  const wall = performance.now() - t0;
  const by = new Map<string, { ms: number; n: number }>();
  const withShapes = process.env.LDLENS_PROFILE_SHAPES === '1';
  for (const k of info.kernels) {
    const key = withShapes ? `${k.name} ${JSON.stringify(k.inputShapes)}` : k.name;
    const e = by.get(key) ?? { ms: 0, n: 0 };
    e.ms += k.kernelTimeMs as number;
    e.n++;
    by.set(key, e);
  }
  const rows = [...by].sort((a, b) => b[1].ms - a[1].ms);
  const total = rows.reduce((p, [, e]) => p + e.ms, 0);
  console.log(`${name}: step wall ${wall.toFixed(0)} ms (profiled), kernels ${total.toFixed(0)} ms`);
  for (const [k, e] of rows.slice(0, withShapes ? 45 : 25)) console.log(`${k.padEnd(withShapes ? 60 : 22)} ${e.ms.toFixed(1).padStart(8)} ms  ${String(e.n).padStart(5)} calls`);
})();
