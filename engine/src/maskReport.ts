// The mask report: per site, how decided the masks are, which units are always on or off, and how
// much of the per-token kept fraction token identity, token type and window position explain,
// each next to the same figures from untrained A/B (several draws from the run's init) on the
// same hidden states, with a verdict per site and plain summary lines.
import { tf } from './backend';
import type { InferenceModel } from './inference';
import { chanceMask, chanceParams, eta2, forTokenValues, tokenClass } from './maskMetrics';
import type { GPT } from './model';
import type { MaskReport, MaskSite, SiteReport, SiteReportFigures } from '@common/protocol';
import type { Tokenizer } from './tokenizer';

export interface ReportOptions {
  /** Chance draws (untrained A/B) the chance figures average over. Default 5. */
  chanceDraws?: number;
  /** At most this many tokens of the text, from its start (whole windows). Default 65,536. */
  maxTokens?: number;
  /** Called between window batches; throw from it to cancel. */
  checkpointHook?: () => Promise<void>;
}

/** Values outside [LOW, 1 − LOW] count as decided. */
const LOW = 0.1;
/** A unit on (m ≥ 0.5) for at least this share of tokens is always on; at most 1 − it, always off. */
const ALWAYS = 0.99;
/** A trained η² is above chance when it exceeds the chance mean by 2 sd and by at least this. */
const MIN_MARGIN = 0.02;
const WINDOWS_PER_BATCH = 8;

/** What one site's masks (trained, or one chance draw) add up to over the tokens. */
class SiteTally {
  readonly fraction: Float64Array;
  readonly on: Int32Array;
  values = 0;
  decidedValues = 0;
  decidedSum = 0;
  constructor(readonly site: MaskSite, n: number) {
    this.fraction = new Float64Array(n);
    this.on = new Int32Array(site.kind === 'attention' ? 0 : site.units);
  }

  add(m: ArrayLike<number>, i: number, at: { row: number; t: number; W: number; nHead: number }): void {
    let kept = 0, count = 0;
    const unitSite = this.site.kind !== 'attention';
    forTokenValues(m, this.site, at, (v, unit) => {
      count++;
      if (v >= 0.5) {
        kept++;
        if (unitSite) this.on[unit]++;
      }
      if (v < LOW || v > 1 - LOW) this.decidedValues++;
      this.decidedSum += Math.abs(2 * v - 1);
    });
    this.values += count;
    this.fraction[i] = count ? kept / count : 0;
  }

  figures(groups: { token: Int32Array; type: string[]; position: Int32Array }): SiteReportFigures {
    const n = this.fraction.length;
    let mean = 0;
    for (const f of this.fraction) mean += f;
    let alwaysOn = 0, alwaysOff = 0;
    for (const c of this.on) {
      if (c >= ALWAYS * n) alwaysOn++;
      if (c <= (1 - ALWAYS) * n) alwaysOff++;
    }
    return {
      decidedFraction: this.values ? this.decidedValues / this.values : 0,
      meanDecided: this.values ? this.decidedSum / this.values : 0,
      meanFraction: n ? mean / n : 0,
      alwaysOn,
      alwaysOff,
      eta2: { token: eta2(this.fraction, groups.token), tokenType: eta2(this.fraction, groups.type), position: eta2(this.fraction, groups.position) },
    };
  }
}

type Flat = Record<string, number>;
const flatten = (f: SiteReportFigures): Flat => ({ ...f, eta2: 0, token: f.eta2.token, tokenType: f.eta2.tokenType, position: f.eta2.position });
const unflatten = (f: Flat): SiteReportFigures => ({
  decidedFraction: f.decidedFraction,
  meanDecided: f.meanDecided,
  meanFraction: f.meanFraction,
  alwaysOn: f.alwaysOn,
  alwaysOff: f.alwaysOff,
  eta2: { token: f.token, tokenType: f.tokenType, position: f.position },
});

/** Mean and sample standard deviation of each figure over the draws (sd 0 for one draw). */
function meanAndSd(draws: SiteReportFigures[]): { mean: SiteReportFigures; sd: SiteReportFigures } {
  const fs = draws.map(flatten), keys = Object.keys(fs[0]);
  const mean: Flat = {}, sd: Flat = {};
  for (const k of keys) {
    const xs = fs.map((f) => f[k]);
    const mu = xs.reduce((p, q) => p + q, 0) / xs.length;
    mean[k] = mu;
    sd[k] = xs.length > 1 ? Math.sqrt(xs.reduce((p, q) => p + (q - mu) ** 2, 0) / (xs.length - 1)) : 0;
  }
  return { mean: unflatten(mean), sd: unflatten(sd) };
}

/** Whether a trained figure is above chance (mean + max(2 sd, margin)). */
export function aboveChance(trained: number, mean: number, sd: number): boolean {
  return trained > mean + Math.max(2 * sd, MIN_MARGIN);
}

const pct = (v: number) => `${(100 * v).toFixed(0)}%`;
const f2 = (v: number) => v.toFixed(2);

function verdict(s: Omit<SiteReport, 'verdict'>): string {
  const t = s.trained, c = s.chance, sd = s.chanceSd;
  const decided = t.decidedFraction >= 0.5
    ? `decided (${pct(t.decidedFraction)} of values outside [0.1, 0.9], chance ${pct(c.decidedFraction)})`
    : `undecided (${pct(1 - t.decidedFraction)} of values in [0.1, 0.9], chance ${pct(1 - c.decidedFraction)})`;
  const token = aboveChance(t.eta2.token, c.eta2.token, sd.eta2.token) ? 'above chance' : 'not above chance';
  // attention keeps a fraction of the token's causal keys, which mostly follows window position
  const position = t.eta2.position >= 0.5 ? ` Window position explains ${f2(t.eta2.position)} (chance ${f2(c.eta2.position)}).` : '';
  return `${s.site}: ${decided}; token identity explains ${f2(t.eta2.token)} of the kept fraction's variance vs ${f2(c.eta2.token)} ± ${f2(sd.eta2.token)} by chance: ${token}.${position}`;
}

/** The report over token ids (whole blockSize windows from the start, at most maxTokens). */
export async function maskReportOnIds(model: GPT, tokenizer: Tokenizer, allIds: ArrayLike<number>, o: ReportOptions = {}): Promise<Omit<MaskReport, 'checkpoint'>> {
  const sites = model.sites;
  const draws = Math.max(1, Math.min(o.chanceDraws ?? 5, 50));
  if (!sites.length) return { tokens: 0, chanceDraws: draws, sites: [], summary: [`this model has no learned masks (dropout ${model.dropout.kind})`] };
  const T = model.shape.blockSize, nHead = model.shape.nHead;
  const maxTokens = Math.max(T, o.maxTokens ?? 65_536);
  // whole windows; a text shorter than one window is one window of its length
  const W = Math.min(T, allIds.length);
  if (W < 2) throw new RangeError(`the text has ${allIds.length} tokens; a mask report needs at least 2`);
  const windows = Math.max(1, Math.floor(Math.min(allIds.length, maxTokens) / W));
  const n = windows * W;
  const ids = Int32Array.from({ length: n }, (_, i) => allIds[i]);
  const classOf = new Map<number, string>();
  const groups = {
    token: ids,
    type: Array.from(ids, (id) => classOf.get(id) ?? classOf.set(id, tokenClass(tokenizer.decode([id]))).get(id)!),
    position: Int32Array.from({ length: n }, (_, i) => i % W),
  };
  const trained = sites.map((s) => new SiteTally(s, n));
  const chance = Array.from({ length: draws }, () => sites.map((s) => new SiteTally(s, n)));
  const ab = Array.from({ length: draws }, (_, d) => chanceParams(sites, T, model.dropout, d));

  for (let w0 = 0; w0 < windows; w0 += WINDOWS_PER_BATCH) {
    await o.checkpointHook?.();
    const rows = Math.min(WINDOWS_PER_BATCH, windows - w0);
    const { masks, inputs } = tf.tidy(() => {
      const r = model.forward(tf.tensor2d(ids.subarray(w0 * W, (w0 + rows) * W), [rows, W], 'int32'), { training: false, wantInputs: true });
      return { masks: r.masks, inputs: r.inputs! };
    });
    const m = await Promise.all(masks.map((t) => t.data() as Promise<Float32Array>));
    const x = await Promise.all(inputs.map((t) => t.data() as Promise<Float32Array>));
    const last = inputs.map((t) => t.shape[t.rank - 1]);
    tf.dispose([...masks, ...inputs]);
    sites.forEach((_, k) => {
      const cm = ab.map((d) => chanceMask(x[k], d[k].A, d[k].B, last[k]));
      for (let row = 0; row < rows; row++)
        for (let t = 0; t < W; t++) {
          const i = (w0 + row) * W + t, at = { row, t, W, nHead };
          trained[k].add(m[k], i, at);
          cm.forEach((c, d) => chance[d][k].add(c, i, at));
        }
    });
  }

  const reports: SiteReport[] = sites.map((s, k) => {
    const { mean, sd } = meanAndSd(chance.map((d) => d[k].figures(groups)));
    const r = { site: s.name, layer: s.layer, kind: s.kind, units: s.units, trained: trained[k].figures(groups), chance: mean, chanceSd: sd };
    return { ...r, verdict: verdict(r) };
  });
  return { tokens: n, chanceDraws: draws, sites: reports, summary: summarize(reports, trained, chance) };
}

/** Plain summary lines: decided or not (over all values), token structure above chance at how many sites. */
function summarize(reports: SiteReport[], trained: SiteTally[], chance: SiteTally[][]): string[] {
  const pooled = (ts: SiteTally[]) => ts.reduce((p, t) => p + t.decidedValues, 0) / Math.max(1, ts.reduce((p, t) => p + t.values, 0));
  const dec = pooled(trained);
  const cdec = chance.reduce((p, d) => p + pooled(d), 0) / chance.length;
  const out: string[] = [];
  out.push(
    dec >= 0.5
      ? `masks are decided: ${pct(dec)} of values outside [0.1, 0.9] (chance ${pct(cdec)})`
      : `masks are undecided: ${pct(1 - dec)} of values in [0.1, 0.9] (chance ${pct(1 - cdec)})`,
  );
  const N = reports.length;
  const tok = reports.filter((r) => aboveChance(r.trained.eta2.token, r.chance.eta2.token, r.chanceSd.eta2.token)).length;
  out.push(tok === 0 ? `token structure not above chance at any of ${N} sites` : tok === N ? `token structure above chance at all ${N} sites` : `token structure above chance at ${tok} of ${N} sites, not at ${N - tok}`);
  const type = reports.filter((r) => aboveChance(r.trained.eta2.tokenType, r.chance.eta2.tokenType, r.chanceSd.eta2.tokenType)).length;
  out.push(`token-type structure above chance at ${type} of ${N} sites`);
  const units = reports.filter((r) => r.kind !== 'attention');
  const on = units.reduce((p, r) => p + r.trained.alwaysOn, 0), off = units.reduce((p, r) => p + r.trained.alwaysOff, 0);
  const total = units.reduce((p, r) => p + r.units, 0);
  const con = units.reduce((p, r) => p + r.chance.alwaysOn, 0), coff = units.reduce((p, r) => p + r.chance.alwaysOff, 0);
  out.push(`${on} of ${total} units always on and ${off} always off (chance ${con.toFixed(1)} and ${coff.toFixed(1)}); the rest vary between tokens`);
  return out;
}

/** The report for a text: tokenized with the checkpoint's tokenizer (characters outside it are skipped). */
export async function maskReport(im: InferenceModel, text: string, o: ReportOptions = {}): Promise<MaskReport> {
  const ids = im.tokenizer.encode(text, 'skip').ids;
  return { checkpoint: im.checkpoint, ...(await maskReportOnIds(im.model, im.tokenizer, ids, o)) };
}

/** The report as lines for a terminal. */
export function describeReport(r: Omit<MaskReport, 'checkpoint'>): string {
  const lines = [`mask report over ${r.tokens} tokens, chance from ${r.chanceDraws} draws of untrained A/B on the same hidden states`, ...r.summary.map((s) => '  ' + s), ''];
  const row = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(38) : ' ' + c.padStart(17))).join('');
  lines.push(row(['site', 'decided', 'kept', 'η² token', 'η² type', 'η² position', 'always on/off']));
  const cell = (t: number, c: number, sd: number) => `${f2(t)} (${f2(c)}±${f2(sd)})`;
  for (const s of r.sites) {
    const t = s.trained, c = s.chance, sd = s.chanceSd;
    lines.push(
      row([
        s.site,
        cell(t.decidedFraction, c.decidedFraction, sd.decidedFraction),
        cell(t.meanFraction, c.meanFraction, sd.meanFraction),
        cell(t.eta2.token, c.eta2.token, sd.eta2.token),
        cell(t.eta2.tokenType, c.eta2.tokenType, sd.eta2.tokenType),
        cell(t.eta2.position, c.eta2.position, sd.eta2.position),
        s.kind === 'attention' ? '-' : `${t.alwaysOn}/${t.alwaysOff} (${c.alwaysOn.toFixed(0)}/${c.alwaysOff.toFixed(0)})`,
      ]),
    );
  }
  lines.push('', 'figures: trained (chance mean ± sd); decided = share of mask values outside [0.1, 0.9]; kept = mean fraction of units (attention: causal keys) with m ≥ 0.5', '', ...r.sites.map((s) => s.verdict));
  return lines.join('\n');
}
