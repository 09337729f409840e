// Per-site mask statistics of a training step, from the masks the step already computed (no extra
// forward pass), and stuck detection on them: which sites' masks are stuck at one, zero or half,
// each warned about once per run.
import type { tf } from '../backend';
import type { GPT } from '../model';
import type { LogLevel, SiteStats, StatsRecord } from '@common/protocol';

/**
 * Mask statistics flag a site as stuck (after STUCK_AFTER_STEPS) at one when > 99% of its values are
 * above 0.9, at zero when > 99% are below 0.1, and at half (undecided) when < 1% are outside
 * [0.1, 0.9]; the run is `stuck` when every site is stuck at one (it drops nothing).
 */
const STUCK_FRACTION = 0.99;
const STUCK_AFTER_STEPS = 100;

/** Where a site's masks are stuck, or null. */
export function stuckAt(s: Pick<SiteStats, 'fracLow' | 'fracHigh'>): 'one' | 'zero' | 'half' | null {
  if (s.fracHigh > STUCK_FRACTION) return 'one';
  if (s.fracLow > STUCK_FRACTION) return 'zero';
  if (s.fracLow + s.fracHigh < 1 - STUCK_FRACTION) return 'half';
  return null;
}

const STUCK_ADVICE = {
  one: 'it drops nothing (B near 0 with a small A is a stationary point, ∂m/∂B = −½·sin(B + A·x) ≈ 0: initialize B near π/2 with dropout.bInit, or raise the penalties)',
  zero: 'it drops nearly everything (lower the L1 penalty, dropout.l1.schedule)',
  half: 'its values sit between 0.1 and 0.9: "active" (m ≥ 0.5) thresholds undecided values (raise the entropy penalty, or try dropout.rounding)',
};

/** Each site's mask figures and its A and B parameters' mean and spread; `masks` in `model.sites` order. */
export async function siteStats(model: GPT, masks: tf.Tensor[]): Promise<SiteStats[]> {
  const data = await Promise.all(masks.map((m) => m.data() as Promise<Float32Array>));
  const abData = new Map(await Promise.all(model.sites.flatMap((site) => ['A', 'B'].map(async (n) => [`${site.name}.${n}`, await model.params.get(`${site.name}.${n}`)!.data()] as const))));
  return model.sites.map((site, k) => {
    const m = data[k];
    const shape = masks[k].shape;
    let sum = 0, low = 0, high = 0, active = 0, count = 0, rows = 0;
    if (site.kind === 'attention') {
      // (B, nh, T, T): causal entries only (the rest multiply probabilities that are zero).
      const [b, nh, T] = shape as [number, number, number, number];
      const nRows = b * nh * T;
      for (let r = 0; r < nRows; r++) {
        const i = r % T;
        for (let j = 0; j <= i; j++) {
          const v = m[r * T + j];
          sum += v;
          if (v < 0.1) low++;
          if (v > 0.9) high++;
          if (v >= 0.5) active++;
          count++;
        }
      }
      rows = nRows;
    } else {
      for (let i = 0; i < m.length; i++) {
        const v = m[i];
        sum += v;
        if (v < 0.1) low++;
        if (v > 0.9) high++;
        if (v >= 0.5) active++;
      }
      count = m.length;
      rows = m.length / site.units;
    }
    const ab = (n: string) => {
      const a = abData.get(`${site.name}.${n}`)!;
      let mu = 0;
      for (const v of a) mu += v;
      mu /= a.length;
      let vr = 0;
      for (const v of a) vr += (v - mu) ** 2;
      return [mu, Math.sqrt(vr / a.length)];
    };
    const [aMean, aStd] = ab('A');
    const [bMean, bStd] = ab('B');
    return { site: site.name, layer: site.layer, kind: site.kind, units: site.units, meanMask: sum / count, fracLow: low / count, fracHigh: high / count, meanActive: active / rows, aMean, aStd, bMean, bStd };
  });
}

/** A run's stats records: the step's site statistics and what is stuck, warning once per run and site. */
export class MaskStatistics {
  private warnedStuck = false;
  private readonly warnedSites = new Set<string>();

  constructor(private readonly runId: string) {}

  async record(model: GPT, masks: tf.Tensor[], step: number, events: { log?(level: LogLevel, message: string): void }): Promise<StatsRecord> {
    const sites = await siteStats(model, masks);
    const stuck = step >= STUCK_AFTER_STEPS && sites.every((s) => s.fracHigh > STUCK_FRACTION);
    if (stuck && !this.warnedStuck) {
      this.warnedStuck = true;
      events.log?.(
        'warn',
        `run ${this.runId}: after ${step} steps every LearnedDropout mask is still above 0.9 almost everywhere: nothing is being dropped. ` +
          'B near 0 with a small A is a stationary point (∂m/∂B = −½·sin(B + A·x) ≈ 0); initialize B near π/2 (dropout.bInit) or raise the penalties.',
      );
    }
    const stuckSites: NonNullable<StatsRecord['stuckSites']> = [];
    for (const s of step >= STUCK_AFTER_STEPS ? sites : []) {
      const at = stuckAt(s);
      if (at) stuckSites.push({ site: s.site, at });
    }
    for (const { site, at } of stuckSites) {
      if (stuck || this.warnedSites.has(site + at)) continue;
      this.warnedSites.add(site + at);
      events.log?.('warn', `run ${this.runId}: after ${step} steps the mask at ${site} is stuck at ${at === 'half' ? '0.5 (undecided)' : at === 'one' ? '1' : '0'}: ${STUCK_ADVICE[at]}.`);
    }
    return { type: 'stats', step, time: Date.now(), sites, stuck, stuckSites };
  }
}
