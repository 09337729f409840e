// The torch backend as a trainer kind of the engine service (service/trainers.ts): a run prepared
// here in TypeScript (prepare.ts) and trained by the supervised PyTorch worker (worker.ts).
import type { TrainerFactory } from '../service/trainers';
import { prepareTorchResume, prepareTorchRun } from './prepare';
import { TorchRun } from './worker';

export interface TorchTrainerOptions {
  /** The interpreter (--python, ldlens.engine.pythonPath); default LDLENS_PYTHON, else python3. */
  python?: string;
  /** Processes through torchrun; 1: one plain process. */
  nproc?: number;
  /** auto (CUDA, else MPS, else CPU), cuda, mps or cpu. */
  device?: string;
  threads?: number | null;
}

export function torchTrainerFactory(o: TorchTrainerOptions = {}): TrainerFactory {
  const launch = { nproc: o.nproc ?? 1, device: o.device ?? 'auto', threads: o.threads ?? null, python: o.python };
  return {
    async create(setup) {
      const run = new TorchRun(await prepareTorchRun(setup, launch), { python: o.python, nproc: launch.nproc });
      run.watchText = setup.watchText ?? null;
      return run;
    },
    async resume(runDir, _backend, steps) {
      return new TorchRun(await prepareTorchResume(runDir, steps, launch), { python: o.python, nproc: launch.nproc });
    },
  };
}
