// Checkpoints in the reference's format load, and ours keep the reference's names and layouts.
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { initBackend, tf } from '../src/backend';
import { CheckpointError, loadCheckpoint } from '../src/checkpoint';
import { GPT } from '../src/model';
import { decodeSafetensors } from '../src/safetensors';
import { fixturesDir, tempDir } from './helpers';

const fixture = join(fixturesDir, 'tiny');
const spec = JSON.parse(readFileSync(join(fixture, 'case.json'), 'utf8'));

function referenceCheckpoint(): string {
  // What the reference's `loss` command reads: model.safetensors + config.json {model, tokenizer}.
  const dir = tempDir();
  copyFileSync(join(fixture, 'weights.safetensors'), join(dir, 'model.safetensors'));
  const vocab = [...'abcdefghijklmnopqrstuvw'];
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ model: spec.model, tokenizer: { type: 'char', vocab } }));
  return dir;
}

test('a checkpoint in the reference format loads and reproduces its logits', async () => {
  await initBackend('cpu');
  const ck = loadCheckpoint(referenceCheckpoint());
  assert.equal(ck.config.dropout.kind, 'learned', 'A/B present: LearnedDropout');
  assert.equal(ck.tokenizer.vocabSize, 23);
  const model = GPT.fromWeights(ck.shape, ck.config.dropout, ck.weights);
  const logits = tf.tidy(() => model.forward(tf.tensor2d(spec.idx, undefined, 'int32'), { training: false }).logits.dataSync());
  const want = decodeSafetensors(readFileSync(join(fixture, 'forward.safetensors'))).tensors.get('logits')!.data;
  let diff = 0, norm = 0;
  for (let i = 0; i < want.length; i++) {
    diff += (logits[i] - want[i]) ** 2;
    norm += want[i] ** 2;
  }
  assert.ok(Math.sqrt(diff / norm) < 1e-5);
  model.dispose();
});

test('incompatible checkpoints are refused with the problem named', () => {
  const dir = referenceCheckpoint();
  const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, model: { ...cfg.model, nEmbd: 64 } }));
  assert.throws(() => loadCheckpoint(dir), (e: unknown) => e instanceof CheckpointError && /transformer\.wte\.weight has shape \[23,32\] but the config needs \[23,64\]/.test((e as Error).message));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, tokenizer: { type: 'char', vocab: ['a', 'b'] } }));
  assert.throws(() => loadCheckpoint(dir), /tokenizer has 2 tokens but model.vocabSize is 23/);
  writeFileSync(join(dir, 'config.json'), '{"model": ');
  assert.throws(() => loadCheckpoint(dir), /config.json: not valid JSON/);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
  writeFileSync(join(dir, 'model.safetensors'), readFileSync(join(fixture, 'weights.safetensors')).subarray(0, 5000));
  assert.throws(() => loadCheckpoint(dir), (e: unknown) => e instanceof CheckpointError && /model\.safetensors/.test((e as Error).message));
});
