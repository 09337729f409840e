// The trainers a run can be trained by, chosen by kind: TensorFlow.js (in this process), or the
// PyTorch worker (engine/src/torch; its options, e.g. the interpreter, through torchTrainerFactory).
import type { BackendName } from '@common/protocol';
import type { LDConfig, ModelShape } from '../config';
import type { TrainSetup } from '../train/runSetup';
import { TrainingRun, type RunOutcome, type TrainEvents } from '../train/trainingRun';
import { torchTrainerFactory } from '../torch/trainer';

/** One training run as the service drives it: set up, trained to its end or a stop, disposed. */
export interface Trainer {
  readonly id: string;
  readonly dir: string;
  readonly config: LDConfig;
  readonly shape: ModelShape;
  readonly step: number;
  readonly totalSteps: number;
  /** Text analyzed at every checkpoint (events.watch), or null. */
  watchText: string | null;
  run(events: TrainEvents): Promise<RunOutcome>;
  /** Asks the run to stop after the current step and write a checkpoint. */
  stop(): void;
  dispose(): void;
}

/** Sets up new and resumed runs of one kind. */
export interface TrainerFactory {
  create(setup: TrainSetup, backend: BackendName): Promise<Trainer>;
  resume(runDir: string, backend: BackendName, steps?: number): Promise<Trainer>;
}

export type TrainerKind = 'tfjs' | 'torch';

export const TRAINERS: Record<TrainerKind, TrainerFactory> = {
  tfjs: {
    create: (setup, backend) => TrainingRun.create(setup, backend),
    resume: (runDir, backend, steps) => TrainingRun.resume(runDir, backend, steps),
  },
  torch: torchTrainerFactory(),
};
