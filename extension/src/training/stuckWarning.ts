// A warning when a training run's masks get stuck (StatsRecord.stuckSites): once per run and set
// of stuck sites, naming each site and where it is stuck, since a stuck LearnedDropout keeps or
// drops everything (or nothing is decided) whatever the input. No `vscode` import: unit-tested.
import type { MetricRecord, StatsRecord } from '@common/protocol';

type Stuck = NonNullable<StatsRecord['stuckSites']>[number];

const WHERE: Record<Stuck['at'], string> = {
  one: 'at 1 (drops nothing)',
  zero: 'at 0 (drops everything)',
  half: 'at 0.5 (undecided)',
};

/** "layer 1 MLP" from `transformer.h.1.mlp.dropout`; the module name when it is not one of ours. */
export function siteName(site: string): string {
  if (site === 'transformer.drop') return 'embedding';
  const m = /^transformer\.h\.(\d+)\.(attn\.attn_dropout|attn\.resid_dropout|mlp\.dropout)$/.exec(site);
  if (!m) return site;
  const kind = { 'attn.attn_dropout': 'attention', 'attn.resid_dropout': 'attention output', 'mlp.dropout': 'MLP' }[m[2] as 'mlp.dropout'];
  return `layer ${m[1]} ${kind}`;
}

export class StuckWarnings {
  /** Per run, every `site:at` already warned about: only a newly stuck site warns again (no flicker of warnings). */
  private readonly warned = new Map<string, Set<string>>();
  /** Runs already told about with a notification: later changes go to the log and the run charts only. */
  private readonly notified = new Set<string>();

  /**
   * Whether this run's warning should pop up: the first one of a run only (undecided sites come and
   * go as the statistics cross their thresholds, and a default run has several).
   */
  notify(runId: string): boolean {
    if (this.notified.has(runId)) return false;
    this.notified.add(runId);
    return true;
  }

  /** The warning to show for a metric record, if it names a site stuck in a way not warned about yet in this run. */
  check(runId: string, runName: string, record: MetricRecord): string | undefined {
    if (record.type !== 'stats' || !record.stuckSites?.length) return undefined;
    let seen = this.warned.get(runId);
    if (!seen) this.warned.set(runId, (seen = new Set()));
    const keys = record.stuckSites.map((s) => `${s.site}:${s.at}`);
    if (keys.every((k) => seen.has(k))) return undefined;
    for (const k of keys) seen.add(k);
    const list = record.stuckSites.map((s) => `${siteName(s.site)} ${WHERE[s.at]}`).join('; ');
    return `Training ${runName}: masks stuck at step ${record.step}: ${list}. A stuck mask does not depend on the token; see the Run Charts.`;
  }
}
