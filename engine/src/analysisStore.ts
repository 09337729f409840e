// Analyses the engine keeps for `analysis/*` requests (common/analysisWire.ts): per-token summary
// columns for the whole text, masks kept for texts whose masks fit `maskBytes` and recomputed
// from the windows that own the asked tokens otherwise (a batch always runs the same windows, so
// a recomputation gives the same bytes). The store holds at most `storeBytes`: older analyses are
// evicted (least recently used first), and one that alone would not fit is refused before any
// work, with the figure in the message.
import type { AnalysisResult, Token } from '@common/protocol';
import type { AnalysisHandle, SummaryChunk, WireColumn } from '@common/analysisWire';
import { type AnalysisPlan, type BatchSink, type ChanceCols, type InferenceModel, analyzeBatch, assembleResult, batchCount, batchOfToken, planAnalysis } from './inference';
import { BufferPool } from './bufferPool';
import { paintedDefinition } from './maskMetrics';
import type { ModelLease } from './service/modelCache';
import { hold, holdTraining } from './requestPriority';

const MB = 1 << 20;

/** A column on the wire: little-endian float32 bytes, base64 (see WireColumn). */
function encodeFloat32(values: Float32Array): string {
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength).toString('base64');
}

export interface StoreLimits {
  /** Everything the store holds, all analyses together. */
  storeBytes: number;
  /** Masks kept per analysis; above it they are recomputed on demand. */
  maskBytes: number;
  /** Column or mask bytes in one reply. */
  replyBytes: number;
  /** Memory of released analyses kept for the next ones (bufferPool.ts), beyond storeBytes. Default 64 MB. */
  poolBytes?: number;
}

/** Defaults, overridable by LDLENS_ANALYSIS_STORE_MB, LDLENS_ANALYSIS_MASKS_MB and LDLENS_ANALYSIS_REPLY_MB. */
export function defaultLimits(env: NodeJS.ProcessEnv = process.env): StoreLimits {
  const mb = (name: string, dflt: number) => {
    const v = Number(env[name]);
    return (Number.isFinite(v) && v >= 0 ? v : dflt) * MB;
  };
  return {
    storeBytes: mb('LDLENS_ANALYSIS_STORE_MB', 512),
    maskBytes: mb('LDLENS_ANALYSIS_MASKS_MB', 64),
    replyBytes: Math.max(64 * 1024, mb('LDLENS_ANALYSIS_REPLY_MB', 8)),
    poolBytes: mb('LDLENS_ANALYSIS_POOL_MB', 64),
  };
}

/** Refused before any work: the analysis would not fit in the store. */
export class TooLargeError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = 'TooLargeError';
  }
}

export class UnknownAnalysisError extends Error {
  constructor(id: string) {
    super(`analysis ${id} is not held by the engine (released, evicted to stay within the store's memory limit, or the engine restarted); analyze the text again`);
    this.name = 'UnknownAnalysisError';
  }
}

/** A named per-token Float32 column of a stored analysis (see WireColumn). */
interface Column {
  name: string;
  site: number;
  data: Float32Array;
}

/** Per-site summary columns: SiteMasks' per-token fields (chance.* only with learned masks). */
const SITE_COLUMNS = ['active', 'mean', 'fraction', 'decided', 'chance.active', 'chance.fraction', 'chance.mean', 'chance.decided'] as const;

/** Float32 columns a stored analysis keeps per token (id, start and end are kept as Int32 too). */
function columnCount(sites: { kind: string }[]): number {
  return 1 + (sites.length ? 1 : 0) + sites.length * SITE_COLUMNS.length + sites.filter((s) => s.kind === 'attention').length;
}

let nextId = 1;

class StoredAnalysis {
  readonly id = `a${nextId++}`;
  readonly plan: AnalysisPlan & { window: number };
  readonly starts: Int32Array;
  readonly ends: Int32Array;
  readonly columns: Column[];
  /** Per site, every token's masks (when they fit), else null: recomputed. */
  readonly quant: Uint8Array[] | null;
  readonly bytes: number;
  readonly first: { from: number; to: number } | null;
  private readonly done: Uint8Array;
  private doneCount = 0;
  private readonly urgent: number[] = [];
  private readonly waiters = new Map<number, (() => void)[]>();
  private readonly ce = { sum: 0, count: 0 };
  private failure: Error | null = null;
  /** A batch is being computed (it writes into the buffers): they go back to the pool after it. */
  private computing = false;
  /** The pooled buffers behind `columns` and `quant`, and the pool they go back to on release. */
  private readonly buffers: ArrayBuffer[];
  released = false;
  lastUsed = Date.now();

  readonly im: InferenceModel;
  /** The model cache's lease on `im`: held while the model may still compute for this analysis. */
  private lease: ModelLease | null;

  constructor(
    lease: ModelLease,
    readonly text: string,
    ids: Int32Array,
    starts: Int32Array,
    ends: Int32Array,
    opts: { window?: number; stride?: number; first?: { start: number; end: number } },
    limits: StoreLimits,
    bytes: { summaries: number; masks: number },
    private readonly pool: BufferPool,
  ) {
    this.lease = lease;
    const im = (this.im = lease.model);
    this.plan = planAnalysis(im.model, ids, opts);
    this.starts = starts;
    this.ends = ends;
    const n = ids.length;
    const sites = im.model.sites;
    const names: { name: string; site: number }[] = [
      { name: 'surprisal', site: -1 },
      ...(sites.length ? [{ name: 'painted', site: -1 }] : []),
      ...sites.flatMap((s, k) => [...SITE_COLUMNS.map((name) => ({ name, site: k })), ...(s.kind === 'attention' ? [{ name: 'keys', site: k }] : [])]),
    ];
    const colBuf = pool.take(names.length * n * 4);
    this.columns = names.map((c, j) => ({ ...c, data: new Float32Array(colBuf, j * n * 4, n) }));
    this.columns[0].data.fill(NaN); // surprisal: none before a window's first token
    const keepMasks = bytes.masks <= limits.maskBytes;
    const quantBuf = keepMasks ? pool.take(bytes.masks) : null;
    let at = 0;
    this.quant = quantBuf ? sites.map((s) => new Uint8Array(quantBuf, (at += n * s.units) - n * s.units, n * s.units)) : null;
    this.buffers = quantBuf ? [colBuf, quantBuf] : [colBuf];
    // what the buffers really take (a pooled one may be a little larger than asked)
    this.bytes = bytes.summaries - names.length * n * 4 + colBuf.byteLength + (quantBuf ? quantBuf.byteLength : 0);
    this.done = new Uint8Array(batchCount(this.plan));
    this.first = opts.first && n > 0 ? tokenRange(starts, ends, opts.first.start, opts.first.end) : null;
    if (this.first && this.first.to > this.first.from) this.prioritize(this.first.from, this.first.to);
  }

  get tokenCount(): number {
    return this.plan.n;
  }

  get complete(): boolean {
    return this.doneCount === this.done.length;
  }

  /** Computes every batch, urgent ones first, yielding between batches; the first range holds training. */
  async run(): Promise<void> {
    // The first range holds training from start to end (not batch by batch: a step would slip in
    // between every two batches).
    let release: (() => void) | null = this.first && this.first.to > this.first.from ? hold() : null;
    try {
      for (;;) {
        if (this.released) return;
        const b = this.nextBatch();
        if (b < 0) {
          // Every batch done: with its masks kept, the analysis needs the model no more.
          if (this.quant) this.releaseModel();
          return;
        }
        this.computing = true;
        try {
          await this.compute(b);
        } finally {
          this.computing = false;
        }
        if (release && this.rangeDone(this.first!.from, this.first!.to)) {
          release();
          release = null;
        }
        await new Promise((r) => setImmediate(r)); // requests and training steps in between
      }
    } catch (e) {
      this.failure = e as Error;
      for (const ws of this.waiters.values()) ws.splice(0).forEach((w) => w());
    } finally {
      release?.();
      if (this.released) this.giveBuffers();
    }
  }

  /** Resolves once tokens [from, to) are analyzed; they are computed next. */
  async waitFor(from: number, to: number): Promise<void> {
    if (to <= from) return;
    this.prioritize(from, to);
    for (let b = batchOfToken(this.plan, from), last = batchOfToken(this.plan, to - 1); b <= last; b++) {
      if (this.failure) throw this.failure;
      if (this.released) throw new UnknownAnalysisError(this.id);
      if (!this.done[b]) await new Promise<void>((r) => this.waiters.set(b, [...(this.waiters.get(b) ?? []), r]));
      if (this.failure) throw this.failure;
      if (this.released) throw new UnknownAnalysisError(this.id);
    }
  }

  summaries(from: number, to: number): SummaryChunk {
    const columns: WireColumn[] = [
      { name: 'id', site: -1, data: encodeFloat32(Float32Array.from(this.plan.ids as Int32Array).subarray(from, to)) },
      { name: 'start', site: -1, data: encodeFloat32(Float32Array.from(this.starts.subarray(from, to))) },
      { name: 'end', site: -1, data: encodeFloat32(Float32Array.from(this.ends.subarray(from, to))) },
      ...this.columns.map((c) => ({ name: c.name, site: c.site, data: encodeFloat32(c.data.subarray(from, to)) })),
    ];
    return { from, to, columns, complete: this.complete, crossEntropy: this.crossEntropy() };
  }

  /** Tokens [from, to) of the given sites, masks included, as a full analysis gives them. */
  async slice(from: number, to: number, siteIdx: number[]): Promise<AnalysisResult> {
    const sites = this.im.model.sites;
    const quant = sites.map((s, k) => (siteIdx.includes(k) ? new Uint8Array((to - from) * s.units) : new Uint8Array(0)));
    if (this.quant) {
      for (const k of siteIdx) quant[k].set(this.quant[k].subarray(from * sites[k].units, to * sites[k].units));
    } else if (to > from) {
      // Recompute the batches that own the tokens, keeping only their masks.
      const sink: BatchSink = { quant, maskFrom: from, maskTo: to };
      for (let b = batchOfToken(this.plan, from), last = batchOfToken(this.plan, to - 1); b <= last; b++) {
        // released between two batches (the lease is gone): the caller's "analyze again", not a crash
        if (this.released) throw new UnknownAnalysisError(this.id);
        await analyzeBatch(this.model(), this.plan, b, sink);
        await new Promise((r) => setImmediate(r)); // other requests (a hover, a release) in between
      }
      if (this.released) throw new UnknownAnalysisError(this.id);
    }
    const col = (name: string, k: number) => this.columns.find((c) => c.name === name && c.site === k)?.data;
    const arr = (d: Float32Array | undefined) => (d ? Array.from(d.subarray(from, to)) : []);
    const sur = col('surprisal', -1)!;
    const tokens: Token[] = [];
    for (let i = from; i < to; i++) tokens.push({ id: this.plan.ids[i], text: this.text.slice(this.starts[i], this.ends[i]), start: this.starts[i], end: this.ends[i] });
    const perSite = (name: string) => sites.map((_, k) => arr(col(name, k)));
    const painted = col('painted', -1);
    // Statistics travel as doubles of 5 decimals in a full analysis; the columns hold them as
    // float32: assembleResult rounds them again, which gives back the very doubles.
    const sink: BatchSink = {
      quant,
      active: perSite('active'),
      mean: perSite('mean'),
      keys: sites.map((s, k) => (s.kind === 'attention' ? arr(col('keys', k)) : undefined)),
      fraction: perSite('fraction'),
      decided: perSite('decided'),
      ...(sites.length
        ? { chance: sites.map((_, k): ChanceCols => ({ active: arr(col('chance.active', k)), fraction: arr(col('chance.fraction', k)), mean: arr(col('chance.mean', k)), decided: arr(col('chance.decided', k)) })) }
        : {}),
      ...(painted ? { painted: arr(painted) } : {}),
      surprisal: Array.from(sur.subarray(from, to), (v) => (Number.isNaN(v) ? null : v)),
    };
    const full = assembleResult(this.im, this.text, tokens, this.plan, this.plan.window, sink, this.crossEntropy());
    return { ...full, sites: siteIdx.map((k) => full.sites[k]), layers: siteIdx.map((k) => full.layers[k]) };
  }

  crossEntropy(): number | null {
    return this.complete && this.ce.count ? this.ce.sum / this.ce.count : null;
  }

  release(): void {
    this.released = true;
    if (!this.computing) this.giveBuffers();
    for (const ws of this.waiters.values()) ws.splice(0).forEach((w) => w());
    // A batch still computing holds its own reference; the model cache disposes the model only
    // once it is evicted and no lease is left.
    this.releaseModel();
  }

  /** The leased model (held until the analysis is released, or complete with its masks kept). */
  private model(): InferenceModel['model'] {
    if (!this.lease) throw new Error(`analysis ${this.id} no longer holds its model`);
    return this.lease.model.model;
  }

  /** Once released and no batch writes into them: the buffers go back to the pool (once). */
  private giveBuffers(): void {
    for (const b of this.buffers.splice(0)) this.pool.give(b);
  }

  private releaseModel(): void {
    this.lease?.release();
    this.lease = null;
  }

  private prioritize(from: number, to: number): void {
    for (let b = batchOfToken(this.plan, from), last = batchOfToken(this.plan, to - 1); b <= last; b++) if (!this.done[b]) this.urgent.push(b);
  }

  private nextBatch(): number {
    while (this.urgent.length) {
      const b = this.urgent.shift()!;
      if (!this.done[b]) return b;
    }
    const b = this.done.indexOf(0);
    return b;
  }

  private rangeDone(from: number, to: number): boolean {
    for (let b = batchOfToken(this.plan, from), last = batchOfToken(this.plan, to - 1); b <= last; b++) if (!this.done[b]) return false;
    return true;
  }

  private async compute(b: number): Promise<void> {
    const sites = this.im.model.sites;
    const col = (name: string, k: number) => this.columns.find((c) => c.name === name && c.site === k)?.data;
    const perSite = (name: string) => sites.map((_, k) => col(name, k)!);
    const painted = col('painted', -1);
    await analyzeBatch(this.model(), this.plan, b, {
      ...(this.quant ? { quant: this.quant } : {}),
      active: perSite('active'),
      mean: perSite('mean'),
      keys: sites.map((_, k) => col('keys', k)),
      fraction: perSite('fraction'),
      decided: perSite('decided'),
      ...(sites.length
        ? { chance: sites.map((_, k) => ({ active: col('chance.active', k)!, fraction: col('chance.fraction', k)!, mean: col('chance.mean', k)!, decided: col('chance.decided', k)! })) }
        : {}),
      ...(painted ? { painted } : {}),
      surprisal: col('surprisal', -1)!,
      ce: this.ce,
    });
    this.done[b] = 1;
    this.doneCount++;
    this.waiters.get(b)?.splice(0).forEach((w) => w());
    this.waiters.delete(b);
  }
}

/** Tokens overlapping the UTF-16 range [start, end) (starts and ends ascend). */
function tokenRange(starts: Int32Array, ends: Int32Array, start: number, end: number): { from: number; to: number } {
  const lowerBound = (a: Int32Array, v: number) => {
    let lo = 0, hi = a.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (a[mid] < v) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const from = lowerBound(ends, start + 1);
  const to = Math.max(from, lowerBound(starts, end));
  return { from, to };
}

export class AnalysisStore {
  private readonly entries = new Map<string, StoredAnalysis>();
  private readonly pool: BufferPool;

  constructor(readonly limits: StoreLimits = defaultLimits()) {
    this.pool = new BufferPool(limits.poolBytes ?? 64 * MB);
  }

  get heldBytes(): number {
    let s = 0;
    for (const e of this.entries.values()) s += e.bytes;
    return s;
  }

  /**
   * Tokenizes, checks the limits, registers the analysis and starts computing it. The analysis
   * takes over the model's lease (released with the analysis, or once it is complete with its
   * masks kept); a refusal releases it at once.
   */
  open(lease: ModelLease, text: string, opts: { window?: number; stride?: number; first?: { start: number; end: number } }): AnalysisHandle {
    try {
      return this.openLeased(lease, text, opts);
    } catch (e) {
      lease.release();
      throw e;
    }
  }

  private openLeased(lease: ModelLease, text: string, opts: { window?: number; stride?: number; first?: { start: number; end: number } }): AnalysisHandle {
    const im = lease.model;
    const sites = im.model.sites;
    const cols = columnCount(sites);
    const perToken = 12 + 4 * cols;
    const fixed = text.length * 2;
    // Refused before tokenizing when even 4 characters a token (BPE on prose; a char tokenizer
    // gives one a character) would not fit: tokenizing alone would take GBs.
    if (fixed + (text.length / 4) * perToken > this.limits.storeBytes) throw new TooLargeError(tooLarge(text.length, (fixed + (text.length / 4) * perToken) / MB, this.limits.storeBytes));
    const enc = im.tokenizer.encodeTyped(text, 'skip');
    const n = enc.ids.length;
    const summaries = fixed + n * perToken;
    const masks = n * sites.reduce((a, s) => a + s.units, 0);
    if (summaries > this.limits.storeBytes) throw new TooLargeError(tooLarge(text.length, summaries / MB, this.limits.storeBytes));
    // Evicted first, so that their memory is in the pool for this one; again with what this one's
    // buffers really take (a pooled buffer may be a little larger than asked).
    this.evictFor(summaries + (masks <= this.limits.maskBytes ? masks : 0));
    const a = new StoredAnalysis(lease, text, enc.ids, enc.starts, enc.ends, opts, this.limits, { summaries, masks }, this.pool);
    this.evictFor(a.bytes);
    this.entries.set(a.id, a);
    void a.run();
    const unitsPerToken = Math.max(1, sites.reduce((s, x) => s + x.units, 0));
    return {
      id: a.id,
      checkpoint: im.checkpoint,
      textLength: text.length,
      tokenCount: n,
      sites,
      ...(sites.length ? { paintedBy: paintedDefinition(sites) } : {}),
      window: a.plan.window,
      stride: a.plan.stride,
      first: a.first,
      summaryChunk: Math.max(1, Math.floor(this.limits.replyBytes / (4 * (cols + 3)))),
      sliceChunk: Math.max(1, Math.floor(this.limits.replyBytes / unitsPerToken)),
      masksStored: a.quant !== null,
      bytes: a.bytes,
    };
  }

  get(id: string): StoredAnalysis {
    const a = this.entries.get(id);
    if (!a) throw new UnknownAnalysisError(id);
    a.lastUsed = Date.now();
    return a;
  }

  async summaries(id: string, from: number, to: number): Promise<SummaryChunk> {
    const a = this.get(id);
    const r = this.clamp(a, from, to, Math.max(1, Math.floor(this.limits.replyBytes / (4 * (a.columns.length + 3)))));
    await a.waitFor(r.from, r.to);
    return a.summaries(r.from, r.to);
  }

  async slice(id: string, from: number, to: number, siteNames?: string[]): Promise<AnalysisResult> {
    const a = this.get(id);
    const sites = a.im.model.sites;
    const idx = siteNames ? siteNames.map((name) => sites.findIndex((s) => s.name === name)) : sites.map((_, k) => k);
    const unknown = siteNames?.filter((_, j) => idx[j] < 0) ?? [];
    if (unknown.length) throw new RangeError(`unknown site${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`);
    const units = Math.max(1, idx.reduce((s, k) => s + sites[k].units, 0));
    const r = this.clamp(a, from, to, Math.max(1, Math.floor(this.limits.replyBytes / units)));
    await a.waitFor(r.from, r.to);
    return holdTraining(a.slice(r.from, r.to, idx));
  }

  release(id: string): boolean {
    const a = this.entries.get(id);
    if (!a) return false;
    a.release();
    this.entries.delete(id);
    return true;
  }

  private clamp(a: StoredAnalysis, from: number, to: number, most: number): { from: number; to: number } {
    if (!Number.isInteger(from) || !Number.isInteger(to) || from < 0 || to < from || from > a.tokenCount) {
      throw new RangeError(`token range [${from}, ${to}) is not within the analysis's ${a.tokenCount} tokens`);
    }
    return { from, to: Math.min(to, a.tokenCount, from + most) };
  }

  private evictFor(bytes: number): void {
    let held = this.heldBytes;
    const byAge = [...this.entries.values()].sort((x, y) => x.lastUsed - y.lastUsed);
    for (const old of byAge) {
      if (held + bytes <= this.limits.storeBytes) break;
      this.release(old.id);
      held -= old.bytes;
    }
  }
}

function tooLarge(chars: number, needMb: number, limit: number): string {
  return (
    `the text is too large to analyze: ${chars.toLocaleString('en-US')} characters need about ${Math.ceil(needMb).toLocaleString('en-US')} MB ` +
    `of per-token summaries, more than the engine's analysis limit of ${Math.round(limit / MB)} MB (LDLENS_ANALYSIS_STORE_MB); analyze a selection instead`
  );
}

/** Most bytes of JSON one full AnalysisResult may take (far below V8's ~512M-character string limit). */
export const FULL_REPLY_BYTES = 256 * MB;

/**
 * Refuses, before any work, a whole-text analysis whose JSON would exceed FULL_REPLY_BYTES (base64
 * masks plus per-site numbers per token; a token per UTF-16 unit at most, for a char tokenizer).
 */
export function checkFullReply(im: InferenceModel, textLength: number, hint: string): void {
  const sites = im.model.sites;
  const perToken = 60 + sites.reduce((s, x) => s + Math.ceil((x.units * 4) / 3) + 30, 0);
  const bytes = textLength * perToken;
  if (bytes > FULL_REPLY_BYTES) {
    throw new TooLargeError(
      `the analysis of ${textLength.toLocaleString('en-US')} characters would take about ${Math.ceil(bytes / MB).toLocaleString('en-US')} MB of JSON, ` +
        `more than the ${FULL_REPLY_BYTES / MB} MB one reply may carry; ${hint}`,
    );
  }
}
