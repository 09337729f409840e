// What the live metric records of training runs tell the runs table: the step a run is at and its
// best validation loss. A listing of the runs (read from run.json, written at checkpoints and
// evaluations) lags behind a run that trains; merged with these, the table moves with the steps.
import type { MetricRecord, RunInfo } from '@common/protocol';

interface Live {
  step: number;
  bestValLoss: number | null;
}

export class LiveRunProgress {
  private readonly live = new Map<string, Live>();

  /** Folds one live record in; true when it changes what the runs table shows. */
  record(runId: string, record: MetricRecord): boolean {
    const cur = this.live.get(runId) ?? { step: 0, bestValLoss: null };
    let changed = false;
    if (record.step > cur.step) {
      cur.step = record.step;
      changed = true;
    }
    if (record.type === 'eval' && Number.isFinite(record.valLoss) && (cur.bestValLoss === null || record.valLoss < cur.bestValLoss)) {
      cur.bestValLoss = record.valLoss;
      changed = true;
    }
    this.live.set(runId, cur);
    return changed;
  }

  /** The runs with their live step and best validation loss where those are ahead of the listing. */
  merge(runs: RunInfo[]): RunInfo[] {
    return runs.map((r) => {
      const l = this.live.get(r.id);
      if (!l) return r;
      const step = Math.max(r.step, l.step);
      const best = r.bestValLoss === null ? l.bestValLoss : l.bestValLoss === null ? r.bestValLoss : Math.min(r.bestValLoss, l.bestValLoss);
      return step === r.step && best === r.bestValLoss ? r : { ...r, step, bestValLoss: best };
    });
  }
}
