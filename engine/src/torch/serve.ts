// The server's torch choice (`ldlens serve`, the extension's engine): whether train/start and
// train/resume go to the torch worker, decided when a training starts (the probe imports torch, a
// few seconds: not at start-up), with the reason in the engine log.
import type { TrainerFactory } from '../service/trainers';
import { chooseTrainBackendAsync } from './python';
import { torchTrainerFactory } from './trainer';

export class TorchChoiceError extends Error {
  override name = 'TorchChoiceError';
}

/** The torch trainer when the engine's backend is `torch` (or `auto` finds torch with a GPU); else null (the engine's own). */
export async function serverTorchTrainer(choice: string, python: string | undefined, log: (level: 'info' | 'warn', message: string) => void): Promise<TrainerFactory | null> {
  let pick;
  try {
    pick = await chooseTrainBackendAsync(choice, python);
  } catch (e) {
    throw new TorchChoiceError((e as Error).message);
  }
  if (!pick.torch) {
    if (pick.probe) log('info', pick.reason);
    return null;
  }
  log('info', `training on torch (${pick.reason})`);
  return torchTrainerFactory({ python });
}
