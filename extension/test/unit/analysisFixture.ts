// A synthetic AnalysisResult with the engine's layout (tiny preset shape: embedding + 2 layers ×
// attention / attention output / MLP), for tests that do not need a trained model.
import type { AnalysisResult, MaskSite, SiteMasks, Token } from '@common/protocol';

/**
 * `contract: false` leaves out what issue 13 added (fraction, decided, chance, painted), as an
 * older engine sends it.
 */
export function makeAnalysis(text: string, opts: { nEmbd?: number; nHead?: number; blockSize?: number; nLayer?: number; seed?: number; contract?: boolean } = {}): AnalysisResult {
  const nEmbd = opts.nEmbd ?? 64;
  const nHead = opts.nHead ?? 4;
  const blockSize = opts.blockSize ?? 64;
  const nLayer = opts.nLayer ?? 2;
  let seed = opts.seed ?? 1;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const tokens: Token[] = [];
  const vocab = new Map<string, number>();
  let i = 0;
  for (const ch of text) {
    if (!vocab.has(ch)) vocab.set(ch, vocab.size);
    tokens.push({ id: vocab.get(ch)!, text: ch, start: i, end: i + ch.length });
    i += ch.length;
  }
  const sites: MaskSite[] = [{ name: 'transformer.drop', layer: -1, kind: 'embedding', units: nEmbd }];
  for (let l = 0; l < nLayer; l++) {
    sites.push({ name: `transformer.h.${l}.attn.attn_dropout`, layer: l, kind: 'attention', units: nHead * blockSize, heads: nHead });
    sites.push({ name: `transformer.h.${l}.attn.resid_dropout`, layer: l, kind: 'attentionOutput', units: nEmbd });
    sites.push({ name: `transformer.h.${l}.mlp.dropout`, layer: l, kind: 'mlp', units: nEmbd });
  }
  const layers: SiteMasks[] = sites.map((s) => {
    const bytes = new Uint8Array(tokens.length * s.units);
    const active: number[] = [];
    const mean: number[] = [];
    const keys: number[] = [];
    const fraction: number[] = [];
    const decided: number[] = [];
    const chance = { active: [] as number[], fraction: [] as number[], mean: [] as number[], decided: [] as number[] };
    for (let t = 0; t < tokens.length; t++) {
      // Token-id dependent, so the same character has similar masks (type averages mean something).
      const bias = (tokens[t].id % 5) / 5;
      let on = 0;
      let sum = 0;
      let dsum = 0;
      const valid = s.kind === 'attention' ? nHead * Math.min(blockSize, t + 1) : s.units;
      for (let u = 0; u < s.units; u++) {
        const inCausal = s.kind !== 'attention' || u % blockSize <= t;
        const m = inCausal ? Math.min(1, Math.max(0, 0.3 * rand() + bias * 0.7 + (u % 3 === 0 ? 0.2 : 0))) : 0;
        const q = Math.round(m * 255);
        bytes[t * s.units + u] = q;
        if (inCausal) {
          if (q >= 128) on++;
          sum += q / 255;
          dsum += Math.abs((2 * q) / 255 - 1);
        }
      }
      active.push(on);
      mean.push(sum / valid);
      keys.push(valid);
      fraction.push(on / valid);
      decided.push(dsum / valid);
      // Chance: untrained A/B give masks that do not depend on the token.
      const cf = 0.45 + 0.1 * rand();
      chance.active.push(Math.round(cf * valid));
      chance.fraction.push(Math.round(cf * valid) / valid);
      chance.mean.push(0.5 + 0.02 * (rand() - 0.5));
      chance.decided.push(0.1 + 0.05 * rand());
    }
    const added = opts.contract === false ? {} : { fraction, decided, chance };
    return { site: s.name, masks: Buffer.from(bytes).toString('base64'), active, mean, ...(s.kind === 'attention' ? { keys } : {}), ...added };
  });
  // The engine's default painted value: kept fraction averaged over the non-attention sites.
  const others = sites.map((s, i) => (s.kind === 'attention' ? -1 : i)).filter((i) => i >= 0);
  const painted = tokens.map((_, t) => others.reduce((sum, i) => sum + layers[i].active[t] / sites[i].units, 0) / others.length);
  const paintedBy = { metric: 'fraction', description: 'fraction of units kept (m ≥ 0.5), averaged over the non-attention sites', sites: others.map((i) => sites[i].name) };
  return {
    checkpoint: { runDir: '/runs/r1', dir: '/runs/r1/checkpoints/step-000060', step: 60 },
    textLength: text.length,
    tokens,
    sites,
    layers,
    window: blockSize,
    stride: blockSize / 2,
    crossEntropy: 2.5,
    surprisal: tokens.map((_, t) => (t === 0 ? null : 1 + (t % 7) / 3)),
    ...(opts.contract === false ? {} : { painted, paintedBy }),
  };
}
