// An analysis the engine keeps (common/analysisWire.ts), seen from the editor: summary chunks
// assembled into an AnalysisResult whose per-token columns are typed arrays (what painting and
// hovers read), with the masks left in the engine and fetched by token range (`rows`). No
// `vscode` import: unit-tested under plain Node against a real engine.
import type { AnalysisResult, SiteMasks, Token } from '@common/protocol';
import type { AnalysisHandle, SummaryChunk } from '@common/analysisWire';

/** Fetches tokens [from, to) of an analysis, masks included (analysis/slice; may stop early). */
export type RowSource = (from: number, to: number, sites?: string[]) => Promise<AnalysisResult>;

/** A WireColumn's values (little-endian float32, base64). */
export function decodeFloat32(data: string): Float32Array {
  const b = Buffer.from(data, 'base64');
  // Copied so the array is 4-byte aligned whatever the Buffer pool's offset.
  const out = new Float32Array(b.byteLength >> 2);
  new Uint8Array(out.buffer).set(b.subarray(0, out.byteLength));
  return out;
}

/** A token not received yet: an empty span, so it is neither painted nor hovered. */
const NOT_YET: Token = Object.freeze({ id: -1, text: '', start: 0, end: 0 });

/**
 * Whether a token of an assembled analysis has not arrived yet. Its columns read 0 until it does
 * (they are allocated zeroed, not filled), so readers over every token ask this first.
 */
export function isPending(token: Token): boolean {
  return token === NOT_YET;
}

/** Columns sent as float32 that a full analysis sends as 5-decimal doubles: rounded back, exactly. */
const FIVE_DECIMALS = new Set(['mean', 'fraction', 'decided', 'chance.fraction', 'chance.mean', 'chance.decided', 'painted']);

export class SummaryAssembler {
  readonly result: AnalysisResult;
  /** Tokens received so far. */
  received = 0;

  /** `text`: the analyzed text (each token's text is sliced from it). */
  constructor(
    readonly handle: AnalysisHandle,
    private readonly text: string,
  ) {
    const n = handle.tokenCount;
    this.result = {
      checkpoint: handle.checkpoint,
      textLength: handle.textLength,
      tokens: new Array<Token>(n).fill(NOT_YET),
      sites: handle.sites,
      layers: handle.sites.map((s) => ({ site: s.name, masks: '' }) as SiteMasks),
      window: handle.window,
      stride: handle.stride,
      crossEntropy: null,
      surprisal: new Array<number | null>(n).fill(null),
      ...(handle.paintedBy ? { paintedBy: handle.paintedBy } : {}),
    };
  }

  get complete(): boolean {
    return this.received >= this.handle.tokenCount;
  }

  /**
   * Writes one chunk's columns. Any column joins: token fields (`id`, `start`, `end`, `surprisal`,
   * others as top-level arrays) and per-site statistics (dotted names nest, e.g. `chance.mean`);
   * a token not received yet reads 0 in every column (see isPending).
   */
  add(chunk: SummaryChunk): void {
    const { from, to } = chunk;
    const r = this.result;
    const n = this.handle.tokenCount;
    const cols = new Map(chunk.columns.map((c) => [`${c.site}:${c.name}`, c]));
    const id = decodeFloat32(cols.get('-1:id')!.data);
    const start = decodeFloat32(cols.get('-1:start')!.data);
    const end = decodeFloat32(cols.get('-1:end')!.data);
    for (let i = from; i < to; i++) {
      const j = i - from;
      r.tokens[i] = { id: id[j], text: this.text.slice(start[j], end[j]), start: start[j], end: end[j] };
    }
    for (const c of chunk.columns) {
      if (c.site === -1 && (c.name === 'id' || c.name === 'start' || c.name === 'end')) continue;
      const v = decodeFloat32(c.data);
      if (c.site === -1 && c.name === 'surprisal') {
        for (let j = 0; j < v.length; j++) r.surprisal[from + j] = Number.isNaN(v[j]) ? null : v[j];
        continue;
      }
      const owner = (c.site === -1 ? r : r.layers[c.site]) as unknown as Record<string, unknown>;
      const path = c.name.split('.');
      let obj = owner;
      for (const p of path.slice(0, -1)) obj = (obj[p] ??= {}) as Record<string, unknown>;
      const leaf = path[path.length - 1];
      const five = FIVE_DECIMALS.has(c.name);
      let arr = obj[leaf] as Float32Array | Float64Array | undefined;
      // Zeroed, not filled with NaN: the OS maps an untouched buffer lazily, while filling ~60
      // columns of a 2,000,000-token document (~700 MB) held the editor 2.6-3.3 s before its
      // visible lines could paint. Tokens not received yet are told by isPending, not by NaN.
      if (!arr) obj[leaf] = arr = five ? new Float64Array(n) : new Float32Array(n);
      if (five) for (let j = 0; j < v.length; j++) arr[from + j] = Math.round(v[j] * 1e5) / 1e5;
      else arr.set(v, from);
    }
    this.received += to - from;
    if (chunk.complete) r.crossEntropy = chunk.crossEntropy;
  }
}

/** Masks fetched by token, per site: the rows a hover or a single-unit paint needs. */
export class MaskRows {
  private readonly rows = new Map<number, Map<number, Uint8Array>>();
  private readonly full = new Map<number, Uint8Array>();

  constructor(
    private readonly analysis: AnalysisResult,
    readonly source: RowSource,
    readonly sliceChunk: number,
  ) {}

  row(site: number, token: number): Uint8Array | undefined {
    const units = this.analysis.sites[site].units;
    const f = this.full.get(site);
    if (f) return f.subarray(token * units, (token + 1) * units);
    return this.rows.get(site)?.get(token);
  }

  /** Every token's masks at one site, when fetched (see fetchSite). */
  siteMatrix(site: number): Uint8Array | undefined {
    return this.full.get(site);
  }

  /** Fetches tokens [from, to) at every site (a hover: one token). */
  async fetch(from: number, to: number): Promise<void> {
    for (let at = from; at < to; ) {
      const s = await this.source(at, to);
      this.keep(s, at);
      at += s.tokens.length;
      if (!s.tokens.length) break;
    }
  }

  /** Fetches one site for every token (the single-unit metric), at most `maxBytes`. */
  async fetchSite(site: number, maxBytes: number): Promise<void> {
    if (this.full.has(site)) return;
    const s = this.analysis.sites[site];
    const n = this.analysis.tokens.length;
    if (n * s.units > maxBytes) {
      throw new RangeError(`painting one unit needs every token's masks at ${s.name}: ${Math.ceil((n * s.units) / 2 ** 20)} MB, more than the ${Math.round(maxBytes / 2 ** 20)} MB the editor keeps; analyze a selection`);
    }
    const m = new Uint8Array(n * s.units);
    for (let at = 0; at < n; ) {
      const r = await this.source(at, n, [s.name]);
      if (!r.tokens.length) break;
      m.set(Buffer.from(r.layers[0].masks, 'base64'), at * s.units);
      at += r.tokens.length;
    }
    this.full.set(site, m);
  }

  private keep(slice: AnalysisResult, from: number): void {
    slice.sites.forEach((s, j) => {
      const k = this.analysis.sites.findIndex((x) => x.name === s.name);
      const bytes = Buffer.from(slice.layers[j].masks, 'base64');
      let m = this.rows.get(k);
      if (!m) this.rows.set(k, (m = new Map()));
      for (let t = 0; t < slice.tokens.length; t++) m.set(from + t, new Uint8Array(bytes.subarray(t * s.units, (t + 1) * s.units)));
    });
  }
}

/**
 * Tokens [from, to) of a kept analysis as one full AnalysisResult (the Mask Explorer's input),
 * fetched in bounded slices and joined: the same values a full analysis gives for those tokens.
 */
export async function materialize(summary: AnalysisResult, source: RowSource, from: number, to: number): Promise<AnalysisResult> {
  const parts: AnalysisResult[] = [];
  for (let at = from; at < to; ) {
    const s = await source(at, to);
    if (!s.tokens.length) break;
    parts.push(s);
    at += s.tokens.length;
  }
  const first = parts[0];
  if (!first) return { ...summary, tokens: [], surprisal: [], layers: summary.sites.map((s) => ({ site: s.name, masks: '', active: [], mean: [] })) };
  const layers: SiteMasks[] = first.layers.map((l, k) => {
    const rest = joinValues(parts.map((p) => ({ ...p.layers[k], site: undefined, masks: undefined }))) as Partial<SiteMasks>;
    return { ...rest, site: l.site, masks: Buffer.concat(parts.map((p) => Buffer.from(p.layers[k].masks, 'base64'))).toString('base64') } as SiteMasks;
  });
  const last = parts[parts.length - 1];
  // Fields about the whole analysis (not per token) are taken from the last slice, not joined.
  const top = joinValues(parts.map((p) => ({ ...p, sites: undefined, layers: undefined, checkpoint: undefined, paintedBy: undefined }))) as Partial<AnalysisResult>;
  return { ...last, ...top, sites: last.sites, checkpoint: last.checkpoint, ...(last.paintedBy ? { paintedBy: last.paintedBy } : {}), layers } as AnalysisResult;
}

/**
 * Joins per-token fields of consecutive slices: arrays are concatenated, objects joined field by
 * field (e.g. `chance`), anything else taken from the last slice. So statistics added to the
 * analysis later join without changes here.
 */
function joinValues(vs: unknown[]): unknown {
  const v0 = vs[0];
  if (Array.isArray(v0)) return vs.flatMap((v) => v as unknown[]);
  if (v0 && typeof v0 === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v0)) {
      const j = joinValues(vs.map((v) => (v as Record<string, unknown>)[k]));
      if (j !== undefined) out[k] = j;
    }
    return out;
  }
  return vs[vs.length - 1];
}
