// Inference on a trained model: analyze a text (every token's mask at every site), sample text,
// and the reference's checkpoint cross-entropy.
import { tf } from './backend';
import { chanceMask, chanceParams, forTokenValues, paintedDefinition, paintedValues, tokenSiteStats } from './maskMetrics';
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

const WINDOWS_PER_BATCH = 8;

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

export async function analyzeText(im: InferenceModel, text: string, opts: AnalyzeOptions = {}): Promise<AnalysisResult> {
  const { model, tokenizer } = im;
  const shape = model.shape;
  const enc = tokenizer.encode(text, 'skip');
  const n = enc.ids.length;
  const window = Math.max(1, Math.min(opts.window ?? shape.blockSize, shape.blockSize));
  const stride = Math.max(1, Math.min(opts.stride ?? Math.max(1, Math.floor(window / 2)), window));
  const sites = model.sites;
  const tokens = enc.ids.map((id, i) => ({ id, text: text.slice(enc.starts[i], enc.ends[i]), start: enc.starts[i], end: enc.ends[i] }));
  const quant = sites.map((s) => new Uint8Array(n * s.units));
  const active = sites.map(() => new Array<number>(n).fill(0));
  const mean = sites.map(() => new Array<number>(n).fill(0));
  const keys = sites.map((s) => (s.kind === 'attention' ? new Array<number>(n).fill(0) : undefined));
  const fraction = sites.map(() => new Array<number>(n).fill(0));
  const decided = sites.map(() => new Array<number>(n).fill(0));
  const withChance = (opts.chance ?? true) && sites.length > 0;
  const chance = sites.map(() => ({ active: new Array<number>(n).fill(0), fraction: new Array<number>(n).fill(0), mean: new Array<number>(n).fill(0), decided: new Array<number>(n).fill(0) }));
  const chanceAB = withChance ? chanceParams(sites, shape.blockSize, model.dropout, 0) : [];
  const surprisal: (number | null)[] = new Array(n).fill(null);
  let ceSum = 0, ceCount = 0;

  if (n > 0) {
    const W = Math.min(window, n);
    const { starts, owner } = planWindows(n, W, stride);
    for (let b0 = 0; b0 < starts.length; b0 += WINDOWS_PER_BATCH) {
      await opts.checkpointHook?.();
      const batchStarts = starts.slice(b0, b0 + WINDOWS_PER_BATCH);
      const x = new Int32Array(batchStarts.length * W);
      batchStarts.forEach((s, r) => x.set(enc.ids.slice(s, s + W), r * W));
      const { logp, masks, inputs } = tf.tidy(() => {
        const r = model.forward(tf.tensor2d(x, [batchStarts.length, W], 'int32'), { training: false, wantInputs: withChance });
        return { logp: tf.logSoftmax(r.logits), masks: r.masks, inputs: r.inputs ?? [] };
      });
      const lp = (await logp.data()) as Float32Array;
      const mdata = await Promise.all(masks.map((m) => m.data() as Promise<Float32Array>));
      // chance masks: the same hidden states through untrained A/B
      const cdata = await Promise.all(inputs.map(async (t, k) => chanceMask((await t.data()) as Float32Array, chanceAB[k].A, chanceAB[k].B, t.shape[t.rank - 1])));
      tf.dispose([logp, ...masks, ...inputs]);
      const V = shape.vocabSize;
      for (let r = 0; r < batchStarts.length; r++) {
        const s = batchStarts[r];
        const w = b0 + r;
        for (let t = 0; t < W; t++) {
          const i = s + t;
          if (owner[i] !== w) continue;
          // surprisal of token i given what precedes it in this window
          if (t > 0) surprisal[i] = -lp[(r * W + t - 1) * V + enc.ids[i]];
          if (t + 1 < W && i + 1 < n) {
            ceSum += -lp[(r * W + t) * V + enc.ids[i + 1]];
            ceCount++;
          }
          sites.forEach((site, k) => {
            const at = { row: r, t, W, nHead: shape.nHead };
            const q = quant[k], base = i * site.units;
            forTokenValues(mdata[k], site, at, (v, unit) => (q[base + unit] = Math.round(v * 255)));
            if (site.kind === 'attention') {
              // keys after the token (masked out of its softmax): the mask there is ½·cos(B_j) + ½
              const perHead = site.units / shape.nHead;
              for (let h = 0; h < shape.nHead; h++) {
                const row = ((r * shape.nHead + h) * W + t) * W;
                for (let j = t + 1; j < W; j++) q[base + h * perHead + j] = Math.round(mdata[k][row + j] * 255);
              }
            }
            const st = tokenSiteStats(mdata[k], site, at);
            active[k][i] = st.active;
            mean[k][i] = st.mean;
            fraction[k][i] = st.count ? st.active / st.count : 0;
            decided[k][i] = st.decided;
            if (keys[k]) keys[k]![i] = st.count;
            if (withChance) {
              const c = tokenSiteStats(cdata[k], site, at), ch = chance[k];
              ch.active[i] = c.active;
              ch.fraction[i] = c.count ? c.active / c.count : 0;
              ch.mean[i] = c.mean;
              ch.decided[i] = c.decided;
            }
          });
        }
      }
    }
  }
  const layers: SiteMasks[] = sites.map((s, k) => ({
    site: s.name,
    masks: Buffer.from(quant[k].buffer, quant[k].byteOffset, quant[k].byteLength).toString('base64'),
    active: active[k],
    mean: mean[k].map(round5),
    ...(keys[k] ? { keys: keys[k] } : {}),
    fraction: fraction[k].map(round5),
    decided: decided[k].map(round5),
    ...(withChance
      ? { chance: { active: chance[k].active, fraction: chance[k].fraction.map(round5), mean: chance[k].mean.map(round5), decided: chance[k].decided.map(round5) } }
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
    stride,
    crossEntropy: ceCount ? ceSum / ceCount : null,
    surprisal,
    ...(paintedBy ? { painted: paintedValues(sites, fraction, paintedBy, n).map(round5), paintedBy } : {}),
  };
}

const round5 = (v: number) => Math.round(v * 1e5) / 1e5;

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
