// Inference on a trained model: analyze a text (every token's mask at every site), sample text,
// and the reference's checkpoint cross-entropy.
import { tf } from './backend';
import { chanceParams, paintedDefinition } from './maskMetrics';
import { backendOps } from './ops/backendOps';
import { buf } from './ops/kernels';
import { nativeOps } from './ops/nativeOps';
import { GPT } from './model';
import type { AnalysisResult, CheckpointRef, SiteMasks } from '@common/protocol';
import { Rng } from './rng';
import { checkSampling } from './sampling';
import type { Tokenizer } from './tokenizer';

export interface InferenceModel {
  model: GPT;
  tokenizer: Tokenizer;
  checkpoint: CheckpointRef;
}

export interface AnalyzeOptions {
  window?: number;
  stride?: number;
  /** Called between window batches; throw from it to cancel (e.g. a cancelled request). */
  checkpointHook?: () => Promise<void>;
  /** Compute the chance baseline (untrained A/B on the same hidden states). Default true. */
  chance?: boolean;
}

export const WINDOWS_PER_BATCH = 32;

/**
 * Windows over n tokens: starts 0, stride, 2·stride, … with the last one ending at n. Each token
 * takes its masks from the earliest window that contains it, i.e. the one that gives it the most
 * preceding context (at least window − stride tokens, except at the start of the text).
 */
export function planWindows(n: number, window: number, stride: number): { starts: number[]; owner: Int32Array } {
  const W = Math.min(window, n);
  const starts: number[] = [];
  for (let s = 0; ; s += stride) {
    if (s + W >= n) {
      starts.push(Math.max(0, n - W));
      break;
    }
    starts.push(s);
  }
  const owner = new Int32Array(n);
  let w = 0;
  for (let i = 0; i < n; i++) {
    while (i >= starts[w] + W) w++;
    owner[i] = w;
  }
  return { starts: [...new Set(starts)], owner };
}

/** A text's tokens and the windows that cover them (see planWindows). */
export interface AnalysisPlan {
  ids: ArrayLike<number>;
  n: number;
  /** Window length actually used (≤ n), and the stride between windows. */
  W: number;
  stride: number;
  starts: number[];
  owner: Int32Array;
  /**
   * Whether the analysis computes the chance baseline: then every batch's forward returns the
   * sites' inputs (the op-by-op path, not the fused kernel), also when recomputing masks only, so
   * that a recomputation gives the very same bytes.
   */
  chance: boolean;
}

export function planAnalysis(model: GPT, ids: ArrayLike<number>, opts: { window?: number; stride?: number; chance?: boolean } = {}): AnalysisPlan & { window: number } {
  const shape = model.shape;
  const window = Math.max(1, Math.min(opts.window ?? shape.blockSize, shape.blockSize));
  const stride = Math.max(1, Math.min(opts.stride ?? Math.max(1, Math.floor(window / 2)), window));
  const n = ids.length;
  const W = Math.min(window, n);
  const { starts, owner } = n > 0 ? planWindows(n, W, stride) : { starts: [], owner: new Int32Array(0) };
  return { ids, n, W, stride, starts, owner, window, chance: (opts.chance ?? true) && model.sites.length > 0 };
}

/** Number of window batches of a plan; batch b holds windows [b·WINDOWS_PER_BATCH, …). */
export function batchCount(plan: AnalysisPlan): number {
  return Math.ceil(plan.starts.length / WINDOWS_PER_BATCH);
}

/** The batch whose windows own token i. */
export function batchOfToken(plan: AnalysisPlan, i: number): number {
  return Math.floor(plan.owner[i] / WINDOWS_PER_BATCH);
}

/** Per-token column: an array or typed array indexed by token. */
type Col = { [i: number]: number };

/** The chance baseline's per-token statistics at one site (see maskMetrics). */
export interface ChanceCols {
  active: Col;
  fraction: Col;
  mean: Col;
  decided: Col;
}

/**
 * Where one batch's per-token results go, indexed by token. Every part is optional: the store
 * keeps summaries for the whole text but masks only for a range (recomputed on demand).
 * Statistics are written as sent (5 decimals, see round5), so a float32 column gives them back.
 */
export interface BatchSink {
  /** Per site: quantized masks round(m·255) of tokens [maskFrom, maskTo), row-major. */
  quant?: Uint8Array[];
  maskFrom?: number;
  maskTo?: number;
  active?: Col[];
  mean?: Col[];
  /** Per site (attention only; others undefined). */
  keys?: (Col | undefined)[];
  /** Per site: fraction of units (attention: causal keys) kept, and decidedness mean |2m−1|. */
  fraction?: Col[];
  decided?: Col[];
  /** Per site: the chance baseline (untrained A/B on the same hidden states); asks the forward for the sites' inputs. */
  chance?: ChanceCols[];
  /** The default painted value (paintedDefinition: mean fraction over the non-attention sites). */
  painted?: Col;
  /** NaN or null where there is no preceding token in the window. */
  surprisal?: { [i: number]: number | null };
  ce?: { sum: number; count: number };
}

/** Untrained A/B of the chance baseline (draw 0), per model: the same numbers for every batch. */
const chanceCache = new WeakMap<GPT, { A: Float32Array; B: Float32Array }[]>();
function chanceAB(model: GPT): { A: Float32Array; B: Float32Array }[] {
  let ab = chanceCache.get(model);
  if (!ab) chanceCache.set(model, (ab = chanceParams(model.sites, model.shape.blockSize, model.dropout, 0)));
  return ab;
}

/** Per-owned-token accumulators of one site (reused across sites). */
export interface Acc {
  act: Float64Array;
  sum: Float64Array;
  dec: Float64Array;
  cnt: Float64Array;
}

/**
 * Runs the windows of one batch (always the same windows for a batch index, so a recomputation
 * gives the very same bytes) and writes the tokens they own into `sink`.
 */
export async function analyzeBatch(model: GPT, plan: AnalysisPlan, b: number, sink: BatchSink): Promise<void> {
  const shape = model.shape;
  const { ids, n, W, owner } = plan;
  const sites = model.sites;
  const b0 = b * WINDOWS_PER_BATCH;
  const batchStarts = plan.starts.slice(b0, b0 + WINDOWS_PER_BATCH);
  const x = new Int32Array(batchStarts.length * W);
  batchStarts.forEach((s, r) => {
    for (let t = 0; t < W; t++) x[r * W + t] = ids[s + t];
  });
  const { quant, active, mean, keys, fraction, decided, painted, surprisal, ce } = sink;
  if (sink.chance && !plan.chance) throw new Error('analyzeBatch: a chance baseline asked of a plan without one');
  const chance = plan.chance ? sink.chance : undefined;
  const { logits, masks, inputs } = tf.tidy(() => {
    const r = model.forward(tf.tensor2d(x, [batchStarts.length, W], 'int32'), { training: false, wantInputs: plan.chance });
    return { logits: r.logits, masks: r.masks, inputs: r.inputs ?? [] };
  });
  const ab = chance ? chanceAB(model) : [];
  // In-place backends (wasm, cpu): the tensors' own memory, no copies; on wasm a view of the heap,
  // valid until the next tfjs allocation, so everything below runs synchronously and allocates no
  // tensor before the dispose. Elsewhere (GPU backends): copies, read asynchronously.
  const read = backendOps().inPlace ? null : await Promise.all([logits, ...masks, ...inputs].map((t) => t.data() as Promise<Float32Array>));
  const [z, ...rest] = read ?? [logits, ...masks, ...inputs].map((t) => buf(t));
  const mdata = rest.slice(0, masks.length), xdata = rest.slice(masks.length);
  try {
    statsOfBatch();
  } finally {
    tf.dispose([logits, ...masks, ...inputs]);
  }

  function statsOfBatch(): void {
    const V = shape.vocabSize;
    const maskFrom = sink.maskFrom ?? 0, maskTo = sink.maskTo ?? (quant ? n : 0);
    // The tokens this batch owns: (row, position, token) triples.
    const owned: number[] = [];
    for (let r = 0; r < batchStarts.length; r++) {
      for (let t = 0; t < W; t++) {
        const i = batchStarts[r] + t;
        if (owner[i] === b0 + r) owned.push(r, t, i);
      }
    }
    const own = Int32Array.from(owned);
    // the native kernels' loops where they run (wasm backend), else their JS twins
    const native = backendOps().inPlace ? nativeOps() : null;
    // Log-probabilities only where read (not a log-softmax of every row): the row of an owned token
    // predicts the next one (cross-entropy) and the row before it predicts it (surprisal).
    const rowAt = new Int32Array(batchStarts.length * W).fill(-1), rows: number[] = [];
    const need = (row: number) => {
      if (rowAt[row] < 0) rowAt[row] = rows.push(row) - 1;
    };
    for (let o = 0; o < own.length; o += 3) {
      const r = own[o], t = own[o + 1], i = own[o + 2];
      if (surprisal && t > 0) need(r * W + t - 1);
      if (ce && t + 1 < W && i + 1 < n) need(r * W + t);
    }
    const lse = new Float64Array(rows.length);
    if (native && rows.length) native.rowLogSumExp(z, V, Int32Array.from(rows), lse);
    else rows.forEach((row, k) => (lse[k] = logSumExp(z, row * V, V)));
    // float32, as the store's column keeps it and as the log-softmax gave them: a double sum of
    // float32 terms stays exact while 24 bits + the binades they span + log2(count) fit in 53, so
    // the cross-entropy hardly ever depends on the order the batches run in (the first range first)
    const logProb = (row: number, y: number) => Math.fround(z[row * V + y] - lse[rowAt[row]]);
    for (let o = 0; o < own.length; o += 3) {
      const r = own[o], t = own[o + 1], i = own[o + 2];
      // surprisal of token i given what precedes it in this window
      if (surprisal && t > 0) surprisal[i] = -logProb(r * W + t - 1, ids[i]);
      if (ce && t + 1 < W && i + 1 < n) {
        ce.sum += -logProb(r * W + t, ids[i + 1]);
        ce.count++;
      }
    }
    const m = own.length / 3;
    const accBuf = new Float64Array(4 * m);
    const acc: Acc = { act: accBuf.subarray(0, m), sum: accBuf.subarray(m, 2 * m), dec: accBuf.subarray(2 * m, 3 * m), cnt: accBuf.subarray(3 * m) };
    // rowStats and its JS twin: the same figures
    const statsOf = native ? native.rowStats.bind(native) : rowStats;
    const T = shape.blockSize, nh = shape.nHead;
    const stats = (attention: boolean, v: Float32Array, q: Uint8Array | null, units: number, ab?: { A: Float32Array; B: Float32Array }) => {
      const len = attention ? W : units;
      statsOf(v, ab?.A.subarray(0, len) ?? null, ab?.B.subarray(0, len) ?? null, own, accBuf, q, [attention ? 1 : 0, W, attention ? nh : 1, len, T, attention ? nh * T : units, maskFrom, maskTo]);
    };
    // painted: the mean (unrounded) fraction over the painted sites, per owned token
    const paintedSites = painted ? paintedDefinition(sites).sites : [];
    const paintSum = new Float64Array(painted ? m : 0);
    let paintCount = 0;
    for (let k = 0; k < sites.length; k++) {
      const site = sites[k];
      const q = quant ? quant[k] : null;
      stats(site.kind === 'attention', mdata[k], q, site.units);
      const a = active?.[k], me = mean?.[k], ke = keys?.[k], fr = fraction?.[k], de = decided?.[k];
      const paint = paintedSites.includes(site.name);
      if (paint) paintCount++;
      const { act, sum, dec, cnt } = acc;
      for (let o = 0, x = 0; o < own.length; o += 3, x++) {
        const i = own[o + 2];
        if (a) a[i] = act[x];
        if (me) me[i] = cnt[x] ? round5(sum[x] / cnt[x]) : 0;
        if (ke) ke[i] = cnt[x];
        const f = cnt[x] ? act[x] / cnt[x] : 0;
        if (fr) fr[i] = round5(f);
        if (de) de[i] = cnt[x] ? round5(dec[x] / cnt[x]) : 0;
        if (paint) paintSum[x] += f;
      }
      if (chance) {
        stats(site.kind === 'attention', xdata[k], null, site.units, ab[k]);
        const ch = chance[k];
        for (let o = 0, x = 0; o < own.length; o += 3, x++) {
          const i = own[o + 2], c = cnt[x];
          ch.active[i] = act[x];
          ch.fraction[i] = c ? round5(act[x] / c) : 0;
          ch.mean[i] = c ? round5(sum[x] / c) : 0;
          ch.decided[i] = c ? round5(dec[x] / c) : 0;
        }
      }
    }
    if (painted) for (let o = 0, x = 0; o < own.length; o += 3, x++) painted[own[o + 2]] = paintCount ? round5(paintSum[x] / paintCount) : 0;
  }
}

/** log Σ exp(z[at … at + V)), in double, shifted by the row's maximum. */
export function logSumExp(z: Float32Array, at: number, V: number): number {
  let mx = -Infinity;
  for (let j = at; j < at + V; j++) if (z[j] > mx) mx = z[j];
  let s = 0;
  for (let j = at; j < at + V; j++) s += Math.exp(z[j] - mx);
  return mx + Math.log(s);
}

/**
 * Per-token statistics of one site, the JS twin of the native `rowStats` (same arguments): into
 * out = act ‖ sum ‖ dec ‖ cnt (one per owned token) the kept count (m ≥ 0.5), Σm, Σ|2m − 1| and
 * the count of the token's mask values (attention: its causal keys of every head), and its
 * quantized row into q for tokens in [maskFrom, maskTo). With a and b, v is the site's input and
 * the masks are those A/B's (the chance baseline), made on the fly as float32 values, as a mask
 * tensor holds them. ints = [attention, W, heads, len, T, qUnits, maskFrom, maskTo].
 */
export function rowStats(v: Float32Array, a: Float32Array | null, b: Float32Array | null, own: Int32Array, out: Float64Array, q: Uint8Array | null, ints: number[]): void {
  const [attention, W, heads, len, T, qUnits, maskFrom, maskTo] = ints;
  const n = own.length / 3;
  for (let o = 0, x = 0; o < own.length; o += 3, x++) {
    const r = own[o], t = own[o + 1], i = own[o + 2];
    const keep = a === null && q !== null && i >= maskFrom && i < maskTo;
    const qo = (i - maskFrom) * qUnits;
    const counted = attention ? t + 1 : len;
    let act = 0, sum = 0, dec = 0;
    for (let h = 0; h < heads; h++) {
      const row = ((r * heads + h) * W + t) * len;
      if (keep) for (let j = 0, qh = qo + h * T; j < len; j++) q![qh + j] = (v[row + j] * 255 + 0.5) | 0; // Math.round of a value ≥ 0
      for (let j = 0; j < counted; j++) {
        const m = a === null ? v[row + j] : Math.fround(0.5 * Math.cos(a[j] * v[row + j] + b![j]) + 0.5);
        sum += m;
        dec += Math.abs(2 * m - 1);
        if (m >= 0.5) act++;
      }
    }
    out[x] = act;
    out[n + x] = sum;
    out[2 * n + x] = dec;
    out[3 * n + x] = heads * counted;
  }
}

export async function analyzeText(im: InferenceModel, text: string, opts: AnalyzeOptions = {}): Promise<AnalysisResult> {
  const { model, tokenizer } = im;
  const enc = tokenizer.encode(text, 'skip');
  const plan = planAnalysis(model, enc.ids, opts);
  const { n, window } = plan;
  const sites = model.sites;
  const tokens = enc.ids.map((id, i) => ({ id, text: text.slice(enc.starts[i], enc.ends[i]), start: enc.starts[i], end: enc.ends[i] }));
  const zeros = () => new Array<number>(n).fill(0);
  const withChance = plan.chance;
  const sink: BatchSink & { ce: { sum: number; count: number } } = {
    quant: sites.map((s) => new Uint8Array(n * s.units)),
    active: sites.map(zeros),
    mean: sites.map(zeros),
    keys: sites.map((s) => (s.kind === 'attention' ? zeros() : undefined)),
    fraction: sites.map(zeros),
    decided: sites.map(zeros),
    ...(withChance ? { chance: sites.map(() => ({ active: zeros(), fraction: zeros(), mean: zeros(), decided: zeros() })) } : {}),
    ...(sites.length ? { painted: zeros() } : {}),
    surprisal: new Array<number | null>(n).fill(null),
    ce: { sum: 0, count: 0 },
  };
  for (let b = 0, nb = batchCount(plan); b < nb; b++) {
    await opts.checkpointHook?.();
    await analyzeBatch(model, plan, b, sink);
  }
  return assembleResult(im, text, tokens, plan, window, sink, sink.ce.count ? sink.ce.sum / sink.ce.count : null);
}

/** The wire form of analyzed tokens (all of a text, or a slice of it). */
export function assembleResult(
  im: InferenceModel,
  text: string,
  tokens: AnalysisResult['tokens'],
  plan: { stride: number },
  window: number,
  sink: BatchSink,
  crossEntropy: number | null,
): AnalysisResult {
  const sites = im.model.sites;
  const layers: SiteMasks[] = sites.map((s, k) => ({
    site: s.name,
    masks: Buffer.from(sink.quant![k].buffer, sink.quant![k].byteOffset, sink.quant![k].byteLength).toString('base64'),
    active: sink.active![k] as number[],
    mean: (sink.mean![k] as number[]).map(round5),
    ...(sink.keys![k] ? { keys: sink.keys![k] as number[] } : {}),
    fraction: (sink.fraction![k] as number[]).map(round5),
    decided: (sink.decided![k] as number[]).map(round5),
    ...(sink.chance
      ? { chance: { active: sink.chance[k].active as number[], fraction: (sink.chance[k].fraction as number[]).map(round5), mean: (sink.chance[k].mean as number[]).map(round5), decided: (sink.chance[k].decided as number[]).map(round5) } }
      : {}),
  }));
  const paintedBy = sites.length ? paintedDefinition(sites) : undefined;
  return {
    checkpoint: im.checkpoint,
    textLength: text.length,
    tokens,
    sites,
    layers,
    window,
    stride: plan.stride,
    crossEntropy,
    surprisal: sink.surprisal as (number | null)[],
    ...(paintedBy && sink.painted ? { painted: (sink.painted as number[]).map(round5), paintedBy } : {}),
  };
}

/**
 * Statistics as sent: 5 decimals (the wire carries no more precision than anyone reads). Rounding
 * again gives the same double, also from its float32 (a kept analysis's columns).
 */
export function round5(v: number): number {
  return Math.round(v * 1e5) / 1e5;
}
/** The mean mask as sent (see round5). */
export const roundMean = round5;

export interface SampleOptions {
  maxTokens: number;
  temperature?: number;
  topK?: number;
  seed?: number;
  checkpointHook?: () => Promise<void>;
}

/** Autoregressive sampling with temperature and top-k; the context is the last blockSize tokens. */
export async function sampleText(im: InferenceModel, prompt: string, o: SampleOptions): Promise<string> {
  const { model, tokenizer } = im;
  checkSampling(o);
  const rng = new Rng(o.seed ?? (Date.now() >>> 0));
  const ids = tokenizer.encode(prompt, 'skip').ids;
  if (ids.length === 0) ids.push(0); // an empty prompt starts from token 0, as nanoGPT's sample.py
  const temperature = o.temperature ?? 0.8;
  const T = model.shape.blockSize, V = model.shape.vocabSize;
  const out: number[] = [];
  for (let step = 0; step < o.maxTokens; step++) {
    if (step % 16 === 0) await o.checkpointHook?.();
    const ctx = ids.slice(-T);
    const last = tf.tidy(() => {
      const { logits } = model.forward(tf.tensor2d(ctx, [1, ctx.length], 'int32'), { training: false });
      return tf.slice(logits, [0, ctx.length - 1, 0], [1, 1, V]);
    });
    const z = Float64Array.from(await last.data());
    last.dispose();
    const k = Math.min(o.topK ?? V, V);
    let cut = -Infinity;
    if (k < V) cut = [...z].sort((a, b) => b - a)[k - 1];
    let max = -Infinity, argmax = 0;
    for (let v = 0; v < V; v++) if (z[v] >= cut && z[v] > max) (max = z[v]), (argmax = v);
    if (temperature === 0) {
      // greedy: the most likely token (the first of equals), no draw
      ids.push(argmax);
      out.push(argmax);
      continue;
    }
    let total = 0;
    for (let v = 0; v < V; v++) {
      z[v] = z[v] >= cut ? Math.exp((z[v] - max) / temperature) : 0;
      total += z[v];
    }
    let u = rng.next() * total, next = V - 1;
    for (let v = 0; v < V; v++) {
      u -= z[v];
      if (u <= 0 && z[v] > 0) {
        next = v;
        break;
      }
    }
    ids.push(next);
    out.push(next);
  }
  return tokenizer.decode(out);
}

/**
 * The reference's `loss`: mean next-token cross-entropy over the text's consecutive
 * non-overlapping blockSize windows (ids[i·T:(i+1)·T] → ids[i·T+1:(i+1)·T+1]), 16 windows a batch.
 */
export async function checkpointCrossEntropy(im: InferenceModel, text: string): Promise<{ crossEntropy: number; tokens: number }> {
  const { model, tokenizer } = im;
  const ids = tokenizer.encode(text, 'error').ids;
  const T = model.shape.blockSize, V = model.shape.vocabSize;
  const n = Math.floor((ids.length - 1) / T);
  if (n < 1) throw new RangeError(`the text has ${ids.length} tokens; one window of blockSize ${T} needs ${T + 1}`);
  let total = 0;
  for (let i = 0; i < n; i += 16) {
    const rows = Math.min(16, n - i);
    const x = Int32Array.from(ids.slice(i * T, (i + rows) * T));
    const y = Int32Array.from(ids.slice(i * T + 1, (i + rows) * T + 1));
    const s = tf.tidy(() => {
      const { logits } = model.forward(tf.tensor2d(x, [rows, T], 'int32'), { training: false });
      const logp = tf.logSoftmax(tf.reshape(logits, [-1, V]));
      return tf.neg(tf.sum(tf.mul(tf.oneHot(tf.tensor1d(y, 'int32'), V), logp)));
    });
    total += (await s.data())[0];
    s.dispose();
    await new Promise((r) => setImmediate(r));
  }
  return { crossEntropy: total / (n * T), tokens: n * T };
}
