// Realistic test data shaped the way the engine shapes it: an AnalysisResult of a char-level
// nanoGPT with LearnedDropout at every site, and metrics.jsonl records of a training run.
import type {
  AnalysisResult,
  CheckpointInfo,
  MaskReport,
  ReportRecord,
  SiteReportFigures,
  MaskSite,
  MetricRecord,
  RunInfo,
  SiteMasks,
  SiteStats,
  Token,
} from '@common/protocol';
import { bytesToBase64 } from '../src/common/export';

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS =
  'the of and to in that it was he for on are as with his they at be this from have or by one had not but what all were when we there can an your which their said if do will each about how up out them then she many some so these would other into has more her two like him see time could no make than first been its who now people my made over did down only way find use may water long little very after words called just where most know get through back much before go good new write our used me man too any day same right look think also around another came come work three word must because does part even place well such here take why things help put years different away again off went old number great tell men say small every found still between name should home big give air line set own under read last never us left end along while might next sound below saw something thought both few those always looked show large often together asked house world going want school important until form food keep children feet land side without boy once animals life enough took sometimes four head above kind began almost live page got earth need far hand high year mother light parts country father let night following picture being study second eyes soon times story boys since white days ever paper hard near sentence better best across during today others however sure means knew its try told young miles sun ways thing whole hear example heard several change answer room sea against top turned learn point city play toward five using himself usually'.split(
    ' ',
  );

/** English-like text of about `chars` characters, with line breaks and punctuation. */
export function sampleText(chars: number, seed = 7): string {
  const rnd = mulberry32(seed);
  let s = '';
  let sentence = 0;
  while (s.length < chars) {
    const w = WORDS[Math.floor(rnd() * WORDS.length)]!;
    s += sentence === 0 ? w[0]!.toUpperCase() + w.slice(1) : w;
    sentence++;
    if (sentence > 6 && rnd() < 0.2) {
      s += rnd() < 0.3 ? '.\n' : '. ';
      sentence = 0;
    } else s += rnd() < 0.08 ? ', ' : ' ';
  }
  return s.slice(0, chars);
}

export interface FixtureShape {
  tokens: number;
  nEmbd: number;
  nHead: number;
  blockSize: number;
  nLayer: number;
  seed?: number;
  step?: number;
  runDir?: string;
  /** false: leave out what issue 13 added (fraction, decided, chance, painted), as an older engine. */
  contract?: boolean;
}

export const SMALL_SHAPE: FixtureShape = { tokens: 300, nEmbd: 64, nHead: 4, blockSize: 64, nLayer: 2 };
export const BENCH_SHAPE: FixtureShape = { tokens: 10_000, nEmbd: 128, nHead: 4, blockSize: 64, nLayer: 2 };

/** The engine's site order: transformer.drop, then per layer attn_dropout, resid_dropout, mlp.dropout. */
export function fixtureSites(shape: FixtureShape): MaskSite[] {
  const sites: MaskSite[] = [{ name: 'transformer.drop', layer: -1, kind: 'embedding', units: shape.nEmbd }];
  for (let l = 0; l < shape.nLayer; l++) {
    sites.push({ name: `transformer.h.${l}.attn.attn_dropout`, layer: l, kind: 'attention', units: shape.nHead * shape.blockSize, heads: shape.nHead });
    sites.push({ name: `transformer.h.${l}.attn.resid_dropout`, layer: l, kind: 'attentionOutput', units: shape.nEmbd });
    sites.push({ name: `transformer.h.${l}.mlp.dropout`, layer: l, kind: 'mlp', units: shape.nEmbd });
  }
  return sites;
}

/**
 * A char-level analysis whose masks follow m = 0.5·cos(A·x + B) + 0.5 with a per-character
 * "input" x, so that each token type switches on its own, consistent number of units (what the
 * explorer is meant to make visible), plus noise.
 */
export function makeAnalysis(shape: FixtureShape, text = sampleText(shape.tokens, shape.seed ?? 7)): AnalysisResult {
  const rnd = mulberry32(shape.seed ?? 1);
  // Chance draws from their own stream, so the trained masks are the same with or without them.
  const chanceRnd = mulberry32((shape.seed ?? 1) + 1000);
  const contract = shape.contract !== false;
  const chars = [...new Set(text)].sort();
  const ids = new Map(chars.map((c, i) => [c, i]));
  const tokens: Token[] = [];
  for (let i = 0; i < text.length && tokens.length < shape.tokens; i++) {
    tokens.push({ id: ids.get(text[i]!)!, text: text[i]!, start: i, end: i + 1 });
  }
  const n = tokens.length;
  const sites = fixtureSites(shape);
  const stride = Math.floor(shape.blockSize / 2);
  const layers: SiteMasks[] = sites.map((site, s) => {
    const bytes = new Uint8Array(n * site.units);
    const active: number[] = new Array(n);
    const mean: number[] = new Array(n);
    const keys: number[] = new Array(n);
    const fraction: number[] = new Array(n);
    const decided: number[] = new Array(n);
    const chance = { active: new Array<number>(n), fraction: new Array<number>(n), mean: new Array<number>(n), decided: new Array<number>(n) };
    // Untrained A/B: no token bias, so chance masks carry little token structure.
    const a0 = Float64Array.from({ length: site.units }, () => chanceRnd() * 2 - 1);
    const b0 = Float64Array.from({ length: site.units }, () => chanceRnd() * Math.PI * 2);
    // Per-unit A, B like a trained LearnedDropout; a site-specific shift of how sparse it is.
    const a = Float64Array.from({ length: site.units }, () => 1 + rnd() * 3);
    const b = Float64Array.from({ length: site.units }, () => rnd() * Math.PI * 2);
    const sparsity = 0.25 + 0.12 * s;
    for (let t = 0; t < n; t++) {
      const x = (tokens[t]!.id * 0.37 + 0.5) % 3;
      // Each token type gets its own share of experts (the pattern the explorer should reveal).
      const typeBias = (((tokens[t]!.id * 37) % 11) / 11 - 0.5) * 0.5;
      const row = t * site.units;
      let on = 0;
      let sum = 0;
      let counted = 0;
      let dsum = 0;
      let con = 0;
      let csum = 0;
      let cdsum = 0;
      // Attention rows: keys beyond the query's window position are not causal.
      const pos = site.kind === 'attention' ? windowPosition(t, shape.blockSize, stride) : -1;
      for (let u = 0; u < site.units; u++) {
        const key = u % shape.blockSize;
        if (pos >= 0 && key > pos) {
          bytes[row + u] = 0;
          continue;
        }
        let m = 0.5 * Math.cos(a[u]! * x + b[u]!) + 0.5 - sparsity + 0.25 + typeBias + (rnd() - 0.5) * 0.3;
        m = Math.min(1, Math.max(0, m));
        const q = Math.round(m * 255);
        bytes[row + u] = q;
        if (m >= 0.5) on++;
        sum += m;
        dsum += Math.abs(2 * m - 1);
        counted++;
        const c = 0.5 * Math.cos(a0[u]! * x + b0[u]!) + 0.5;
        if (c >= 0.5) con++;
        csum += c;
        cdsum += Math.abs(2 * c - 1);
      }
      active[t] = on;
      mean[t] = counted ? sum / counted : 0;
      keys[t] = counted;
      fraction[t] = counted ? on / counted : 0;
      decided[t] = counted ? dsum / counted : 0;
      chance.active[t] = con;
      chance.fraction[t] = counted ? con / counted : 0;
      chance.mean[t] = counted ? csum / counted : 0;
      chance.decided[t] = counted ? cdsum / counted : 0;
    }
    // As the engine: attention sites say how many causal entries each token's counts are over.
    return {
      site: site.name,
      masks: bytesToBase64(bytes),
      active,
      mean,
      ...(site.kind === 'attention' ? { keys } : {}),
      ...(contract ? { fraction, decided, chance } : {}),
    };
  });
  const others = sites.map((x, i) => (x.kind === 'attention' ? -1 : i)).filter((i) => i >= 0);
  const runDir = shape.runDir ?? '/runs/tiny-learned';
  const step = shape.step ?? 500;
  return {
    checkpoint: { runDir, dir: `${runDir}/checkpoints/step-${String(step).padStart(6, '0')}`, step },
    textLength: text.length,
    tokens,
    sites,
    layers,
    window: shape.blockSize,
    stride,
    crossEntropy: n > 1 ? 1.4321 : null,
    surprisal: tokens.map((t, i) => (i % stride === 0 && i > 0 ? null : i === 0 ? null : 0.5 + ((t.id * 7) % 30) / 10)),
    ...(contract
      ? {
          painted: tokens.map((_, t) => others.reduce((sum, i) => sum + layers[i]!.fraction![t]!, 0) / others.length),
          paintedBy: { metric: 'fraction', description: 'fraction of units kept (m ≥ 0.5), averaged over the non-attention sites', sites: others.map((i) => sites[i]!.name) },
        }
      : {}),
  };
}

/**
 * A mask report as the engine's contract shapes it (common/protocol.ts MaskReport): undecided
 * masks everywhere, token structure above chance at the MLP sites only (what issue 13 measured on
 * `tiny`), drifting with `step` so charts of report records have a trend.
 */
export function makeReport(shape: FixtureShape, step = shape.step ?? 500, seed = 11): MaskReport {
  const rnd = mulberry32(seed + step);
  const progress = Math.min(1, step / 1000);
  const sites = fixtureSites(shape);
  const fig = (o: Partial<SiteReportFigures> & { eta2: SiteReportFigures['eta2'] }): SiteReportFigures => ({
    decidedFraction: 0,
    meanDecided: 0,
    meanFraction: 0,
    alwaysOn: 0,
    alwaysOff: 0,
    ...o,
  });
  const reports = sites.map((site) => {
    const mlp = site.kind === 'mlp';
    const chance = fig({ decidedFraction: 0.012, meanDecided: 0.21, meanFraction: 0.5, alwaysOn: 1, alwaysOff: 1, eta2: { token: 0.19, tokenType: 0.05, position: 0.02 } });
    const chanceSd = fig({ decidedFraction: 0.004, meanDecided: 0.01, meanFraction: 0.01, alwaysOn: 1, alwaysOff: 1, eta2: { token: 0.03, tokenType: 0.01, position: 0.01 } });
    const trained = fig({
      decidedFraction: 0.01 + 0.05 * progress * rnd(),
      meanDecided: 0.2 + 0.05 * progress,
      meanFraction: 0.5 + (rnd() - 0.5) * 0.02,
      alwaysOn: site.kind === 'attention' ? 0 : Math.round(2 * progress),
      alwaysOff: site.kind === 'attention' ? 0 : 1,
      eta2: { token: mlp ? 0.19 + 0.29 * progress : 0.17 + rnd() * 0.04, tokenType: mlp ? 0.1 + 0.1 * progress : 0.05, position: 0.02 },
    });
    const verdict = mlp && progress > 0.2 ? 'Token structure above chance (η² token outside chance + 2 sd); masks undecided.' : 'Within chance: untrained A/B give as much token structure; masks undecided.';
    return { site: site.name, layer: site.layer, kind: site.kind, units: site.units, trained, chance, chanceSd, verdict };
  });
  const runDir = shape.runDir ?? '/runs/tiny-learned';
  return {
    checkpoint: { runDir, dir: `${runDir}/checkpoints/step-${String(step).padStart(6, '0')}`, step },
    tokens: shape.tokens,
    chanceDraws: 5,
    sites: reports,
    summary: ['Masks are undecided at every site: fewer than 10% of values lie outside [0.1, 0.9].', `Token identity structure above chance at ${progress > 0.2 ? shape.nLayer : 0} of ${sites.length} sites (the MLP sites).`],
  };
}

/** A `report` line of metrics.jsonl (written at checkpoints on the validation text). */
export function makeReportRecord(shape: FixtureShape, step: number, time = 1_735_732_800_000 + step * 120): ReportRecord {
  const { checkpoint: _, ...report } = makeReport(shape, step);
  return { type: 'report', step, time, report };
}

function windowPosition(t: number, block: number, stride: number): number {
  return t < block ? t : ((t - block) % stride) + block - stride;
}

export function makeCheckpoints(runDir: string, steps: number[]): CheckpointInfo[] {
  return steps.map((step, i) => ({
    runDir,
    dir: `${runDir}/checkpoints/step-${String(step).padStart(6, '0')}`,
    step,
    time: new Date(Date.UTC(2025, 0, 1, 12, 0, i * 30)).toISOString(),
    valLoss: 2.5 - Math.log1p(step) * 0.15,
  }));
}

export function makeRun(id: string, over: Partial<RunInfo> = {}): RunInfo {
  const dir = `/runs/${id}`;
  return {
    id,
    name: id,
    dir,
    status: 'completed',
    backend: 'cpu',
    step: 500,
    totalSteps: 500,
    bestValLoss: 1.52,
    dropoutKind: 'learned',
    created: '2025-01-01T12:00:00.000Z',
    checkpoints: makeCheckpoints(dir, [100, 200, 300, 400, 500]),
    ...over,
  };
}

/**
 * A run's metrics.jsonl: step records every step, stats every 10, eval every 50. `reports`: as an
 * engine after issue 13, a `report` record every 100 steps and `stuckSites` on stats records (the
 * last layer's MLP stuck at 1 from half-way).
 */
export function makeMetrics(steps: number, opts: { seed?: number; nLayer?: number; learned?: boolean; from?: number; reports?: boolean } = {}): MetricRecord[] {
  const rnd = mulberry32(opts.seed ?? 3);
  const nLayer = opts.nLayer ?? 2;
  const learned = opts.learned ?? true;
  const sites = fixtureSites({ tokens: 0, nEmbd: 64, nHead: 4, blockSize: 64, nLayer });
  const out: MetricRecord[] = [];
  const t0 = 1_735_732_800_000;
  for (let step = opts.from ?? 0; step < (opts.from ?? 0) + steps; step++) {
    const progress = step / Math.max(steps, 1);
    const ce = 1.3 + 2.9 * Math.exp(-step / (steps / 8 + 1)) + (rnd() - 0.5) * 0.12;
    const lambdaEntropy = learned ? Math.min(Math.exp(0.002 * step) - 1, 0.05) : 0;
    const lambdaL1 = lambdaEntropy;
    const entropy = learned ? 0.6 * Math.exp(-progress * 3) + 0.05 + rnd() * 0.01 : 0;
    const l1 = learned ? 0.9 - 0.4 * progress + rnd() * 0.01 : 0;
    const time = t0 + step * 120;
    out.push({
      type: 'step',
      step,
      time,
      loss: ce + lambdaEntropy * entropy + lambdaL1 * l1,
      crossEntropy: ce,
      entropy,
      l1,
      lambdaEntropy,
      lambdaL1,
      lr: step < 20 ? (3e-3 * step) / 20 : 3e-4 + 0.5 * (3e-3 - 3e-4) * (1 + Math.cos(Math.PI * progress)),
      tokensPerSec: 9000 + rnd() * 800 - (step % 100 === 0 ? 4000 : 0),
    });
    if (step % 10 === 0) {
      const stats: SiteStats[] = sites.map((site, s) => {
        const fracHigh = learned ? 0.9 - 0.5 * progress * (1 + s * 0.05) : 0.9;
        const meanMask = learned ? 0.95 - 0.4 * progress : 0.9;
        return {
          site: site.name,
          layer: site.layer,
          kind: site.kind,
          meanMask,
          fracLow: learned ? 0.02 + 0.3 * progress : 0.1,
          fracHigh,
          meanActive: site.units * (learned ? 0.95 - 0.45 * progress * (0.6 + s * 0.1) : 0.9),
          units: site.units,
          aMean: 0.02 * step * (1 + s * 0.1),
          aStd: 1 + 0.001 * step,
          bMean: Math.PI / 2 - 0.001 * step,
          bStd: 0.1 + 0.0005 * step,
        };
      });
      const stuckSites = opts.reports && progress >= 0.5 ? [{ site: `transformer.h.${nLayer - 1}.mlp.dropout`, at: 'one' as const }] : opts.reports ? [] : undefined;
      out.push({ type: 'stats', step, time, sites: stats, stuck: !learned, ...(stuckSites ? { stuckSites } : {}) });
    }
    if (step % 50 === 0 || step === steps - 1) {
      out.push({ type: 'eval', step, time, trainLoss: ce - 0.05, valLoss: ce + 0.08 + rnd() * 0.02 });
    }
    if (opts.reports && step % 100 === 0 && step > 0) out.push(makeReportRecord({ tokens: 2000, nEmbd: 64, nHead: 4, blockSize: 64, nLayer }, step, time));
  }
  return out;
}

export { toColumns } from '@common/metricColumns';
