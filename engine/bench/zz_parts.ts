import { readFileSync } from 'node:fs';
import { initBackend, tf } from '../src/backend';
import { loadCheckpoint } from '../src/checkpoint';
import { GPT } from '../src/model';
import { planAnalysis, batchCount, WINDOWS_PER_BATCH } from '../src/inference';
void (async () => {
  await initBackend('auto');
  const ck = loadCheckpoint('/tmp/ck300');
  const model = GPT.fromWeights(ck.shape, ck.config.dropout, ck.weights);
  const corpus = readFileSync('/work/shared/data/tinyshakespeare.txt', 'utf8');
  const doc = corpus.slice(corpus.length / 3, corpus.length / 3 + 20000);
  const ids = ck.tokenizer.encode(doc, 'skip').ids;
  const plan = planAnalysis(model, ids);
  const W = plan.W;
  const run = (mode: string) => {
    const t0 = performance.now();
    for (let b = 0, nb = batchCount(plan); b < nb; b++) {
      const starts = plan.starts.slice(b * WINDOWS_PER_BATCH, (b + 1) * WINDOWS_PER_BATCH);
      const x = new Int32Array(starts.length * W);
      starts.forEach((s, r) => x.set(ids.slice(s, s + W), r * W));
      const out = tf.tidy(() => {
        const r = model.forward(tf.tensor2d(x, [starts.length, W], 'int32'), { training: false, wantMasks: mode !== 'plain', wantInputs: mode === 'inputs' });
        return [tf.logSoftmax(r.logits), ...r.masks, ...(r.inputs ?? [])];
      });
      tf.dispose(out);
    }
    return performance.now() - t0;
  };
  const res: Record<string, number[]> = { plain: [], masks: [], inputs: [] };
  for (let i = 0; i < 8; i++) for (const m of Object.keys(res)) res[m].push(run(m));
  for (const [m, v] of Object.entries(res)) { v.sort((a, b) => a - b); console.log(m, v[4].toFixed(0), 'ms'); }
})();
