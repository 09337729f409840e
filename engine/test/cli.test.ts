// The `ldlens` command line, run as a real child process (the built dist/engine/cli.js), and the
// files it writes, checked against the reference's formats (shared/reference).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { AnalysisResult, RunInfo } from '@common/protocol';
import { cliPath, fixturesDir, runCli, sharedDir, smallCorpus, tempDir, TINY_OVERRIDES, TINY_SETS } from './helpers';

const dir = tempDir('ldlens-cli-');
after(() => rmSync(dir, { recursive: true, force: true }));
const corpus = smallCorpus(dir);
const corpusText = readFileSync(corpus, 'utf8');
const runsDir = join(dir, 'runs');
const T = TINY_OVERRIDES.model.blockSize;
const ckptName = (step: number) => `step-${String(step).padStart(6, '0')}`;

/** safetensors header, parsed here (not with the engine's decoder). */
function safetensorsHeader(path: string): { header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>; metadata?: Record<string, string>; bytes: Buffer; dataStart: number } {
  const bytes = readFileSync(path);
  const n = Number(bytes.readBigUInt64LE(0));
  const all = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
  const { __metadata__: metadata, ...header } = all;
  return { header, metadata, bytes, dataStart: 8 + n };
}

/** The run that most tests inspect: trained once, as a user would type it. */
let trainedRun: Promise<{ runDir: string; stdout: string; stderr: string; code: number | null }> | null = null;
function trained() {
  return (trainedRun ??= (async () => {
    const runDir = join(runsDir, 'as-written');
    const r = await runCli(['train', '--data', corpus, '--preset', 'tiny', '--steps', '20', '--seed', '5', '--out', runDir, ...TINY_SETS], { cwd: dir });
    return { runDir, ...r };
  })());
}

test('ldlens train --data FILE --preset tiny --steps N --seed S --out DIR writes a complete run', { timeout: 60_000 }, async () => {
  const { runDir, code, stdout, stderr } = await trained();
  assert.equal(code, 0, stderr);
  assert.equal(stdout, '', 'human output goes to stderr');
  assert.match(stderr, /completed at step 20/);
  // the bundle found its native kernels next to it (built by `npm test`'s build step)
  if (process.env.LDLENS_NATIVE !== '0') assert.match(stderr, /^backend wasm \(.*native kernels: OpenBLAS/m);
  assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');

  assert.deepEqual(readdirSync(runDir).sort(), ['checkpoints', 'config.json', 'metrics.jsonl', 'run.json']);
  const meta = JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8'));
  assert.deepEqual([meta.status, meta.step, meta.totalSteps, meta.preset], ['completed', 20, 20, 'tiny']);
  const cfg = JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8')).config;
  assert.equal(cfg.train.seed, 5, '--seed is the run’s seed');
  assert.equal(cfg.train.steps, 20, '--steps is the run’s length');
  assert.deepEqual({ ...cfg.model, vocabSize: undefined }, { ...TINY_OVERRIDES.model, vocabSize: undefined }, '--set reached the model');
  const metrics = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(metrics.filter((r) => r.type === 'step').map((r) => r.step), Array.from({ length: 20 }, (_, i) => i + 1));
  assert.deepEqual(metrics.filter((r) => r.type === 'eval').map((r) => r.step), [10, 20]);

  assert.deepEqual(readdirSync(join(runDir, 'checkpoints')).sort(), [ckptName(10), ckptName(20)]);
  for (const step of [10, 20]) {
    const ck = join(runDir, 'checkpoints', ckptName(step));
    assert.deepEqual(readdirSync(ck).sort(), ['config.json', 'model.safetensors', 'optimizer.safetensors', 'state.json']);
    const state = JSON.parse(readFileSync(join(ck, 'state.json'), 'utf8'));
    assert.equal(state.step, step);
    assert.equal(state.rng.length, 4);
  }
});

test('ldlens train --json prints one JSON event per line; the same seed trains the same weights', { timeout: 60_000 }, async () => {
  const { runDir: first } = await trained();
  const runDir = join(runsDir, 'json');
  const r = await runCli(['train', '--data', corpus, '--preset', 'tiny', '--steps', '20', '--seed', '5', '--out', runDir, '--json', ...TINY_SETS], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  assert.ok(r.stdout.endsWith('\n'));
  const events = lines.map((l, i) => {
    let e: { event?: unknown; [k: string]: unknown };
    assert.doesNotThrow(() => (e = JSON.parse(l)), `line ${i + 1} is JSON: ${l.slice(0, 120)}`);
    assert.equal(typeof e!.event, 'string', `line ${i + 1} has an event`);
    return e!;
  });
  const count = (name: string) => events.filter((e) => e.event === name).length;
  assert.equal(count('step'), 20);
  assert.equal(count('eval'), 2);
  assert.equal(count('stats'), 4);
  assert.deepEqual(events.filter((e) => e.event === 'checkpoint').map((e) => e.step), [10, 20]);
  assert.deepEqual(events.at(-1), { event: 'done', runDir, status: 'completed', step: 20 });

  for (const step of [10, 20]) {
    const a = readFileSync(join(first, 'checkpoints', ckptName(step), 'model.safetensors'));
    const b = readFileSync(join(runDir, 'checkpoints', ckptName(step), 'model.safetensors'));
    assert.ok(a.equals(b), `step ${step}: two runs with --seed 5 give byte-identical weights`);
  }
});

test('checkpoint format: config.json and model.safetensors as the reference reads them', { timeout: 60_000 }, async () => {
  const { runDir } = await trained();
  const ck = join(runDir, 'checkpoints', ckptName(20));
  const cfg = JSON.parse(readFileSync(join(ck, 'config.json'), 'utf8'));
  const vocab = [...new Set(corpusText)].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!); // Python's sorted(set(text))
  assert.deepEqual(cfg.model, { vocabSize: vocab.length, ...TINY_OVERRIDES.model });
  for (const k of ['vocabSize', 'blockSize', 'nEmbd', 'nHead', 'nLayer']) assert.ok(Number.isInteger(cfg.model[k]), `model.${k}`);
  assert.deepEqual(cfg.tokenizer, { type: 'char', vocab });

  // Parameter names: the reference fixture's (2 layers), mapped to this model's layer count.
  const fixture = Object.keys(safetensorsHeader(join(fixturesDir, 'tiny/weights.safetensors')).header);
  const fixtureLayers = JSON.parse(readFileSync(join(fixturesDir, 'tiny/case.json'), 'utf8')).model.nLayer;
  assert.ok(fixtureLayers >= 1);
  const nLayer = TINY_OVERRIDES.model.nLayer;
  const perLayer = fixture.filter((n) => n.startsWith('transformer.h.0.'));
  const expected = [
    ...fixture.filter((n) => !n.startsWith('transformer.h.')),
    ...Array.from({ length: nLayer }, (_, l) => perLayer.map((n) => n.replace('transformer.h.0.', `transformer.h.${l}.`))).flat(),
  ].sort();
  const { header, metadata, bytes, dataStart } = safetensorsHeader(join(ck, 'model.safetensors'));
  assert.deepEqual(Object.keys(header).sort(), expected, 'exactly the reference’s parameter names');
  assert.ok(!Object.keys(header).some((n) => n.includes('lm_head')), 'lm_head is tied, not stored');
  assert.equal(metadata?.format, 'pt');
  // torch layouts: Linear weights are [out, in]
  const V = vocab.length, C = TINY_OVERRIDES.model.nEmbd;
  const want: Record<string, number[]> = {
    'transformer.wte.weight': [V, C],
    'transformer.wpe.weight': [T, C],
    'transformer.h.0.attn.c_attn.weight': [3 * C, C],
    'transformer.h.0.attn.c_proj.weight': [C, C],
    'transformer.h.0.mlp.c_fc.weight': [4 * C, C],
    'transformer.h.0.mlp.c_proj.weight': [C, 4 * C],
    'transformer.h.0.attn.attn_dropout.A': [T],
    'transformer.h.0.mlp.dropout.B': [C],
    'transformer.ln_f.weight': [C],
  };
  for (const [n, s] of Object.entries(want)) assert.deepEqual(header[n].shape, s, n);
  let end = 0;
  for (const [n, h] of Object.entries(header)) {
    assert.equal(h.dtype, 'F32', n);
    assert.equal(h.data_offsets[1] - h.data_offsets[0], 4 * h.shape.reduce((p, q) => p * q, 1), `${n}: bytes = 4 × elements`);
    end = Math.max(end, h.data_offsets[1]);
  }
  assert.equal(bytes.length, dataStart + end, 'no trailing bytes');
  const opt = Object.keys(safetensorsHeader(join(ck, 'optimizer.safetensors')).header).sort();
  assert.deepEqual(opt, [...expected.map((n) => 'm.' + n), ...expected.map((n) => 'v.' + n)].sort(), 'AdamW moments for every parameter');
});

// ----------------------------------------------------------------------------- eval

/** erf, |error| < 1.2e-7 (Numerical Recipes' erfc, Chebyshev fit). */
function erf(x: number): number {
  const z = Math.abs(x), t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? 1 - r : r - 1;
}

/**
 * ld_gpt.py's `loss`, transliterated to float64 JavaScript from the reference alone: read the
 * checkpoint's config.json and model.safetensors, run every non-overlapping blockSize window.
 */
function referenceLoss(ckpt: string, text: string): { crossEntropy: number; tokens: number } {
  const cfg = JSON.parse(readFileSync(join(ckpt, 'config.json'), 'utf8'));
  const { vocabSize: V, blockSize: T, nEmbd: C, nHead: H, nLayer: L } = cfg.model;
  const stoi = new Map<string, number>((cfg.tokenizer.vocab as string[]).map((ch, i) => [ch, i]));
  const { header, bytes, dataStart } = safetensorsHeader(join(ckpt, 'model.safetensors'));
  const W = (name: string): Float64Array => {
    const h = header[name];
    assert.ok(h, `checkpoint lacks ${name}`);
    const f32 = new Float32Array(bytes.buffer.slice(bytes.byteOffset + dataStart + h.data_offsets[0], bytes.byteOffset + dataStart + h.data_offsets[1]));
    return Float64Array.from(f32);
  };
  const ids = [...text].map((ch) => {
    const id = stoi.get(ch);
    assert.ok(id !== undefined, `character ${JSON.stringify(ch)} outside the vocabulary`);
    return id;
  });
  const hd = C / H;
  // y = x · Wᵀ for a torch Linear weight [out, inp]
  const linear = (x: Float64Array, w: Float64Array, out: number, inp: number) => {
    const y = new Float64Array(T * out);
    for (let t = 0; t < T; t++)
      for (let o = 0; o < out; o++) {
        let s = 0;
        for (let k = 0; k < inp; k++) s += x[t * inp + k] * w[o * inp + k];
        y[t * out + o] = s;
      }
    return y;
  };
  const layerNorm = (x: Float64Array, w: Float64Array) => {
    const y = new Float64Array(x.length);
    for (let t = 0; t < T; t++) {
      let mu = 0, v = 0;
      for (let c = 0; c < C; c++) mu += x[t * C + c];
      mu /= C;
      for (let c = 0; c < C; c++) v += (x[t * C + c] - mu) ** 2;
      v /= C;
      for (let c = 0; c < C; c++) y[t * C + c] = ((x[t * C + c] - mu) / Math.sqrt(v + 1e-5)) * w[c];
    }
    return y;
  };
  // LearnedDropout: m = 0.5·cos(A·x + B) + 0.5 over the last dimension, y = x·m
  const learned = (x: Float64Array, name: string, n: number) => {
    const A = W(name + '.A'), B = W(name + '.B');
    return x.map((v, i) => v * (0.5 * Math.cos(A[i % n] * v + B[i % n]) + 0.5));
  };
  const wte = W('transformer.wte.weight'), wpe = W('transformer.wpe.weight');
  const forward = (idx: number[]) => {
    let x = new Float64Array(T * C);
    for (let t = 0; t < T; t++) for (let c = 0; c < C; c++) x[t * C + c] = wte[idx[t] * C + c] + wpe[t * C + c];
    x = learned(x, 'transformer.drop', C);
    for (let l = 0; l < L; l++) {
      const p = `transformer.h.${l}.`;
      const qkv = linear(layerNorm(x, W(p + 'ln_1.weight')), W(p + 'attn.c_attn.weight'), 3 * C, C);
      const A = W(p + 'attn.attn_dropout.A'), B = W(p + 'attn.attn_dropout.B');
      const y = new Float64Array(T * C);
      for (let h = 0; h < H; h++)
        for (let i = 0; i < T; i++) {
          const att = new Float64Array(T);
          let max = -Infinity;
          for (let j = 0; j <= i; j++) {
            let s = 0;
            for (let d = 0; d < hd; d++) s += qkv[i * 3 * C + h * hd + d] * qkv[j * 3 * C + C + h * hd + d];
            att[j] = s / Math.sqrt(hd);
            max = Math.max(max, att[j]);
          }
          let z = 0;
          for (let j = 0; j <= i; j++) z += (att[j] = Math.exp(att[j] - max));
          for (let j = 0; j < T; j++) {
            const pr = j <= i ? att[j] / z : 0; // masked keys have probability 0
            att[j] = pr * (0.5 * Math.cos(A[j] * pr + B[j]) + 0.5);
          }
          for (let d = 0; d < hd; d++) {
            let s = 0;
            for (let j = 0; j <= i; j++) s += att[j] * qkv[j * 3 * C + 2 * C + h * hd + d];
            y[i * C + h * hd + d] = s;
          }
        }
      const a = learned(linear(y, W(p + 'attn.c_proj.weight'), C, C), p + 'attn.resid_dropout', C);
      x = x.map((v, i) => v + a[i]);
      const f = linear(layerNorm(x, W(p + 'ln_2.weight')), W(p + 'mlp.c_fc.weight'), 4 * C, C).map((v) => 0.5 * v * (1 + erf(v / Math.SQRT2)));
      const m = learned(linear(f, W(p + 'mlp.c_proj.weight'), C, 4 * C), p + 'mlp.dropout', C);
      x = x.map((v, i) => v + m[i]);
    }
    return linear(layerNorm(x, W('transformer.ln_f.weight')), wte, V, C); // tied lm_head
  };
  const n = Math.floor((ids.length - 1) / T);
  let total = 0;
  for (let w = 0; w < n; w++) {
    const logits = forward(ids.slice(w * T, (w + 1) * T));
    for (let t = 0; t < T; t++) {
      let max = -Infinity;
      for (let v = 0; v < V; v++) max = Math.max(max, logits[t * V + v]);
      let z = 0;
      for (let v = 0; v < V; v++) z += Math.exp(logits[t * V + v] - max);
      total += max + Math.log(z) - logits[t * V + ids[w * T + t + 1]];
    }
  }
  return { crossEntropy: total / (n * T), tokens: n * T };
}

test('ldlens eval --json: {crossEntropy, tokens}, the reference’s checkpoint loss', { timeout: 60_000 }, async (t) => {
  const { runDir } = await trained();
  const ck = join(runDir, 'checkpoints', ckptName(20));
  const evalFile = join(dir, 'eval.txt');
  const evalText = corpusText.slice(10_000, 13_000);
  writeFileSync(evalFile, evalText);
  const r = await runCli(['eval', '--checkpoint', ck, '--data', evalFile, '--json'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1, 'one JSON line');
  const got = JSON.parse(lines[0]);
  assert.deepEqual(Object.keys(got).sort(), ['crossEntropy', 'tokens']);
  assert.equal(typeof got.crossEntropy, 'number');
  assert.ok(Number.isFinite(got.crossEntropy) && got.crossEntropy > 0);
  assert.equal(got.tokens, Math.floor((evalText.length - 1) / T) * T);
  // The run folder means its latest checkpoint.
  const viaRun = await runCli(['eval', '--checkpoint', runDir, '--data', evalFile, '--json'], { cwd: dir });
  assert.deepEqual(JSON.parse(viaRun.stdout), got);

  await t.test('equals a float64 transliteration of ld_gpt.py `loss` (independent of the engine)', () => {
    const want = referenceLoss(ck, evalText);
    assert.equal(got.tokens, want.tokens);
    assert.ok(Math.abs(got.crossEntropy - want.crossEntropy) <= 2e-5 * want.crossEntropy, `engine ${got.crossEntropy} vs reference ${want.crossEntropy}`);
  });

  const torch = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { encoding: 'utf8' });
  await t.test(
    'equals the PyTorch reference (python3 shared/reference/ld_gpt.py loss CKPT TEXT)',
    { skip: torch.status === 0 ? false : `PyTorch is not available to /usr/bin/python3 (${(torch.error?.message ?? torch.stderr.trim().split('\n').pop()) || 'import torch failed'}); the float64 transliteration above stands in` },
    () => {
      const ref = spawnSync('/usr/bin/python3', [join(sharedDir, 'reference/ld_gpt.py'), 'loss', ck, evalFile], { encoding: 'utf8', timeout: 120_000 });
      assert.equal(ref.status, 0, ref.stderr);
      const want = JSON.parse(ref.stdout.trim().split('\n').pop()!);
      assert.equal(got.tokens, want.tokens);
      assert.ok(Math.abs(got.crossEntropy - want.crossEntropy) <= 2e-5 * want.crossEntropy, `engine ${got.crossEntropy} vs torch ${want.crossEntropy}`);
    },
  );
});

test('ldlens analyze --json and sample --json', { timeout: 60_000 }, async () => {
  const { runDir } = await trained();
  const text = corpusText.slice(500, 580);
  const r = await runCli(['analyze', '--checkpoint', runDir, '--text', text, '--json'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n').length, 1);
  const a = JSON.parse(r.stdout) as AnalysisResult;
  assert.equal(a.checkpoint.step, 20);
  assert.equal(a.tokens.map((x) => x.text).join(''), text);
  assert.equal(a.sites.length, 1 + 3 * TINY_OVERRIDES.model.nLayer);
  assert.equal(a.layers.length, a.sites.length);
  a.sites.forEach((s, k) => assert.equal(Buffer.from(a.layers[k].masks, 'base64').length, a.tokens.length * s.units, s.name));
  assert.ok(Number.isFinite(a.crossEntropy));

  const file = join(dir, 'analyze-me.txt');
  writeFileSync(file, corpusText.slice(0, 1500));
  const human = await runCli(['analyze', '--checkpoint', runDir, '--file', file, '--window', '16', '--stride', '8'], { cwd: dir });
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /tokens, checkpoint step 20, cross-entropy \d/);
  assert.match(human.stdout, /transformer\.h\.0\.mlp\.dropout/);
  // A text to analyze need not be trainable: one distinct character is analyzed; empty is refused.
  const one = join(dir, 'one-character.txt');
  writeFileSync(one, 'e'.repeat(40));
  const r1 = await runCli(['analyze', '--checkpoint', runDir, '--file', one, '--json'], { cwd: dir });
  assert.equal(r1.code, 0, r1.stderr);
  assert.equal((JSON.parse(r1.stdout) as AnalysisResult).tokens.length, 40);
  const empty = join(dir, 'empty.txt');
  writeFileSync(empty, '');
  const r0 = await runCli(['analyze', '--checkpoint', runDir, '--file', empty], { cwd: dir });
  assert.notEqual(r0.code, 0);
  assert.match(r0.stderr, /empty\.txt is empty: there is nothing to analyze/);

  const prompt = 'ROMEO:';
  const s = await runCli(['sample', '--checkpoint', runDir, '--prompt', prompt, '--tokens', '16', '--seed', '3', '--json'], { cwd: dir });
  assert.equal(s.code, 0, s.stderr);
  const sm = JSON.parse(s.stdout) as { prompt: string; text: string; analysis: AnalysisResult };
  assert.equal(sm.prompt, prompt);
  assert.equal([...sm.text].length, 16);
  assert.equal(sm.analysis.tokens.map((x) => x.text).join(''), prompt + sm.text);
  const again = await runCli(['sample', '--checkpoint', runDir, '--prompt', prompt, '--tokens', '16', '--seed', '3'], { cwd: dir });
  assert.equal(again.stdout, prompt + sm.text + '\n', 'same seed, same sample; plain output is prompt + text');
});

test('ldlens resume --run DIR --steps N continues a finished run', { timeout: 60_000 }, async () => {
  const { runDir: first } = await trained();
  // a run of its own (the others stay as they were)
  const runDir = join(runsDir, 'resumed');
  const r0 = await runCli(['train', '--data', corpus, '--steps', '10', '--out', runDir, ...TINY_SETS], { cwd: dir });
  assert.equal(r0.code, 0, r0.stderr);
  assert.ok(existsSync(first));
  const r = await runCli(['resume', '--run', runDir, '--steps', '20', '--json'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(events.filter((e) => e.event === 'step').map((e) => e.step), Array.from({ length: 10 }, (_, i) => 11 + i));
  assert.deepEqual(events.at(-1), { event: 'done', runDir, status: 'completed', step: 20 });
  const steps = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((x) => x.type === 'step').map((x) => x.step);
  assert.deepEqual(steps, Array.from({ length: 20 }, (_, i) => i + 1));
  assert.equal(JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8')).config.train.steps, 20, 'the new length is saved');
});

test('ldlens train: Ctrl-C (SIGINT) stops after the step and writes a checkpoint', { timeout: 60_000 }, async () => {
  const runDir = join(dir, 'interrupted');
  const child = spawn(process.execPath, [cliPath, 'train', '--data', corpus, '--steps', '2000', '--out', runDir, '--json', ...TINY_SETS], { cwd: dir });
  let stdout = '';
  let signalled = false;
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    if (!signalled && /"event":"step","type":"step","step":3,/.test(stdout)) {
      signalled = true;
      child.kill('SIGINT');
    }
  });
  const code = await new Promise<number | null>((r) => child.on('close', r));
  assert.equal(code, 0);
  const done = JSON.parse(stdout.trim().split('\n').pop()!);
  assert.equal(done.event, 'done');
  assert.equal(done.status, 'stopped');
  assert.ok(done.step >= 3 && done.step < 2000);
  assert.deepEqual(readdirSync(join(runDir, 'checkpoints')), [ckptName(done.step)]);
  assert.equal(JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8')).status, 'stopped');
});

test('ldlens presets lists tiny and small', async () => {
  const [r, j] = await Promise.all([runCli(['presets']), runCli(['presets', '--json'])]);
  assert.equal(r.code, 0, r.stderr);
  const names = r.stdout.trim().split('\n').map((l) => l.split(/\s+/)[0]);
  for (const n of ['tiny', 'small']) assert.ok(names.includes(n), `${n} in ${names}`);
  const presets = JSON.parse(j.stdout);
  for (const n of ['tiny', 'small']) assert.equal(typeof presets[n].description, 'string');
  assert.equal(presets.small.config.model.nLayer, 4);
});

test('ldlens: usage errors exit 2 with help; invalid config values exit 1 naming each', { timeout: 60_000 }, async () => {
  const out = join(dir, 'refused');
  const [unknown, none, help, bad, badSet, badSteps, unknownFlag, noData] = await Promise.all([
    runCli(['frobnicate']),
    runCli([]),
    runCli(['train', '--help']),
    runCli(['train', '--data', corpus, '--out', out, '--set', 'train.lr=-1', '--set', 'model.nEmbd=30', '--set', 'model.nHead=4', '--set', 'train.nope=1']),
    runCli(['train', '--data', corpus, '--set', 'train.lr']),
    runCli(['train', '--data', corpus, '--steps', 'ten']),
    runCli(['train', '--data', corpus, '--stepz', '3']),
    runCli(['train']),
  ]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command "frobnicate"/);
  assert.match(unknown.stderr, /usage: ldlens <command>/);
  assert.equal(none.code, 2);
  assert.match(none.stdout, /usage: ldlens <command>/);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--data FILE\|DIR\|GLOB/);

  assert.equal(bad.code, 1, bad.stderr);
  for (const re of [/invalid config/, /train\.lr: expected a value in \(0, 10\], got -1/, /model\.nEmbd \(30\) must be divisible by model\.nHead \(4\)/, /train\.nope: unknown key/])
    assert.match(bad.stderr, re);
  assert.doesNotMatch(bad.stderr, /\n\s+at /);
  assert.ok(!existsSync(out), 'nothing written for a refused config');

  assert.equal(badSet.code, 2);
  assert.match(badSet.stderr, /--set expects KEY=VALUE/);
  assert.equal(badSteps.code, 2);
  assert.match(badSteps.stderr, /--steps must be an integer/);
  assert.equal(unknownFlag.code, 2, unknownFlag.stderr);
  assert.match(unknownFlag.stderr, /stepz/);
  assert.doesNotMatch(unknownFlag.stderr, /\n\s+at /);
  assert.equal(noData.code, 2);
  assert.match(noData.stderr, /train needs --data/);
});

test('ldlens runs lists runs with status, steps and checkpoints', { timeout: 60_000 }, async () => {
  const { runDir } = await trained();
  const r = await runCli(['runs', '--runs-dir', runsDir, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const runs = JSON.parse(r.stdout) as RunInfo[];
  const run = runs.find((x) => x.dir === runDir);
  assert.ok(run, `${runDir} listed`);
  assert.deepEqual([run.status, run.step, run.totalSteps, run.checkpoints.map((c) => c.step)], ['completed', 20, 20, [10, 20]]);
  assert.ok(Number.isFinite(run.bestValLoss));
  const human = await runCli(['runs', '--runs-dir', runsDir]);
  assert.equal(human.code, 0);
  assert.match(human.stdout, new RegExp(`${run.id}\\s+completed\\s+step 20/20\\s+best val \\d\\.\\d{4}\\s+2 checkpoints`));
  const empty = await runCli(['runs', '--runs-dir', join(dir, 'no-runs-here')]);
  assert.equal(empty.stdout, 'no runs\n');
});

test('ldlens bench --compare-torch: ours and the reference PyTorch loop on the same shape, steps and warm-up; a missing corpus is named', { timeout: 120_000 }, async (t) => {
  const missing = await runCli(['bench', '--shapes', 'tiny', '--data', join(dir, 'no-such-corpus.txt')], { cwd: dir });
  assert.equal(missing.code, 2, missing.stderr);
  assert.match(missing.stderr, /no-such-corpus\.txt does not exist \(name one with --data FILE/);
  assert.doesNotMatch(missing.stderr, /\n\s+at /, 'no stack trace');
  if (spawnSync('/usr/bin/python3', ['-c', 'import torch'], { encoding: 'utf8' }).status !== 0) return t.skip('no PyTorch at /usr/bin/python3 (scripts/test.sh installs it)');
  const r = await runCli(['bench', '--shapes', 'tiny', '--steps', '2', '--warmup', '1', '--data', corpus, '--compare-torch', '--torch-script', join(sharedDir, 'reference', 'torch-bench.sh'), '--json'], { cwd: dir, timeoutMs: 110_000 });
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.deepEqual([report.steps, report.warmup, report.rounds], [2, 1, 1]);
  const [row] = report.rows;
  assert.equal(row.shape, 'tiny');
  assert.match(row.ours.impl, /^tfjs-/);
  assert.match(row.torch?.impl ?? '', /^pytorch-/, `the reference loop ran: ${row.torchError ?? ''}`);
  assert.deepEqual(row.torch.config, row.ours.config, 'the same model on both sides');
  for (const side of [row.ours, row.torch]) assert.ok(side.trainTokensPerSec > 0 && side.inferTokensPerSec > 0);
  assert.equal(row.trainRatio, row.ours.trainTokensPerSec / row.torch.trainTokensPerSec);
});

test('ldlens demo: trains on the built-in corpus and prints per-token-type activity next to chance', { timeout: 120_000 }, async () => {
  const out = join(dir, 'demo');
  const r = await runCli(['demo', '--steps', '20', '--out', out, '--json'], { cwd: dir, timeoutMs: 110_000 });
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.equal(summary.event, 'summary');
  const types: { token: string; count: number; meanActive: number; chanceActive: number }[] = summary.tokenTypes;
  assert.ok(types.length > 10, 'the probe text has many token types');
  for (const [i, t] of types.entries()) {
    assert.ok(t.count >= 1 && Number.isFinite(t.meanActive) && Number.isFinite(t.chanceActive), JSON.stringify(t));
    assert.ok(t.meanActive >= 0 && t.chanceActive >= 0 && t.meanActive <= 64 && t.chanceActive <= 64, 'active units of the 64 MLP units');
    if (i > 0) assert.ok(types[i - 1].meanActive >= t.meanActive, 'most active first');
  }
  // untrained A/B on the same hidden states give other masks than the trained ones
  assert.ok(types.some((t) => t.meanActive !== t.chanceActive));
});
