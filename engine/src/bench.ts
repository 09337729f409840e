// Training and inference throughput on the reference benchmark's shapes, in the same JSON format
// as shared/reference/torch-bench.sh (ld_gpt.py bench), so both can be compared in one run.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { initBackend, tf, wasmInfo, webgpuInfo } from './backend';
import { DEFAULTS, merge, type DropoutConfig, type ModelShape } from './config';
import { Dataset } from './dataset';
import { analyzeText, type InferenceModel } from './inference';
import { GPT, initWeights, parameterShapes } from './model';
import { backendOps } from './ops/backendOps';
import { nativeInfo } from './ops/native';
import { AdamW } from './optim';
import type { BackendChoice } from '@common/protocol';
import { Rng } from './rng';
import { accumulateGrads, autoMicroBatch, microBatchSlice } from './train/microBatch';
import { buildTokenizer } from './tokenizer';

export interface BenchShape {
  batch: number;
  block: number;
  embd: number;
  head: number;
  layer: number;
}

/** The shapes of shared/guides/tfjs-engine.md (and torch-bench.sh's flags). */
export const BENCH_SHAPES: Record<string, BenchShape> = {
  tiny: { batch: 16, block: 64, embd: 64, head: 4, layer: 2 },
  small: { batch: 32, block: 128, embd: 128, head: 4, layer: 4 },
  // The medium and large presets' shapes: GPU-sized (minutes per step count on the CPU backends).
  medium: { batch: 32, block: 256, embd: 256, head: 8, layer: 6 },
  large: { batch: 64, block: 256, embd: 384, head: 6, layer: 6 },
};

export interface BenchResult {
  impl: string;
  threads: number;
  config: ModelShape;
  batch: number;
  trainTokensPerSec: number;
  inferTokensPerSec: number;
  lastLoss: number;
  /** The GPU, on the webgpu backend. */
  device?: string;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Matmul FLOPs per token of one forward pass: 2 per weight (lm_head included) + attention's QKᵀ and AV. */
export function forwardFlopsPerToken(s: ModelShape): number {
  let n = 0;
  for (const [name, shape] of parameterShapes(s, false)) if (name.endsWith('c_attn.weight') || name.endsWith('c_proj.weight') || name.endsWith('c_fc.weight')) n += shape[0] * shape[1];
  n += s.vocabSize * s.nEmbd * 2; // one-hot embedding matmul and the tied lm_head
  return 2 * n + 4 * s.nLayer * s.blockSize * s.nEmbd;
}

/** A bench shape's model shape for a vocabulary. */
export function modelShapeOf(shape: BenchShape, vocabSize: number): ModelShape {
  return { vocabSize, blockSize: shape.block, nEmbd: shape.embd, nHead: shape.head, nLayer: shape.layer };
}

/**
 * The bench's model, as the reference bench makes it: A ~ N(0, 1), B ~ N(0, 0.02) (weights drawn
 * from rng), and its optimizer: AdamW, betas (0.9, 0.95), weight decay 0.1 on the matrices. The
 * bench steps use λ = 0.01 for both penalties and lr 1e-3. Also the engine/bench scripts' model.
 */
export function benchModel(s: ModelShape, rng: Rng): { model: GPT; optimizer: (o?: { onDevice?: boolean }) => AdamW } {
  const dropout: DropoutConfig = merge(DEFAULTS.dropout, { kind: 'learned', aInit: { mean: 0, std: 1 }, bInit: { mean: 0, std: 0.02 } });
  const model = GPT.fromWeights(s, dropout, initWeights(s, dropout, rng));
  const optimizer = (o: { onDevice?: boolean } = {}) =>
    new AdamW(model.params, (n) => ({ lrScale: 1, weightDecay: model.params.get(n)!.rank >= 2 ? 0.1 : 0, kind: 'adamw' }), { betas: [0.9, 0.95], eps: 1e-8, ...o });
  return { model, optimizer };
}

export async function benchShape(text: string, shape: BenchShape, o: { steps: number; warmup: number; backend: BackendChoice }): Promise<BenchResult> {
  const report = await initBackend(o.backend);
  const tokenizer = buildTokenizer('char', text);
  const ds = new Dataset(tokenizer.encodeTyped(text).ids, 0.1);
  const s = modelShapeOf(shape, tokenizer.vocabSize);
  const rng = new Rng(0);
  const { model, optimizer } = benchModel(s, rng);
  const opt = optimizer();
  const B = shape.batch, T = shape.block;
  // as the trainer: on the CPU backends, batches too big for the wasm heap in equal slices
  const rows = backendOps().inPlace ? autoMicroBatch(B, s) : B, chunks = B / rows;
  const slice = (a: Int32Array, c: number) => microBatchSlice(a, c, rows, T);
  let lastLoss = NaN;
  const times: number[] = [];
  for (let i = 0; i < o.warmup + o.steps; i++) {
    const { x, y } = ds.batch('train', B, T, rng);
    const t0 = performance.now();
    let acc: Map<string, tf.Tensor> | null = null;
    let loss = 0;
    for (let c = 0; c < chunks; c++) {
      const xs = slice(x, c), ys = slice(y, c);
      const { value, grads } = model.gradients(() => model.loss(xs, ys, 0.01, 0.01, { training: true, wantMasks: false }).loss);
      loss += (await value.data())[0] / chunks;
      tf.dispose([xs, ys, value]);
      acc = accumulateGrads(acc, grads);
    }
    if (chunks > 1) for (const [n, g] of acc!) acc!.set(n, tf.tidy(() => tf.div(g, chunks))), g.dispose();
    await opt.update(acc!, 1e-3, 1.0);
    lastLoss = loss;
    tf.dispose([...acc!.values()]);
    if (i >= o.warmup) times.push(performance.now() - t0);
  }
  const train = (B * T) / (median(times) / 1000);
  times.length = 0;
  for (let i = 0; i < o.warmup + o.steps; i++) {
    const { x } = ds.batch('train', B, T, rng);
    const t0 = performance.now();
    for (let c = 0; c < chunks; c++) {
      const means = tf.tidy(() => {
        const r = model.forward(slice(x, c), { training: false });
        return tf.stack([tf.mean(r.logits), ...r.masks.map((m) => tf.mean(m))]);
      });
      await means.data(); // as the reference: masks' means read back
      means.dispose();
    }
    if (i >= o.warmup) times.push(performance.now() - t0);
  }
  const infer = (B * T) / (median(times) / 1000);
  model.dispose();
  opt.dispose();
  return {
    impl: `tfjs-${tf.version_core}-${report.backend}${report.backend === 'wasm' && nativeInfo.available ? '+native-openblas' : ''}`,
    // wasm: its own threads, and the native kernels' (OpenBLAS matmuls, LearnedDropout, LayerNorm)
    threads: report.backend === 'wasm' ? Math.max(wasmInfo.threads, nativeInfo.available ? nativeInfo.threads : 1) : 1,
    config: s,
    batch: B,
    trainTokensPerSec: Math.round(train * 10) / 10,
    inferTokensPerSec: Math.round(infer * 10) / 10,
    lastLoss: Math.round(lastLoss * 1e4) / 1e4,
    ...(report.backend === 'webgpu' ? { device: webgpuInfo.adapter } : {}),
  };
}

/**
 * Latency of analyzing a document of `chars` characters (the editor's "Analyze Document"), in
 * process, model loaded: the median of `runs` runs after one warm-up.
 */
export async function benchAnalysis(im: InferenceModel, corpus: string, chars: number, runs: number) {
  const start = Math.floor(corpus.length / 3);
  const doc = corpus.slice(start, start + chars);
  const a = await analyzeText(im, doc);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await analyzeText(im, doc);
    times.push(performance.now() - t0);
  }
  return { chars: doc.length, tokens: a.tokens.length, checkpointStep: a.checkpoint.step, runs, medianMs: median(times), minMs: Math.min(...times), maxMs: Math.max(...times) };
}

/** Runs shared/reference/torch-bench.sh with the same shape; null (and why) when it cannot run. */
export function torchBench(script: string, text: string, shape: BenchShape, steps: number, warmup: number): { result: BenchResult | null; error?: string } {
  if (!existsSync(script)) return { result: null, error: `${script} not found` };
  const args = ['--text', text, '--steps', String(steps), '--warmup', String(warmup), '--batch', String(shape.batch), '--block', String(shape.block), '--embd', String(shape.embd), '--head', String(shape.head), '--layer', String(shape.layer)];
  const r = spawnSync('bash', [script, ...args], { encoding: 'utf8', timeout: 30 * 60_000 });
  const line = (r.stdout ?? '').trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (r.status !== 0 || !line) return { result: null, error: `torch-bench failed (exit ${r.status}): ${(r.stderr ?? '').trim().split('\n').slice(-3).join(' ')}` };
  return { result: JSON.parse(line) as BenchResult };
}

export function defaultTorchScript(): string {
  return resolve(process.cwd(), '../shared/reference/torch-bench.sh');
}

export function readBenchText(path: string): string {
  return readFileSync(path, 'utf8');
}

/**
 * Analysis throughput on a document against the plain forward pass over the same windows, in
 * document tokens per second: `forward` runs the analysis's window batches and reads back only
 * the logits; `kept` is what the editor waits for (analysis/open, then every summary chunk);
 * `full` the classic whole AnalysisResult serialized to JSON. Rounds alternate; medians.
 */
export async function benchAnalysisThroughput(im: InferenceModel, doc: string, rounds: number) {
  const { AnalysisStore } = await import('./analysisStore');
  const { planAnalysis, batchCount, WINDOWS_PER_BATCH } = await import('./inference');
  const ids = im.tokenizer.encode(doc, 'skip').ids;
  const plan = planAnalysis(im.model, ids);
  const W = plan.W;
  const forward = async () => {
    for (let b = 0, nb = batchCount(plan); b < nb; b++) {
      const starts = plan.starts.slice(b * WINDOWS_PER_BATCH, (b + 1) * WINDOWS_PER_BATCH);
      const x = new Int32Array(starts.length * W);
      starts.forEach((s, r) => x.set(ids.slice(s, s + W), r * W));
      const logits = tf.tidy(() => im.model.forward(tf.tensor2d(x, [starts.length, W], 'int32'), { training: false }).logits);
      await logits.data();
      logits.dispose();
    }
  };
  const store = new AnalysisStore();
  const kept = async () => {
    const h = store.open({ model: im, release: () => {} }, doc, {}); // the bench owns the model
    for (let at = 0; at < h.tokenCount; ) at = (await store.summaries(h.id, at, h.tokenCount)).to;
    store.release(h.id);
  };
  const full = async () => JSON.stringify(await analyzeText(im, doc)).length;
  // CPU time of this process next to wall time: on a shared machine wall time mostly measures the neighbours.
  const cpu = { forward: [] as number[], kept: [] as number[], full: [] as number[] };
  const time = async (f: () => Promise<unknown>, into: number[]) => {
    const t0 = performance.now(), c0 = process.cpuUsage();
    await f();
    const c = process.cpuUsage(c0);
    into.push((c.user + c.system) / 1000);
    return performance.now() - t0;
  };
  await forward();
  await kept();
  const ms = { forward: [] as number[], kept: [] as number[], full: [] as number[] };
  for (let r = 0; r < rounds; r++) {
    ms.forward.push(await time(forward, cpu.forward));
    ms.kept.push(await time(kept, cpu.kept));
    ms.full.push(await time(full, cpu.full));
  }
  const n = ids.length;
  const rate = (xs: number[]) => ({ tokensPerSec: Math.round(n / (median(xs) / 1000)), medianMs: Math.round(median(xs)), minMs: Math.round(Math.min(...xs)), maxMs: Math.round(Math.max(...xs)) });
  const f = rate(ms.forward), k = rate(ms.kept), u = rate(ms.full);
  const cpuMs = { forward: Math.round(median(cpu.forward)), kept: Math.round(median(cpu.kept)), full: Math.round(median(cpu.full)) };
  return {
    chars: doc.length,
    tokens: n,
    windows: plan.starts.length,
    window: W,
    stride: plan.stride,
    rounds,
    forward: f,
    kept: k,
    full: u,
    keptRatio: k.tokensPerSec / f.tokensPerSec,
    fullRatio: u.tokensPerSec / f.tokensPerSec,
    cpuMs,
    keptRatioCpu: cpuMs.forward / cpuMs.kept,
    fullRatioCpu: cpuMs.forward / cpuMs.full,
  };
}
