// Which run's checkpoint an analysis uses when none was selected (no `vscode` import: unit-tested
// under plain Node). See Checkpoints.resolve.
import * as path from 'node:path';
import type { CheckpointInfo, RunInfo } from '@common/protocol';

export interface CheckpointChoice {
  run: RunInfo;
  checkpoint: CheckpointInfo;
  /** A run is training and has no checkpoint yet: an older run's checkpoint was chosen instead. */
  insteadOfTraining: boolean;
}

/**
 * The run being trained once it has a checkpoint, else the newest run with one (`runs` newest
 * first); its latest checkpoint. Undefined when no run has a checkpoint.
 */
export function chooseCheckpoint(runs: readonly RunInfo[], trainingRunDir: string | undefined): CheckpointChoice | undefined {
  const training = trainingRunDir === undefined ? undefined : runs.find((r) => path.resolve(r.dir) === path.resolve(trainingRunDir));
  const run = training?.checkpoints.length ? training : runs.find((r) => r.checkpoints.length > 0);
  if (!run) return undefined;
  const checkpoint = [...run.checkpoints].sort((a, b) => b.step - a.step)[0];
  return { run, checkpoint, insteadOfTraining: trainingRunDir !== undefined && run !== training };
}

/** A run's name as the legend shows it: the run folder without its `YYYYMMDD-HHMMSS-` prefix. */
export function runLabel(runDir: string): string {
  const base = path.basename(runDir);
  return base.replace(/^\d{8}-\d{6}-(?=.)/, '');
}
