import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initBackend, tf } from '../src/backend';
import { DEFAULTS } from '../src/config';
import { analyzeText, planWindows } from '../src/inference';
import { GPT, initWeights } from '../src/model';
import { Rng } from '../src/rng';
import { buildTokenizer } from '../src/tokenizer';

test('sliding windows cover every token once, each with the most context available', () => {
  for (const [n, W, S] of [[1, 8, 4], [8, 8, 4], [9, 8, 4], [100, 16, 8], [100, 16, 5], [37, 16, 16]]) {
    const { starts, owner } = planWindows(n, W, S);
    assert.equal(starts[0], 0);
    assert.equal(starts[starts.length - 1] + Math.min(W, n), n, 'the last window ends at the text end');
    for (let i = 0; i < n; i++) {
      const s = starts[owner[i]];
      assert.ok(i >= s && i < s + W, `token ${i} inside its window`);
      // no earlier window holds it: this window gives it the most preceding context
      for (let w = 0; w < owner[i]; w++) assert.ok(i >= starts[w] + W);
      if (owner[i] > 0) assert.ok(i - s >= Math.min(W - S, W - 1) || s === n - W, `token ${i} has context ${i - s}`);
    }
  }
});

test('analysis: offsets, quantized masks and per-token summaries agree', async () => {
  await initBackend('cpu');
  const text = 'To be, or not to be: that is the question.\r\n\tWhether ’tis nobler 🙂 in the mind to suffer';
  const tok = buildTokenizer('char', text);
  const shape = { vocabSize: tok.vocabSize, blockSize: 16, nEmbd: 16, nHead: 2, nLayer: 2 };
  const model = GPT.fromWeights(shape, DEFAULTS.dropout, initWeights(shape, DEFAULTS.dropout, new Rng(3)));
  const a = await analyzeText({ model, tokenizer: tok, checkpoint: { runDir: '', dir: '', step: 0 } }, text + '\u0000', { window: 16, stride: 8 });
  assert.equal(a.tokens.length, [...text].length, 'unknown characters are skipped, the rest kept');
  assert.equal(a.tokens.map((t) => t.text).join(''), text);
  for (const t of a.tokens) assert.equal(text.slice(t.start, t.end), t.text);
  assert.equal(a.layers.length, 7);
  a.sites.forEach((s, k) => {
    const bytes = Buffer.from(a.layers[k].masks, 'base64');
    assert.equal(bytes.length, a.tokens.length * s.units, s.name);
    if (s.kind !== 'attention')
      for (let i = 0; i < a.tokens.length; i++) {
        const row = bytes.subarray(i * s.units, (i + 1) * s.units);
        // m ≥ 0.5 ⇔ round(255·m) ≥ 128 (except exactly at the boundary, vanishingly rare)
        assert.ok(Math.abs(row.filter((b) => b >= 128).length - a.layers[k].active[i]) <= 1);
      }
    if (s.kind === 'attention') {
      // The denominator of the attention counts: heads × the token's causal keys in its window.
      const keys = a.layers[k].keys!;
      assert.equal(keys.length, a.tokens.length, s.name);
      const nh = s.units / shape.blockSize;
      const { starts, owner } = planWindows(a.tokens.length, 16, 8);
      for (let i = 0; i < a.tokens.length; i++) {
        assert.equal(keys[i], nh * (i - starts[owner[i]] + 1), `${s.name} token ${i}`);
        assert.ok(a.layers[k].active[i] <= keys[i]);
      }
    } else assert.equal(a.layers[k].keys, undefined);
  });
  assert.equal(a.surprisal[0], null);
  assert.ok(a.surprisal.slice(1).every((v) => v === null || v > 0));
  assert.ok(a.crossEntropy !== null && a.crossEntropy > 0);
  // Surprisal and cross-entropy against tfjs's log-softmax of each window's logits (the analysis
  // takes log-probabilities of the rows it reads only): token i given what precedes it in its
  // window; the cross-entropy over every owned token that has a next one in its window.
  const ids = a.tokens.map((t) => t.id);
  const { starts, owner } = planWindows(ids.length, 16, 8);
  let ceSum = 0, ceCount = 0;
  for (let w = 0; w < starts.length; w++) {
    const x = ids.slice(starts[w], starts[w] + 16);
    const lp = tf.tidy(() => tf.logSoftmax(model.forward(tf.tensor2d(x, [1, x.length], 'int32'), { training: false }).logits).arraySync() as number[][][])[0];
    for (let t = 0; t < x.length; t++) {
      const i = starts[w] + t;
      if (owner[i] !== w) continue;
      if (t > 0) assert.ok(Math.abs(a.surprisal[i]! + lp[t - 1][ids[i]]) < 1e-5, `surprisal of token ${i}: ${a.surprisal[i]} vs ${-lp[t - 1][ids[i]]}`);
      else assert.equal(a.surprisal[i], null);
      if (t + 1 < x.length) {
        ceSum -= lp[t][ids[i + 1]];
        ceCount++;
      }
    }
  }
  assert.ok(Math.abs(a.crossEntropy - ceSum / ceCount) < 1e-5, `cross-entropy ${a.crossEntropy} vs ${ceSum / ceCount}`);
  model.dispose();
});

test('a model loaded, analyzed with and disposed leaves no memory behind (the engine loads and evicts checkpoints all day)', async () => {
  for (const backend of ['wasm', 'cpu'] as const) {
    await initBackend(backend);
    const text = 'First Citizen: Before we proceed any further, hear me speak.';
    const tok = buildTokenizer('char', text);
    const shape = { vocabSize: tok.vocabSize, blockSize: 16, nEmbd: 16, nHead: 2, nLayer: 2 };
    const weights = initWeights(shape, DEFAULTS.dropout, new Rng(5));
    const cycle = async () => {
      const model = GPT.fromWeights(shape, DEFAULTS.dropout, weights);
      await analyzeText({ model, tokenizer: tok, checkpoint: { runDir: '', dir: '', step: 0 } }, text, { window: 16, stride: 8 });
      model.dispose();
    };
    await cycle(); // kernels' and caches' one-time allocations
    const before = tf.memory();
    for (let i = 0; i < 3; i++) await cycle();
    const after = tf.memory();
    assert.equal(after.numTensors, before.numTensors, `${backend}: tensors`);
    assert.equal(after.numBytes, before.numBytes, `${backend}: bytes (each model's weights were kept once)`);
  }
});
